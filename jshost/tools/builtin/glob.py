"""``Glob``: the workspace's files whose path matches a pattern, newest first."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, ClassVar

from ..base import ToolInputError, ToolKind, ToolOutput, ToolSpec, Workspace
from . import _args
from ._caps import GLOB_MAX_FILES, cap_lines
from ._paths import PathTool, check_inside, display, in_hidden, resolve
from ._proc import off_loop
from ._walk import Walk, compile_glob

__all__ = ["GlobTool", "search_dir"]

#: matches collected before sorting by time, at most
_MAX_MATCHES = 20_000
_GLOB_CHARS = set("*?[{\\")

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": "Glob relative to path: * and ? stay within one directory, ** "
            "crosses directories, {a,b} is either. E.g. **/*.py, src/**/test_*.{js,ts}.",
        },
        "path": {
            "type": "string",
            "description": "Directory to search (default: the workspace root).",
        },
    },
    "required": ["pattern"],
    "additionalProperties": False,
}

_DESCRIPTION = (
    "Find files by path pattern in the workspace. Returns absolute paths, most recently "
    f"modified first, at most {GLOB_MAX_FILES}. Files ignored by .gitignore, the .git "
    "directory and symlinks are skipped. Use Grep to search inside files."
)


def search_dir(tool_input: dict[str, Any], workspace: Workspace) -> Path:
    """The resolved directory (or file, for Grep) a Glob/Grep call searches."""
    raw = tool_input.get("path")
    if raw is None or raw == "":
        return workspace.root
    return resolve(raw, workspace, field="path")


def _relative_pattern(pattern: str, top: Path) -> str:
    if pattern.startswith("/"):
        prefix = str(top).rstrip("/") + "/"
        if not pattern.startswith(prefix):
            raise ToolInputError(
                f"pattern {pattern!r} is absolute and not under {top}: give the directory "
                "as path and a pattern relative to it"
            )
        pattern = pattern[len(prefix) :]
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if not pattern:
        raise ToolInputError("pattern is empty")
    if ".." in pattern.split("/"):
        raise ToolInputError("pattern must not contain '..': give the directory as path")
    return pattern


def _glob(
    top: Path, pattern: str, workspace: Workspace, *, stop: threading.Event
) -> tuple[list[Path], int, str]:
    parts = pattern.split("/")
    # the literal directories a pattern starts with are entered directly, not searched for
    literal: list[str] = []
    while len(parts) > 1 and not (_GLOB_CHARS & set(parts[0])):
        literal.append(parts.pop(0))
    start = top.joinpath(*literal)
    # a literal directory that is (or passes through) a symlink is not entered, as in a walk
    if os.path.realpath(start) != str(start) or not start.is_dir() or in_hidden(start, workspace):
        return [], 0, ""
    program = compile_glob("/".join(parts))
    walk = Walk(start, workspace, stop=stop)
    found: list[tuple[float, Path]] = []
    matched = 0
    for path in walk:
        rel = path.relative_to(start).as_posix()
        if program.search(rel) is None:
            continue
        matched += 1
        if len(found) < _MAX_MATCHES:
            try:
                found.append((path.stat().st_mtime, path))
            except OSError:
                continue
    found.sort(key=lambda item: (-item[0], str(item[1])))
    return [p for _, p in found], matched, walk.stopped


class GlobTool(PathTool):
    """``Glob {pattern, path?}``."""

    spec: ClassVar[ToolSpec] = ToolSpec("Glob", _DESCRIPTION, _SCHEMA)
    kind: ClassVar[ToolKind] = "read"

    def target(self, tool_input: dict[str, Any], workspace: Workspace) -> Path:
        return search_dir(tool_input, workspace)

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        self.checked(tool_input)
        raw = _args.text(tool_input, "pattern")
        if not raw:
            raise ToolInputError("pattern must be a non-empty glob")
        top = check_inside(search_dir(tool_input, workspace), workspace)
        if not top.is_dir():
            what = "does not exist" if not top.exists() else "is not a directory"
            raise ToolInputError(f"path {top} {what}: give a directory to search")
        if in_hidden(top, workspace):
            raise ToolInputError(f"{top} is hidden from this agent's searches")
        pattern = _relative_pattern(raw, top)
        compile_glob(pattern)  # a bad pattern is an input error, before any walk
        paths, matched, stopped = await off_loop(_glob, top, pattern, workspace)
        where = display(top, workspace)
        summary = f"Glob {raw}" + ("" if where == "." else f" in {where}")
        if not paths:
            text = "No files found"
            if stopped:
                text += f" (the search stopped early: it {stopped})"
            return ToolOutput(text, summary=f"{summary} (no files)", truncated=bool(stopped))
        lines, _ = cap_lines(os.fspath(p) for p in paths[:GLOB_MAX_FILES])
        shown = paths[: len(lines)]
        truncated = matched > len(shown) or bool(stopped)
        if matched > len(shown):
            lines.append(
                f"[… {matched:,} files match; showing the {len(shown)} most recently "
                "modified. Narrow the pattern or the path to see others]"
            )
        if stopped:
            lines.append(f"[… the search stopped early: it {stopped}; narrow the path]")
        return ToolOutput(
            "\n".join(lines),
            summary=f"{summary} ({matched:,} file{'' if matched == 1 else 's'})",
            truncated=truncated,
        )
