"""5 · Remember: the run store, one SQLite file. Plain persistence: it imports no engine."""

from .db import data_dir
from .migrations import SCHEMA_VERSION
from .recorder import RunRecorder
from .rows import AgentRow, RunRow
from .runs import Store

__all__ = ["SCHEMA_VERSION", "AgentRow", "RunRecorder", "RunRow", "Store", "data_dir"]
