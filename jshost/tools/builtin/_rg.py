"""Grep through ripgrep: ``rg --json`` in a process group of its own, read into the same
:class:`~._pygrep.Result` the Python search returns, so both render the same output.

ripgrep runs as a program (never through a shell, the pattern after ``--``), with the flags
that make it search what the Python walk searches: dotfiles included, ``.git`` and the
workspace's hidden directories excluded, ``.gitignore`` honoured in or out of a repository,
no user config file, files over 20 MiB skipped. Reading stops (and the group is killed) once
enough is kept.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import trio

from ..base import Workspace
from ._proc import run_in_group, tool_env
from ._pygrep import MAX_FILE_BYTES, SEARCH_SECONDS, FileHits, Query, Result

__all__ = ["RgError", "rg_search"]

_MAX_STDERR = 4096
_MAX_JSON_LINE = 64 << 20


class RgError(Exception):
    """Raised when ripgrep refuses the search (a bad pattern, glob or type); its message."""


def _escape_glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]{}!\\" else c for c in text)


def _text(field: dict[str, Any]) -> str:
    if "text" in field:
        return field["text"]
    return base64.b64decode(field.get("bytes", "")).decode("utf-8", "replace")


def rg_argv(
    rg: str,
    pattern: str,
    top: Path,
    workspace: Workspace,
    query: Query,
    *,
    ignore_case: bool,
    glob: str | None,
    file_type: str | None,
) -> list[str]:
    """The command line: flags, then ``--``, the pattern and the path."""
    argv = [
        rg,
        "--json",
        "--no-config",
        "--hidden",
        "--no-require-git",
        "--no-ignore-global",
        # one order (the Python walk's), so a search cut short keeps the same files
        "--sort",
        "path",
        "--max-filesize",
        f"{MAX_FILE_BYTES >> 20}M",
        "--glob",
        "!.git",
    ]
    if top == workspace.root:
        argv.append("--no-ignore-parent")  # nothing above the workspace decides what is in it
    argv.append("--no-ignore-exclude")  # .git/info/exclude: the Python walk does not read it
    for hidden in workspace.hidden:
        if top != hidden and top in hidden.parents:
            rel = hidden.relative_to(top).as_posix()
            argv += ["--glob", f"!/{_escape_glob(rel)}"]
    if ignore_case:
        argv.append("-i")
    if query.multiline:
        argv += ["-U", "--multiline-dotall"]
    if query.mode == "content":
        if query.before:
            argv += ["-B", str(query.before)]
        if query.after:
            argv += ["-A", str(query.after)]
    elif query.mode == "files_with_matches":
        argv += ["--max-count", "1"]
    if glob:
        argv += ["--glob", glob]
    if file_type:
        argv += ["--type", file_type]
    return [*argv, "--", pattern, os.fspath(top)]


class _Reader:
    """Turns ``rg --json`` lines into :class:`FileHits`, stopping when enough is kept."""

    def __init__(self, query: Query, result: Result) -> None:
        self.query = query
        self.result = result
        self.buffer = bytearray()
        self.kept = 0
        self.current: FileHits | None = None

    def feed(self, chunk: bytes) -> bool:
        self.buffer += chunk
        while True:
            end = self.buffer.find(b"\n")
            if end == -1:
                if len(self.buffer) > _MAX_JSON_LINE:
                    self.result.stopped = "met a line too long to read"
                    return False
                return True
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if not self._message(json.loads(line)):
                return False

    def _message(self, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        data = message.get("data", {})
        if kind == "begin":
            self.current = FileHits(Path(_text(data["path"])))
        elif kind in ("match", "context") and self.current is not None:
            texts = _text(data["lines"]).split("\n")
            if texts and texts[-1] == "":
                texts.pop()
            number = data.get("line_number") or 0
            is_match = kind == "match"
            for i, text in enumerate(texts):
                if is_match:
                    self.current.count += 1
                if self.query.mode == "content":
                    self.current.lines.append((number + i, text.removesuffix("\r"), is_match))
        elif kind == "end" and self.current is not None:
            hits, self.current = self.current, None
            if hits.count:
                self.result.files.append(hits)
                self.kept += len(hits.lines)
                if len(self.result.files) >= self.query.max_files:
                    self.result.stopped = f"found {self.query.max_files:,} matching files"
                    return False
                if self.query.max_lines is not None and self.kept >= self.query.max_lines:
                    self.result.stopped = "enough"
                    return False
        return True


async def rg_search(argv: list[str], cwd: Path, query: Query) -> Result:
    """Run ripgrep; raises :class:`RgError` when it fails without finding anything."""
    result = Result()
    reader = _Reader(query, result)
    errors = bytearray()

    def on_stderr(chunk: bytes) -> bool:
        if len(errors) < _MAX_STDERR:
            errors.extend(chunk[: _MAX_STDERR - len(errors)])
        return True

    status: int | None = None
    with trio.move_on_after(SEARCH_SECONDS) as scope:
        status = await run_in_group(
            argv, cwd=cwd, env=tool_env(), on_stdout=reader.feed, on_stderr=on_stderr
        )
    if scope.cancelled_caught:
        result.stopped = f"ran for {SEARCH_SECONDS:g} s"
    elif status == 2 and not result.files:
        message = errors.decode("utf-8", "replace").strip() or "ripgrep failed"
        raise RgError(message)
    return result
