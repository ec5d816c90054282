"""3 · Run: the trio loop that drives one sandbox, schedules agents on workers and records a run.

No terminal, no SQL, no JavaScript text: it publishes ``jshost.events`` and writes through the
``Recorder`` protocol. Interfaces steer a run only through ``EngineControl``.

``run`` (the ``Engine`` and its loop) owns a run's state; ``agents`` (the queue, caps, budget),
``bridge`` (the outbox wire format), ``children`` (child workflows) and ``timers`` each hold one
of its jobs; ``control`` steers it from another thread.
"""

from ..limits import Limits
from ..records import AgentRecord, RunOutcome
from .agents import default_label
from .control import EngineControl, EngineThread
from .run import NO_ARGS, Engine

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
