"""RunRow and AgentRow: a stored run and agent call as plain data, and the columns they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The columns the classes read: in db.py, so writing a run needs none of this module.
from .db import _AGENT_COLUMNS, _RUN_COLUMNS  # noqa: F401


@dataclass(frozen=True)
class RunRow:
    """One stored run, as ``jshost runs`` and ``inspect`` show it."""

    id: str
    name: str
    path: str | None
    script: str
    sha256: str
    args: Any
    has_args: bool
    meta: dict[str, Any]
    status: str
    created_at: float
    started_at: float
    finished_at: float | None
    elapsed: float
    sessions: int
    result: Any
    error: dict[str, Any] | None
    caps: dict[str, Any]
    worker: str
    model: str | None
    agents_total: int
    agents_done: int
    agents_failed: int
    agents_skipped: int
    agents_cached: int
    tokens_in: int
    tokens_out: int
    dropped_logs: int
    paused: bool = False
    cache_write: int = 0
    cache_read: int = 0
    #: True when the process that owns a ``running`` run is alive
    live: bool = False
    #: agents that started in this (the latest) session; cached ones did not
    session_agents: int = 0
    #: what the earlier sessions cost (agents started, tokens): the run's totals add them
    prior_agents: int = 0
    prior_tokens_in: int = 0
    prior_tokens_out: int = 0
    prior_cache_write: int = 0
    prior_cache_read: int = 0

    @property
    def total_agents(self) -> int:
        """Agents that started, over every session of the run."""
        return self.prior_agents + self.session_agents

    @property
    def total_tokens_in(self) -> int:
        return self.prior_tokens_in + self.tokens_in

    @property
    def total_tokens_out(self) -> int:
        return self.prior_tokens_out + self.tokens_out

    @property
    def shown_status(self) -> str:
        """``interrupted`` for a run whose process died without saying how it ended."""
        if self.status == "running" and not self.live:
            return "interrupted"
        if self.status == "running" and self.paused:
            return "paused"
        return self.status

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.shown_status,
            "path": self.path,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_s": round(self.elapsed, 3),
            "sessions": self.sessions,
            "worker": self.worker,
            "model": self.model,
            "caps": self.caps,
            "agents": {
                "total": self.agents_total,
                "done": self.agents_done,
                "failed": self.agents_failed,
                "skipped": self.agents_skipped,
                "cached": self.agents_cached,
            },
            "tokens": {
                "input": self.tokens_in,
                "output": self.tokens_out,
                "cache_write": self.cache_write,
                "cache_read": self.cache_read,
            },
            # ``agents`` and ``tokens`` are the latest session's; these add up every session
            "totals": {
                "sessions": self.sessions,
                "agents_started": self.total_agents,
                "tokens": {
                    "input": self.total_tokens_in,
                    "output": self.total_tokens_out,
                    "cache_write": self.prior_cache_write + self.cache_write,
                    "cache_read": self.prior_cache_read + self.cache_read,
                },
            },
        }
        if full:
            out["meta"] = self.meta
            out["args"] = self.args if self.has_args else None
            out["result"] = self.result
            out["error"] = self.error
            out["dropped_logs"] = self.dropped_logs
        return out


@dataclass(frozen=True)
class AgentRow:
    """One stored ``agent()`` call of a run's latest session."""

    index: int
    session: int
    key: str
    label: str
    phase: str | None
    model: str | None
    prompt: str
    options: dict[str, Any]
    status: str
    result: Any
    error: str | None
    tokens_in: int
    tokens_out: int
    attempts: int
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    model_used: str | None = None
    cache_write: int = 0
    cache_read: int = 0
    #: the agent's git worktree, when it still has one (kept for review, or the run died)
    worktree_path: str | None = None
    worktree_branch: str | None = None
    #: the agent's conversation for people (``jshost.transcripts``), saved when it ended
    transcript: tuple[dict[str, Any], ...] = ()
    #: its latest tool call, as ``jshost.transcripts.tool_use_json`` made it (None: none yet)
    last_tool: dict[str, Any] | None = None

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "key": self.key,
            "label": self.label,
            "phase": self.phase,
            "model": self.model,
            "model_used": self.model_used,
            "status": self.status,
            "prompt": self.prompt,
            "options": self.options,
            "result": self.result,
            "error": self.error,
            "tokens": {
                "input": self.tokens_in,
                "output": self.tokens_out,
                "cache_write": self.cache_write,
                "cache_read": self.cache_read,
            },
            "attempts": self.attempts,
            "elapsed_s": None if self.elapsed is None else round(self.elapsed, 3),
            "worktree": None
            if self.worktree_path is None
            else {"path": self.worktree_path, "branch": self.worktree_branch},
            "last_tool": self.last_tool,
            "transcript": list(self.transcript),
        }
