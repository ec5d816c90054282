"""A run as plain data: each ``agent()`` call's record and how the run ended.

The engine fills these in; events, views, the store and callers read them; workers report
``Usage``. This module imports nothing of jshost but the error tree, so that naming a record
never imports the engine (and ``jshost.events`` no longer needs to).
"""

from __future__ import annotations

import operator
import time
from typing import Any, Literal, final

from ._data import Frozen, Record, set_field
from .errors import WorkflowError

__all__ = [
    "AgentRecord",
    "AgentStatus",
    "RunOutcome",
    "RunStatus",
    "Stored",
    "ToolUse",
    "Usage",
    "held_result",
    "keep_results",
    "lend_result",
]

AgentStatus = Literal["queued", "running", "done", "failed", "skipped", "cancelled", "cached"]
RunStatus = Literal["completed", "failed", "stopped"]
#: how a tool call went: ran (ok/error), refused by the rules, or waiting for a person's answer
ToolUseStatus = Literal["ok", "error", "denied", "waiting"]


class Stored:
    """A value kept where it is durable (the run store) instead of in memory.

    A result field holding one reads the value back (:meth:`load`) each time it is asked
    for: a finished agent's large answer lives in the script's heap and in the store, not a
    third time in the host (issue 22). Subclasses know where the value is.
    """

    __slots__ = ()

    def load(self) -> Any:
        raise NotImplementedError


class ResultField:
    """A record's ``result`` once it is held in the store: read back each time it is asked.

    The value itself lives in the record's own ``result`` attribute, which a plain read finds
    first (this descriptor costs nothing then); :func:`lend_result` takes it away and leaves a
    :class:`Stored`, which this descriptor, the class's default for ``result``, then loads.
    """

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the field's default
        stored = vars(obj).get(_STORED)
        return None if stored is None else stored.load()


_STORED = "_stored_result"


def lend_result(obj: Any, stored: Stored) -> None:
    """From now on ``obj.result`` is read back through ``stored``; the value is let go."""
    held = vars(obj)
    held[_STORED] = stored  # first: a reader on another thread finds the one or the other
    held.pop("result", None)


def held_result(obj: Any) -> Any:
    """``obj.result`` as it is held: the value, or the :class:`Stored` that reads it back
    (for a snapshot that passes the result on without reading the store)."""
    held = vars(obj)
    return held["result"] if "result" in held else held.get(_STORED)


def keep_results(records: Any) -> None:
    """Read each record's result held in the store back into the record, for good: the
    store is about to go (a temporary one, deleted with its run)."""
    for rec in records:
        held = vars(rec)
        if "result" not in held and _STORED in held:
            rec.result = held[_STORED].load()
            del held[_STORED]


@final
class Usage(Frozen):
    """Tokens an agent used, summed over its requests and attempts.

    ``input_tokens`` is input read without the prompt cache; what was written to and read
    from the cache is counted apart, as the Messages API reports it.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    _fields = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    )

    def __init__(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        cache_read_input_tokens: int = 0,
    ) -> None:
        # Written to the instance's dict at once (frozen: no __setattr__): a few an agent.
        fields = self.__dict__
        fields["input_tokens"] = input_tokens
        fields["output_tokens"] = output_tokens
        fields["cache_creation_input_tokens"] = cache_creation_input_tokens
        fields["cache_read_input_tokens"] = cache_read_input_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


@final
class ToolUse(Frozen):
    """One tool call of a running agent, as events, views and the store show it.

    ``summary`` is one printable-to-be line (``Read src/app.py (120 lines)``, ``denied: no rule
    allows Bash(rm -rf build)``); ``rule`` the permission rule that decided, when one did.
    Inputs are the model's and untrusted: views sanitise them like every other text.
    """

    tool: str
    input: dict[str, Any]
    status: ToolUseStatus
    summary: str = ""
    rule: str | None = None
    elapsed: float = 0.0

    _fields = ("tool", "input", "status", "summary", "rule", "elapsed")

    def __init__(
        self,
        tool: str,
        input: dict[str, Any],
        status: ToolUseStatus,
        summary: str = "",
        rule: str | None = None,
        elapsed: float = 0.0,
    ) -> None:
        set_field(self, "tool", tool)
        set_field(self, "input", input)
        set_field(self, "status", status)
        set_field(self, "summary", summary)
        set_field(self, "rule", rule)
        set_field(self, "elapsed", elapsed)


class AgentRecord(Record):
    """One ``agent()`` call, as the engine tracks it. Owned by the engine; UIs only read it."""

    index: int
    label: str
    prompt: str
    phase: str | None
    model: str | None
    schema: Any = None
    #: the call's cache key (reference §5.2) and the options the script passed
    key: str = ""
    options: dict[str, Any]
    status: AgentStatus = "queued"
    #: the answer; once it is committed to the run store a large one is read back from there
    #: when asked for (the script holds it too), so the host does not keep a copy of its own
    result: Any = ResultField()
    error: str | None = None
    usage: Usage
    #: the model the worker reports it used (an id; the script's ``model`` may be an alias)
    model_used: str | None = None
    attempts: int = 0
    #: the agent's conversation for people (turns, tool calls, results cut short, permission
    #: decisions): JSON-able dicts with a "kind" key; see docs/tools.md. Never seen by a script.
    #: Once the agent's row is committed, the bounded form the store keeps
    #: (``jshost.transcripts.StoredTranscript``), not the worker's full one
    transcript: list[dict[str, Any]]
    #: the latest tool call (live views show it); None until the agent uses a tool
    last_tool: ToolUse | None = None
    #: the git worktree of an ``isolation: 'worktree'`` agent while it exists: set when it is
    #: made, cleared when it is removed; still set once the agent has ended = kept for review
    worktree_path: str | None = None
    worktree_branch: str | None = None
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    _fields = (
        "index",
        "label",
        "prompt",
        "phase",
        "model",
        "schema",
        "key",
        "options",
        "status",
        "result",
        "error",
        "usage",
        "model_used",
        "attempts",
        "transcript",
        "last_tool",
        "worktree_path",
        "worktree_branch",
        "queued_at",
        "started_at",
        "finished_at",
    )

    def __init__(
        self,
        index: int,
        label: str,
        prompt: str,
        phase: str | None,
        model: str | None,
        schema: Any = None,
        key: str = "",
        options: dict[str, Any] | None = None,
        status: AgentStatus = "queued",
        result: Any = None,
        error: str | None = None,
        usage: Usage | None = None,
        model_used: str | None = None,
        attempts: int = 0,
        transcript: list[dict[str, Any]] | None = None,
        last_tool: ToolUse | None = None,
        worktree_path: str | None = None,
        worktree_branch: str | None = None,
        queued_at: float = 0.0,
        started_at: float | None = None,
        finished_at: float | None = None,
    ) -> None:
        self.index = index
        self.label = label
        self.prompt = prompt
        self.phase = phase
        self.model = model
        self.schema = schema
        self.key = key
        self.options = {} if options is None else options
        self.status = status
        self.result = result
        self.error = error
        self.usage = Usage() if usage is None else usage
        self.model_used = model_used
        self.attempts = attempts
        self.transcript = [] if transcript is None else transcript
        self.last_tool = last_tool
        self.worktree_path = worktree_path
        self.worktree_branch = worktree_branch
        self.queued_at = queued_at
        self.started_at = started_at
        self.finished_at = finished_at

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at


_INPUT = operator.attrgetter("usage.input_tokens")
_OUTPUT = operator.attrgetter("usage.output_tokens")
_USAGE = tuple(operator.attrgetter(f"usage.{name}") for name in Usage._fields)
_STATUS = operator.attrgetter("status")


class RunOutcome(Record):
    """How a run ended, with everything a summary needs."""

    status: RunStatus
    result: Any
    error: WorkflowError | None
    agents: list[AgentRecord]
    failures: list[str]
    logs: list[str]
    phases: list[str]
    elapsed: float
    peak_concurrency: int
    dropped_logs: int = 0
    #: agent() calls refused because the run's agent cap was reached (they never became agents)
    refused: int = 0
    #: the run's output-token budget and what was spent of it (None: no budget)
    budget: int | None = None
    spent: int = 0
    #: one line about a problem that hit the whole run (the API could not be reached)
    worker_problem: str | None = None

    _fields = (
        "status",
        "result",
        "error",
        "agents",
        "failures",
        "logs",
        "phases",
        "elapsed",
        "peak_concurrency",
        "dropped_logs",
        "refused",
        "budget",
        "spent",
        "worker_problem",
    )

    def __init__(
        self,
        status: RunStatus,
        result: Any,
        error: WorkflowError | None,
        agents: list[AgentRecord],
        failures: list[str],
        logs: list[str],
        phases: list[str],
        elapsed: float,
        peak_concurrency: int,
        dropped_logs: int = 0,
        refused: int = 0,
        budget: int | None = None,
        spent: int = 0,
        worker_problem: str | None = None,
    ) -> None:
        self.status = status
        self.result = result
        self.error = error
        self.agents = agents
        self.failures = failures
        self.logs = logs
        self.phases = phases
        self.elapsed = elapsed
        self.peak_concurrency = peak_concurrency
        self.dropped_logs = dropped_logs
        self.refused = refused
        self.budget = budget
        self.spent = spent
        self.worker_problem = worker_problem

    # Read at the end of every run, over every agent: each a pass in C (map and attrgetter),
    # not a Python step an agent (issue 22: the store's end of a run read them eight times).

    @property
    def tokens_in(self) -> int:
        return sum(map(_INPUT, self.agents))

    @property
    def tokens_out(self) -> int:
        return sum(map(_OUTPUT, self.agents))

    @property
    def usage(self) -> Usage:
        """Tokens of every agent, cache reads and writes included."""
        return Usage(*[sum(map(tokens, self.agents)) for tokens in _USAGE])

    def count(self, status: AgentStatus) -> int:
        return self.statuses().count(status)

    def statuses(self) -> list[AgentStatus]:
        """Each agent's status, in call order."""
        return list(map(_STATUS, self.agents))

    @property
    def kept_worktrees(self) -> list[AgentRecord]:
        """Agents whose worktree was kept (it has changes to review), in call order."""
        return [a for a in self.agents if a.worktree_path is not None]
