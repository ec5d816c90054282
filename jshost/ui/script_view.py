"""The raw-script view: a header (meta, size, sha256, checks) and the numbered source.

Two renderings of the same content: rich, with syntax highlighting, for a terminal (through
a pager); and plain text, for pipes and ``--plain``. Neither may hide code: control and
invisible format characters are shown as ``⟨U+202E⟩`` markers, long lines wrap instead of
being cut, and nothing in the script is interpreted as markup.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..text import printable

if TYPE_CHECKING:
    from ..script.validate import Report

__all__ = ["header_rows", "page", "plain_view", "rich_view", "visible"]


def visible(text: str) -> str:
    """``text`` with every control or format character (but tab and newline) made visible."""
    return printable(text, multiline=True)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def header_rows(report: Report) -> list[tuple[str, str]]:
    """(label, value) rows of the header; values may span several lines."""
    meta = report.meta
    rows: list[tuple[str, str]] = []
    if meta is not None:
        rows.append(("name", meta.name))
        if meta.title:
            rows.append(("title", meta.title))
        rows.append(("description", meta.description))
        if meta.when_to_use:
            rows.append(("when to use", meta.when_to_use))
        if meta.phases:
            lines = []
            for i, phase in enumerate(meta.phases, 1):
                line = f"{i}. {phase.title}"
                if phase.detail:
                    line += f" — {phase.detail}"
                if phase.model:
                    line += f" ({phase.model})"
                lines.append(line)
            rows.append(("phases", "\n".join(lines)))
        else:
            rows.append(("phases", "none declared"))
    else:
        rows.append(("name", "unknown: the meta header is invalid (see the errors below)"))
    source = report.source
    size = len(source.encode("utf-8", "surrogatepass"))
    lines_count = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
    rows.append(("file", report.path or "<script>"))
    rows.append(
        (
            "size",
            f"{_plural(len(source), 'character')} · {_plural(size, 'byte')} · "
            f"{_plural(lines_count, 'line')}",
        )
    )
    rows.append(("sha256", report.sha256 or "unknown"))
    if report.fanout is not None:
        rows.append(("agents", report.fanout.text()))
    if report.errors or report.warnings:
        checks = f"{_plural(report.errors, 'error')}, {_plural(report.warnings, 'warning')}"
        rows.append(("checks", f"{checks} (jshost validate {report.path or 'SCRIPT'})"))
    else:
        rows.append(("checks", "no problems found"))
    return [(label, visible(value)) for label, value in rows]


def plain_view(report: Report) -> str:
    """The header and the numbered source as plain text (no colour, nothing cut)."""
    rows = header_rows(report)
    width = max(len(label) for label, _ in rows)
    out = []
    for label, value in rows:
        first, *rest = value.split("\n")
        out.append(f"{label:>{width}}  {first}")
        out.extend(f"{'':>{width}}  {line}" for line in rest)
    out.append("")
    source = visible(report.source)
    if source:
        lines = source.split("\n")
        if source.endswith("\n"):
            lines.pop()
        digits = len(str(len(lines)))
        out.extend(f"{n:>{digits}} │ {line}" for n, line in enumerate(lines, 1))
    return "\n".join(out) + "\n"


def header_panel(report: Report, title: str = "workflow script") -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in header_rows(report):
        grid.add_row(label, Text(value))
    # No right padding: at 80 columns the 64 hex digits of the sha256 then fit on one line
    # beside the widest label ("description"), and a digest cut in two cannot be compared.
    return Panel(
        grid, title=escape(title), title_align="left", border_style="cyan", padding=(0, 0, 0, 1)
    )


def _syntax(report: Report) -> RenderableType:
    from rich.syntax import Syntax  # pygments is only needed to draw the script

    source = visible(report.source)
    return Syntax(
        source[:-1] if source.endswith("\n") else source,  # no empty line after the last
        "javascript",
        line_numbers=True,
        word_wrap=True,  # a long line must wrap: cutting it could hide code
        theme="ansi_dark",
        background_color="default",
        tab_size=4,
    )


def rich_view(report: Report) -> RenderableType:
    """The header panel and the highlighted, numbered source."""
    return Group(header_panel(report), _syntax(report))


def render(renderable: RenderableType, like: Console) -> str:
    """``renderable`` as text with the colours and width of the terminal ``like`` draws on."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system=like.color_system,
        width=like.width,
        no_color=like.no_color,
    )
    console.print(renderable)
    return buffer.getvalue()


def page(text: str, fallback: Console) -> None:
    """Show ``text`` through ``$MANPAGER``/``$PAGER`` or ``less``; print it if there is none.

    ``less`` gets ``LESS=FRX`` unless ``LESS`` is set (as git does): colours pass through, a
    script that fits on one screen is printed without waiting for ``q``, and the screen is
    not cleared afterwards, so the choices that follow stay next to the script.
    """
    command = os.environ.get("MANPAGER") or os.environ.get("PAGER")
    if command is None and shutil.which("less"):
        command = "less"
    if not command:
        fallback.file.write(text)
        fallback.file.flush()
        return
    env = dict(os.environ)
    if Path(command.split()[0]).name == "less":
        env.setdefault("LESS", "FRX")
    try:
        proc = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE, env=env, encoding="utf-8", errors="replace"
        )
    except OSError:
        fallback.file.write(text)
        return
    assert proc.stdin is not None
    try:
        with proc.stdin as pipe:
            pipe.write(text)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the reader quit early
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue  # the pager owns the terminal until it exits (as pydoc does)
