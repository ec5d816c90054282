"""Glob patterns and the bounded directory walk that Glob and the Python Grep share.

The walk follows ripgrep's defaults where they matter for safety and for parity with it:
symlinks are never followed (a link cannot lead the walk out of the workspace or round in a
loop), ``.git`` and the workspace's hidden directories (other agents' worktrees) are never
entered, and ``.gitignore`` / ``.ignore`` / ``.rgignore`` files are honoured (in or out of a git
repository, as ``rg --no-require-git``), those of the searched directory's parents only up to
the workspace root. Dotfiles are included. Every walk has caps on the entries it looks
at and on its time: it runs on a worker thread and stops, saying so, when a cap is reached.

Glob patterns are translated to RE2, never to a backtracking engine: a pattern such as
``*a*a*a*a*a*b`` costs time linear in the path.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec
import re2

from ..base import ToolInputError, Workspace
from ._paths import in_hidden

__all__ = ["MAX_WALK_ENTRIES", "WALK_SECONDS", "Walk", "compile_glob", "glob_regex"]

#: directory entries one walk looks at, at most
MAX_WALK_ENTRIES = 200_000
#: seconds one walk may take
WALK_SECONDS = 30.0
MAX_GLOB_CHARS = 1000
_IGNORE_FILES = (".gitignore", ".ignore", ".rgignore")
# an ignore file larger than this is not read (a hostile one could be made huge)
_MAX_IGNORE_BYTES = 1 << 20


def _class(pattern: str, i: int) -> tuple[str, int] | None:
    """The RE2 class for the ``[...]`` starting at ``pattern[i]``, and the index after it."""
    j = i + 1
    negate = j < len(pattern) and pattern[j] in "!^"
    if negate:
        j += 1
    start = j
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a leading ] is a member
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    if j >= len(pattern):
        return None
    body = pattern[start:j].replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{'^/' if negate else ''}{body}]", j + 1


def glob_regex(pattern: str) -> str:
    """An RE2 expression (unanchored) for a glob: ``*``, ``?``, ``[...]``, ``**``, ``{a,b}``."""
    out: list[str] = []
    depth = 0
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                if at_start and pattern.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if at_start and i + 2 == n:
                    out.append(".*")
                    i += 2
                    continue
            out.append("[^/]*")
            while i < n and pattern[i] == "*":
                i += 1
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            found = _class(pattern, i)
            if found is not None:
                out.append(found[0])
                i = found[1]
                continue
            out.append(re2.escape(c))
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re2.escape(pattern[i]))
        else:
            out.append(re2.escape(c))
        i += 1
    if depth:
        raise ToolInputError(f"glob {pattern!r} has an unclosed '{{'")
    return "".join(out)


def compile_glob(pattern: str) -> Any:
    """The anchored RE2 program of a glob; :class:`ToolInputError` when unusable."""
    if len(pattern) > MAX_GLOB_CHARS:
        raise ToolInputError(f"glob is too long ({len(pattern):,} characters)")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    try:
        return re2.compile(f"^(?:{glob_regex(pattern)})$", options)
    except re2.error as exc:
        raise ToolInputError(f"glob {pattern!r} cannot be used: {exc}") from None


@dataclass
class _Ignores:
    """The ignore files in force in one directory: its own and its parents' (to ``top``)."""

    base: Path
    spec: Any
    parent: _Ignores | None

    def ignored(self, path: Path, is_dir: bool) -> bool:
        level: _Ignores | None = self
        while level is not None:
            if level.spec is not None:
                rel = path.relative_to(level.base).as_posix() + ("/" if is_dir else "")
                result = level.spec.check_file(rel)
                if result.include is not None:
                    return bool(result.include)
            level = level.parent
        return False


def _load_ignores(directory: Path) -> Any:
    lines: list[str] = []
    for name in _IGNORE_FILES:
        try:
            with open(directory / name, "rb") as f:
                data = f.read(_MAX_IGNORE_BYTES)
        except OSError:
            continue
        lines += data.decode("utf-8", "replace").splitlines()
    if not lines:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # a line pathspec cannot parse: that file is not honoured
        return None


@dataclass
class Walk:
    """The regular files under ``top`` (not following symlinks), in ``rg --sort path`` order.

    After iterating, ``stopped`` says why the walk ended early ("" when it did not).
    """

    top: Path
    workspace: Workspace
    gitignore: bool = True
    max_entries: int = MAX_WALK_ENTRIES
    seconds: float = WALK_SECONDS
    #: set when the call was cancelled: the walk ends at the next entry
    stop: threading.Event | None = None
    stopped: str = field(default="", init=False)
    entries: int = field(default=0, init=False)

    def _skip_dir(self, path: Path) -> bool:
        return path.name == ".git" or in_hidden(path, self.workspace)

    def __iter__(self) -> Iterator[Path]:
        deadline = time.monotonic() + self.seconds
        parents: _Ignores | None = None
        if self.gitignore:
            # the ignore files of the top's parents apply too, up to the workspace root (and
            # never from a directory the workspace does not contain)
            chain = []
            for p in self.top.parents:
                if not self.workspace.contains(p):
                    break
                chain.append(p)
                if p == self.workspace.root:
                    break
            for p in reversed(chain):
                parents = _Ignores(p, _load_ignores(p), parents)
        # depth first, each directory's entries by name, a subdirectory entered where its
        # name falls: the order of `rg --sort path`, so a search cut short by a cap keeps the
        # same files whichever engine ran
        stack: list[tuple[Iterator[os.DirEntry[str]], _Ignores | None]] = []
        self._enter(self.top, parents, stack)
        while stack:
            entries, ignores = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            self.entries += 1
            if self.entries > self.max_entries:
                self.stopped = f"looked at {self.max_entries:,} entries"
                return
            if time.monotonic() > deadline:
                self.stopped = f"ran for {self.seconds:g} s"
                return
            if self.stop is not None and self.stop.is_set():
                self.stopped = "was cancelled"
                return
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            path = Path(entry.path)
            if stat.S_ISDIR(mode):
                if self._skip_dir(path):
                    continue
                if ignores is not None and ignores.ignored(path, True):
                    continue
                self._enter(path, ignores, stack)
            elif stat.S_ISREG(mode):
                if ignores is not None and ignores.ignored(path, False):
                    continue
                yield path

    def _enter(
        self,
        directory: Path,
        above: _Ignores | None,
        stack: list[tuple[Iterator[os.DirEntry[str]], _Ignores | None]],
    ) -> None:
        ignores = _Ignores(directory, _load_ignores(directory), above) if self.gitignore else None
        try:
            with os.scandir(directory) as it:
                found = sorted(it, key=lambda e: e.name)
        except OSError:
            return  # unreadable: skipped, as rg does
        stack.append((iter(found), ignores))
