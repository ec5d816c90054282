"""Grep without ripgrep: the same search, on a worker thread, in linear time, with caps.

The pattern is compiled by RE2 (ripgrep's dialect is close to it: no lookaround, no
backreferences), so a hostile pattern cannot backtrack; in line mode RE2's ``never_nl`` keeps
every match within one line, as ripgrep's line-oriented search does. Files come from the shared
walk (:mod:`._walk`: .gitignore honoured, no symlinks, no .git or hidden dirs); binary files
(a NUL byte in the first 8 KiB) and files over :data:`MAX_FILE_BYTES` are skipped, as
``rg --max-filesize`` would. Caps on files, bytes and time stop a search, saying so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2

from ..base import ToolInputError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "SEARCH_SECONDS",
    "FileHits",
    "Query",
    "Result",
    "compile_regex",
    "search_files",
]

#: larger files are skipped (``rg --max-filesize 20M``)
MAX_FILE_BYTES = 20 << 20
#: bytes one search reads, at most
MAX_TOTAL_BYTES = 512 << 20
#: seconds one search may take (both engines)
SEARCH_SECONDS = 60.0
_SNIFF = 8192


@dataclass
class FileHits:
    """One file's matching lines (and context lines), or just its count."""

    path: Path
    count: int = 0
    #: (line number, text, is a matching line): matches and context, in order
    lines: list[tuple[int, str, bool]] = field(default_factory=list)


@dataclass
class Result:
    files: list[FileHits] = field(default_factory=list)
    #: why the search ended before it had looked everywhere ("" when it did not)
    stopped: str = ""


@dataclass(frozen=True)
class Query:
    """What to look for and how much of it to keep."""

    program: Any
    mode: str  # content | files_with_matches | count
    before: int = 0
    after: int = 0
    multiline: bool = False
    #: content mode: stop once this many lines are kept (None: no limit but the caps)
    max_lines: int | None = None
    #: files that may match before the search stops
    max_files: int = 20_000


def compile_regex(pattern: str, *, ignore_case: bool, multiline: bool) -> Any:
    """The RE2 program for a Grep pattern; :class:`ToolInputError` when RE2 refuses it."""
    if len(pattern) > 4096:
        raise ToolInputError(f"pattern is too long ({len(pattern):,} characters)")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    options.case_sensitive = not ignore_case
    options.never_nl = not multiline
    flags = "(?ms)" if multiline else "(?m)"
    try:
        return re2.compile(flags + pattern, options)
    except re2.error as exc:
        why = exc.args[0] if exc.args else "invalid"
        if isinstance(why, bytes):
            why = why.decode("utf-8", "replace")
        raise ToolInputError(
            f"pattern {pattern!r} cannot be used: {why} (the dialect is ripgrep's: no "
            "lookaround or backreferences)"
        ) from None


def _matching_lines(query: Query, data: bytes, *, first_only: bool = False) -> list[int]:
    """0-based numbers of the lines a match touches, ascending, without repeats.

    Searches bytes from a moving position (a ``str`` would be re-encoded on every call), and
    after a match goes on from the next line: a pattern that matches the empty string costs
    one search per line, not one per character. The empty "line" after a final newline is
    not a line (``^$`` does not match a file for its last newline), as in ripgrep.
    """
    total = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    found: list[int] = []
    pos = 0
    counted = 0  # data[:counted] holds `number` newlines
    number = 0
    size = len(data)
    while pos <= size:
        m = query.program.search(data, pos)
        if m is None:
            break
        begin, end = m.span()
        line_start = data.rfind(b"\n", 0, begin) + 1
        number += data.count(b"\n", counted, line_start)
        counted = line_start
        if number >= total:
            break
        # the match's last byte (its start for an empty match) is on the last line it touches
        anchor = max(begin, end - 1)
        last = min(number + data.count(b"\n", begin, anchor), total - 1)
        first = number if not found or found[-1] < number else found[-1] + 1
        found.extend(range(first, last + 1))
        if first_only:
            break
        nxt = data.find(b"\n", anchor)
        if nxt == -1:
            break
        pos = nxt + 1
    return found


def _hits(path: Path, data: bytes, query: Query) -> FileHits | None:
    if query.mode == "files_with_matches":
        return FileHits(path, 1) if _matching_lines(query, data, first_only=True) else None
    matched = _matching_lines(query, data)
    if not matched:
        return None
    hits = FileHits(path, len(matched))
    if query.mode == "count":
        return hits
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()  # no empty last line after a final newline
    total = len(lines)
    wanted: dict[int, bool] = {}
    for n in matched:
        for c in range(max(0, n - query.before), min(total, n + query.after + 1)):
            wanted.setdefault(c, False)
        wanted[n] = True
    hits.lines = [
        (n + 1, lines[n].decode("utf-8", "replace").removesuffix("\r"), wanted[n])
        for n in sorted(wanted)
        if n < total
    ]
    return hits


def search_files(
    paths: Iterable[Path],
    query: Query,
    *,
    seconds: float = SEARCH_SECONDS,
    stop: threading.Event | None = None,
) -> Result:
    """Search ``paths`` (already filtered) in order; blocking: call it on a worker thread."""
    result = Result()
    deadline = time.monotonic() + seconds
    read = 0
    kept = 0
    for path in paths:
        if time.monotonic() > deadline:
            result.stopped = f"ran for {seconds:g} s"
            break
        if stop is not None and stop.is_set():
            result.stopped = "was cancelled"
            break
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError:
            continue
        if b"\0" in data[:_SNIFF]:
            continue
        read += len(data)
        if read > MAX_TOTAL_BYTES:
            result.stopped = f"read {MAX_TOTAL_BYTES >> 20} MiB"
            break
        hits = _hits(path, data, query)
        if hits is None:
            continue
        result.files.append(hits)
        kept += len(hits.lines)
        if len(result.files) >= query.max_files:
            result.stopped = f"found {query.max_files:,} matching files"
            break
        if query.max_lines is not None and kept >= query.max_lines:
            result.stopped = "enough"  # the caller shows what it asked for, and says there is more
            break
    return result
