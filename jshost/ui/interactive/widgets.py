"""What the view draws: the row list widget, the cells of its rows, an agent's detail text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ...text import printable
from ...transcripts import transcript_lines, use_line
from ..state import STATE_STYLE, AgentView, RunView, clock, tokens_k
from ..summary import format_result

__all__ = ["Row", "Rows", "agent_detail", "agent_sections"]


#: lines of a prompt or result shown before Enter expands it
COLLAPSED_LINES = 10
#: characters of one section drawn even when expanded (inspect prints everything)
EXPANDED_CHARS = 100_000


@dataclass(frozen=True)
class Row:
    """One selectable row: a key that stays the same while the row's cells change.

    ``cells`` may be a function making them: only the rows on screen are drawn.
    """

    key: tuple[Any, ...]
    cells: tuple[RenderableType, ...] | Callable[[], tuple[RenderableType, ...]]

    def render(self) -> tuple[RenderableType, ...]:
        return self.cells() if callable(self.cells) else self.cells


class Rows(Widget):
    """A list of rows with a cursor; draws only the rows that fit (runs may have 1,000 agents)."""

    DEFAULT_CSS = "Rows { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.columns: list[dict[str, Any]] = []
        self.cursor = 0
        self.empty = ""
        self._top = 0

    @property
    def selected(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def show(
        self, rows: list[Row], columns: list[dict[str, Any]], *, select: Any = None, empty: str = ""
    ) -> None:
        """Replace the rows, keeping the cursor on the same key (or on ``select``)."""
        key = select if select is not None else (self.selected.key if self.selected else None)
        self.rows, self.columns, self.empty = rows, columns, empty
        if key is not None:
            for i, row in enumerate(rows):
                if row.key == key:
                    self.cursor = i
                    break
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        self.refresh()

    def move(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))
        self.refresh()

    def render(self) -> RenderableType:
        if not self.rows:
            return Text(self.empty, style="dim")
        height = max(1, self.size.height)
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + height:
            self._top = self.cursor - height + 1
        self._top = max(0, min(self._top, len(self.rows) - height))
        table = Table.grid(padding=(0, 1), expand=True)
        for spec in self.columns:
            table.add_column(**spec)
        for i in range(self._top, min(len(self.rows), self._top + height)):
            table.add_row(*self.rows[i].render(), style="reverse" if i == self.cursor else None)
        return table


_RUN_COLUMNS = [
    {"width": 1, "no_wrap": True},
    {"ratio": 1, "no_wrap": True, "overflow": "ellipsis", "min_width": 8},
    {"no_wrap": True, "overflow": "ellipsis"},
    {"justify": "right", "no_wrap": True},
    {"justify": "right", "no_wrap": True},
]
_AGENT_COLUMNS = [
    {"justify": "right", "no_wrap": True, "style": "dim"},
    {"no_wrap": True, "width": 9},
    {"ratio": 1, "no_wrap": True, "overflow": "ellipsis", "min_width": 10},
    {"no_wrap": True, "overflow": "ellipsis", "max_width": 16, "style": "dim"},
    {"justify": "right", "no_wrap": True},
    {"justify": "right", "no_wrap": True},
]
_STATUS_MARK = {
    "starting": ("▸", "cyan"),
    "running": ("▸", "cyan"),
    "paused": ("‖", "yellow"),
    "stopping": ("▸", "yellow"),
    "completed": ("✓", "green"),
    "failed": ("!", "red"),
    "stopped": ("■", "yellow"),
    "interrupted": ("!", "red"),
}


def _status_text(view: RunView) -> Text:
    if view.status == "paused":
        return Text(" PAUSED ", style="bold black on yellow")
    if view.status == "stopping":
        return Text("stopping…", style="bold yellow")
    style = {"completed": "green", "failed": "red", "running": "cyan", "starting": "cyan"}
    return Text(view.status, style=style.get(view.status, "yellow"))


def _agent_cells(a: AgentView, now: float) -> tuple[RenderableType, ...]:
    took = a.elapsed(now)
    tries = f" ×{a.attempts}" if a.attempts > 1 else ""
    status = Text("waiting", style="bold yellow") if a.waiting else None
    label = Text(printable(a.label) + tries)
    if a.worktree:  # an isolated agent: its worktree's name (the detail has the path)
        label.append(f"  ⎇ {printable(a.worktree.rsplit('/', 1)[-1])}", style="cyan")
    if a.status == "running" and a.last_tool is not None:
        label.append("  ")
        style = "yellow" if a.last_tool.status in ("waiting", "denied") else "dim"
        label.append(printable(use_line(a.last_tool, limit=160)), style=style)
    return (
        f"#{a.index}",
        status or Text(a.status, style=STATE_STYLE.get(a.status, "")),
        label,
        Text(printable(a.model_used or a.model or "default")),
        f"{tokens_k(a.usage.input_tokens)}→{tokens_k(a.usage.output_tokens)}",
        clock(took) if took is not None else "",
    )


def _agent_columns(agents: list[AgentView], now: float) -> list[dict[str, Any]]:
    """The agent list's columns, sized from every agent of the group, filtered out or not.

    Sized from the rows shown, a filter would move the columns (and a column empty in every
    row shown, such as the elapsed time of queued agents, made rich stop expanding the table).
    """
    index = model = tokens = 0
    took = 4  # 0:00
    for a in agents:
        cells = _agent_cells(a, now)
        index = max(index, len(str(cells[0])))
        model = max(model, cell_len(str(cells[3])))
        tokens = max(tokens, len(str(cells[4])))
        took = max(took, len(str(cells[5])))
    widths = [index, None, None, min(model, 16), tokens, took]
    return [
        {**spec, "min_width": max(spec.get("min_width", 0), width)} if width else spec
        for spec, width in zip(_AGENT_COLUMNS, widths, strict=True)
    ]


def _agent_row(a: AgentView, now: float) -> Row:
    return Row(key=("agent", a.index), cells=lambda: _agent_cells(a, now))


def _clip_lines(text: str, expanded: bool) -> tuple[str, str]:
    """The part of ``text`` shown and a note about the rest ("" when all of it is shown)."""
    if expanded:
        if len(text) <= EXPANDED_CHARS:
            return text, ""
        return text[:EXPANDED_CHARS], f"… {len(text) - EXPANDED_CHARS:,} more characters"
    lines = text.splitlines() or [""]
    shown = "\n".join(line[:400] for line in lines[:COLLAPSED_LINES])
    hidden = len(lines) - COLLAPSED_LINES
    if hidden > 0:
        return shown, f"… {hidden:,} more lines (Enter expands)"
    if len(shown) < len(text):
        return shown, "… long lines cut (Enter expands)"
    return shown, ""


def agent_sections(a: AgentView) -> list[tuple[str, str | None]]:
    """The detail's sections: prompt, result or error, and tool calls for workers with them."""
    # Every body is shown as printable text: the prompt and result hold what the script and
    # the model wrote, and a redraw must not replay an escape sequence in them.
    sections: list[tuple[str, str | None]] = [("prompt", printable(a.prompt, multiline=True))]
    if a.status in ("done", "cached"):
        sections.append(("result", format_result(a.result)))
    elif a.status in ("failed", "skipped", "cancelled"):
        sections.append(("error", printable(a.error or a.status, multiline=True)))
    else:
        sections.append(("result", None))
    if a.transcript:
        lines = transcript_lines(a.transcript)
        sections.append(("transcript", printable("\n".join(lines), multiline=True)))
    elif a.tool_calls is not None:
        calls = "\n".join(printable(call) for call in a.tool_calls)
        sections.append(("recent tool calls", calls or "none yet"))
    elif a.last_tool is not None:
        sections.append(("latest tool call", printable(use_line(a.last_tool))))
    return sections


def agent_detail(
    a: AgentView, now: float, *, selected: int, expanded: set[str]
) -> tuple[Text, list[int]]:
    """The detail text of one agent and the line each section starts on."""
    text = Text()
    text.append(f"#{a.index} ", style="dim")
    text.append(printable(a.label), style="bold")
    text.append("\nstatus ")
    text.append(a.status, style=STATE_STYLE.get(a.status, ""))
    text.append(f" · attempts {a.attempts}")
    model = a.model or a.model_used or "default"
    if a.model_used and a.model_used != a.model:
        model += f" ({a.model_used})"
    text.append(f" · model {printable(model)}")
    if a.phase:
        text.append(f" · phase {printable(a.phase)}")
    took = a.elapsed(now)
    u = a.usage
    text.append(f"\ntokens {u.input_tokens:,} in / {u.output_tokens:,} out")
    if u.cache_creation_input_tokens or u.cache_read_input_tokens:
        text.append(
            f" · cache {u.cache_creation_input_tokens:,} written / "
            f"{u.cache_read_input_tokens:,} read"
        )
    text.append(f" · elapsed {clock(took) if took is not None else '–'}")
    starts = []
    line = 3
    if a.waiting and a.last_tool is not None:
        text.append("\npaused: ", style="bold yellow")
        text.append(printable(use_line(a.last_tool)), style="yellow")
        line += 1
    if a.worktree:
        # Where an isolated agent works; once it has ended, a worktree still here was kept.
        after = "" if a.status in ("queued", "running") else " — kept: review and merge"
        branch = f" ({printable(a.worktree_branch)})" if a.worktree_branch else ""
        text.append(f"\nworktree {printable(a.worktree)}{branch}{after}")
        line += 1
    for i, (name, body) in enumerate(agent_sections(a)):
        text.append("\n\n")
        line += 1
        starts.append(line)
        is_open = name in expanded
        mark = "▾" if is_open else "▸"
        text.append(f"{mark} {name}", style="bold reverse" if i == selected else "bold")
        if body is None:
            text.append("\n  (not finished yet)", style="dim")
            line += 2
            continue
        shown, note = _clip_lines(body, is_open)
        text.append("\n")
        text.append(shown)
        line += 1 + shown.count("\n") + 1
        if note:
            text.append(f"\n{note}", style="dim")
            line += 1
    return text, starts
