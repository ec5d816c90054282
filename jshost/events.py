"""The engine's event stream: what happened during a run, for UIs to render.

The engine calls one ``sink(event)`` synchronously; a sink must be quick and must not raise
(``jshost.ui.dispatch.EventQueue.put`` is the sink the command line uses: it hands events to a
UI thread, so a slow terminal never slows the run). Agent events carry the engine's live
``AgentRecord``: read it, never change it. ``docs/events.md`` documents the JSON form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class RunStarted:
    meta: Meta
    worker: str
    limits: Any


@dataclass(frozen=True)
class PhaseStarted:
    title: str


@dataclass(frozen=True)
class AgentQueued:
    agent: AgentRecord


@dataclass(frozen=True)
class AgentStarted:
    agent: AgentRecord


@dataclass(frozen=True)
class AgentProgress:
    """A running agent reported tokens so far (``agent.usage``)."""

    agent: AgentRecord


@dataclass(frozen=True)
class AgentTool:
    """A running agent called a tool, or a call of it changed state (ran, refused, waiting
    for a person's answer). ``agent.last_tool`` is ``use`` when the event is published."""

    agent: AgentRecord
    use: ToolUse


@dataclass(frozen=True)
class AgentFinished:
    """An agent ended: ``agent.status`` is done, failed, skipped, cancelled or cached."""

    agent: AgentRecord


@dataclass(frozen=True)
class BudgetChanged:
    """Output tokens spent changed, in a run with a token budget."""

    spent: int
    total: int


@dataclass(frozen=True)
class RunPaused:
    """The run was paused (no queued agent starts; running ones finish) or carries on."""

    paused: bool


@dataclass(frozen=True)
class RunStopping:
    """A stop was asked for (Ctrl-C, SIGTERM): in-flight agents are being cancelled."""


@dataclass(frozen=True)
class LogLine:
    message: str


@dataclass(frozen=True)
class FailureLine:
    line: str


@dataclass(frozen=True)
class RunFinished:
    outcome: RunOutcome = field(repr=False)


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
