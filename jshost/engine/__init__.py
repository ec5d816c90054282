"""3 · Run: the trio loop that drives one sandbox, schedules agents on workers and records a run.

No terminal, no SQL, no JavaScript text: it publishes ``jshost.events`` and writes through the
``Recorder`` protocol. Interfaces steer a run only through ``EngineControl``.
"""

from .control import EngineThread
from .run import (
    NO_ARGS,
    AgentRecord,
    Engine,
    EngineControl,
    Limits,
    RunOutcome,
    default_label,
)

__all__ = [
    "NO_ARGS",
    "AgentRecord",
    "Engine",
    "EngineControl",
    "EngineThread",
    "Limits",
    "RunOutcome",
    "default_label",
]
