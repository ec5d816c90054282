"""The live progress view on a terminal (rich): where a run stands, what it costs, what failed.

Fed by :class:`jshost.ui.dispatch.UiThread`; redraws at most ``fps`` times a second whatever
the event rate, and less often when a frame is expensive (drawing runs on the interpreter the
run needs too, so it is held to about 2 % of the time). Everything is sized to stay
readable in an 80-column terminal: long labels are cut, the running list and the log are
bounded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..text import printable
from ..transcripts import use_line
from .dispatch import Stamped
from .state import (
    STATE_STYLE,
    STATES,
    PhaseSummary,
    RunState,
    clock,
    count_states,
    phase_summaries,
    tokens_k,
    waits_for_answer,
)

__all__ = [
    "LiveView",
    "agents_line",
    "log_lines",
    "phase_cells",
    "running_label",
    "state_counts",
    "tokens_line",
]

#: frames are spaced at least this many times their own cost apart (50 → about 2 %)
_DRAW_SHARE = 50


class LiveView(RunState):
    """A rich live display of one run.

    Args:
        console (Console): where to draw (stderr, so stdout keeps only the result).
        run_id (str | None): shown in the header.
        fps (float): most redraws per second.
        running_rows (int): running agents listed before "… and N more".
        log_rows (int): latest log lines shown.
    """

    def __init__(
        self,
        console: Console,
        *,
        run_id: str | None = None,
        fps: float = 10.0,
        running_rows: int = 8,
        log_rows: int = 5,
    ) -> None:
        super().__init__(log_rows=log_rows)
        self.console = console
        self.run_id = run_id
        self.interval = 1.0 / fps
        self.running_rows = running_rows
        self._live: Live | None = None
        self._last_draw = 0.0
        self._draw_cost = 0.0  # seconds the last frame took
        self._dirty = True

    # ---- events ------------------------------------------------------------------------

    def handle(self, batch: list[Stamped]) -> None:
        super().handle(batch)
        self._dirty = True

    # ---- drawing -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        since = now - self._last_draw
        # Redraw on news, and once a second anyway because the clocks move.
        gap = max(self.interval, _DRAW_SHARE * self._draw_cost)
        if (self._dirty and since >= gap) or since >= max(1.0, gap):
            self._draw(now)

    def _draw(self, now: float) -> None:
        if self._live is None:
            self._live = Live(
                console=self.console,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
                transient=False,
            )
            self._live.start()
        started = time.perf_counter()
        self._live.update(self.render(now), refresh=True)
        self._draw_cost = time.perf_counter() - started
        self._last_draw = now
        self._dirty = False

    def close(self) -> None:
        now = time.monotonic()
        self._draw(now)
        if self._live is not None:
            self._live.stop()

    def render(self, now: float | None = None) -> RenderableType:
        """The whole view as of ``now`` (monotonic seconds)."""
        now = time.monotonic() if now is None else now
        parts: list[RenderableType] = [self._header(now), self._phase_table(now)]
        running = self._running_table(now)
        if running is not None:
            parts.append(running)
        if self.logs:
            parts.append(log_lines(self.logs))
        return Group(*parts)

    def _header(self, now: float) -> Text:
        name = self.meta.name if self.meta is not None else "workflow"
        end = self.t_end if self.t_end is not None else now
        elapsed = clock(end - self.t0) if self.t0 is not None else "0:00"
        status_style = {"completed": "green", "failed": "red", "stopped": "yellow"}.get(
            self.status, "cyan" if self.status == "running" else "yellow"
        )
        text = Text()
        text.append(printable(name), style="bold")
        text.append(" · ")
        text.append(self.status, style=status_style)
        text.append(f" · {elapsed}")
        if self.run_id:
            text.append(f" · {self.run_id}", style="dim")
        cap = self.limits.max_agents if self.limits is not None else 0
        budget = self.limits.budget if self.limits is not None else None
        text.append("\n")
        text.append(agents_line(self.agents.values(), cap))
        text.append("\n")
        text.append(tokens_line(self.agents.values(), budget, self.spent))
        if self.dropped:
            text.append(f" · {self.dropped:,} events not drawn", style="dim")
        return text

    def _phase_table(self, now: float) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1, no_wrap=True)  # marker
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=8)  # title
        table.add_column(no_wrap=True, overflow="ellipsis")  # counts
        table.add_column(justify="right", no_wrap=True)  # tokens
        table.add_column(justify="right", no_wrap=True)  # elapsed
        for summary in phase_summaries(self.agents.values(), self.phases, self.current_phase, now):
            table.add_row(*phase_cells(summary))
        return table

    def _running_table(self, now: float) -> RenderableType | None:
        running = [a for a in self.agents.values() if a.status == "running"]
        if not running:
            return None
        running.sort(key=lambda a: a.index)
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, justify="right", style="dim")  # #
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=10)  # label
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=18)  # model
        table.add_column(no_wrap=True, justify="right")  # elapsed
        table.add_column(no_wrap=True, justify="right")  # tokens
        for a in running[: self.running_rows]:
            took = clock(now - a.started_at) if a.started_at is not None else ""
            table.add_row(
                f"#{a.index}",
                running_label(a),
                Text(printable(a.model_used or a.model or "default"), style="dim"),
                took,
                f"{tokens_k(a.usage.input_tokens)}→{tokens_k(a.usage.output_tokens)}",
            )
        if len(running) > self.running_rows:
            table.add_row("", Text(f"… and {len(running) - self.running_rows} more", "dim"))
        return table


# ---- pieces the interactive view draws the same way ------------------------------------------


def running_label(a: Any) -> Text:
    """A running agent's label, then what it does now: its latest tool call (``Read
    src/app.py``), or that it waits for a person's answer. One line, cut by the cell."""
    text = Text(printable(a.label), style=STATE_STYLE["running"])
    tree = getattr(a, "worktree", None) or getattr(a, "worktree_path", None)
    if tree:  # an isolated agent: the name of its worktree (.claude/worktrees/<run>-<n>)
        text.append(f"  ⎇ {printable(os.path.basename(tree))}", style="cyan")
    use = getattr(a, "last_tool", None)
    if use is not None:
        style = "yellow" if use.status in ("waiting", "denied") else "dim"
        text.append("  ")
        text.append(printable(use_line(use, limit=160)), style=style)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


_MARKS = {
    "active": Text("▸", style="cyan"),
    "ok": Text("✓", style="green"),
    "bad": Text("!", style="red"),
    "none": Text(" "),
}


def state_counts(counts: dict[str, int]) -> Text:
    """``2 running 1 queued 5 done``: the non-zero states, each in its colour."""
    states = Text()
    for state in STATES:
        if counts.get(state):
            if states:
                states.append(" ")
            states.append(f"{counts[state]} {state}", style=STATE_STYLE[state])
    return states


def phase_cells(summary: PhaseSummary) -> tuple[Text, Text, Text, str, str]:
    """One phase row: marker, title, counts by state, tokens in/out, time span."""
    members = summary.members
    return (
        _MARKS[summary.mark].copy(),
        Text(printable(summary.title) if summary.title is not None else "(no phase)"),
        state_counts(summary.counts) if members else Text("–", style="dim"),
        f"{tokens_k(summary.tokens_in)}/{tokens_k(summary.tokens_out)}" if members else "",
        clock(summary.span) if summary.span is not None else "",
    )


def agents_line(agents: Iterable[Any], cap: int | None) -> Text:
    """``agents 2 running · 1 queued · 5 done · 0 failed · 8/1,000``."""
    agents = list(agents)
    c = count_states(agents)
    text = Text("agents ")
    text.append(f"{c['running']} running", style=STATE_STYLE["running"])
    waiting = sum(1 for a in agents if waits_for_answer(a))
    if waiting:  # paused on a tool call until a person answers
        text.append(f" ({waiting} waiting for an answer)", style="bold yellow")
    text.append(f" · {c['queued']} queued · ")
    text.append(f"{c['done']} done", style=STATE_STYLE["done"])
    text.append(" · ")
    text.append(f"{c['failed']} failed", style=STATE_STYLE["failed"] if c["failed"] else "")
    for extra in ("cached", "skipped", "cancelled"):
        if c[extra]:
            text.append(f" · {c[extra]} {extra}", style=STATE_STYLE[extra])
    text.append(f" · {len(agents)}/{cap or 0:,}")
    return text


def tokens_line(agents: Iterable[Any], budget: int | None, spent: int) -> Text:
    """``tokens 1,200 in / 300 out · budget 300/1,000 (30%)``."""
    t_in = t_out = 0
    for a in agents:
        t_in += a.usage.input_tokens
        t_out += a.usage.output_tokens
    text = Text(f"tokens {tokens_k(t_in)} in / {tokens_k(t_out)} out")
    if budget:
        pct = min(100.0, 100.0 * spent / budget)
        style = "red" if pct >= 90 else ("yellow" if pct >= 70 else "")
        text.append(" · budget ")
        text.append(f"{tokens_k(spent)}/{tokens_k(budget)} ({pct:.0f}%)", style=style)
    return text


def log_lines(logs: Iterable[tuple[str, str]]) -> Text:
    """Log (``·``) and failure (``✗``, red) lines, the first line of each, cut to the width."""
    text = Text()
    for i, (kind, line) in enumerate(logs):
        if i:
            text.append("\n")
        first = line.splitlines()[0] if line else ""
        text.append(
            "✗ " if kind == "failure" else "· ", style="red" if kind == "failure" else "dim"
        )
        text.append(printable(first), style="red" if kind == "failure" else "")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text
