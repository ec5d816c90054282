"""What a progress view knows about a run, apart from how it is drawn.

Two views share this: the rich live view (:mod:`jshost.ui.live`) and the interactive view
(:mod:`jshost.ui.interactive`). :class:`RunState` folds engine events into the state of one run.
:class:`RunView` is a frozen snapshot of a run that widgets render; it is built either from a
:class:`RunState` fed by a running engine (:func:`view_from_state`) or from the rows of the run
store (:func:`view_from_store`, for ``jshost watch``), so the same widgets draw both.

Agent snapshots keep the attribute names of the engine's ``AgentRecord`` (``usage``,
``started_at``, ``finished_at``, ``elapsed``), so the helpers here work on either.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import events as ev
from ..records import ResultField, Stored, ToolUse, held_result, lend_result
from ..transcripts import tool_use_from_json, use_line
from ..workers.base import Usage
from .dispatch import EventsDropped, Stamped

__all__ = [
    "STATES",
    "STATE_STYLE",
    "AgentView",
    "PhaseSummary",
    "RunState",
    "RunView",
    "clock",
    "count_states",
    "phase_summaries",
    "tokens_k",
    "view_from_state",
    "view_from_store",
    "waits_for_answer",
]

STATES = ("running", "queued", "done", "failed", "skipped", "cancelled", "cached")
STATE_STYLE = {
    "running": "cyan",
    "queued": "dim",
    "done": "green",
    "failed": "red",
    "skipped": "yellow",
    "cancelled": "yellow",
    "cached": "blue",
}
#: run statuses after which nothing changes any more
FINISHED = ("completed", "failed", "stopped", "interrupted")
#: tool calls of each agent a view keeps while the agent runs (its transcript has them all)
TOOL_ROWS = 50


def clock(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def tokens_k(n: int) -> str:
    """A token count short enough for a column: ``9,999``, ``12.3k``, ``1.25M``."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def waits_for_answer(a: Any) -> bool:
    """Whether agent ``a`` (a record or a view) is paused on a tool call until a person
    answers (the interactive view's permission prompt)."""
    use = getattr(a, "last_tool", None)
    return a.status == "running" and use is not None and use.status == "waiting"


def count_states(agents: Iterable[Any]) -> dict[str, int]:
    """How many agents are in each state (every state of ``STATES`` present, maybe 0)."""
    counts = dict.fromkeys(STATES, 0)
    for a in agents:
        counts[a.status] = counts.get(a.status, 0) + 1
    return counts


@dataclass(frozen=True)
class PhaseSummary:
    """One phase row: its agents, counts by state, tokens and time span."""

    title: str | None  # None: agents that named no phase
    members: list[Any]
    counts: dict[str, int]
    tokens_in: int
    tokens_out: int
    span: float | None
    #: active (agents running or queued, or the current phase), ok, bad (failures), or none
    mark: Literal["active", "ok", "bad", "none"]


def phase_summaries(
    agents: Iterable[Any], phases: Iterable[str], current: str | None, now: float
) -> list[PhaseSummary]:
    """A summary per phase, declared phases first, then agents without a phase if any.

    ``now`` is on the clock of the agents' ``started_at``/``finished_at``.
    """
    by_phase: dict[str | None, list[Any]] = {}
    for a in agents:
        by_phase.setdefault(a.phase, []).append(a)
    titles: list[str | None] = list(phases)
    if None in by_phase:
        titles.append(None)
    out = []
    for title in titles:
        members = by_phase.get(title, [])
        c = count_states(members)
        mark: Literal["active", "ok", "bad", "none"]
        if c["running"] or c["queued"] or (title == current and not members):
            mark = "active"
        elif members and not (c["failed"] or c["skipped"] or c["cancelled"]):
            mark = "ok"
        elif members:
            mark = "bad"
        else:
            mark = "none"
        starts = [a.started_at for a in members if a.started_at is not None]
        span = None
        if starts:
            ends = [a.finished_at if a.finished_at is not None else now for a in members]
            span = max(ends) - min(starts)
        out.append(
            PhaseSummary(
                title=title,
                members=members,
                counts=c,
                tokens_in=sum(a.usage.input_tokens for a in members),
                tokens_out=sum(a.usage.output_tokens for a in members),
                span=span,
                mark=mark,
            )
        )
    return out


class RunState:
    """One run's progress, folded from engine events (on the UI's thread).

    Agent entries are the engine's live records: read them, never change them.

    Args:
        log_rows (int): latest log and failure lines kept.
    """

    def __init__(self, *, log_rows: int = 5) -> None:
        self.meta: Any = None
        self.worker = ""
        self.limits: Any = None
        self.t0: float | None = None
        self.t_end: float | None = None
        #: starting, running, PAUSED, the stopping note, then the outcome's status
        self.status = "starting"
        self.paused = False
        self.stopping = False
        self.outcome: Any = None
        self.agents: dict[int, Any] = {}
        #: each agent's latest tool calls (reported, as they happened), newest last
        self.tool_calls: dict[int, deque[ToolUse]] = {}
        self.phases: list[str] = []
        self.current_phase: str | None = None
        self.logs: deque[tuple[str, str]] = deque(maxlen=log_rows)
        self.failures = 0
        self.spent = 0
        self.dropped = 0

    def handle(self, batch: list[Stamped]) -> None:
        for item in batch:
            self._apply(item)

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
        elif isinstance(e, ev.AgentTool):
            self.agents[e.agent.index] = e.agent
            calls = self.tool_calls.setdefault(e.agent.index, deque(maxlen=TOOL_ROWS))
            if calls and calls[-1].status == "waiting" and calls[-1].tool == e.use.tool:
                calls.pop()  # the answer replaces the question
            calls.append(e.use)
        elif isinstance(e, ev.PhaseStarted):
            self._phase(e.title)
            self.current_phase = e.title
        elif isinstance(e, ev.LogLine):
            self.logs.append(("log", e.message))
        elif isinstance(e, ev.FailureLine):
            self.failures += 1
            self.logs.append(("failure", e.line))
        elif isinstance(e, ev.RunPaused):
            self.paused = e.paused
            if not self.stopping:
                self.status = "PAUSED" if e.paused else "running"
        elif isinstance(e, ev.RunStopping):
            self.stopping = True
            self.status = "stopping… (Ctrl-C again to exit at once)"
        elif isinstance(e, EventsDropped):
            self.dropped += sum(e.counts.values())
        elif isinstance(e, ev.RunFinished):
            self.outcome = e.outcome
            self.status = e.outcome.status
            self.paused = False
            self.t_end = item.at


# ---- snapshots -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentView:
    """One agent as a view shows it (a snapshot; times on the owning RunView's clock)."""

    index: int
    label: str
    prompt: str
    phase: str | None
    model: str | None
    status: str
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    #: read back from the run store when shown, if the engine's record holds it there: a
    #: snapshot of a thousand agents reads no answer until one is looked at
    result: Any = ResultField()  # noqa: RUF009 - a descriptor, one for the class
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: the model id the worker reports it used, when it has said
    model_used: str | None = None
    #: recent tool calls, for workers that report them (None: this worker reports none)
    tool_calls: tuple[str, ...] | None = None
    #: the latest tool call (None: none yet)
    last_tool: ToolUse | None = None
    #: the whole conversation, once the agent has ended (``jshost.transcripts``)
    transcript: tuple[dict[str, Any], ...] = ()
    #: its git worktree (``isolation: 'worktree'``) while it has one: path and branch
    worktree: str | None = None
    worktree_branch: str | None = None

    @property
    def waiting(self) -> bool:
        """Whether the agent is paused on a tool call until a person answers."""
        return waits_for_answer(self)

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at if self.finished_at is not None else now) - self.started_at


@dataclass(frozen=True)
class RunView:
    """A run as a view shows it, at one moment (``now``, on the clock of the agents' times)."""

    run_id: str
    name: str
    description: str
    #: starting, running, paused, stopping, completed, failed, stopped or interrupted
    status: str
    now: float
    elapsed: float
    phases: tuple[str, ...]
    current_phase: str | None
    agents: tuple[AgentView, ...]
    logs: tuple[tuple[str, str], ...]
    max_agents: int | None = None
    budget: int | None = None
    spent: int = 0
    error: str | None = None
    #: the script's text and file, for saving it as a workflow
    script: str = ""
    path: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    def agent(self, index: int) -> AgentView | None:
        i = index - 1  # indexes are 1-based and dense in both the engine and the store
        if 0 <= i < len(self.agents) and self.agents[i].index == index:
            return self.agents[i]
        return next((a for a in self.agents if a.index == index), None)


def _agent_from_record(rec: Any, calls: Iterable[ToolUse] | None = None) -> AgentView:
    result = held_result(rec)
    if isinstance(result, Stored):
        view = _agent_view(rec, calls, None)
        lend_result(view, result)  # read back only if this agent's detail is shown
        return view
    return _agent_view(rec, calls, result)


def _agent_view(rec: Any, calls: Iterable[ToolUse] | None, result: Any) -> AgentView:
    return AgentView(
        index=rec.index,
        label=rec.label,
        prompt=rec.prompt,
        phase=rec.phase,
        model=rec.model,
        status=rec.status,
        usage=rec.usage,
        attempts=rec.attempts,
        started_at=rec.started_at,
        finished_at=rec.finished_at,
        result=result,
        error=rec.error,
        options=rec.options,
        model_used=rec.model_used,
        tool_calls=None if calls is None else tuple(use_line(use) for use in calls),
        last_tool=rec.last_tool,
        transcript=tuple(rec.transcript),
        worktree=getattr(rec, "worktree_path", None),
        worktree_branch=getattr(rec, "worktree_branch", None),
    )


def view_from_state(
    state: RunState,
    *,
    run_id: str,
    script: str = "",
    path: str | None = None,
    meta: Any = None,
) -> RunView:
    """A snapshot of a run an engine in this process is running (monotonic clock).

    ``meta`` names the run before the engine's first event says it.
    """
    now = time.monotonic()
    if state.outcome is not None:
        status = state.outcome.status
    elif state.stopping:
        status = "stopping"
    elif state.paused:
        status = "paused"
    else:
        status = "running" if state.t0 is not None else "starting"
    end = state.t_end if state.t_end is not None else now
    limits = state.limits
    error = None
    if state.outcome is not None and state.outcome.error is not None:
        error = str(state.outcome.error)
    meta = state.meta if state.meta is not None else meta
    return RunView(
        run_id=run_id,
        name=meta.name if meta is not None else "workflow",
        description=meta.description if meta is not None else "",
        status=status,
        now=now,
        elapsed=end - state.t0 if state.t0 is not None else 0.0,
        phases=tuple(state.phases),
        current_phase=state.current_phase,
        agents=tuple(
            _agent_from_record(a, state.tool_calls.get(i)) for i, a in sorted(state.agents.items())
        ),
        logs=tuple(state.logs),
        max_agents=limits.max_agents if limits is not None else None,
        budget=limits.budget if limits is not None else None,
        spent=state.spent,
        error=error,
        script=script,
        path=path,
    )


def view_from_store(run: Any, agents: list[Any], logs: list[tuple[str, str]]) -> RunView:
    """A snapshot of a stored run (``RunRow``, its ``AgentRow`` list, its logs; wall clock)."""
    now = time.time()
    status = run.shown_status
    if status in ("running", "paused"):
        elapsed = run.elapsed + max(0.0, now - run.started_at)  # earlier sessions + this one
    else:
        elapsed = run.elapsed
    phases: list[str] = []
    for p in run.meta.get("phases") or []:
        title = p.get("title") if isinstance(p, dict) else None
        if isinstance(title, str) and title not in phases:
            phases.append(title)
    for a in agents:
        if a.phase is not None and a.phase not in phases:
            phases.append(a.phase)
    views = tuple(
        AgentView(
            index=a.index,
            label=a.label,
            prompt=a.prompt,
            phase=a.phase,
            model=a.model,
            status=a.status,
            usage=Usage(
                input_tokens=a.tokens_in,
                output_tokens=a.tokens_out,
                cache_creation_input_tokens=a.cache_write,
                cache_read_input_tokens=a.cache_read,
            ),
            attempts=a.attempts,
            started_at=a.started_at,
            finished_at=a.finished_at,
            result=a.result,
            error=a.error,
            options=a.options,
            last_tool=tool_use_from_json(a.last_tool),
            transcript=a.transcript,
            worktree=a.worktree_path,
            worktree_branch=a.worktree_branch,
        )
        for a in agents
    )
    error = None
    if run.error:
        e = run.error
        error = f"{e.get('name') or 'Error'}: {e.get('message') or ''}"
    meta = run.meta
    return RunView(
        run_id=run.id,
        name=run.name,
        description=str(meta.get("description") or ""),
        status=status,
        now=now,
        elapsed=elapsed,
        phases=tuple(phases),
        current_phase=None,
        agents=views,
        logs=tuple(logs),
        max_agents=run.caps.get("max_agents"),
        budget=run.caps.get("budget"),
        spent=sum(a.usage.output_tokens for a in views if a.status == "done"),
        error=error,
        script=run.script,
        path=run.path,
    )
