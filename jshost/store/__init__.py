"""5 · Remember: the run store, one SQLite file. Plain persistence: it imports no engine."""

from .db import data_dir
from .migrations import SCHEMA_VERSION
from .recorder import RunRecorder
from .runs import Store

__all__ = ["SCHEMA_VERSION", "AgentRow", "RunRecorder", "RunRow", "Store", "data_dir"]


def __getattr__(name: str) -> object:
    # The row classes are for reading stored runs; `jshost run` only writes one.
    if name in ("AgentRow", "RunRow"):
        from . import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
