"""Finished agents' results read back from the run store, so the host keeps no copy of its own.

Once a flush has committed a finished agent's row, the answer is in the store (its agents row
and the journal) and the script has it (in its heap, where it keeps what it needs): the
engine's record need not hold a third copy for the rest of the run. The recorder gives the
record of a large answer a :class:`StoredResult` instead (:meth:`Results.lend`), which reads
the row back each time ``rec.result`` is asked for: the interactive view's detail, the Python
API's records and events, anything reading ``RunOutcome.agents``. Small answers stay in
memory: reading them back would cost more than keeping them.

On resume the journal's large results are read when their ``agent()`` call is replayed
(:func:`replay_of`), not all at once before the script starts.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..journal import JournalEntry, Replay
from ..records import Stored, held_result, lend_result
from .db import Database, _load

__all__ = ["LEND_CHARS", "JournalResult", "Results", "StoredResult", "plain_json", "replay_of"]

#: an answer whose JSON text is at least this long is read back from the store, not kept
LEND_CHARS = 1024

_SCALARS = (str, int, float, bool, type(None))


def plain_json(value: Any) -> bool:
    """Whether ``value`` is made only of JSON's own types, so reading its JSON back gives it
    back exactly (a tuple would come back a list, an integer key a string, an object of a
    plugin's a string)."""
    todo = [value]
    while todo:
        v = todo.pop()
        t = type(v)
        if t is dict:
            if not all(type(k) is str for k in v):
                return False
            todo.extend(v.values())
        elif t is list:
            todo.extend(v)
        elif t not in _SCALARS:
            return False
    return True


class Results:
    """Where one session's lent results are read from: its store, its run and session."""

    def __init__(self, store: Database, run_id: str, session: int) -> None:
        self.store = store
        self.run_id = run_id
        self.session = session
        #: the latest text answer read and its agent: a view's detail asks for the one it
        #: shows at every redraw. One answer kept, and only text: an object read back is a
        #: fresh copy every time, so a caller that changes one never sees it changed later
        self._last: tuple[int, Any] | None = None

    def lend(self, rec: Any, text: str) -> None:
        """Let ``rec`` read its result back from the store, its row (holding ``text``, the
        result's JSON) being committed. Only a large result whose JSON gives it back exactly."""
        if len(text) < LEND_CHARS:
            return
        value = held_result(rec)
        if type(value) is str or (not isinstance(value, Stored) and plain_json(value)):
            lend_result(rec, StoredResult(self, rec.index, rec.key))

    def read(self, index: int, key: str) -> Any:
        """The result of agent ``index`` (cache key ``key``) of this session.

        From its agents row; from the journal when a later session of the run has replaced
        that row. A closed store is opened again for the read.
        """
        last = self._last
        if last is not None and last[0] == index:
            return last[1]
        value = self._read_open(index, key)
        if type(value) is str:
            self._last = (index, value)
        return value

    def _read_open(self, index: int, key: str) -> Any:
        if getattr(self.store, "closed", False):
            if not self.store.path.is_file():  # never make an empty store where one was
                raise StoreError(
                    f"the result of agent #{index} of run {self.run_id} was in the run store "
                    f"{self.store.path}, which is gone"
                )
            db = Database(self.store.path, reading=True)
            try:
                return self._read(db, index, key)
            finally:
                db.close()
        return self._read(self.store, index, key)

    def _read(self, db: Database, index: int, key: str) -> Any:
        rows = db._query(
            "SELECT result FROM agents WHERE run_id = ? AND idx = ? AND session = ?",
            (self.run_id, index, self.session),
        )
        if not rows:
            # The journal keeps every session's results: this session's own, or (a cached
            # agent) the latest an earlier session made, as the replay gave it.
            rows = db._query(
                "SELECT result FROM journal WHERE run_id = ? AND key = ? AND type = 'result' "
                "AND session <= ? ORDER BY seq DESC LIMIT 1",
                (self.run_id, key, self.session),
            )
        if not rows or rows[0][0] is None:
            raise StoreError(
                f"the result of agent #{index} of run {self.run_id} is no longer in the run "
                f"store {db.path}"
            )
        return _load(rows[0][0])


class StoredResult(Stored):
    """A finished agent's result, read back from its committed row when asked for."""

    __slots__ = ("_index", "_key", "_results")

    def __init__(self, results: Results, index: int, key: str) -> None:
        self._results = results
        self._index = index
        self._key = key

    def load(self) -> Any:
        return self._results.read(self._index, self._key)

    def __repr__(self) -> str:
        return f"<result of agent #{self._index}, in run {self._results.run_id}'s store>"


class JournalResult(Stored):
    """A large result of an earlier session, read from its journal row when replayed."""

    __slots__ = ("_seq", "_store")

    def __init__(self, store: Database, seq: int) -> None:
        self._store = store
        self._seq = seq

    def load(self) -> Any:
        rows = self._store._query("SELECT result FROM journal WHERE seq = ?", (self._seq,))
        if not rows or rows[0][0] is None:
            raise StoreError(f"journal entry {self._seq} is no longer in the run store")
        return _load(rows[0][0])


def replay_of(store: Database, run_id: str) -> Replay:
    """The stored results of a run's sessions, the large ones left in the store until used."""
    rows = store._query(
        "SELECT type, key, agent, seq, CASE WHEN length(result) < ? THEN result END "
        "FROM journal WHERE run_id = ? ORDER BY seq",
        (LEND_CHARS, run_id),
    )
    return Replay.from_entries(
        JournalEntry(
            type=t,
            key=k,
            agent=a,
            result=JournalResult(store, seq) if t == "result" and text is None else _load(text),
        )
        for t, k, a, seq, text in rows
    )
