"""Store: approvals, estimates and the queries and writes that begin, resume and list runs."""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..journal import JournalEntry, Replay
from .db import _AGENT_COLUMNS, _RUN_COLUMNS, Database, _dump, _load, _text
from .recorder import RunRecorder
from .results import replay_of

if TYPE_CHECKING:  # built when a stored run is read: a fresh run never needs them
    from .rows import AgentRow, RunRow

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


def _transcript(text: str | None) -> list[Any]:
    value = _load(text)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class Store(Database):
    """A connection to the run store. Safe to share between threads (calls are serialized).

    Args:
        path (Path | str | None): the database file; default ``data_dir() / "jshost.db"``.
        reading (bool): the caller only reads; a store on read-only media is then opened
            as it is rather than refused.
    """

    @classmethod
    def default(cls) -> Store:
        """The store the command line uses (``jshost runs`` lists its runs)."""
        return cls()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    # ---- runs ------------------------------------------------------------------------

    def _row(self, t: tuple[Any, ...]) -> RunRow:
        from .rows import RunRow

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
        from .rows import AgentRow

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
                worktree_path=r[20],
                worktree_branch=r[21],
                transcript=tuple(_transcript(r[22])),
                last_tool=_load(r[23]),
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

    def _kept_worktrees(self, run_id: str) -> dict[str, tuple[str, str]]:
        """Key → (path, branch) of the worktrees the latest session kept, still on disk.

        Read before a resume replaces that session's agent rows, so a cached agent keeps
        pointing at the worktree its result was made in.
        """
        rows = self._query(
            "SELECT key, worktree_path, worktree_branch FROM agents "
            "WHERE run_id = ? AND worktree_path IS NOT NULL",
            (run_id,),
        )
        return {
            key: (path, branch or "")
            for key, path, branch in rows
            if os.path.isdir(path)  # the user may have removed it since
        }

    def _new_id(self) -> str:
        return "wf_" + os.urandom(6).hex()  # secrets.token_hex(6), without importing secrets

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
            replay = replay_of(self, row.id)
            if not replay.results:
                raise StoreError(
                    f"nothing to resume: run {row.id} has no finished agent results stored; "
                    "run the script again instead"
                )
            session = row.sessions + 1
            replay.worktrees = self._kept_worktrees(row.id)
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
