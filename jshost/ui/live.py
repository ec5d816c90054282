"""The live progress view on a terminal (rich): where a run stands, what it costs, what failed.

Fed by :class:`jshost.ui.dispatch.UiThread`; redraws at most ``fps`` times a second whatever
the event rate, and less often when a frame is expensive (drawing runs on the interpreter the
run needs too, so it is held to about 2 % of the time). Everything is sized to stay
readable in an 80-column terminal: long labels are cut, the running list and the log are
bounded.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import events as ev
from .dispatch import EventsDropped, Stamped

__all__ = ["LiveView"]

_STATES = ("running", "queued", "done", "failed", "skipped", "cancelled", "cached")
_STYLE = {
    "running": "cyan",
    "queued": "dim",
    "done": "green",
    "failed": "red",
    "skipped": "yellow",
    "cancelled": "yellow",
    "cached": "blue",
}


#: frames are spaced at least this many times their own cost apart (50 → about 2 %)
_DRAW_SHARE = 50


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _k(n: int) -> str:
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


class LiveView:
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
        self.console = console
        self.run_id = run_id
        self.interval = 1.0 / fps
        self.running_rows = running_rows
        self.meta: Any = None
        self.worker = ""
        self.limits: Any = None
        self.t0: float | None = None
        self.t_end: float | None = None
        self.status = "starting"
        self.agents: dict[int, Any] = {}
        self.phases: list[str] = []
        self.current_phase: str | None = None
        self.logs: deque[tuple[str, str]] = deque(maxlen=log_rows)
        self.failures = 0
        self.spent = 0
        self.dropped = 0
        self._live: Live | None = None
        self._last_draw = 0.0
        self._draw_cost = 0.0  # seconds the last frame took
        self._dirty = True

    # ---- events ------------------------------------------------------------------------

    def handle(self, batch: list[Stamped]) -> None:
        for item in batch:
            self._apply(item)
        self._dirty = True

    def _phase(self, title: str | None) -> None:
        if title is not None and title not in self.phases:
            self.phases.append(title)

    def _apply(self, item: Stamped) -> None:
        e = item.event
        if isinstance(e, ev.RunStarted):
            self.t0 = item.at
            self.meta, self.worker, self.limits = e.meta, e.worker, e.limits
            self.status = "running"
            for p in e.meta.phases:
                self._phase(p.title)
        elif isinstance(e, ev.AgentQueued | ev.AgentStarted | ev.AgentFinished | ev.AgentProgress):
            a = e.agent
            self.agents[a.index] = a
            self._phase(a.phase)
            if isinstance(e, ev.AgentFinished) and a.status == "done":
                self.spent += a.usage.output_tokens
        elif isinstance(e, ev.PhaseStarted):
            self._phase(e.title)
            self.current_phase = e.title
        elif isinstance(e, ev.LogLine):
            self.logs.append(("log", e.message))
        elif isinstance(e, ev.FailureLine):
            self.failures += 1
            self.logs.append(("failure", e.line))
        elif isinstance(e, ev.RunPaused):
            self.status = "PAUSED" if e.paused else "running"
        elif isinstance(e, ev.RunStopping):
            self.status = "stopping… (Ctrl-C again to exit at once)"
        elif isinstance(e, EventsDropped):
            self.dropped += sum(e.counts.values())
        elif isinstance(e, ev.RunFinished):
            self.status = e.outcome.status
            self.t_end = item.at

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
            parts.append(self._log_lines())
        return Group(*parts)

    def _counts(self, agents: Any) -> dict[str, int]:
        counts = dict.fromkeys(_STATES, 0)
        for a in agents:
            counts[a.status] = counts.get(a.status, 0) + 1
        return counts

    def _header(self, now: float) -> Text:
        name = self.meta.name if self.meta is not None else "workflow"
        end = self.t_end if self.t_end is not None else now
        elapsed = _clock(end - self.t0) if self.t0 is not None else "0:00"
        status_style = {"completed": "green", "failed": "red", "stopped": "yellow"}.get(
            self.status, "cyan" if self.status == "running" else "yellow"
        )
        text = Text()
        text.append(name, style="bold")
        text.append(" · ")
        text.append(self.status, style=status_style)
        text.append(f" · {elapsed}")
        if self.run_id:
            text.append(f" · {self.run_id}", style="dim")
        c = self._counts(self.agents.values())
        cap = self.limits.max_agents if self.limits is not None else 0
        text.append("\nagents ")
        text.append(f"{c['running']} running", style=_STYLE["running"])
        text.append(f" · {c['queued']} queued · ")
        text.append(f"{c['done']} done", style=_STYLE["done"])
        text.append(" · ")
        text.append(f"{c['failed']} failed", style=_STYLE["failed"] if c["failed"] else "")
        for extra in ("cached", "skipped", "cancelled"):
            if c[extra]:
                text.append(f" · {c[extra]} {extra}", style=_STYLE[extra])
        text.append(f" · {len(self.agents)}/{cap:,}")
        t_in = sum(a.usage.input_tokens for a in self.agents.values())
        t_out = sum(a.usage.output_tokens for a in self.agents.values())
        text.append(f"\ntokens {_k(t_in)} in / {_k(t_out)} out")
        budget = self.limits.budget if self.limits is not None else None
        if budget:
            pct = min(100.0, 100.0 * self.spent / budget)
            style = "red" if pct >= 90 else ("yellow" if pct >= 70 else "")
            text.append(" · budget ")
            text.append(f"{_k(self.spent)}/{_k(budget)} ({pct:.0f}%)", style=style)
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
        by_phase: dict[str | None, list[Any]] = {}
        for a in self.agents.values():
            by_phase.setdefault(a.phase, []).append(a)
        titles: list[str | None] = list(self.phases)
        if None in by_phase:
            titles.append(None)
        for title in titles:
            members = by_phase.get(title, [])
            c = self._counts(members)
            if c["running"] or c["queued"] or (title == self.current_phase and not members):
                marker = Text("▸", style="cyan")
            elif members and not (c["failed"] or c["skipped"] or c["cancelled"]):
                marker = Text("✓", style="green")
            elif members:
                marker = Text("!", style="red")
            else:
                marker = Text(" ")
            states = Text()
            for state in _STATES:
                if c[state]:
                    if states:
                        states.append(" ")
                    states.append(f"{c[state]} {state}", style=_STYLE[state])
            if not members:
                states = Text("–", style="dim")
            t_in = sum(a.usage.input_tokens for a in members)
            t_out = sum(a.usage.output_tokens for a in members)
            starts = [a.started_at for a in members if a.started_at is not None]
            if starts:
                ends = [a.finished_at if a.finished_at is not None else now for a in members]
                span = _clock(max(ends) - min(starts))
            else:
                span = ""
            table.add_row(
                marker,
                Text(title if title is not None else "(no phase)"),
                states,
                f"{_k(t_in)}/{_k(t_out)}" if members else "",
                span,
            )
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
            took = _clock(now - a.started_at) if a.started_at is not None else ""
            table.add_row(
                f"#{a.index}",
                Text(a.label, style=_STYLE["running"]),
                Text(a.model or "default", style="dim"),
                took,
                f"{_k(a.usage.input_tokens)}→{_k(a.usage.output_tokens)}",
            )
        if len(running) > self.running_rows:
            table.add_row("", Text(f"… and {len(running) - self.running_rows} more", "dim"))
        return table

    def _log_lines(self) -> Text:
        text = Text()
        for i, (kind, line) in enumerate(self.logs):
            if i:
                text.append("\n")
            first = line.splitlines()[0] if line else ""
            text.append(
                "✗ " if kind == "failure" else "· ", style="red" if kind == "failure" else "dim"
            )
            text.append(first, style="red" if kind == "failure" else "")
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text
