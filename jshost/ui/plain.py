"""Plain, greppable progress lines and the final summary (no control codes)."""

from __future__ import annotations

import json
from typing import IO, Any

from .. import events as ev
from ..engine import RunOutcome

__all__ = ["PlainProgress", "format_result", "format_summary", "outcome_json"]


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(s + 0.5), 60)
    return f"{m} min {sec:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _safe(text: str) -> str:
    # JS strings may hold lone surrogates, which no terminal encoding can write.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class PlainProgress:
    """An event sink that writes one line per meaningful event to ``out``.

    Args:
        out (IO[str]): where lines go (stderr, so stdout keeps only the result).
        agents (bool): also write a line when each agent ends.
    """

    def __init__(self, out: IO[str], *, agents: bool = True) -> None:
        self.out = out
        self.agents = agents

    def _line(self, text: str) -> None:
        self.out.write(_safe(text) + "\n")
        self.out.flush()

    def __call__(self, event: ev.Event) -> None:
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
        elif isinstance(event, ev.AgentFinished) and self.agents:
            a = event.agent
            if a.status == "cached":
                self._line(f"agent #{a.index} cached [{a.label}] (stored result replayed)")
                return
            took = f"{a.elapsed:.2f} s" if a.elapsed is not None else "-"
            tokens = f"{a.usage.input_tokens}→{a.usage.output_tokens} tokens"
            detail = f": {a.error}" if a.error and a.status != "done" else ""
            self._line(f"agent #{a.index} {a.status} [{a.label}] {took}, {tokens}{detail}")


def format_result(value: Any) -> str:
    """The result as the user reads it: strings raw, anything else as indented JSON."""
    if isinstance(value, str):
        return _safe(value)
    return _safe(json.dumps(value, indent=2, ensure_ascii=False))


def format_summary(outcome: RunOutcome) -> list[str]:
    """The closing lines: status, agent counts, elapsed, tokens, failures."""
    o = outcome
    counts = f"{o.count('done')} done, {o.count('failed')} failed, {o.count('skipped')} skipped"
    for extra in ("cached", "cancelled"):
        if n := o.count(extra):
            counts += f", {n} {extra}"
    lines = [
        f"{o.status} · agents {counts} · {_fmt_seconds(o.elapsed)} · "
        f"tokens {o.tokens_in:,} in / {o.tokens_out:,} out"
    ]
    if o.failures:
        lines.append(f"failures ({len(o.failures)}):")
        shown = o.failures[:20]
        lines.extend(f"  {_safe(f)}" for f in shown)
        if len(o.failures) > len(shown):
            lines.append(f"  … and {len(o.failures) - len(shown)} more")
    return lines


def outcome_json(outcome: RunOutcome, meta_name: str) -> dict[str, Any]:
    """The ``run --json`` object."""
    o = outcome
    return {
        "workflow": meta_name,
        "status": o.status,
        "result": o.result,
        "error": str(o.error) if o.error else None,
        "agents": {
            "total": len(o.agents),
            "done": o.count("done"),
            "failed": o.count("failed"),
            "skipped": o.count("skipped"),
            "cancelled": o.count("cancelled"),
            "cached": o.count("cached"),
        },
        "tokens": {"input": o.tokens_in, "output": o.tokens_out},
        "elapsed_s": round(o.elapsed, 3),
        "peak_concurrency": o.peak_concurrency,
        "failures": o.failures,
    }
