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
import trio
from conftest import arun, run, script_source

from jshost import events as ev
from jshost.engine import Engine, Limits, RunOutcome
from jshost.errors import StoreError
from jshost.journal import JournalEntry
from jshost.records import AgentRecord
from jshost.sandbox import SandboxLimits
from jshost.script import parse_script
from jshost.store import RunRecorder, Store
from jshost.store import db as db_mod
from jshost.store import recorder as recorder_mod
from jshost.workers.sim import SimWorker


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


def _rows(path: Path, run_id: str) -> dict[int, str]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT idx, status FROM agents WHERE run_id = ?", (run_id,)))
    finally:
        db.close()


def test_an_agent_that_starts_and_ends_between_flushes_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[tuple[int, str]] = []
    real = recorder_mod.RunRecorder._agent_row

    def counting(self, rec, result_json=None):  # type: ignore[no-untyped-def]
        written.append((rec.index, rec.status))
        return real(self, rec, result_json)

    monkeypatch.setattr(recorder_mod.RunRecorder, "_agent_row", counting)
    with Store(tmp_path / "jshost.db") as store:
        rec_ = _recorder(store)
        rec = _done(1, "x")
        rec.status, rec.result = "running", None
        rec_.agent(rec)
        rec_.entry(JournalEntry("started", rec.key, rec.index))
        rec_.flush()  # a batch of results reaches the script: the running row may wait
        assert _rows(tmp_path / "jshost.db", rec_.run_id) == {}
        assert rec_.dirty and rec_.save_by is not None
        rec.status, rec.result = "done", "x"
        rec_.agent(rec)
        rec_.entry(JournalEntry("result", rec.key, rec.index, "x"))
        rec_.flush()  # a result is committed before the script sees it
        assert _rows(tmp_path / "jshost.db", rec_.run_id) == {1: "done"}
        assert not rec_.dirty and rec_.save_by is None
    assert written == [(1, "done")]


def test_a_running_agent_reaches_watchers_within_the_watch_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_mod, "WATCH_DELAY", 0.2)
    path = tmp_path / "jshost.db"
    with Store(path) as store:
        rec_ = _recorder(store)
        running = _done(1, None)
        running.status = "running"
        rec_.agent(running)
        tree = _done(2, None)
        tree.status, tree.worktree_path = "running", str(tmp_path / "wt")
        rec_.agent(tree)
        rec_.flush()
        # a worktree's path is on record at once: a killed process must leave it behind
        assert _rows(path, rec_.run_id) == {2: "running"}
        due = rec_.save_by
        assert due is not None and due - time.monotonic() <= 0.2
        time.sleep(max(0.0, due - time.monotonic()))
        rec_.flush()
        assert _rows(path, rec_.run_id) == {1: "running", 2: "running"}
        queued = _done(3, None)
        queued.status = "queued"
        rec_.agent(queued)
        rec_.flush(full=True)
        assert _rows(path, rec_.run_id)[3] == "queued"


def test_none_binds_as_null_without_sqlite3s_adapter_search(tmp_path: Path) -> None:
    # An agent's row and its journal rows bind about eight Nones a link; without an adapter
    # registered for None, sqlite3 searches for one each time (~3,000 instructions each).
    assert sqlite3.adapt(None) is None  # found in the registry: no search, no error
    with Store(tmp_path / "jshost.db") as store:
        rec_ = _recorder(store)
        rec = _done(1, "x")
        rec_.agent(rec)
        rec_.entry(JournalEntry("started", rec.key, rec.index))
        rec_.flush()
        run_id = rec_.run_id
    db = sqlite3.connect(tmp_path / "jshost.db")
    try:
        kinds = db.execute(
            "SELECT typeof(phase), typeof(model), typeof(error), typeof(worktree_path), "
            "typeof(transcript), typeof(last_tool) FROM agents WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        started = db.execute("SELECT typeof(result) FROM journal WHERE run_id = ?", (run_id,))
        assert kinds == ("null",) * 6 and started.fetchall() == [("null",)]
    finally:
        db.close()


def test_a_flush_on_a_locked_store_fails_clearly_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_mod, "_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "jshost.db"
    with Store(path) as store:
        rec_ = _recorder(store)
        rec = _done(1, "kept")
        rec_.agent(rec)
        rec_.entry(JournalEntry("result", rec.key, rec.index, "kept"))
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="is locked by another process"):
                rec_.flush()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert rec_.dirty and not store._db.in_transaction
        rec_.flush()  # the lock gone, the same rows are saved
        assert _rows(path, rec_.run_id) == {1: "done"}


def test_a_commit_that_fails_rolls_back_and_the_rows_are_saved_later(tmp_path: Path) -> None:
    # A foreign key checked at COMMIT (deferred) makes the COMMIT itself fail, as a full disk
    # does: the transaction must not stay open, or every later write would fail too.
    path = tmp_path / "jshost.db"
    with Store(path) as store:
        rec_ = _recorder(store)
        orphan = RunRecorder(store, "wf_gone", session=1, elapsed_before=0.0)
        orphan.entry(JournalEntry("started", "k", 1))
        store._db.execute("PRAGMA defer_foreign_keys = ON")
        with pytest.raises(StoreError, match="FOREIGN KEY"):
            orphan.flush()
        assert orphan.dirty and not store._db.in_transaction
        store._db.execute("PRAGMA defer_foreign_keys = ON")
        with pytest.raises(StoreError, match="FOREIGN KEY"), store.transaction() as db:
            db.execute(
                "INSERT INTO journal (run_id, session, type, key, agent) "
                "VALUES ('wf_gone', 1, 'started', 'k', 1)"
            )
        assert not store._db.in_transaction
        rec = _done(1, "x")
        rec_.agent(rec)
        rec_.flush()
        assert _rows(path, rec_.run_id) == {1: "done"}


def test_options_json_is_the_same_text_through_the_encoder_built_once() -> None:
    values = [
        {},
        {"label": "step 1"},
        {"a": [1, 2.5, None, True, "\u00e9\u2028", -0.0], "b": {"c": 1e300, "d": []}},
        {"tools": ["Read", "Bash(git *)"], "n": 10**20},
        "text",
    ]
    for value in values:
        assert db_mod._dump_parsed(value) == db_mod._dump(value)
    with pytest.raises(ValueError):
        db_mod._dump_parsed({"x": float("nan")})
    lone = "a\ud800b"  # a lone surrogate from JS, which SQLite cannot take as UTF-8
    assert db_mod._text("plain ascii") == "plain ascii" and db_mod._text("é") == "é"
    assert db_mod._text(lone) == "a\\ud800b"


@pytest.mark.parametrize("table", ["journal", "agents", "logs"])
def test_a_row_a_run_writes_builds_no_throwaway_table(tmp_path: Path, table: str) -> None:
    # SQLite checks `type IN ('started', 'result', 'failed')` by building an ephemeral
    # B-tree of the list for every row (~6 µs; an agent writes two journal rows); the
    # comparisons the journal's CHECK is written as now (schema 8) build none.
    insert = {
        "journal": recorder_mod._INSERT_JOURNAL,
        "agents": recorder_mod._INSERT_AGENTS,
        "logs": recorder_mod._INSERT_LOGS,
    }[table]
    with Store(tmp_path / "jshost.db") as store:
        program = store._query("EXPLAIN " + insert, (None,) * insert.count("?"))
    opcodes = {row[1] for row in program}
    assert "Insert" in opcodes or "IdxInsert" in opcodes
    assert "OpenEphemeral" not in opcodes


# ---- the run loop's hops (issue 22, second pass) ------------------------------------------


class _Steps(trio.abc.Instrument):
    """Counts the task steps trio runs: each is a wake-up with its scheduling cost."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1


def _chain_steps(n: int) -> int:
    steps = _Steps()
    body = f"let x = ''\nfor (let i = 0; i < {n}; i++) x = await agent('step ' + i)\nreturn x"
    out = trio.run(lambda: arun(body, worker=SimWorker(latency=0)), instruments=[steps])
    assert out.status == "completed", out.error
    assert [a.status for a in out.agents] == ["done"] * n
    return steps.steps


def test_a_link_of_a_chain_wakes_the_loop_once():
    # Per link: the JS step's outcome (trio's entry-queue task, then the loop, which takes the
    # agent() call and gives it its slot), the agent's two steps (the sim worker yields once).
    # The finishing agent hands the next batch to the JS thread itself, rather than waking
    # the loop to do it: five steps a link before, four now.
    per_link = (_chain_steps(40) - _chain_steps(10)) / 30
    assert per_link <= 4.0


def test_a_handed_step_wakes_the_loop_without_trios_entry_queue():
    # The step an agent hands to the JS thread ends with a byte on the thread's wake-up
    # pipe, where the loop is parked: the loop's own wake-up, not an entry-queue task that
    # then reschedules it. Three task steps a link: the loop (the outcome, the next agent()
    # call, its slot) and the agent's two.
    per_link = (_chain_steps(40) - _chain_steps(10)) / 30
    assert per_link <= 3.0


class _Spawned(trio.abc.Instrument):
    """Counts the tasks trio spawns."""

    def __init__(self) -> None:
        self.tasks = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.tasks += 1


def _spawned_run(body: str, latency: float = 0.0, **limits: int) -> tuple[int, RunOutcome]:
    """The run of ``body`` on sim agents of ``latency``, and how many tasks trio spawned."""
    spawned = _Spawned()
    out = trio.run(
        lambda: arun(body, worker=SimWorker(latency=latency), limits=Limits(**limits)),
        instruments=[spawned],
    )
    assert out.status == "completed", out.error
    assert {a.status for a in out.agents} == {"done"}
    return spawned.tasks, out


def _tasks_spawned(body: str, **limits: int) -> int:
    return _spawned_run(body, **limits)[0]


def test_a_chain_runs_all_its_agents_in_one_slot_task():
    # A slot's task runs agent after agent in one cancel scope: a task and a scope of their
    # own per agent were ~12 % of a link's instructions (issue 22). One task a link before.
    def chain(n: int) -> str:
        return f"let x = ''\nfor (let i = 0; i < {n}; i++) x = await agent('s ' + i)\nreturn x"

    assert _tasks_spawned(chain(40)) == _tasks_spawned(chain(10))


def test_a_fan_out_spawns_a_task_a_slot_not_a_task_an_agent():
    def fan_out(n: int) -> str:
        return f"return await parallel(Array.from({{length: {n}}}, (_, i) => () => agent('a' + i)))"

    few, many = (
        _tasks_spawned(fan_out(8), concurrency=4),
        _tasks_spawned(fan_out(200), concurrency=4),
    )
    assert many == few  # four slot tasks in both


def test_at_most_a_few_idle_slots_wait_for_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    # A parked slot's task costs a task step of its own when the run ends: after a wave of 64,
    # all but KEEP_IDLE of the freed slots end their tasks at once instead of waiting.
    from jshost.engine import slots

    parked, most = [0], [0]
    original = Engine._park

    async def counting(self, slot):  # type: ignore[no-untyped-def]
        parked[0] += 1
        most[0] = max(most[0], parked[0])
        try:
            await original(self, slot)
        finally:
            parked[0] -= 1

    monkeypatch.setattr(Engine, "_park", counting)
    fan_out = "return await parallel(Array.from({length: 100}, (_, i) => () => agent('a' + i)))"
    _tasks_spawned(fan_out, concurrency=64)
    assert 1 <= most[0] <= slots.KEEP_IDLE < 64


def test_a_skip_too_late_to_interrupt_an_agent_does_not_reach_the_slots_next_agent():
    # The skip cancels the slot's scope while the worker is returning, with no checkpoint
    # left for the cancel to land on: the agent ends done, and the slot leaves the spent
    # scope before it runs the next agent, which runs to its end.
    engine: list[Engine] = []

    class SkipsItself(SimWorker):
        async def run(self, request):
            result = await super().run(request)
            if request.index == 1:
                assert engine[0].skip_agent(1)  # running, so there is a scope to cancel
            return result

    script = parse_script(script_source("await agent('a')\nreturn await agent('b')"), path="t.js")
    engine.append(Engine(script, worker=SkipsItself(latency=0), limits=Limits(concurrency=1)))
    out = trio.run(engine[0].run)
    assert out.status == "completed", out.error
    assert [a.status for a in out.agents] == ["done", "done"]
    assert out.result.startswith("[sim sim] b")


def test_without_a_sink_the_agents_events_are_not_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # Three events a link (queued, started, finished) for nobody: a run without a sink
    # (--quiet, the Python API without one) does not build them; one with a sink gets each.
    made: list[str] = []
    for name in ("AgentQueued", "AgentStarted", "AgentFinished"):
        cls = getattr(ev, name)
        original = cls.__init__

        def counting(self, agent, _original=original, _name=name):  # type: ignore[no-untyped-def]
            made.append(_name)
            _original(self, agent)

        monkeypatch.setattr(cls, "__init__", counting)
    body = "await agent('a')\nreturn await agent('b')"
    assert run(body, worker=SimWorker(latency=0)).status == "completed"
    assert made == []
    seen: list[ev.Event] = []
    assert run(body, worker=SimWorker(latency=0), sink=seen.append).status == "completed"
    assert made == ["AgentQueued", "AgentStarted", "AgentFinished"] * 2
    assert [type(e).__name__ for e in seen if type(e).__name__ in made] == made


def _promise_all(n: int) -> str:
    calls = f"Array.from({{ length: {n} }}, (_, i) => agent('t ' + i))"
    return f"return (await Promise.all({calls})).length"


def test_a_slot_runs_the_agents_it_goes_to_in_one_task() -> None:
    # Issue 22: a task a slot, not a task an agent. The next queued agent starts in the task
    # of the one that ended, in the same pass of trio's run loop, instead of in a new task
    # that only runs once every agent ending in that pass is booked (at concurrency 16 and
    # 50 ms that wait was ~1 ms an agent, 1.9 % of the makespan).
    # 10 ms agents: the queue is full when the first ones end, as in any real fan-out.
    few, _ = _spawned_run(_promise_all(8), latency=0.01, concurrency=4)
    many, out = _spawned_run(_promise_all(80), latency=0.01, concurrency=4)
    assert out.result == 80
    assert many == few  # before: one more task for each of the 72 more agents
    assert out.peak_concurrency == 4
    # Queued agents still start in call order, each once a slot is free.
    started = sorted(out.agents, key=lambda rec: rec.started_at)
    assert [rec.index for rec in started] == [rec.index for rec in out.agents]


def test_a_slot_reused_across_agents_keeps_each_agents_own_progress() -> None:
    # The worker's progress and transcript reports are bound per agent (context variables
    # set as each agent starts in the slot's task): each record has its own usage.
    _, out = _spawned_run(_promise_all(12), latency=0.001, concurrency=2)
    assert out.result == 12
    assert all(rec.status == "done" for rec in out.agents)
    assert all(rec.usage.output_tokens > 0 for rec in out.agents)
    assert len({rec.result for rec in out.agents}) == 12


def test_a_handed_step_that_ends_at_once_still_wakes_the_loop() -> None:
    # The JS thread may end a handed step before the trio thread has gone on from queueing
    # it: the job is marked direct before it is queued, or its end would take trio's entry
    # queue for a task nobody parked (a TrioInternalError under load). Switching threads
    # as often as CPython can makes that interleaving likely.
    import sys

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):
            out = run(
                "let x = ''\nfor (let i = 0; i < 150; i++) x = await agent('s ' + i)\nreturn x",
                worker=SimWorker(latency=0),
            )
            assert out.status == "completed", out.error
            assert len(out.agents) == 150
    finally:
        sys.setswitchinterval(interval)


def test_a_run_leaves_no_wake_up_pipe_open() -> None:
    import os

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    run("return await agent('warm')", worker=SimWorker(latency=0))
    before = open_fds()
    for _ in range(5):
        out = run("await agent('a')\nreturn await agent('b')", worker=SimWorker(latency=0))
        assert out.status == "completed"
    time.sleep(0.05)  # the JS threads close their write ends as they exit
    assert open_fds() == before


def test_a_stop_lands_while_a_step_handed_off_by_an_agent_spins():
    # The agent's end hands the JS thread the step that settles it, and that step never
    # ends (`while (true) {}`, a CPU slice of a minute): the stop still lands within a second.
    timing: dict[str, float] = {}

    async def main() -> RunOutcome:
        def sink(event: ev.Event) -> None:
            if isinstance(event, ev.AgentFinished):
                timing["finished"] = time.monotonic()

        script = parse_script(script_source("await agent('first')\nwhile (true) {}"), path="t.js")
        engine = Engine(
            script,
            worker=SimWorker(latency=0),
            limits=Limits(sandbox=SandboxLimits(cpu_slice=60)),
            sink=sink,
        )
        async with trio.open_nursery() as nursery:

            async def stop_later() -> None:
                while "finished" not in timing:
                    await trio.sleep(0.01)
                await trio.sleep(0.3)  # into the endless loop
                timing["stop"] = time.monotonic()
                engine.stop()

            nursery.start_soon(stop_later)
            outcome = await engine.run()
        timing["ended"] = time.monotonic()
        return outcome

    outcome = trio.run(main)
    assert outcome.status == "stopped"
    assert [a.status for a in outcome.agents] == ["done"]
    assert timing["ended"] - timing["stop"] < 1.5


def test_a_handed_off_step_that_cannot_be_interrupted_is_abandoned():
    # As tests/hostile/test_watchdog.py, after an agent: the step the agent's end handed to
    # the JS thread is watched too, and given up after its CPU allowance (4 × 0.1 s + 1 s).
    out = run(
        "await agent('first')\nconst s = 'x'.repeat(2 ** 27)\nlet n = 0\n"
        "for (let i = 0; i < 8; i++) n += s.indexOf('y')\nreturn n",
        limits=Limits(sandbox=SandboxLimits(cpu_slice=0.1)),
        worker=SimWorker(latency=0),
    )
    assert (out.status, out.error.name) == ("failed", "TimeoutError")
    assert out.error.message == "Script execution timed out after 100ms"
    assert [a.status for a in out.agents] == ["done"]


def test_the_batch_encoder_kept_between_batches_writes_what_encode_wrote() -> None:
    from jshost.engine.bridge import _BATCH, _BatchEncoder

    encode = _BatchEncoder()
    shared = ["kept", 1.5]
    values = [
        {"spent": 0, "count": 1, "r": [[1, True, "an answer é\u2028"]], "f": []},
        {"spent": 3, "count": 2, "r": [[2, True, {"a": shared, "b": None}]], "f": [4, 5]},
        {"spent": 3, "count": 2, "r": [[3, True, object]], "f": []},  # default=str
        "text",
    ]
    for value in values:
        assert encode(value) == _BATCH.encode(value)
    # A failed batch (a NaN, a cycle) fails as before and leaves no marker behind: the
    # list it held encodes in the next batch instead of reading as a cycle.
    with pytest.raises(ValueError, match="Out of range float"):
        encode({"r": [[1, True, [shared, float("nan")]]]})
    cycle: list[object] = [shared]
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        encode({"r": [[1, True, cycle]]})
    assert encode({"r": [[1, True, [shared, shared]]]}) == _BATCH.encode(
        {"r": [[1, True, [shared, shared]]]}
    )
