"""The run store's schema upgrade for model ids and prompt-cache tokens (migration 3)."""

from __future__ import annotations

import sqlite3

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
