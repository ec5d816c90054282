"""5 · Remember: the run store, one SQLite file. Plain persistence: it imports no engine."""

from .db import SCHEMA_VERSION, AgentRow, RunRecorder, RunRow, Store, data_dir

__all__ = ["SCHEMA_VERSION", "AgentRow", "RunRecorder", "RunRow", "Store", "data_dir"]
