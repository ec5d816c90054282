"""The worker protocol: what the engine asks of a model worker, and what it gets back.

Workers know nothing about JavaScript. The engine hands a worker one frozen ``AgentRequest``
per ``agent()`` call and awaits ``run()``; cancellation arrives as trio cancellation.

A worker signals failure by raising:

- ``WorkerError`` — the agent failed terminally (after its own retries): ``agent()`` resolves
  to ``null`` and a failure line ``[label] failed: <message>`` is recorded;
- ``AgentRejectedError`` — ``agent()`` must reject (the reference's throw cases, such as the
  StructuredOutput retry cap); inside ``parallel``/``pipeline`` the slot becomes ``null``.
"""

from __future__ import annotations

import abc
import contextvars
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, final

from .._data import Frozen, set_field
from ..errors import WorkerError
from ..records import ToolUse, Usage

if TYPE_CHECKING:
    from ..agent_types import AgentType  # a plain run reads no agent types
    from ..tools.toolbox import Toolbox

__all__ = [
    "AgentRejectedError",
    "AgentRequest",
    "AgentResult",
    "OnceNotes",
    "Usage",
    "Worker",
    "narrate",
    "report_tool",
    "report_usage",
]


class AgentRejectedError(WorkerError):
    """Raised by a worker when the script's ``agent()`` call must reject, not resolve to null."""

    def __init__(self, message: str, *, name: str = "Error") -> None:
        super().__init__(message)
        self.name = name


@final
class AgentRequest(Frozen):
    """One ``agent()`` call as a worker sees it.

    ``schema`` is a checked JSON Schema (or None for a text answer); ``model`` is what the
    script asked for (an alias, a full id, ``inherit``), else its agent type's model, or None.
    ``log``, when given, takes narrator lines for the run's log (a stall and its retry, say).
    ``agent_definition`` is the agent type ``agent_type`` resolved to (set by the engine; None:
    no ``agentType``, the reference's implicit workflow-subagent); a worker that cannot honour
    types ignores it. ``cwd`` is the directory the agent works in: its own git worktree when it
    asked for ``isolation: 'worktree'`` (the prompt then ends with a paragraph saying so), else
    None for the run's workspace.
    """

    index: int
    prompt: str
    label: str
    schema: dict[str, Any] | bool | None = None
    model: str | None = None
    effort: str | int | float | None = None
    phase: str | None = None
    agent_type: str | None = None
    isolation: str | None = None
    stall_ms: int | None = None
    #: the call's ``disallowedTools``: tool names or rules denied to this agent, on top of the
    #: defaults (checked rule texts, as the script wrote them)
    disallowed_tools: tuple[str, ...] = ()
    #: the call's ``bashCommandClamp``: ``Bash(<prefix>)`` rules outside which Bash is denied
    bash_command_clamp: tuple[str, ...] = ()
    agent_definition: AgentType | None = None
    cwd: Path | None = None
    log: Callable[[str], None] | None = None

    _fields = (
        "index",
        "prompt",
        "label",
        "schema",
        "model",
        "effort",
        "phase",
        "agent_type",
        "isolation",
        "stall_ms",
        "disallowed_tools",
        "bash_command_clamp",
        "agent_definition",
        "cwd",
        "log",
    )
    _uncompared = ("log",)
    _no_repr = ("log",)

    def __init__(
        self,
        index: int,
        prompt: str,
        label: str,
        schema: dict[str, Any] | bool | None = None,
        model: str | None = None,
        effort: str | int | float | None = None,
        phase: str | None = None,
        agent_type: str | None = None,
        isolation: str | None = None,
        stall_ms: int | None = None,
        disallowed_tools: tuple[str, ...] = (),
        bash_command_clamp: tuple[str, ...] = (),
        agent_definition: AgentType | None = None,
        cwd: Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        set_field(self, "index", index)
        set_field(self, "prompt", prompt)
        set_field(self, "label", label)
        set_field(self, "schema", schema)
        set_field(self, "model", model)
        set_field(self, "effort", effort)
        set_field(self, "phase", phase)
        set_field(self, "agent_type", agent_type)
        set_field(self, "isolation", isolation)
        set_field(self, "stall_ms", stall_ms)
        set_field(self, "disallowed_tools", disallowed_tools)
        set_field(self, "bash_command_clamp", bash_command_clamp)
        set_field(self, "agent_definition", agent_definition)
        set_field(self, "cwd", cwd)
        set_field(self, "log", log)


@final
class AgentResult(Frozen):
    """What ``agent()`` resolves to: text, or a JSON value that validates against the schema."""

    value: Any
    usage: Usage
    model: str = ""
    attempts: int = 1
    #: the agent's conversation for people (see ``AgentRecord.transcript``)
    transcript: tuple[dict[str, Any], ...] = ()

    _fields = ("value", "usage", "model", "attempts", "transcript")

    def __init__(
        self,
        value: Any,
        usage: Usage | None = None,
        model: str = "",
        attempts: int = 1,
        transcript: tuple[dict[str, Any], ...] = (),
    ) -> None:
        set_field(self, "value", value)
        set_field(self, "usage", Usage() if usage is None else usage)
        set_field(self, "model", model)
        set_field(self, "attempts", attempts)
        set_field(self, "transcript", transcript)


class Worker(abc.ABC):
    """A model worker. Subclasses set ``name`` and implement :meth:`run`."""

    name: ClassVar[str] = "worker"
    #: whether this worker can return schema-validated objects
    supports_schema: ClassVar[bool] = True
    #: whether this worker needs an API key, and the environment variable that holds it
    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    #: whether this worker's agents can use the run's tools (``toolbox``)
    supports_tools: ClassVar[bool] = False
    #: the run's tools, rules and workspace; set by the pipeline (``jshost/_api.py``) on a
    #: worker that supports tools, opened and closed with the worker. None: no tools.
    toolbox: Toolbox | None = None

    @abc.abstractmethod
    async def run(self, request: AgentRequest) -> AgentResult:
        """Run one agent; raise ``WorkerError`` or ``AgentRejectedError`` on failure."""

    def describe(self) -> str:
        """One line for the run header, e.g. ``sim worker (offline, 0.1 s latency)``."""
        return f"{self.name} worker"

    def model_name(self, model: str | None) -> str | None:
        """The model an agent asking for ``model`` (None: the run's default) will report.

        Views show it from the moment the agent is queued, so that an agent keeps one model
        name from start to end.
        """
        return model

    def problem(self) -> str | None:
        """One line about a problem that hit the whole run (the API could not be reached)."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections and other resources."""

    async def __aenter__(self) -> Worker:
        if self.toolbox is not None:
            await self.toolbox.open()  # MCP servers start once per run, here
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.aclose()
        finally:
            if self.toolbox is not None:
                await self.toolbox.close()


#: set by the engine for each running agent's task (trio gives every task its own context)
progress_callback: contextvars.ContextVar[Callable[[Usage], None] | None] = contextvars.ContextVar(
    "jshost_progress_callback", default=None
)


#: set by the engine for each running agent's task: takes the agent's tool calls as they happen
tool_callback: contextvars.ContextVar[Callable[[ToolUse], None] | None] = contextvars.ContextVar(
    "jshost_tool_callback", default=None
)


#: set by the engine for each running agent's task: takes the list the worker writes the
#: current attempt's transcript into, so an agent stopped, skipped or restarted keeps it
transcript_callback: contextvars.ContextVar[Callable[[list[dict[str, Any]]], None] | None] = (
    contextvars.ContextVar("jshost_transcript_callback", default=None)
)


def report_transcript(entries: list[dict[str, Any]]) -> None:
    """Hand the engine the list this attempt's transcript entries are appended to, as it
    starts (the same list, not a copy); outside a run it does nothing."""
    callback = transcript_callback.get()
    if callback is not None:
        callback(entries)


def report_tool(use: ToolUse) -> None:
    """Tell the engine about a tool call of the current agent (started, finished, denied,
    waiting for a person), for events and live views; outside a run it does nothing."""
    callback = tool_callback.get()
    if callback is not None:
        callback(use)


def report_usage(usage: Usage) -> None:
    """Tell the engine the tokens the current agent has used so far, for live views.

    Workers call it from inside :meth:`Worker.run` (e.g. after each attempt); outside a run
    it does nothing. The final count is the ``AgentResult``'s usage.
    """
    callback = progress_callback.get()
    if callback is not None:
        callback(usage)


def narrate(request: AgentRequest, line: str) -> None:
    """Show ``line`` where the run shows a worker's narration (``[stall] …``), if anywhere."""
    if request.log is not None:
        request.log(line)


@final
class OnceNotes:
    """Lines a worker says once a run, however many of its agents meet the reason."""

    __slots__ = ("_said",)

    def __init__(self) -> None:
        self._said: set[str] = set()

    def note(self, request: AgentRequest, key: str, line: str) -> None:
        """:func:`narrate` ``line`` unless a line was said for ``key`` already."""
        if key not in self._said:
            self._said.add(key)
            narrate(request, line)
