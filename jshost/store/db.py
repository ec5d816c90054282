"""The run store: every run, every agent call, its journal and log lines, in one SQLite file.

Where: ``$JSHOST_HOME/jshost.db``, else the platform's user data directory.

Durability: the engine buffers what happens and :meth:`RunRecorder.flush` commits it in one
transaction *before* the results it holds are handed to the script, so a crash or ``kill -9``
loses only agents that were still in flight. The database runs in WAL mode with
``synchronous=NORMAL``: a committed transaction survives the process dying at any moment; an
operating-system crash or power cut may lose the last few commits but never corrupts the file.

Liveness: the process running a run holds an exclusive ``flock`` on ``locks/<run id>``; the
kernel drops it when the process dies however it dies, so "still running?" is a lock probe,
not a guess from a pid.

Schema changes are migrations keyed by ``PRAGMA user_version``; an older jshost refuses a
newer database rather than misreading it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bounds import MAX_STORED_LOG_BYTES
from ..errors import StoreError
from ..journal import JournalEntry, Recorder, Replay

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "AgentRow",
    "RunRecorder",
    "RunRow",
    "Store",
    "data_dir",
]

SCHEMA_VERSION = 5
#: log lines kept per run session; the rest are counted, not stored
MAX_STORED_LOGS = 10_000
_BUSY_TIMEOUT_MS = 5_000

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        path          TEXT,
        script        TEXT NOT NULL,
        sha256        TEXT NOT NULL,
        args          TEXT,
        meta          TEXT NOT NULL,
        status        TEXT NOT NULL
                      CHECK (status IN ('running', 'completed', 'failed', 'stopped')),
        created_at    REAL NOT NULL,
        started_at    REAL NOT NULL,
        finished_at   REAL,
        elapsed       REAL NOT NULL DEFAULT 0,
        sessions      INTEGER NOT NULL DEFAULT 1,
        result        TEXT,
        error         TEXT,
        caps          TEXT NOT NULL,
        worker        TEXT NOT NULL,
        model         TEXT,
        agents_total  INTEGER NOT NULL DEFAULT 0,
        agents_done   INTEGER NOT NULL DEFAULT 0,
        agents_failed INTEGER NOT NULL DEFAULT 0,
        agents_skipped INTEGER NOT NULL DEFAULT 0,
        agents_cached INTEGER NOT NULL DEFAULT 0,
        tokens_in     INTEGER NOT NULL DEFAULT 0,
        tokens_out    INTEGER NOT NULL DEFAULT 0,
        dropped_logs  INTEGER NOT NULL DEFAULT 0,
        pid           INTEGER,
        host          TEXT
    );
    CREATE INDEX runs_created ON runs (created_at);
    CREATE TABLE agents (
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        session     INTEGER NOT NULL,
        key         TEXT NOT NULL,
        label       TEXT NOT NULL,
        phase       TEXT,
        model       TEXT,
        prompt      TEXT NOT NULL,
        options     TEXT NOT NULL,
        status      TEXT NOT NULL,
        result      TEXT,
        error       TEXT,
        tokens_in   INTEGER NOT NULL DEFAULT 0,
        tokens_out  INTEGER NOT NULL DEFAULT 0,
        attempts    INTEGER NOT NULL DEFAULT 0,
        queued_at   REAL,
        started_at  REAL,
        finished_at REAL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE journal (
        seq     INTEGER PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        session INTEGER NOT NULL,
        type    TEXT NOT NULL CHECK (type IN ('started', 'result', 'failed')),
        key     TEXT NOT NULL,
        agent   INTEGER NOT NULL,
        result  TEXT
    );
    CREATE INDEX journal_run ON journal (run_id, seq);
    CREATE TABLE logs (
        seq     INTEGER PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        session INTEGER NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('log', 'failure')),
        text    TEXT NOT NULL,
        at      REAL NOT NULL
    );
    CREATE INDEX logs_run ON logs (run_id, seq);
    CREATE TABLE approvals (
        path        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        name        TEXT NOT NULL,
        approved_at REAL NOT NULL,
        PRIMARY KEY (path, sha256)
    ) WITHOUT ROWID;
    """,
    # 2: a running run can be paused from its interactive view; watchers show it.
    2: """
    ALTER TABLE runs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: the model id an agent really used (``model`` is what the script asked for, maybe an
    # alias), and prompt-cache tokens per agent and per run, as the Messages API reports them.
    3: """
    ALTER TABLE agents ADD COLUMN model_used TEXT;
    ALTER TABLE agents ADD COLUMN cache_write INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agents ADD COLUMN cache_read INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN cache_write INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN cache_read INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: what the earlier sessions of a run cost, added up when a session is resumed (the
    # agents table keeps only the latest session's calls). Runs resumed before this migration
    # cannot get their earlier sessions back: they start from 0.
    4: """
    ALTER TABLE runs ADD COLUMN prior_agents INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN prior_tokens_in INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN prior_tokens_out INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN prior_cache_write INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN prior_cache_read INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the plan shown at the confirmation (JSON), kept so the summary and ``inspect`` can
    # set the estimate beside what the run spent.
    5: """
    ALTER TABLE runs ADD COLUMN estimate TEXT;
    """,
}

#: what one session's agents add up to, from the agents table (so also while it runs, and
#: after its process died): calls, by state, tokens, and the agents that really started
_SESSION_SUMS = (
    "SELECT count(*), "
    "coalesce(sum(status = 'done'), 0), coalesce(sum(status = 'failed'), 0), "
    "coalesce(sum(status = 'skipped'), 0), coalesce(sum(status = 'cached'), 0), "
    "coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), "
    "coalesce(sum(cache_write), 0), coalesce(sum(cache_read), 0), "
    "coalesce(sum(status != 'cached' AND started_at IS NOT NULL), 0) "
    "FROM agents WHERE run_id = ?"
)


def data_dir() -> Path:
    """``$JSHOST_HOME``, else the platform's user data directory for jshost."""
    home = os.environ.get("JSHOST_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("jshost", appauthor=False))


def _text(value: str) -> str:
    # JS strings may hold lone surrogates, which SQLite cannot take as UTF-8 text.
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=str)


def _dump(value: Any) -> str:
    return _ENCODER.encode(value)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _explain(exc: sqlite3.Error, where: Path) -> str:
    text = str(exc)
    low = text.lower()
    read_only = where.parent.is_dir() and not os.access(where.parent, os.W_OK)
    if read_only or "readonly" in low or "read-only" in low:
        return f"the run store {where} is read-only; check its permissions or set JSHOST_HOME"
    if "locked" in low or "busy" in low:
        return (
            f"the run store {where} is locked by another process "
            f"(waited {_BUSY_TIMEOUT_MS // 1000} s); try again when it finishes"
        )
    if "disk is full" in low or "disk i/o" in low:
        return f"cannot write the run store {where}: {text} (is the disk full?)"
    if "unable to open" in low:
        return f"cannot open the run store {where}: check the directory exists and is writable"
    if "not a database" in low or "malformed" in low:
        return f"{where} is not a jshost run store, or it is damaged ({text})"
    return f"run store {where}: {text}"


@dataclass(frozen=True)
class RunRow:
    """One stored run, as ``jshost runs`` and ``inspect`` show it."""

    id: str
    name: str
    path: str | None
    script: str
    sha256: str
    args: Any
    has_args: bool
    meta: dict[str, Any]
    status: str
    created_at: float
    started_at: float
    finished_at: float | None
    elapsed: float
    sessions: int
    result: Any
    error: dict[str, Any] | None
    caps: dict[str, Any]
    worker: str
    model: str | None
    agents_total: int
    agents_done: int
    agents_failed: int
    agents_skipped: int
    agents_cached: int
    tokens_in: int
    tokens_out: int
    dropped_logs: int
    paused: bool = False
    cache_write: int = 0
    cache_read: int = 0
    #: True when the process that owns a ``running`` run is alive
    live: bool = False
    #: agents that started in this (the latest) session; cached ones did not
    session_agents: int = 0
    #: what the earlier sessions cost (agents started, tokens): the run's totals add them
    prior_agents: int = 0
    prior_tokens_in: int = 0
    prior_tokens_out: int = 0
    prior_cache_write: int = 0
    prior_cache_read: int = 0

    @property
    def total_agents(self) -> int:
        """Agents that started, over every session of the run."""
        return self.prior_agents + self.session_agents

    @property
    def total_tokens_in(self) -> int:
        return self.prior_tokens_in + self.tokens_in

    @property
    def total_tokens_out(self) -> int:
        return self.prior_tokens_out + self.tokens_out

    @property
    def shown_status(self) -> str:
        """``interrupted`` for a run whose process died without saying how it ended."""
        if self.status == "running" and not self.live:
            return "interrupted"
        if self.status == "running" and self.paused:
            return "paused"
        return self.status

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.shown_status,
            "path": self.path,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_s": round(self.elapsed, 3),
            "sessions": self.sessions,
            "worker": self.worker,
            "model": self.model,
            "caps": self.caps,
            "agents": {
                "total": self.agents_total,
                "done": self.agents_done,
                "failed": self.agents_failed,
                "skipped": self.agents_skipped,
                "cached": self.agents_cached,
            },
            "tokens": {
                "input": self.tokens_in,
                "output": self.tokens_out,
                "cache_write": self.cache_write,
                "cache_read": self.cache_read,
            },
            # ``agents`` and ``tokens`` are the latest session's; these add up every session
            "totals": {
                "sessions": self.sessions,
                "agents_started": self.total_agents,
                "tokens": {
                    "input": self.total_tokens_in,
                    "output": self.total_tokens_out,
                    "cache_write": self.prior_cache_write + self.cache_write,
                    "cache_read": self.prior_cache_read + self.cache_read,
                },
            },
        }
        if full:
            out["meta"] = self.meta
            out["args"] = self.args if self.has_args else None
            out["result"] = self.result
            out["error"] = self.error
            out["dropped_logs"] = self.dropped_logs
        return out


@dataclass(frozen=True)
class AgentRow:
    """One stored ``agent()`` call of a run's latest session."""

    index: int
    session: int
    key: str
    label: str
    phase: str | None
    model: str | None
    prompt: str
    options: dict[str, Any]
    status: str
    result: Any
    error: str | None
    tokens_in: int
    tokens_out: int
    attempts: int
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    model_used: str | None = None
    cache_write: int = 0
    cache_read: int = 0

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "key": self.key,
            "label": self.label,
            "phase": self.phase,
            "model": self.model,
            "model_used": self.model_used,
            "status": self.status,
            "prompt": self.prompt,
            "options": self.options,
            "result": self.result,
            "error": self.error,
            "tokens": {
                "input": self.tokens_in,
                "output": self.tokens_out,
                "cache_write": self.cache_write,
                "cache_read": self.cache_read,
            },
            "attempts": self.attempts,
            "elapsed_s": None if self.elapsed is None else round(self.elapsed, 3),
        }


_RUN_COLUMNS = (
    "id, name, path, script, sha256, args, meta, status, created_at, started_at, finished_at, "
    "elapsed, sessions, result, error, caps, worker, model, agents_total, agents_done, "
    "agents_failed, agents_skipped, agents_cached, tokens_in, tokens_out, dropped_logs, paused, "
    "cache_write, cache_read, prior_agents, prior_tokens_in, prior_tokens_out, prior_cache_write, "
    "prior_cache_read"
)
_AGENT_COLUMNS = (
    "idx, session, key, label, phase, model, prompt, options, status, result, error, "
    "tokens_in, tokens_out, attempts, queued_at, started_at, finished_at, "
    "model_used, cache_write, cache_read"
)


class Store:
    """A connection to the run store. Safe to share between threads (calls are serialized).

    Args:
        path (Path | str | None): the database file; default ``data_dir() / "jshost.db"``.
        reading (bool): the caller only reads; a store on read-only media is then opened
            as it is rather than refused.
    """

    def __init__(self, path: Path | str | None = None, *, reading: bool = False) -> None:
        self.path = Path(path) if path is not None else data_dir() / "jshost.db"
        self._lock = threading.RLock()
        self._locks: dict[str, int] = {}
        if reading and self.path.is_file() and not os.access(self.path.parent, os.W_OK):
            # Nobody can write here, so nothing changes under us: read the file as it is.
            with self._errors():
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._db.close()
                raise StoreError(
                    f"the run store {self.path} is read-only and has schema {version}; "
                    f"this jshost reads schema {SCHEMA_VERSION}"
                )
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the run store's directory {self.path.parent}: {exc.strerror}"
            ) from None
        with self._errors():
            self._db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            try:
                self._setup()
            except BaseException:
                self._db.close()
                raise

    # ---- connection ------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(_explain(exc, self.path)) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``) so it cannot deadlock."""
        with self._lock, self._errors():
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()

    def _setup(self) -> None:
        db = self._db
        db.isolation_level = None  # explicit transactions only
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run store {self.path} was written by a newer jshost (schema {version}, "
                f"this one reads up to {SCHEMA_VERSION}); upgrade jshost or set JSHOST_HOME"
            )
        if version < SCHEMA_VERSION:
            with self.transaction():
                # Re-read under the write lock: another process may have migrated meanwhile.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[v].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {v}")

    @classmethod
    def default(cls) -> Store:
        """The store the command line uses (``jshost runs`` lists its runs)."""
        return cls()

    def close(self) -> None:
        with self._lock:
            for fd in self._locks.values():
                os.close(fd)
            self._locks.clear()
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._errors():
            return self._db.execute(sql, params).fetchall()

    # ---- approvals -------------------------------------------------------------------

    def is_approved(self, path: str, sha256: str) -> bool:
        """Whether the user said "don't ask again" for this file with exactly this content."""
        rows = self._query(
            "SELECT 1 FROM approvals WHERE path = ? AND sha256 = ?", (_text(path), sha256)
        )
        return bool(rows)

    def was_approved(self, path: str) -> bool:
        """Whether "don't ask again" was said for this file with any content."""
        return bool(self._query("SELECT 1 FROM approvals WHERE path = ?", (_text(path),)))

    def approve(self, path: str, sha256: str, name: str) -> None:
        """Remember "don't ask again" for this file with exactly this content."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO approvals (path, sha256, name, approved_at) "
                "VALUES (?, ?, ?, ?)",
                (_text(path), sha256, _text(name), time.time()),
            )

    # ---- estimates -------------------------------------------------------------------

    def set_estimate(self, run_id: str, plan: dict[str, Any]) -> None:
        """Keep the plan a run was started on (``jshost.plan.Plan.to_json()``)."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET estimate = ? WHERE id = ?", (_dump(plan), run_id))

    def estimate(self, run_id: str) -> dict[str, Any] | None:
        """The plan a run was started on, or None when none was made (``run --yes``)."""
        rows = self._query("SELECT estimate FROM runs WHERE id = ?", (run_id,))
        value = _load(rows[0][0]) if rows else None
        return value if isinstance(value, dict) else None

    # ---- run liveness ----------------------------------------------------------------

    def _lock_path(self, run_id: str) -> Path:
        return self.path.parent / "locks" / f"{run_id}.lock"

    def _hold(self, run_id: str) -> None:
        """Take the run's liveness lock for this process, or fail if another holds it."""
        if fcntl is None:  # pragma: no cover
            return
        path = self._lock_path(run_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot create the run lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"run {run_id} is still running in another process; stop it first "
                "(Ctrl-C in its terminal) and resume it when it has stopped"
            ) from None
        self._locks[run_id] = fd

    def _release(self, run_id: str) -> None:
        fd = self._locks.pop(run_id, None)
        if fd is not None:
            os.close(fd)

    def is_live(self, run_id: str) -> bool:
        """Whether some process holds the run's liveness lock right now."""
        if run_id in self._locks:
            return True
        if fcntl is None:  # pragma: no cover
            return False
        try:
            fd = os.open(self._lock_path(run_id), os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's lock
        return False

    # ---- runs ------------------------------------------------------------------------

    def _row(self, t: tuple[Any, ...]) -> RunRow:
        values = list(t)
        args_text = values[5]
        (n, done, failed, skipped, cached, t_in, t_out, c_write, c_read, started) = self._query(
            _SESSION_SUMS, (values[0],)
        )[0]
        if values[7] == "running":
            # Counts are written when a session ends: a running run, or one whose process
            # died (interrupted), shows what its agents saved so far.
            values[18:25] = [n, done, failed, skipped, cached, t_in, t_out]
            values[27:29] = [c_write, c_read]
        return RunRow(
            id=values[0],
            name=values[1],
            path=values[2],
            script=values[3],
            sha256=values[4],
            args=_load(args_text),
            has_args=args_text is not None,
            meta=_load(values[6]) or {},
            status=values[7],
            created_at=values[8],
            started_at=values[9],
            finished_at=values[10],
            elapsed=values[11],
            sessions=values[12],
            result=_load(values[13]),
            error=_load(values[14]),
            caps=_load(values[15]) or {},
            worker=values[16],
            model=values[17],
            agents_total=values[18],
            agents_done=values[19],
            agents_failed=values[20],
            agents_skipped=values[21],
            agents_cached=values[22],
            tokens_in=values[23],
            tokens_out=values[24],
            dropped_logs=values[25],
            paused=bool(values[26]),
            cache_write=values[27],
            cache_read=values[28],
            live=values[7] == "running" and self.is_live(values[0]),
            session_agents=started,
            prior_agents=values[29],
            prior_tokens_in=values[30],
            prior_tokens_out=values[31],
            prior_cache_write=values[32],
            prior_cache_read=values[33],
        )

    def list_runs(self, limit: int | None = None) -> list[RunRow]:
        """Runs, newest first."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [self._row(t) for t in self._query(sql, params)]

    def get_run(self, ref: str) -> RunRow:
        """The run with this id, or the one run whose id starts with ``ref``."""
        ref = ref.strip()
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (ref,))
        if not rows and ref:
            pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._query(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 6",
                (pattern + "%",),
            )
            if len(rows) > 1:
                ids = ", ".join(r[0] for r in rows[:5])
                raise StoreError(f"run id {ref!r} is ambiguous: it starts {ids}, …")
        if not rows:
            raise StoreError(f"no run with id {ref!r} (see `jshost runs`)")
        return self._row(rows[0])

    def agents(self, run_id: str) -> list[AgentRow]:
        rows = self._query(
            f"SELECT {_AGENT_COLUMNS} FROM agents WHERE run_id = ? ORDER BY idx", (run_id,)
        )
        return [
            AgentRow(
                index=r[0],
                session=r[1],
                key=r[2],
                label=r[3],
                phase=r[4],
                model=r[5],
                prompt=r[6],
                options=_load(r[7]) or {},
                status=r[8],
                result=_load(r[9]),
                error=r[10],
                tokens_in=r[11],
                tokens_out=r[12],
                attempts=r[13],
                queued_at=r[14],
                started_at=r[15],
                finished_at=r[16],
                model_used=r[17],
                cache_write=r[18],
                cache_read=r[19],
            )
            for r in rows
        ]

    def logs(
        self, run_id: str, session: int | None = None, *, last: int | None = None
    ) -> list[tuple[str, str]]:
        """``(kind, text)`` of the run's log and failure lines (latest session by default).

        With ``last``, only the latest ``last`` lines (a watcher polls, and needs no more).
        """
        if session is None:
            session = self.get_run(run_id).sessions
        sql = "SELECT seq, kind, text FROM logs WHERE run_id = ? AND session = ? ORDER BY seq"
        params: tuple[Any, ...] = (run_id, session)
        if last is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT ?) ORDER BY seq"
            params = (*params, last)
        return [(kind, text) for _, kind, text in self._query(sql, params)]

    def journal(self, run_id: str) -> list[JournalEntry]:
        """Every journal entry of the run, all sessions, in the order they were written."""
        return [
            JournalEntry(type=t, key=k, agent=a, result=_load(r))
            for t, k, a, r in self._query(
                "SELECT type, key, agent, result FROM journal WHERE run_id = ? ORDER BY seq",
                (run_id,),
            )
        ]

    def _new_id(self) -> str:
        return "wf_" + secrets.token_hex(6)

    def begin_run(
        self,
        *,
        name: str,
        path: str | None,
        script: str,
        sha256: str,
        args_json: str | None,
        meta: Any,
        caps: dict[str, Any],
        worker: str,
        model: str | None,
    ) -> RunRecorder:
        """Record a new run as ``running`` and return the recorder the engine writes through."""
        now = time.time()
        run_id = self._new_id()
        self._hold(run_id)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO runs (id, name, path, script, sha256, args, meta, status, "
                    "created_at, started_at, caps, worker, model, pid, host) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        _text(name),
                        None if path is None else _text(path),
                        _text(script),
                        sha256,
                        args_json,
                        _dump(meta),
                        now,
                        now,
                        _dump(caps),
                        worker,
                        model,
                        os.getpid(),
                        socket.gethostname(),
                    ),
                )
        except BaseException:
            self._release(run_id)
            raise
        return RunRecorder(self, run_id, session=1, elapsed_before=0.0)

    def resume_run(
        self,
        run_id: str,
        *,
        script: str | None = None,
        sha256: str | None = None,
        path: str | None = None,
        name: str | None = None,
        meta: Any = None,
        args_json: str | None = None,
        caps: dict[str, Any],
        worker: str,
        model: str | None,
    ) -> tuple[RunRecorder, Replay]:
        """Start another session of a stopped, failed or interrupted run.

        ``script`` (with ``sha256``, ``path``, ``name``, ``meta``) replaces the stored script
        when the user edited it. Raises ``StoreError`` when the run is still running or has
        no stored result to replay.
        """
        row = self.get_run(run_id)
        self._hold(row.id)
        try:
            replay = Replay.from_entries(self.journal(row.id))
            if not replay.results:
                raise StoreError(
                    f"nothing to resume: run {row.id} has no finished agent results stored; "
                    "run the script again instead"
                )
            session = row.sessions + 1
            with self.transaction() as db:
                # The session being replaced was paid for: add it to the run's totals before
                # its agent rows go.
                sums = db.execute(_SESSION_SUMS, (row.id,)).fetchone()
                db.execute(
                    "UPDATE runs SET prior_agents = prior_agents + ?, "
                    "prior_tokens_in = prior_tokens_in + ?, "
                    "prior_tokens_out = prior_tokens_out + ?, "
                    "prior_cache_write = prior_cache_write + ?, "
                    "prior_cache_read = prior_cache_read + ? WHERE id = ?",
                    (sums[9], sums[5], sums[6], sums[7], sums[8], row.id),
                )
                db.execute(
                    "UPDATE runs SET status = 'running', started_at = ?, finished_at = NULL, "
                    "sessions = ?, result = NULL, error = NULL, caps = ?, worker = ?, "
                    "model = ?, args = ?, pid = ?, host = ?, "
                    "script = coalesce(?, script), sha256 = coalesce(?, sha256), "
                    "path = coalesce(?, path), name = coalesce(?, name), "
                    "meta = coalesce(?, meta) WHERE id = ?",
                    (
                        time.time(),
                        session,
                        _dump(caps),
                        worker,
                        model,
                        args_json,
                        os.getpid(),
                        socket.gethostname(),
                        None if script is None else _text(script),
                        sha256,
                        None if path is None else _text(path),
                        None if name is None else _text(name),
                        None if meta is None else _dump(meta),
                        row.id,
                    ),
                )
                db.execute("DELETE FROM agents WHERE run_id = ?", (row.id,))
        except BaseException:
            self._release(row.id)
            raise
        return RunRecorder(self, row.id, session=session, elapsed_before=row.elapsed), replay


class RunRecorder(Recorder):
    """What the engine writes through during one session of a run.

    Calls made on the engine's thread only buffer; :meth:`flush` commits the buffer in one
    transaction (the engine calls it before every batch of results reaches the script, on the
    sandbox's thread, so saving costs no extra thread hop).
    """

    def __init__(self, store: Store, run_id: str, *, session: int, elapsed_before: float) -> None:
        self.store = store
        self.run_id = run_id
        self.session = session
        self._elapsed_before = elapsed_before
        self._agents: dict[int, Any] = {}  # index → the engine's live record
        self._journal: list[tuple[Any, ...]] = []
        self._logs: list[tuple[Any, ...]] = []
        self._paused: bool | None = None  # a pause state not saved yet
        self._log_count = 0
        self._log_bytes = 0
        self.dropped_logs = 0
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._closed = False
        # The engine buffers on the trio thread while a flush may run on the sandbox's thread.
        self._mutex = threading.Lock()

    def _wall(self, mono: float | None) -> float | None:
        return None if mono is None else self._wall0 + (mono - self._mono0)

    # ---- buffering (engine thread) -----------------------------------------------------

    def agent(self, rec: Any) -> None:
        """Note that an agent record changed; its latest state is saved at the next flush.

        The record is read when it is saved, once however often it changed in between. The
        engine calls this after each change is complete, so a flush that reads a record in
        the middle of a change is always followed by one that reads the finished state.
        """
        with self._mutex:
            self._agents[rec.index] = rec

    def _agent_row(self, rec: Any) -> tuple[Any, ...]:
        result = None if rec.status not in ("done", "cached") else _dump(rec.result)
        return (
            self.run_id,
            rec.index,
            self.session,
            rec.key,
            _text(rec.label),
            None if rec.phase is None else _text(rec.phase),
            None if rec.model is None else _text(rec.model),
            _text(rec.prompt),
            _dump(rec.options),
            rec.status,
            result,
            None if rec.error is None else _text(rec.error),
            rec.usage.input_tokens,
            rec.usage.output_tokens,
            rec.attempts,
            self._wall(rec.queued_at),
            self._wall(rec.started_at),
            self._wall(rec.finished_at),
            None if rec.model_used is None else _text(rec.model_used),
            rec.usage.cache_creation_input_tokens,
            rec.usage.cache_read_input_tokens,
        )

    def entry(self, entry: JournalEntry) -> None:
        result = None if entry.type != "result" else _dump(entry.result)
        row = (self.run_id, self.session, entry.type, entry.key, entry.agent, result)
        with self._mutex:
            self._journal.append(row)

    def log(self, kind: str, text: str) -> None:
        self._log_count += 1
        text = _text(text)
        # Lines and bytes are both capped: 10,000 lines of 64 KiB each would be 640 MiB.
        self._log_bytes += len(text.encode("utf-8"))
        if self._log_count > MAX_STORED_LOGS or self._log_bytes > MAX_STORED_LOG_BYTES:
            self._log_bytes = MAX_STORED_LOG_BYTES + 1  # once over, every later line is dropped
            self.dropped_logs += 1
            return
        row = (self.run_id, self.session, kind, text, time.time())
        with self._mutex:
            self._logs.append(row)

    def paused(self, paused: bool) -> None:
        with self._mutex:
            self._paused = paused

    @property
    def dirty(self) -> bool:
        return bool(self._agents or self._journal or self._logs or self._paused is not None)

    # ---- committing (any thread, one at a time) ----------------------------------------

    def flush(self) -> None:
        """Commit everything buffered; raises ``StoreError`` and keeps the buffer on failure."""
        with self._mutex:
            if not self.dirty:
                return
            agents, journal, logs = self._agents, self._journal, self._logs
            self._agents, self._journal, self._logs = {}, [], []
            paused, self._paused = self._paused, None
        try:
            rows = [self._agent_row(rec) for rec in agents.values()]
            with self.store.transaction() as db:
                if rows:
                    db.executemany(
                        f"INSERT OR REPLACE INTO agents (run_id, {_AGENT_COLUMNS}) "
                        f"VALUES ({', '.join('?' * 21)})",
                        rows,
                    )
                if journal:
                    db.executemany(
                        "INSERT INTO journal (run_id, session, type, key, agent, result) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        journal,
                    )
                if logs:
                    db.executemany(
                        "INSERT INTO logs (run_id, session, kind, text, at) VALUES (?, ?, ?, ?, ?)",
                        logs,
                    )
                if paused is not None:
                    db.execute(
                        "UPDATE runs SET paused = ? WHERE id = ?", (int(paused), self.run_id)
                    )
        except BaseException:
            # Put it back (ahead of anything buffered meanwhile) so a later flush may save it.
            with self._mutex:
                agents.update(self._agents)
                self._agents = agents
                self._journal = journal + self._journal
                self._logs = logs + self._logs
                if self._paused is None:
                    self._paused = paused
            raise

    def finish(self, outcome: Any) -> None:
        """Flush, then record how the session ended, and let go of the run's lock."""
        if self._closed:
            return
        try:
            self.flush()
            error = None
            if outcome.error is not None:
                e = outcome.error
                error = {
                    "name": e.name,
                    "message": _text(e.message),
                    "path": e.path,
                    "line": e.line,
                    "column": e.column,
                }
            counts = {s: outcome.count(s) for s in ("done", "failed", "skipped", "cached")}
            with self.store.transaction() as db:
                db.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, elapsed = ?, result = ?, "
                    "error = ?, agents_total = ?, agents_done = ?, agents_failed = ?, "
                    "agents_skipped = ?, agents_cached = ?, tokens_in = ?, tokens_out = ?, "
                    "cache_write = ?, cache_read = ?, dropped_logs = ?, paused = 0, pid = NULL "
                    "WHERE id = ?",
                    (
                        outcome.status,
                        time.time(),
                        self._elapsed_before + outcome.elapsed,
                        None if outcome.status != "completed" else _dump(outcome.result),
                        None if error is None else _dump(error),
                        len(outcome.agents),
                        counts["done"],
                        counts["failed"],
                        counts["skipped"],
                        counts["cached"],
                        outcome.tokens_in,
                        outcome.tokens_out,
                        outcome.usage.cache_creation_input_tokens,
                        outcome.usage.cache_read_input_tokens,
                        self.dropped_logs,
                        self.run_id,
                    ),
                )
        finally:
            self._closed = True
            self.store._release(self.run_id)
