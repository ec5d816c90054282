"""``Read``: a text file's lines, numbered like ``cat -n``, a window at a time."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from ..base import ToolKind, ToolOutput, ToolSpec, Workspace
from . import _args
from ._caps import MAX_OUTPUT_BYTES, READ_MAX_LINE_CHARS
from ._paths import PathTool, check_inside, display, resolve
from ._proc import off_loop

__all__ = ["DEFAULT_READ_LINES", "ReadTool", "is_binary"]

DEFAULT_READ_LINES = 2000
#: bytes looked at to tell a binary file from text (a NUL byte among them: binary)
SNIFF_BYTES = 8192
# a line is read in pieces of this size, so one 2 GB line costs no more memory than a short one
_PIECE = 64 * 1024

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file_path": {
            "type": "string",
            "description": "Absolute path of the file (a relative path is taken from the "
            "workspace root).",
        },
        "offset": {
            "type": "integer",
            "minimum": 0,
            "description": "Line number to start at (1 = the first line). Use it with limit "
            "for files too long to read at once.",
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "description": f"How many lines to show (default {DEFAULT_READ_LINES}).",
        },
    },
    "required": ["file_path"],
    "additionalProperties": False,
}

_DESCRIPTION = (
    "Show a text file from the workspace with numbered lines (line number, a tab, the line). "
    f"Shows up to {DEFAULT_READ_LINES} lines from the start unless offset/limit choose a "
    f"window; lines longer than {READ_MAX_LINE_CHARS} characters are cut. Binary files are "
    "refused; for a directory use Glob. Reading several files in one turn is fine."
)


def is_binary(head: bytes) -> bool:
    """Whether a file that starts with ``head`` is binary (a NUL byte, as grep and git judge)."""
    return b"\0" in head


def _lines(f: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Each line's first bytes (enough to show it) and its full length in bytes."""
    keep = READ_MAX_LINE_CHARS * 4 + 4  # enough bytes for READ_MAX_LINE_CHARS characters
    while True:
        piece = f.readline(_PIECE)
        if not piece:
            return
        start = piece
        size = len(piece)
        while not piece.endswith(b"\n"):
            piece = f.readline(_PIECE)
            if not piece:
                break
            if len(start) < keep:
                start += piece[: keep - len(start)]
            size += len(piece)
        yield start[:keep], size


def _show(raw: bytes, size: int) -> str:
    line = raw.decode("utf-8", "replace").rstrip("\n").removesuffix("\r")
    if size > len(raw) or len(line) > READ_MAX_LINE_CHARS:
        shown = line[:READ_MAX_LINE_CHARS]
        return f"{shown} [… line cut: {size:,} bytes]"
    return line


def _read(path: Path, shown: str, offset: int, limit: int, *, stop: threading.Event) -> ToolOutput:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ToolOutput(f"{path} does not exist", is_error=True, summary=f"Read {shown}: missing")
    except OSError as exc:
        return ToolOutput(f"cannot read {path}: {exc.strerror}", is_error=True)
    if stat.S_ISDIR(st.st_mode):
        return ToolOutput(
            f"{path} is a directory, not a file: use Glob to list the files in it",
            is_error=True,
            summary=f"Read {shown}: a directory",
        )
    if not stat.S_ISREG(st.st_mode):
        # a FIFO would block forever and a device never ends: never opened
        return ToolOutput(
            f"{path} is not a regular file (a device, pipe or socket): Read shows text files",
            is_error=True,
            summary=f"Read {shown}: not a file",
        )
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, after the sniff and the lines)
    except OSError as exc:
        return ToolOutput(f"cannot read {path}: {exc.strerror}", is_error=True)
    with f:
        if is_binary(f.read(SNIFF_BYTES)):
            return ToolOutput(
                f"{path} is a binary file ({st.st_size:,} bytes); Read shows text files only",
                is_error=True,
                summary=f"Read {shown}: binary",
            )
        f.seek(0)
        if st.st_size == 0:
            return ToolOutput(f"{path} is empty (0 bytes)", summary=f"Read {shown} (empty)")
        first = max(offset, 1)
        out: list[str] = []
        size = 0
        number = 0
        more = False
        cut_by_bytes = False
        for number, (raw, length) in enumerate(_lines(f), start=1):
            if number < first:
                if not number % 4096 and stop.is_set():
                    break  # cancelled while skipping to a far offset
                continue
            if len(out) >= limit:
                more = True
                break
            line = f"{number:>6}\t{_show(raw, length)}"
            size += len(line.encode("utf-8", "replace")) + 1
            if size > MAX_OUTPUT_BYTES and out:
                more = cut_by_bytes = True
                break
            out.append(line)
    if not out:
        return ToolOutput(
            f"{path} has {number:,} lines; offset {offset} is past its end",
            summary=f"Read {shown}: offset past the end",
        )
    last = first + len(out) - 1
    text = "\n".join(out)
    if more:
        why = f" (output is cut at {MAX_OUTPUT_BYTES:,} bytes)" if cut_by_bytes else ""
        text += f"\n[… the file goes on after line {last}{why}; read on with offset={last + 1}]"
    window = f"{len(out)} lines" if first == 1 else f"lines {first}–{last}"
    return ToolOutput(text, summary=f"Read {shown} ({window})", truncated=more)


class ReadTool(PathTool):
    """``Read {file_path, offset?, limit?}``."""

    spec: ClassVar[ToolSpec] = ToolSpec("Read", _DESCRIPTION, _SCHEMA)
    kind: ClassVar[ToolKind] = "read"

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        self.checked(tool_input)
        path = resolve(tool_input["file_path"], workspace)
        offset = _args.integer(tool_input, "offset", default=1, low=0)
        limit = _args.integer(tool_input, "limit", default=DEFAULT_READ_LINES, low=1)
        assert offset is not None and limit is not None
        check_inside(path, workspace)
        shown = display(path, workspace)
        # a slow disk or a huge file must not hold the trio thread; a cancelled read is dropped
        return await off_loop(_read, path, shown, offset, limit)
