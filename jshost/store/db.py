"""The run store's connection: pragmas, transactions, migrations, liveness locks, errors.

Every run, every agent call, its journal and log lines live in one SQLite file; this module
opens it, keeps its schema current and turns ``sqlite3`` errors into :class:`StoreError`.

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
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .migrations import _MIGRATIONS, SCHEMA_VERSION

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

_BUSY_TIMEOUT_MS = 5_000


#: None for whatever it is given, and a C function: a Python one costs a frame at every bind
_null = {}.get


# sqlite3 binds an int, float or str as it is, but looks every other value up as something to
# adapt: for None, the registry and then two attribute lookups that fail (~3,000 instructions;
# an agent's row and its journal rows bind about eight). Registered, None is found at once and
# comes back as None, which binds as NULL as before. Process-wide, and the same for everyone.
sqlite3.register_adapter(type(None), _null)


def data_dir() -> Path:
    """``$JSHOST_HOME``, else the platform's user data directory for jshost."""
    home = os.environ.get("JSHOST_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("jshost", appauthor=False))


def _text(value: str) -> str:
    # JS strings may hold lone surrogates, which SQLite cannot take as UTF-8 text.
    if value.isascii():  # a flag CPython keeps: no copy of a long prompt to find out
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=str)


def _dump(value: Any) -> str:
    return _ENCODER.encode(value)


def _parsed_dumper() -> Callable[[Any], str]:
    # JSONEncoder.encode builds its C encoder afresh at every call (a third of the cost of
    # a small object's JSON). Built once, it must go without the cycle check (its markers
    # would outlive a failed call), so only for values parsed from JSON, which have no
    # cycles: a call's options. Same text as _dump; _dump where there is no C encoder.
    make = json.encoder.c_make_encoder
    if make is None:  # pragma: no cover - CPython has it
        return _dump
    encode = make(
        None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False
    )

    def dump(value: Any) -> str:
        return "".join(encode(value, 0))

    return dump


#: ``_dump`` for a value parsed from JSON (no cycles)
_dump_parsed = _parsed_dumper()


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


def _enter_wal(db: sqlite3.Connection) -> str:
    """Switch to WAL, retrying while another process holds the file.

    SQLite does not call the busy handler for a journal-mode change: when two processes
    create the store at once, one gets "database is locked" at once instead of waiting.
    WAL is persistent, so the mode is read first and set only on a store that lacks it.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return mode
            return db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class Database:
    """The connection, its lock and this process's run locks; :class:`.Store` builds on it."""

    #: whether :meth:`close` was called (a record's result then reads a fresh connection)
    closed = False

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
            self._writer = self._db.cursor()  # write()'s

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
                db.commit()
            except BaseException:
                # A failed COMMIT (a full disk) too: the connection is left with no
                # transaction open, so a later write can try again.
                db.rollback()
                raise

    def write(self, steps: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Run each ``(sql, rows)`` step as an ``executemany``, all in one write transaction.

        :meth:`transaction`'s lock, ``BEGIN IMMEDIATE``, rollback and errors, on one cursor
        kept for it, without the generator layers and a new cursor per statement: the
        recorder's flush commits every batch of results through here.
        """
        with self._lock:
            try:
                cursor = self._writer
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    for sql, rows in steps:
                        cursor.executemany(sql, rows)
                    cursor.execute("COMMIT")
                except BaseException:
                    self._db.rollback()
                    raise
            except sqlite3.Error as exc:
                raise StoreError(_explain(exc, self.path)) from None

    def _setup(self) -> None:
        db = self._db
        db.isolation_level = None  # explicit transactions only
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = _enter_wal(db)
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

    def close(self) -> None:
        with self._lock:
            for fd in self._locks.values():
                os.close(fd)
            self._locks.clear()
            self._db.close()
            self.closed = True

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._errors():
            return self._db.execute(sql, params).fetchall()

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


#: the columns RunRow and AgentRow read (rows.py), in their order
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
    "model_used, cache_write, cache_read, worktree_path, worktree_branch, transcript, "
    "last_tool"
)
