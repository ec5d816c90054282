"""``Write`` and ``Edit``: replace a file whole, or replace exact text in it.

Both write atomically: the new content goes to a temporary file in the same directory, is
flushed to disk, takes the old file's permission bits, and is renamed over the old name, so a
crash or a cancellation leaves either the old file or the new one, never half of one. A path
is resolved first (:mod:`._paths`), so writing through a symlink writes its target and a
symlink that points outside the workspace is refused like any outside path. Hidden directories
(other agents' worktrees), anything under a ``.git`` directory and the workspace's
``.claude/settings.json`` / ``settings.local.json`` are never written (:func:`protected`).

No read state is kept: ``Edit`` works on a file the agent has not ``Read``. It needs
``old_string`` to occur exactly once (or ``replace_all``), which already proves the agent
knows the text it changes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import trio

from ..base import ToolInputError, ToolKind, ToolOutput, ToolSpec, Workspace
from . import _args
from ._caps import READ_MAX_LINE_CHARS, cut_line
from ._paths import PathTool, check_inside, display, in_hidden, resolve
from .read import SNIFF_BYTES, is_binary

__all__ = ["MAX_EDIT_BYTES", "EditTool", "WriteTool", "atomic_write", "protected"]

#: largest file Edit changes and Write writes
MAX_EDIT_BYTES = 16 << 20
_SNIPPET_AROUND = 3
_SNIPPET_MAX_LINES = 40

_WRITE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file_path": {
            "type": "string",
            "description": "Absolute path of the file to create or replace.",
        },
        "content": {"type": "string", "description": "The file's entire new content."},
    },
    "required": ["file_path", "content"],
    "additionalProperties": False,
}

_EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "Absolute path of the file to change."},
        "old_string": {
            "type": "string",
            "description": "The exact text to replace, whitespace included; it must occur "
            "once in the file unless replace_all is true.",
        },
        "new_string": {"type": "string", "description": "The text to put in its place."},
        "replace_all": {
            "type": "boolean",
            "description": "Replace every occurrence instead of exactly one (default false).",
        },
    },
    "required": ["file_path", "old_string", "new_string"],
    "additionalProperties": False,
}

_WRITE_DESCRIPTION = (
    "Create a file in the workspace, or replace an existing file's whole content. Missing "
    "parent directories are created. To change part of a file, prefer Edit."
)
_EDIT_DESCRIPTION = (
    "Replace exact text in a workspace file: old_string must match the file character for "
    "character (copy it from Read's output without the line-number prefix) and occur once, "
    "unless replace_all is set. An empty old_string creates a new file with new_string."
)


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def atomic_write(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename; whether it is new.

    An existing file keeps its permission bits; a new one gets the usual ``0o666 & ~umask``.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        created = False
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
        created = True
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".jshost-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return created


_SETTINGS = (Path(".claude", "settings.json"), Path(".claude", "settings.local.json"))


def protected(path: Path, workspace: Workspace) -> str | None:
    """Why Write and Edit never change the resolved ``path``, whatever a rule says; or None.

    git's own files (a hook runs code at the user's next commit) and the permission settings
    (an agent would widen its own rules) change only through Bash, under Bash's rules.
    """
    if ".git" in path.parts:
        return f"{path} is one of git's own files (.git): Write and Edit never change them"
    for base in {workspace.root, workspace.project_root} - {None}:
        assert base is not None
        if any(path == base / s for s in _SETTINGS):
            return f"{path} holds the permission rules: Write and Edit never change it"
    if in_hidden(path, workspace):
        return f"{path} is in a directory this agent may not change"
    return None


def _target(tool_input: dict[str, Any], workspace: Workspace) -> Path:
    path = check_inside(resolve(tool_input["file_path"], workspace), workspace)
    why = protected(path, workspace)
    if why:
        raise ToolInputError(why)
    return path


def _check_writable(path: Path) -> str | None:
    """Why ``path`` cannot be replaced by a file, or None."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot use {path}: {exc.strerror}"
    if stat.S_ISDIR(st.st_mode):
        return f"{path} is a directory"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file (a device, pipe or socket)"
    return None


def _lines_of(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def _write(path: Path, shown: str, content: str) -> ToolOutput:
    problem = _check_writable(path)
    if problem:
        return ToolOutput(problem, is_error=True, summary=f"Write {shown}: refused")
    data = content.encode("utf-8")
    if len(data) > MAX_EDIT_BYTES:
        return ToolOutput(
            f"content is {len(data):,} bytes; Write takes at most {MAX_EDIT_BYTES:,}",
            is_error=True,
        )
    try:
        created = atomic_write(path, data)
    except OSError as exc:
        return ToolOutput(f"cannot write {path}: {exc.strerror or exc}", is_error=True)
    n = _lines_of(content)
    verb = "Created" if created else "Replaced"
    return ToolOutput(
        f"{verb} {path} ({n} lines, {len(data):,} bytes)", summary=f"Write {shown} ({n} lines)"
    )


def _snippet(text: str, at: int, changed: str) -> str:
    """Numbered lines around the first change (what the file now says there)."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    first = text.count("\n", 0, at)
    last = first + changed.count("\n")
    start = max(0, first - _SNIPPET_AROUND)
    end = min(len(lines), last + _SNIPPET_AROUND + 1, start + _SNIPPET_MAX_LINES)
    return "\n".join(
        f"{n + 1:>6}\t{cut_line(lines[n], READ_MAX_LINE_CHARS)}" for n in range(start, end)
    )


def _load(path: Path) -> tuple[os.stat_result, str] | ToolOutput:
    """The file's stat and text, or the error that says why Edit cannot change it."""
    try:
        before = os.stat(path)
        if before.st_size > MAX_EDIT_BYTES:
            return ToolOutput(
                f"{path} is {before.st_size:,} bytes; Edit changes files up to {MAX_EDIT_BYTES:,}",
                is_error=True,
            )
        with open(path, "rb") as f:
            data = f.read(MAX_EDIT_BYTES + 1)
    except OSError as exc:
        return ToolOutput(f"cannot read {path}: {exc.strerror or exc}", is_error=True)
    if is_binary(data[:SNIFF_BYTES]):
        return ToolOutput(f"{path} is a binary file; Edit changes text files", is_error=True)
    try:
        return before, data.decode("utf-8")
    except UnicodeDecodeError:
        return ToolOutput(
            f"{path} is not UTF-8 text; Edit cannot change it safely (Write replaces it whole)",
            is_error=True,
        )


def _edit(path: Path, shown: str, old: str, new: str, replace_all: bool) -> ToolOutput:
    problem = _check_writable(path)
    if problem:
        return ToolOutput(problem, is_error=True, summary=f"Edit {shown}: refused")
    if not path.exists() and old:
        return ToolOutput(
            f"{path} does not exist (an empty old_string creates a file)",
            is_error=True,
            summary=f"Edit {shown}: missing",
        )
    if not path.exists():
        try:
            atomic_write(path, new.encode("utf-8"))
        except OSError as exc:
            return ToolOutput(f"cannot write {path}: {exc.strerror or exc}", is_error=True)
        return ToolOutput(f"Created {path}", summary=f"Edit {shown} (created)")
    loaded = _load(path)
    if isinstance(loaded, ToolOutput):
        return loaded
    before, text = loaded
    if not old and text:
        return ToolOutput(
            f"old_string is empty but {path} is not: give the text to replace", is_error=True
        )
    count = text.count(old) if old else 1
    if not count and "\r\n" in text and "\n" in old:
        # the model saw Read's lines without their carriage returns
        old = old.replace("\r\n", "\n").replace("\n", "\r\n")
        new = new.replace("\r\n", "\n").replace("\n", "\r\n")
        count = text.count(old)
    if not count:
        return ToolOutput(
            f"old_string was not found in {path}: Read the file and copy the text exactly, "
            "indentation and line breaks included",
            is_error=True,
            summary=f"Edit {shown}: text not found",
        )
    if count > 1 and not replace_all:
        return ToolOutput(
            f"old_string occurs {count} times in {path}: include more of the surrounding text "
            "so it occurs once, or set replace_all to true to replace all of them",
            is_error=True,
            summary=f"Edit {shown}: text not unique",
        )
    if not old:  # an empty file gets its first content
        at, updated = 0, new
    else:
        at = text.find(old)
        updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
    after = os.stat(path)
    if (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size):
        return ToolOutput(f"{path} changed while it was being edited: try again", is_error=True)
    try:
        atomic_write(path, updated.encode("utf-8"))
    except OSError as exc:
        return ToolOutput(f"cannot write {path}: {exc.strerror or exc}", is_error=True)
    times = f"{count} occurrences" if count > 1 else "1 occurrence"
    return ToolOutput(
        f"Edited {path}: replaced {times}. Now at the first change:\n{_snippet(updated, at, new)}",
        summary=f"Edit {shown} ({times})",
    )


class WriteTool(PathTool):
    """``Write {file_path, content}``."""

    spec: ClassVar[ToolSpec] = ToolSpec("Write", _WRITE_DESCRIPTION, _WRITE_SCHEMA)
    kind: ClassVar[ToolKind] = "edit"

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        self.checked(tool_input)
        content = _args.text(tool_input, "content")
        assert content is not None
        path = _target(tool_input, workspace)
        # not abandoned on cancel: a write is short and atomic, and must not outlive its call
        return await trio.to_thread.run_sync(_write, path, display(path, workspace), content)


class EditTool(PathTool):
    """``Edit {file_path, old_string, new_string, replace_all?}``."""

    spec: ClassVar[ToolSpec] = ToolSpec("Edit", _EDIT_DESCRIPTION, _EDIT_SCHEMA)
    kind: ClassVar[ToolKind] = "edit"

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        self.checked(tool_input)
        old = _args.text(tool_input, "old_string")
        new = _args.text(tool_input, "new_string")
        replace_all = _args.boolean(tool_input, "replace_all")
        assert old is not None and new is not None
        if old == new:
            raise ToolInputError("old_string and new_string are the same: nothing would change")
        path = _target(tool_input, workspace)
        return await trio.to_thread.run_sync(
            _edit, path, display(path, workspace), old, new, replace_all
        )
