"""The engine's event stream: what happened during a run, for UIs to render.

The engine calls one ``sink(event)`` synchronously; a sink must be quick and must not raise
(``jshost.ui.dispatch.EventQueue.put`` is the sink the command line uses: it hands events to a
UI thread, so a slow terminal never slows the run). Agent events carry the engine's live
``AgentRecord``: read it, never change it. ``docs/events.md`` documents the JSON form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import AgentRecord, RunOutcome, ToolUse
    from .script.meta import Meta

__all__ = [
    "AgentFinished",
    "AgentProgress",
    "AgentQueued",
    "AgentStarted",
    "AgentTool",
    "BudgetChanged",
    "Event",
    "FailureLine",
    "LogLine",
    "PhaseStarted",
    "RunFinished",
    "RunPaused",
    "RunStarted",
    "RunStopping",
    "Sink",
]


_set = object.__setattr__


class _Event:
    """What ``@dataclass(frozen=True)`` gave these records, written out once.

    Thirteen frozen dataclasses cost 37 M instructions (4 % of a one-agent `jshost run`, issue
    22): each generates and compiles six methods at import. The behaviour is the same: fields
    by position or keyword, frozen (``FrozenInstanceError``), ``==`` and ``hash`` over the
    fields of the same class, the dataclass ``repr`` (without the fields in ``_no_repr``) and
    ``__match_args__``; copy and pickle work as they did.
    """

    __slots__: tuple[str, ...] = ()
    _no_repr: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        cls.__match_args__ = cls.__slots__

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        from dataclasses import FrozenInstanceError  # not imported for the records' sake

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy and pickle rebuild through __init__ (frozen: no setattr after it)
        return self.__class__, self._values()

    def __repr__(self) -> str:
        names = (name for name in self.__slots__ if name not in self._no_repr)
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"


class RunStarted(_Event):
    __slots__ = ("meta", "worker", "limits")  # noqa: RUF023 (the fields' order)
    meta: Meta
    worker: str
    limits: Any

    def __init__(self, meta: Meta, worker: str, limits: Any) -> None:
        _set(self, "meta", meta)
        _set(self, "worker", worker)
        _set(self, "limits", limits)


class PhaseStarted(_Event):
    __slots__ = ("title",)
    title: str

    def __init__(self, title: str) -> None:
        _set(self, "title", title)


class AgentQueued(_Event):
    __slots__ = ("agent",)
    agent: AgentRecord

    def __init__(self, agent: AgentRecord) -> None:
        _set(self, "agent", agent)


class AgentStarted(_Event):
    __slots__ = ("agent",)
    agent: AgentRecord

    def __init__(self, agent: AgentRecord) -> None:
        _set(self, "agent", agent)


class AgentProgress(_Event):
    """A running agent reported tokens so far (``agent.usage``)."""

    __slots__ = ("agent",)
    agent: AgentRecord

    def __init__(self, agent: AgentRecord) -> None:
        _set(self, "agent", agent)


class AgentTool(_Event):
    """A running agent called a tool, or a call of it changed state (ran, refused, waiting
    for a person's answer). ``agent.last_tool`` is ``use`` when the event is published."""

    __slots__ = ("agent", "use")
    agent: AgentRecord
    use: ToolUse

    def __init__(self, agent: AgentRecord, use: ToolUse) -> None:
        _set(self, "agent", agent)
        _set(self, "use", use)


class AgentFinished(_Event):
    """An agent ended: ``agent.status`` is done, failed, skipped, cancelled or cached."""

    __slots__ = ("agent",)
    agent: AgentRecord

    def __init__(self, agent: AgentRecord) -> None:
        _set(self, "agent", agent)


class BudgetChanged(_Event):
    """Output tokens spent changed, in a run with a token budget."""

    __slots__ = ("spent", "total")
    spent: int
    total: int

    def __init__(self, spent: int, total: int) -> None:
        _set(self, "spent", spent)
        _set(self, "total", total)


class RunPaused(_Event):
    """The run was paused (no queued agent starts; running ones finish) or carries on."""

    __slots__ = ("paused",)
    paused: bool

    def __init__(self, paused: bool) -> None:
        _set(self, "paused", paused)


class RunStopping(_Event):
    """A stop was asked for (Ctrl-C, SIGTERM): in-flight agents are being cancelled."""

    __slots__ = ()


class LogLine(_Event):
    __slots__ = ("message",)
    message: str

    def __init__(self, message: str) -> None:
        _set(self, "message", message)


class FailureLine(_Event):
    __slots__ = ("line",)
    line: str

    def __init__(self, line: str) -> None:
        _set(self, "line", line)


class RunFinished(_Event):
    __slots__ = ("outcome",)
    _no_repr = ("outcome",)
    outcome: RunOutcome

    def __init__(self, outcome: RunOutcome) -> None:
        _set(self, "outcome", outcome)


Event = (
    RunStarted
    | PhaseStarted
    | AgentQueued
    | AgentStarted
    | AgentProgress
    | AgentTool
    | AgentFinished
    | BudgetChanged
    | RunPaused
    | RunStopping
    | LogLine
    | FailureLine
    | RunFinished
)
Sink = Callable[[Event], None]
