"""Lines written to a terminal after a run (the summary, error messages), wrapped at words.

A terminal wraps a long line at its last column, wherever that falls: in the middle of a run
id the user is meant to copy, or of a number. These lines are wrapped here instead, at the
``·`` separators first, then at spaces, and a word is never split (one wider than the
terminal gets a line of its own). Written to a pipe or a file, lines stay whole, so that
``grep`` finds them as before.
"""

from __future__ import annotations

import os
from typing import IO

__all__ = ["terminal_width", "wrap_line", "wrap_lines"]

#: a continuation line starts this much further in than the line it continues
HANG = 2
_SEPARATOR = " · "


def terminal_width(stream: IO[str]) -> int | None:
    """The columns of the terminal ``stream`` writes to, or None when it is not a terminal.

    ``COLUMNS`` wins when set, as it does for rich (which draws the rest of the output).
    """
    try:
        if not stream.isatty():
            return None
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test's stream, a closed file
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(fd).columns or None
    except OSError:
        return None


def cell_len(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    # rich's cell tables load at the first line wrapped for a terminal: written to a pipe or
    # a file nothing is wrapped, and `jshost run` need not import rich (issue 22, start-up).
    from rich.cells import cell_len as columns

    return columns(text)


def _fill(parts: list[str], joint: str, first: str, rest: str, width: int) -> list[str]:
    """Greedily fill lines with ``parts`` joined by ``joint``; a joint ending a line stays."""
    lines: list[str] = []
    line = first
    empty = True
    for part in parts:
        candidate = line + part if empty else line + joint + part
        if empty or cell_len(candidate) <= width:
            line, empty = candidate, False
            continue
        lines.append(line + joint.rstrip())
        line = rest + part
    lines.append(line)
    return lines


def wrap_line(line: str, width: int) -> list[str]:
    """``line`` cut into lines of at most ``width`` columns, at separators, then at spaces.

    Continuation lines are indented :data:`HANG` columns past the line's own indent. A word
    wider than the room left is never split: it goes on a line of its own.
    """
    if cell_len(line) <= width or width <= HANG + 10:
        return [line]
    body = line.lstrip(" ")
    indent = line[: len(line) - len(body)]
    rest = indent + " " * HANG
    out: list[str] = []
    for chunk in _fill(body.split(_SEPARATOR), _SEPARATOR, indent, rest, width):
        # A chunk still too wide (no separator in it): wrap it at spaces.
        if cell_len(chunk) <= width:
            out.append(chunk)
            continue
        lead = chunk[: len(chunk) - len(chunk.lstrip(" "))]
        words = chunk.lstrip(" ").split(" ")
        out.extend(_fill(words, " ", lead, rest, width))
    return out


def wrap_lines(lines: list[str], stream: IO[str]) -> list[str]:
    """``lines`` wrapped to the terminal ``stream`` writes to; unchanged for a pipe or file."""
    width = terminal_width(stream)
    if width is None:
        return lines
    return [part for line in lines for part in wrap_line(line, width)]
