"""Plain, greppable progress lines and the final summary (no control codes)."""

from __future__ import annotations

import json
from typing import IO, Any

from .. import events as ev
from ..records import RunOutcome
from ..text import encodable, printable
from ..workers.base import Usage
from .dispatch import EventsDropped, Stamped

__all__ = [
    "PlainProgress",
    "format_result",
    "format_seconds",
    "format_summary",
    "format_tokens",
    "outcome_json",
]


def format_seconds(s: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(s + 0.5), 60)
    return f"{m} min {sec:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


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
        elif isinstance(event, ev.AgentFinished) and self.agents:
            a = event.agent
            if a.status == "cached":
                self._line(f"agent #{a.index} cached [{a.label}] (stored result replayed)")
                return
            took = f"{a.elapsed:.2f} s" if a.elapsed is not None else "-"
            tokens = f"{a.usage.input_tokens}→{a.usage.output_tokens} tokens"
            detail = f": {a.error}" if a.error and a.status != "done" else ""
            self._line(f"agent #{a.index} {a.status} [{a.label}] {took}, {tokens}{detail}")


#: past this many characters a result shown on a terminal is cut (the store keeps it whole)
RESULT_PREVIEW_CHARS = 20_000


def format_result(value: Any, *, limit: int | None = None, exact: bool = False) -> str:
    """The result as the user reads it: strings raw, anything else as indented JSON.

    Shown on a terminal unless ``exact``: control, bidi and zero-width characters become
    ``⟨U+001B⟩`` markers. ``exact`` is for a pipe or a file: the value as it is (only a lone
    surrogate, which nothing can encode, is written as ``\\udXXX``).
    With ``limit``, a longer text is cut at a line end and a note says how much was left out.
    """
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    text = encodable(text) if exact else printable(text, multiline=True)
    if limit is None or len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    rest = text[cut:]
    more_lines = rest.count("\n")
    return (
        f"{text[:cut].rstrip()}\n… result truncated: {len(rest):,} more characters "
        f"({more_lines:,} more lines)"
    )


def tokens_by_model(outcome: RunOutcome) -> dict[str, tuple[int, int]]:
    """Input and output tokens per model (the model the worker reported, else the one asked)."""
    out: dict[str, tuple[int, int]] = {}
    for a in outcome.agents:
        if not (a.usage.input_tokens or a.usage.output_tokens):
            continue
        model = a.model_used or a.model or "default"
        i, o = out.get(model, (0, 0))
        out[model] = (i + a.usage.input_tokens, o + a.usage.output_tokens)
    return out


def format_tokens(usage: Usage) -> str:
    """``1,200 in / 300 out``, with prompt-cache reads and writes when there were any."""
    cache = []
    if usage.cache_read_input_tokens:
        cache.append(f"{usage.cache_read_input_tokens:,} cache read")
    if usage.cache_creation_input_tokens:
        cache.append(f"{usage.cache_creation_input_tokens:,} cache write")
    extra = f" (+ {', '.join(cache)})" if cache else ""
    return f"{usage.input_tokens:,} in{extra} / {usage.output_tokens:,} out"


def format_summary(outcome: RunOutcome, run_id: str | None = None) -> list[str]:
    """The closing lines: status, agent counts, elapsed, tokens per model, failures, run id."""
    o = outcome
    counts = f"{o.count('done')} done, {o.count('failed')} failed, {o.count('skipped')} skipped"
    for extra in ("cached", "cancelled"):
        if n := o.count(extra):
            counts += f", {n} {extra}"
    if o.refused:
        # agent() calls the cap refused never became agents; the failure lines count them
        counts += f", {o.refused:,} refused"
    budget = ""
    if o.budget is not None:
        budget = f" · budget {o.spent:,} / {o.budget:,} output tokens used"
    lines = [
        f"{o.status} · agents {counts} · {format_seconds(o.elapsed)} · "
        f"tokens {format_tokens(o.usage)}{budget}"
    ]
    if o.worker_problem:
        lines.append(printable(o.worker_problem))
    per_model = tokens_by_model(o)
    if len(per_model) > 1:
        lines.append(
            "tokens by model: "
            + ", ".join(f"{m} {i:,} in / {out:,} out" for m, (i, out) in sorted(per_model.items()))
        )
    if o.failures:
        lines.append(f"failures ({len(o.failures)}):")
        shown = o.failures[:20]
        lines.extend(f"  {printable(f)}" for f in shown)
        if len(o.failures) > len(shown):
            lines.append(f"  … and {len(o.failures) - len(shown)} more (jshost inspect shows all)")
    if o.dropped_logs:
        lines.append(f"log: {o.dropped_logs:,} earlier lines not kept in memory")
    if run_id is not None:
        lines.append(f"run {run_id} · jshost inspect {run_id} · jshost resume {run_id}")
    return lines


def outcome_json(outcome: RunOutcome, meta_name: str, run_id: str | None = None) -> dict[str, Any]:
    """The summary object that ends ``run --json`` output."""
    o = outcome
    return {
        "event": "summary",
        "run_id": run_id,
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
            "refused": o.refused,
        },
        "tokens": {
            "input": o.tokens_in,
            "output": o.tokens_out,
            "cache_write": o.usage.cache_creation_input_tokens,
            "cache_read": o.usage.cache_read_input_tokens,
        },
        "tokens_by_model": {
            m: {"input": i, "output": out} for m, (i, out) in tokens_by_model(o).items()
        },
        "budget": None if o.budget is None else {"spent": o.spent, "total": o.budget},
        "elapsed_s": round(o.elapsed, 3),
        "peak_concurrency": o.peak_concurrency,
        "problem": o.worker_problem,
        "failures": o.failures,
    }
