"""The host's per-agent work that issue 22 trimmed stays trimmed, and stays correct.

A finished agent's result is stored twice (its agents row, for `inspect` and watchers, and its
journal row, for resume): it is encoded to JSON once, not once per row, since a result may be
megabytes and every copy counts in the run's peak memory.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from jshost.journal import JournalEntry
from jshost.records import AgentRecord
from jshost.store import Store
from jshost.store import recorder as recorder_mod


def _recorder(store: Store):
    return store.begin_run(
        name="cost",
        path=None,
        script="return 1",
        sha256="0" * 64,
        args_json=None,
        meta={"name": "cost", "description": "d"},
        caps={},
        worker="sim",
        model=None,
    )


def _done(index: int, value: object) -> AgentRecord:
    rec = AgentRecord(
        index=index,
        label=f"agent {index}",
        prompt="p",
        phase=None,
        model=None,
        schema=None,
        key=f"{index:064d}",
        options={},
        queued_at=time.monotonic(),
    )
    rec.status = "done"
    rec.result = value
    rec.started_at = rec.finished_at = time.monotonic()
    return rec


def test_a_result_is_encoded_once_for_both_of_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = {"answer": "x" * 100_000, "n": 1}
    encoded: list[object] = []
    real = recorder_mod._dump

    def counting(value: object) -> str:
        encoded.append(value)
        return real(value)

    monkeypatch.setattr(recorder_mod, "_dump", counting)
    with Store(tmp_path / "jshost.db") as store:
        rec_ = _recorder(store)
        rec = _done(1, big)
        rec_.agent(rec)
        rec_.entry(JournalEntry("result", rec.key, rec.index, big))
        rec_.flush()
        # a result whose journal row went out in an earlier flush is encoded for its row
        late = _done(2, ["late"])
        rec_.entry(JournalEntry("result", late.key, late.index, ["late"]))
        rec_.flush()
        rec_.agent(late)
        rec_.flush()
        run_id = rec_.run_id
    assert sum(1 for v in encoded if v is big) == 1
    assert sum(1 for v in encoded if v == ["late"]) == 2
    db = sqlite3.connect(tmp_path / "jshost.db")
    try:
        agents = dict(db.execute("SELECT idx, result FROM agents WHERE run_id = ?", (run_id,)))
        journal = dict(
            db.execute(
                "SELECT agent, result FROM journal WHERE run_id = ? AND type = 'result'", (run_id,)
            )
        )
    finally:
        db.close()
    assert agents == journal
    assert agents[1] == real(big) and agents[2] == real(["late"])
