"""Plain, greppable progress lines (no control codes)."""

from __future__ import annotations

from typing import IO

from .. import events as ev
from ..text import printable
from ..transcripts import use_line
from .dispatch import EventsDropped, Stamped

__all__ = ["PlainProgress"]


class PlainProgress:
    """Writes one plain, greppable line per meaningful event to ``out`` (no control codes).

    Usable as a synchronous sink (``progress(event)``) or as a UI thread's handler.

    Args:
        out (IO[str]): where lines go (stderr, so stdout keeps only the result).
        agents (bool): also write a line when each agent ends.
    """

    def __init__(self, out: IO[str], *, agents: bool = True) -> None:
        self.out = out
        self.agents = agents

    def _line(self, text: str) -> None:
        # Names, labels, logs and failures come from the script: one line each, nothing live.
        self.out.write(printable(text) + "\n")
        self.out.flush()

    def handle(self, batch: list[Stamped]) -> None:
        for item in batch:
            self(item.event)

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass

    def __call__(self, event: ev.Event | EventsDropped) -> None:
        if isinstance(event, ev.RunStarted):
            meta = event.meta
            limits = event.limits
            caps = f"concurrency {limits.concurrency}, max {limits.max_agents} agents"
            if limits.budget:
                caps += f", budget {limits.budget:,} output tokens"
            self._line(f"running {meta.name}: {meta.description}")
            self._line(f"  {event.worker}; {caps}")
        elif isinstance(event, ev.PhaseStarted):
            self._line(f"phase {event.title}")
        elif isinstance(event, ev.LogLine):
            self._line(f"log {event.message}")
        elif isinstance(event, ev.FailureLine):
            self._line(f"failure {event.line}")
        elif isinstance(event, ev.RunPaused):
            if event.paused:
                self._line("paused: no new agent starts until the run carries on")
            else:
                self._line("carrying on")
        elif isinstance(event, ev.RunStopping):
            self._line("stopping… cancelling in-flight agents (press Ctrl-C again to exit at once)")
        elif isinstance(event, EventsDropped):
            what = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in event.counts.items())
            self._line(f"dropped {what} event(s): the output could not keep up (all are stored)")
        elif isinstance(event, ev.AgentTool):
            # Calm by default: refused calls only (--json and inspect show every call).
            if event.use.status == "denied":
                self._line(f"[{event.agent.label}] {use_line(event.use)}")
        elif isinstance(event, ev.AgentFinished) and self.agents:
            a = event.agent
            if a.status == "cached":
                self._line(f"agent #{a.index} cached [{a.label}] (stored result replayed)")
                return
            took = f"{a.elapsed:.2f} s" if a.elapsed is not None else "-"
            tokens = f"{a.usage.input_tokens}→{a.usage.output_tokens} tokens"
            detail = f": {a.error}" if a.error and a.status != "done" else ""
            self._line(f"agent #{a.index} {a.status} [{a.label}] {took}, {tokens}{detail}")
