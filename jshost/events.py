"""The engine's event stream: what happened during a run, for UIs to render.

The engine calls one ``sink(event)`` synchronously; a sink must be quick and must not raise.
Agent events carry the engine's live ``AgentRecord``: read it, never change it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import AgentRecord, RunOutcome
    from .meta import Meta

__all__ = [
    "AgentFinished",
    "AgentQueued",
    "AgentStarted",
    "Event",
    "FailureLine",
    "LogLine",
    "PhaseStarted",
    "RunFinished",
    "RunStarted",
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
class AgentFinished:
    """An agent ended: ``agent.status`` is done, failed, skipped or cancelled."""

    agent: AgentRecord


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
    | AgentFinished
    | LogLine
    | FailureLine
    | RunFinished
)
Sink = Callable[[Event], None]
