"""RunRecorder: buffer what a session does on the engine thread, commit it in one transaction."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..bounds import MAX_STORED_LOG_BYTES
from ..journal import JournalEntry, Recorder
from ..transcripts import bound_transcript, tool_use_json
from .db import _AGENT_COLUMNS, Database, _dump, _dump_parsed, _text
from .results import LEND_CHARS, Results

#: log lines kept per run session; the rest are counted, not stored
MAX_STORED_LOGS = 10_000
#: longest a queued or running agent's row waits to be saved: the engine's idle flush
#: (engine.run.FLUSH_INTERVAL), so `watch` sees it as soon as it did before
WATCH_DELAY = 0.5


#: where the result's JSON is in a row of _agent_row
_RESULT = 10

_INSERT_AGENTS = (
    f"INSERT OR REPLACE INTO agents (run_id, {_AGENT_COLUMNS}) VALUES ({', '.join('?' * 25)})"
)
_INSERT_JOURNAL = (
    "INSERT INTO journal (run_id, session, type, key, agent, result) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_LOGS = "INSERT INTO logs (run_id, session, kind, text, at) VALUES (?, ?, ?, ?, ?)"
_SET_PAUSED = "UPDATE runs SET paused = ? WHERE id = ?"


class RunRecorder(Recorder):
    """What the engine writes through during one session of a run.

    Calls made on the engine's thread only buffer; :meth:`flush` commits the buffer in one
    transaction (the engine calls it before every batch of results reaches the script, on the
    sandbox's thread, so saving costs no extra thread hop).
    """

    def __init__(
        self, store: Database, run_id: str, *, session: int, elapsed_before: float
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.session = session
        self._elapsed_before = elapsed_before
        self._agents: dict[int, Any] = {}  # index → the engine's live record
        #: records only queued or running (a watcher's view, no result): saved at the first
        #: flush from ``_since + WATCH_DELAY`` on, so an agent that starts and ends between
        #: two flushes is written once, not once per state
        self._waiting: dict[int, Any] = {}
        self._since: float | None = None  # when the oldest of them was noted (monotonic)
        self._journal: list[tuple[Any, ...]] = []
        #: agent index -> its result's JSON text, encoded once for the journal row and, in the
        #: same flush, reused for the agent row (a result can be megabytes)
        self._result_json: dict[int, str] = {}
        #: a large result is buffered (or a cached one, whose JSON the flush makes): after
        #: the commit the flush lends it to its record (results.py); most flushes have none
        self._lend = False
        #: (record, its transcript, the stored form) of the rows the flush under way writes:
        #: flushes run one at a time, and most have none
        self._bounded: list[tuple[Any, Any, Any]] = []
        self._logs: list[tuple[Any, ...]] = []
        self._paused: bool | None = None  # a pause state not saved yet
        self._log_count = 0
        self._log_bytes = 0
        self.dropped_logs = 0
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._closed = False
        #: where records whose large results were committed read them back (results.py)
        self._results = Results(store, run_id, session)
        # The engine buffers on the trio thread while a flush may run on the sandbox's thread.
        self._mutex = threading.Lock()

    # ---- buffering (engine thread) -----------------------------------------------------

    def agent(self, rec: Any) -> None:
        """Note that an agent record changed; its latest state is saved at the next flush.

        The record is read when it is saved, once however often it changed in between. The
        engine calls this after each change is complete, so a flush that reads a record in
        the middle of a change is always followed by one that reads the finished state.
        """
        with self._mutex:
            # A worktree's path is saved at once: a killed process must leave it on record.
            if rec.status in ("queued", "running") and rec.worktree_path is None:
                self._waiting[rec.index] = rec
                if self._since is None:
                    self._since = time.monotonic()
            else:
                self._agents[rec.index] = rec
                if rec.status == "cached":
                    self._lend = True
                if self._waiting.pop(rec.index, None) is not None and not self._waiting:
                    self._since = None

    @property
    def save_by(self) -> float | None:
        since = self._since
        return None if since is None else since + WATCH_DELAY

    def _agent_row(self, rec: Any, result_json: str | None = None) -> tuple[Any, ...]:
        result = None
        status = rec.status
        if status == "done" or status == "cached":
            result = result_json if result_json is not None else _dump(rec.result)
        # monotonic times saved as wall-clock ones, inline (three calls a row otherwise)
        wall0, mono0 = self._wall0, self._mono0
        queued, started, finished = rec.queued_at, rec.started_at, rec.finished_at
        usage = rec.usage
        return (
            self.run_id,
            rec.index,
            self.session,
            rec.key,
            _text(rec.label),
            None if rec.phase is None else _text(rec.phase),
            None if rec.model is None else _text(rec.model),
            _text(rec.prompt),
            _dump_parsed(rec.options),  # parsed from the call's JSON
            status,
            result,
            None if rec.error is None else _text(rec.error),
            usage.input_tokens,
            usage.output_tokens,
            rec.attempts,
            None if queued is None else wall0 + (queued - mono0),
            None if started is None else wall0 + (started - mono0),
            None if finished is None else wall0 + (finished - mono0),
            None if rec.model_used is None else _text(rec.model_used),
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
            None if rec.worktree_path is None else _text(rec.worktree_path),
            None if rec.worktree_branch is None else _text(rec.worktree_branch),
            # Set when the agent ends, so saved in the same commit as its result.
            self._transcript_json(rec) if rec.transcript else None,
            None if rec.last_tool is None else _dump(tool_use_json(rec.last_tool)),
        )

    def _transcript_json(self, rec: Any) -> str:
        """The JSON of ``rec``'s transcript as stored; its stored form is noted for the
        record to keep once committed (``_bounded``)."""
        full = rec.transcript
        bounded = bound_transcript(full)
        self._bounded.append((rec, full, bounded))
        return _dump(bounded)

    def entry(self, entry: JournalEntry) -> None:
        result = None if entry.type != "result" else _dump(entry.result)
        row = (self.run_id, self.session, entry.type, entry.key, entry.agent, result)
        with self._mutex:
            self._journal.append(row)
            if result is not None:
                self._result_json[entry.agent] = result
                if len(result) >= LEND_CHARS:
                    self._lend = True

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
        return bool(
            self._agents or self._waiting or self._journal or self._logs or self._paused is not None
        )

    # ---- committing (any thread, one at a time) ----------------------------------------

    def flush(self, full: bool = False) -> None:
        """Commit what is buffered; raises ``StoreError`` and keeps the buffer on failure.

        Results, failures, the journal, logs and the pause state are always committed; the
        rows of agents only queued or running once they are due (or with ``full``).
        """
        with self._mutex:
            since = self._since
            due = full or (since is not None and time.monotonic() - since >= WATCH_DELAY - 0.01)
            if due and self._waiting:
                self._waiting.update(self._agents)
                self._agents, self._waiting, self._since = self._waiting, {}, None
            if not (self._agents or self._journal or self._logs or self._paused is not None):
                return
            agents, journal, logs = self._agents, self._journal, self._logs
            self._agents, self._journal, self._logs = {}, [], []
            # Taken with the journal rows they belong to, so none outlives its flush.
            result_json, self._result_json = self._result_json, {}
            lend, self._lend = self._lend, False
            paused, self._paused = self._paused, None
        try:
            rows = [self._agent_row(rec, result_json.get(rec.index)) for rec in agents.values()]
            steps = []
            if rows:
                steps.append((_INSERT_AGENTS, rows))
            if journal:
                steps.append((_INSERT_JOURNAL, journal))
            if logs:
                steps.append((_INSERT_LOGS, logs))
            if paused is not None:
                steps.append((_SET_PAUSED, [(int(paused), self.run_id)]))
            self.store.write(steps)
        except BaseException:
            self._bounded = []
            # Put it back (ahead of anything buffered meanwhile) so a later flush may save it.
            with self._mutex:
                agents.update(self._agents)
                self._agents = agents
                self._journal = journal + self._journal
                self._result_json = {**result_json, **self._result_json}
                self._logs = logs + self._logs
                if self._paused is None:
                    self._paused = paused
                self._lend = self._lend or lend
            raise
        # Committed: a record keeps its transcript as stored, as `inspect` and a resumed
        # run see it; the full one holds the model's whole text (a text answer's very
        # string). Unless the engine gave it another meanwhile.
        if self._bounded:
            for rec, full, bounded in self._bounded:
                if rec.transcript is full:
                    rec.transcript = bounded
            self._bounded = []
        # A large answer is in the store now, and the script has (or is about to get, from
        # the batch already encoded) its own copy; the record lets go of it.
        if lend:
            for rec, row in zip(agents.values(), rows, strict=True):
                text = row[_RESULT]
                if text is not None and len(text) >= LEND_CHARS:
                    self._results.lend(rec, text)

    def finish(self, outcome: Any) -> None:
        """Flush, then record how the session ended, and let go of the run's lock."""
        if self._closed:
            return
        try:
            self.flush(full=True)
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
            statuses = outcome.statuses()
            counts = {s: statuses.count(s) for s in ("done", "failed", "skipped", "cached")}
            usage = outcome.usage
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
                        usage.input_tokens,
                        usage.output_tokens,
                        usage.cache_creation_input_tokens,
                        usage.cache_read_input_tokens,
                        self.dropped_logs,
                        self.run_id,
                    ),
                )
        finally:
            self._closed = True
            self.store._release(self.run_id)
