"""The run store's schema upgrade for model ids and prompt-cache tokens (migration 3)."""

from __future__ import annotations

import sqlite3

import pytest

from jshost.store import SCHEMA_VERSION, Store
from jshost.store.migrations import _MIGRATIONS


def test_a_version_2_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "jshost.db"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1] + _MIGRATIONS[2])
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, "
        "caps, worker, tokens_in, tokens_out) "
        "VALUES ('wf_old', 'old', 's', 'h', '{}', 'completed', 1, 1, '{}', 'sim', 3, 4)"
    )
    db.execute(
        "INSERT INTO agents (run_id, idx, session, key, label, prompt, options, status, "
        "tokens_in, tokens_out) VALUES ('wf_old', 1, 1, 'k', 'a', 'p', '{}', 'done', 3, 4)"
    )
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    with Store(path) as store:
        [agent] = store.agents("wf_old")
        run = store.get_run("wf_old")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION >= 4
    assert (agent.model_used, agent.cache_write, agent.cache_read) == (None, 0, 0)
    assert (
        agent.to_json()["tokens"]
        == run.to_json()["tokens"]
        == {
            "input": 3,
            "output": 4,
            "cache_write": 0,
            "cache_read": 0,
        }
    )


def test_a_version_7_store_keeps_its_journal_through_the_check_rewrite(tmp_path):
    # Migration 8 rebuilds the journal (a CHECK cannot be altered): every row, its seq number
    # and the index stay, later rows number on from them, and the CHECK still refuses a type.
    path = tmp_path / "jshost.db"
    db = sqlite3.connect(path)
    db.executescript("".join(_MIGRATIONS[v] for v in range(1, 8)))
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, "
        "caps, worker) VALUES ('wf_old', 'old', 's', 'h', '{}', 'completed', 1, 1, '{}', 'sim')"
    )
    rows = [
        (3, "wf_old", 1, "started", "k1", 1, None),
        (7, "wf_old", 1, "result", "k1", 1, '"an answer"'),
        (9, "wf_old", 2, "failed", "k2", 2, None),
    ]
    db.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    with Store(path) as store:
        entries = store.journal("wf_old")
    assert [(e.type, e.key, e.agent, e.result) for e in entries] == [
        ("started", "k1", 1, None),
        ("result", "k1", 1, "an answer"),
        ("failed", "k2", 2, None),
    ]
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT * FROM journal ORDER BY seq").fetchall() == rows
        assert db.execute("PRAGMA index_list(journal)").fetchall()[0][1] == "journal_run"
        assert db.execute("PRAGMA foreign_key_list(journal)").fetchall()[0][2] == "runs"
        db.execute("INSERT INTO journal (run_id, session, type, key, agent) VALUES "
                   "('wf_old', 3, 'started', 'k3', 3)")  # fmt: skip
        assert db.execute("SELECT max(seq) FROM journal").fetchone() == (10,)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            db.execute(
                "INSERT INTO journal (run_id, session, type, key, agent) VALUES "
                "('wf_old', 3, 'resulted', 'k3', 3)"
            )
    finally:
        db.close()
