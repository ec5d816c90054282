"""The run store's schema: ``SCHEMA_VERSION`` and the migration that reaches each version.

Keyed by ``PRAGMA user_version``; :mod:`.db` applies the missing ones in one transaction.
"""

from __future__ import annotations

SCHEMA_VERSION = 8

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
    # 6: agents that act. ``transcript`` is the agent's conversation for people (JSON, cut to
    # a bounded size), saved with its result; ``last_tool`` its latest tool call (JSON), so a
    # watcher sees what a running agent does, and that it waits for a person's answer.
    6: """
    ALTER TABLE agents ADD COLUMN transcript TEXT;
    ALTER TABLE agents ADD COLUMN last_tool TEXT;
    """,
    # 7: the git worktree an ``isolation: 'worktree'`` agent has on disk: set while it runs,
    # cleared when it is removed, still set afterwards when it was kept for review.
    7: """
    ALTER TABLE agents ADD COLUMN worktree_path TEXT;
    ALTER TABLE agents ADD COLUMN worktree_branch TEXT;
    """,
    # 8: the journal's type CHECK written as comparisons. SQLite (3.40) checks `type IN (three
    # constants)` by building a throwaway B-tree of the list at every row it inserts: ~6 µs of
    # the ~9 µs a journal row took, and every agent writes two (issue 22). The same rows pass.
    # A CHECK cannot be altered in place, so the table is rebuilt (its rows, seq numbers and
    # index kept), once, in the migration's transaction.
    8: """
    CREATE TABLE journal_v8 (
        seq     INTEGER PRIMARY KEY,
        run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        session INTEGER NOT NULL,
        type    TEXT NOT NULL CHECK (type = 'started' OR type = 'result' OR type = 'failed'),
        key     TEXT NOT NULL,
        agent   INTEGER NOT NULL,
        result  TEXT
    );
    INSERT INTO journal_v8 (seq, run_id, session, type, key, agent, result)
        SELECT seq, run_id, session, type, key, agent, result FROM journal;
    DROP TABLE journal;
    ALTER TABLE journal_v8 RENAME TO journal;
    CREATE INDEX journal_run ON journal (run_id, seq);
    """,
}
