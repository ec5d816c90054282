"""``run --json``: one JSON object per event on stdout, then the summary object.

The schema is documented in ``docs/events.md``; keep the two in step.
"""

from __future__ import annotations

import json
from typing import IO, Any

from .. import events as ev
from ..records import RunOutcome
from ..transcripts import tool_use_json
from .dispatch import EventsDropped, Stamped
from .summary import tokens_by_model

__all__ = ["JsonEvents", "event_json", "outcome_json"]

_AGENT_END = {
    "done": "agent_done",
    "failed": "agent_failed",
    "skipped": "agent_skipped",
    "cancelled": "agent_cancelled",
    "cached": "agent_cached",
}


def _agent(a: Any) -> dict[str, Any]:
    return {"agent": a.index, "label": a.label, "phase": a.phase}


def _tokens(a: Any) -> dict[str, int]:
    return {"input": a.usage.input_tokens, "output": a.usage.output_tokens}


def event_json(item: Stamped, t0: float, run_id: str | None = None) -> dict[str, Any] | None:
    """The JSON object for one event (``t`` = seconds since the run started), or None."""
    e = item.event
    out: dict[str, Any]
    if isinstance(e, ev.RunStarted):
        limits = e.limits
        out = {
            "event": "run_started",
            "run_id": run_id,
            "name": e.meta.name,
            "description": e.meta.description,
            "phases": [p.title for p in e.meta.phases],
            "worker": e.worker,
            "caps": {
                "concurrency": limits.concurrency,
                "max_agents": limits.max_agents,
                "budget": limits.budget,
                "timeout": limits.timeout,
            },
        }
    elif isinstance(e, ev.PhaseStarted):
        out = {"event": "phase", "title": e.title}
    elif isinstance(e, ev.AgentQueued):
        out = {"event": "agent_queued", **_agent(e.agent), "model": e.agent.model}
    elif isinstance(e, ev.AgentStarted):
        out = {"event": "agent_started", **_agent(e.agent)}
    elif isinstance(e, ev.AgentProgress):
        out = {"event": "agent_progress", **_agent(e.agent), "tokens": _tokens(e.agent)}
    elif isinstance(e, ev.AgentTool):
        # Every call, never coalesced away: its input exact but for strings cut very long.
        out = {"event": "agent_tool", **_agent(e.agent), **tool_use_json(e.use)}
    elif isinstance(e, ev.AgentFinished):
        a = e.agent
        out = {"event": _AGENT_END.get(a.status, "agent_" + a.status), **_agent(a)}
        if a.status == "done":
            out["model"] = a.model_used or a.model
            out["attempts"] = a.attempts
        if a.status in ("done", "failed"):
            out["tokens"] = _tokens(a)
            out["elapsed_s"] = None if a.elapsed is None else round(a.elapsed, 3)
        if a.error is not None and a.status in ("failed", "skipped"):
            out["error"] = a.error
    elif isinstance(e, ev.LogLine):
        out = {"event": "log", "message": e.message}
    elif isinstance(e, ev.FailureLine):
        out = {"event": "failure", "line": e.line}
    elif isinstance(e, ev.BudgetChanged):
        out = {"event": "budget", "spent": e.spent, "total": e.total}
    elif isinstance(e, ev.RunPaused):
        out = {"event": "paused" if e.paused else "unpaused"}
    elif isinstance(e, ev.RunStopping):
        out = {"event": "stopping"}
    elif isinstance(e, EventsDropped):
        out = {"event": "dropped", "counts": dict(e.counts)}
    elif isinstance(e, ev.RunFinished):
        o = e.outcome
        out = {"event": "run_finished", "status": o.status, "elapsed_s": round(o.elapsed, 3)}
    else:  # pragma: no cover - every event type is handled above
        return None
    out["t"] = round(max(0.0, item.at - t0), 4)
    return out


class JsonEvents:
    """A UI that writes each event as one line of JSON (lone surrogates escaped)."""

    def __init__(self, out: IO[str], run_id: str | None = None) -> None:
        self.out = out
        self.run_id = run_id
        self._t0: float | None = None

    def handle(self, batch: list[Stamped]) -> None:
        lines = []
        for item in batch:
            if self._t0 is None:
                self._t0 = item.at
            obj = event_json(item, self._t0, self.run_id)
            if obj is not None:
                lines.append(json.dumps(obj, ensure_ascii=True))
        if lines:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        self.out.flush()


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
        "kept_worktrees": [
            {"agent": a.index, "path": a.worktree_path, "branch": a.worktree_branch}
            for a in o.kept_worktrees
        ],
    }
