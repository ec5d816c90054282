"""How much of a tool's output reaches the model, and the note that says the rest was cut.

Every built-in tool's text goes through :func:`cap_lines` (or :class:`HeadTail` for a stream),
so no call can fill the model's context or this process's memory, and the model always learns
that it did not see everything and how to see the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BASH_MAX_BYTES",
    "BASH_MAX_LINES",
    "GLOB_MAX_FILES",
    "GREP_MAX_LINE_CHARS",
    "MAX_OUTPUT_BYTES",
    "MAX_OUTPUT_LINES",
    "READ_MAX_LINE_CHARS",
    "HeadTail",
    "cap_lines",
    "cut_line",
]

#: any tool's text, at most (about 25k tokens)
MAX_OUTPUT_BYTES = 100_000
MAX_OUTPUT_LINES = 2000
#: a longer line in Read's output is cut (minified files)
READ_MAX_LINE_CHARS = 2000
#: a longer matching line in Grep's output is cut (ripgrep's --max-columns)
GREP_MAX_LINE_CHARS = 500
#: Glob lists at most this many paths, newest first
GLOB_MAX_FILES = 100
#: Bash keeps this much of a command's output: the first half and the last half
BASH_MAX_BYTES = 30_000
BASH_MAX_LINES = 1000


def cut_line(line: str, limit: int) -> str:
    """``line`` cut to ``limit`` characters with a note saying how long it was."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]} [… line cut: {len(line):,} characters]"


def cap_lines(
    lines: Iterable[str], *, max_lines: int = MAX_OUTPUT_LINES, max_bytes: int = MAX_OUTPUT_BYTES
) -> tuple[list[str], bool]:
    """The first lines of ``lines`` that fit both caps, and whether any were left out.

    Takes from ``lines`` lazily and stops at the first line that does not fit, so a generator
    over a huge source is never read to its end.
    """
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line.encode("utf-8", "replace")) + 1
        if len(kept) >= max_lines or size > max_bytes:
            return kept, True
        kept.append(line)
    return kept, False


class HeadTail:
    """A stream's first and last ``limit // 2`` bytes, and how many bytes came in all.

    The head shows how a command started, the tail how it ended (the error, the summary);
    the middle of a long output is dropped while the stream is read, so memory stays bounded.
    """

    def __init__(self, limit: int = BASH_MAX_BYTES) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    @property
    def cut(self) -> int:
        """Bytes dropped from the middle."""
        return self.total - len(self.head) - len(self.tail)

    def text(self, max_lines: int = BASH_MAX_LINES) -> tuple[str, bool]:
        """The kept output as text (a note where the middle was cut), and whether it was cut."""
        half = max(1, max_lines // 2)
        if not self.cut:
            lines = (self.head + self.tail).decode("utf-8", "replace").split("\n")
            if len(lines) <= max_lines:
                return "\n".join(lines), False
            head_lines, tail_lines = lines[:half], lines[-half:]
        else:
            head_lines = self.head.decode("utf-8", "replace").split("\n")[:half]
            tail_lines = self.tail.decode("utf-8", "replace").split("\n")[-half:]
        head, tail = "\n".join(head_lines), "\n".join(tail_lines)
        shown = len(head.encode("utf-8", "replace")) + len(tail.encode("utf-8", "replace"))
        note = (
            f"[… output cut: {self.total:,} bytes in all, of which the {self.total - shown:,} "
            "in the middle are not shown …]"
        )
        return f"{head}\n{note}\n{tail}", True
