"""Tests for the run store, cache keys and replay: real SQLite files in a temp dir.

In-process tests drive the real engine with a store-backed recorder; the command-line tests
use click's CliRunner; the crash tests (SIGKILL) are in test_resume_kill.py.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
import threading
from typing import Any

import pytest
import trio
from click.testing import CliRunner
from conftest import begin, run_once, script_source

from jshost.cli import cli
from jshost.engine import Engine
from jshost.errors import StoreError
from jshost.journal import JournalEntry, Replay, cache_key, canonical_options
from jshost.script import parse_script
from jshost.store import SCHEMA_VERSION, Store, data_dir
from jshost.store import db as store_mod
from jshost.store.migrations import _MIGRATIONS
from jshost.workers.base import AgentRequest, AgentResult
from jshost.workers.sim import SimWorker

# -- cache keys (reference §5.2) ----------------------------------------------------------------


def test_first_key_is_sha256_of_empty_prev_prompt_and_empty_options():
    expected = "v2:" + hashlib.sha256(b"\0hello\0{}").hexdigest()
    assert cache_key("", "hello", {}) == expected


def test_keys_chain_from_the_previous_key():
    k1 = cache_key("", "a", {})
    k2 = cache_key(k1, "b", {})
    assert k2 == "v2:" + hashlib.sha256(f"{k1}\0b\0{{}}".encode()).hexdigest()
    assert cache_key("", "b", {}) != k2


@pytest.mark.parametrize("opt", [{"label": "x"}, {"phase": "Scan"}, {"stallMs": 5000}])
def test_label_phase_and_stall_are_not_in_the_key(opt):
    assert cache_key("", "p", opt) == cache_key("", "p", {})


@pytest.mark.parametrize(
    "opt", [{"model": "haiku"}, {"effort": "high"}, {"isolation": "worktree"}, {"agentType": "x"}]
)
def test_result_shaping_options_are_in_the_key(opt):
    assert cache_key("", "p", opt) != cache_key("", "p", {})


def test_canonical_options_sort_keys_recursively_and_drop_proto():
    schema = {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}}
    text = canonical_options({"model": "opus", "label": "l"}, {**schema, "__proto__": 1})
    assert text == (
        '{"model":"opus","schema":{"properties":{"a":{"type":"integer"},'
        '"b":{"type":"string"}},"type":"object"}}'
    )


# -- replay rules (reference §5.3) --------------------------------------------------------------


def _replay(*entries: tuple[str, str]) -> Replay:
    return Replay.from_entries(
        JournalEntry(t, k, i, f"r-{k}" if t == "result" else None)
        for i, (t, k) in enumerate(entries, 1)
    )


def test_replay_docs_example_failed_agent_reruns_with_everything_after_it():
    # A, B, C, D start in order, B fails: A comes from the cache, B, C and D run again.
    r = _replay(
        ("started", "A"), ("started", "B"), ("started", "C"), ("started", "D"),
        ("result", "A"), ("failed", "B"), ("result", "C"), ("result", "D"),
    )  # fmt: skip
    decisions = [r.decide(k) for k in "ABCD"]
    assert [d.hit for d in decisions] == [True, False, False, False]
    assert decisions[0].value == "r-A"


def test_replay_agent_running_at_stop_reruns_without_invalidating_later_hits():
    r = _replay(("started", "A"), ("started", "B"), ("started", "C"), ("result", "A"),
                ("result", "C"))  # fmt: skip
    a, b, c = (r.decide(k) for k in "ABC")
    assert a.hit and not b.hit and b.interrupted and c.hit


def test_replay_never_started_key_disables_the_cache():
    r = _replay(("started", "A"), ("result", "A"), ("started", "C"), ("result", "C"))
    assert [r.decide(k).hit for k in "AXC"] == [True, False, False]


# -- the store itself ---------------------------------------------------------------------------


def test_data_dir_is_jshost_home(tmp_path):
    assert data_dir() == tmp_path / "jshost-home"


def test_fresh_store_is_migrated_and_in_wal_mode(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.list_runs() == []
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "agents", "journal", "logs", "approvals"} <= tables


def _open_store_at_once(path: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        Store(path).close()
    except StoreError as exc:
        errors.put(str(exc))


def test_processes_creating_the_store_at_once_all_open_it(tmp_path):
    # SQLite skips the busy handler when it switches a file to WAL: two `jshost run` starting
    # at once on a fresh home used to fail one of them with "locked" instead of waiting.
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for attempt in range(40):
        path = str(tmp_path / f"s{attempt}.db")
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(target=_open_store_at_once, args=(path, barrier, errors)) for _ in range(2)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert [p.exitcode for p in procs] == [0, 0]
    assert errors.empty(), errors.get()


def test_store_from_a_newer_jshost_is_refused(tmp_path):
    Store(tmp_path / "s.db").close()
    sqlite3.connect(tmp_path / "s.db").execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="written by a newer jshost"):
        Store(tmp_path / "s.db")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="is not a jshost run store"):
        Store(tmp_path / "s.db")


def test_store_directory_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the run store's directory"):
        Store(tmp_path / "file" / "sub" / "s.db")


def test_locked_database_is_a_clear_error_and_earlier_runs_survive(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "s.db"
    run_once(path, "return await agent('kept')")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with (
            pytest.raises(StoreError, match="is locked by another process"),
            Store(path) as store,
        ):
            store.approve("/x.js", "0" * 64, "x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(path) as store:
        (run,) = store.list_runs()
        assert run.status == "completed" and run.result.startswith("[sim sim] kept")


def test_approvals_are_per_path_and_content_hash(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert not store.is_approved("/w/flow.js", "a" * 64)
        store.approve("/w/flow.js", "a" * 64, "flow")
        assert store.is_approved("/w/flow.js", "a" * 64)
        assert not store.is_approved("/w/flow.js", "b" * 64)
        assert not store.is_approved("/w/other.js", "a" * 64)
    with Store(tmp_path / "s.db") as store:  # persisted
        assert store.is_approved("/w/flow.js", "a" * 64)


# -- the engine writing through the store ---------------------------------------------------------


def test_completed_run_is_stored_with_agents_journal_logs_and_result(tmp_path):
    path = tmp_path / "s.db"
    run_id, outcome = run_once(
        path,
        """
        phase('Scan')
        const rs = await parallel([1, 2, 3].map(i => () => agent(`scan ${i}`, {label: `s${i}`})))
        log('scanned ' + rs.length)
        return { rs }
        """,
    )
    with Store(path) as store:
        run = store.get_run(run_id)
        assert run.status == "completed" and run.sessions == 1
        assert run.result == outcome.result
        assert run.agents_total == run.agents_done == 3
        assert (run.tokens_in, run.tokens_out) == (outcome.tokens_in, outcome.tokens_out)
        agents = store.agents(run_id)
        assert [a.label for a in agents] == ["s1", "s2", "s3"]
        assert all(a.status == "done" and a.phase == "Scan" for a in agents)
        assert [a.result for a in agents] == outcome.result["rs"]
        assert [a.key for a in agents] == [r.key for r in outcome.agents]
        journal = store.journal(run_id)
        assert [e.type for e in journal].count("started") == 3
        assert {e.key: e.result for e in journal if e.type == "result"} == {
            a.key: a.result for a in agents
        }
        assert store.logs(run_id) == [("log", "scanned 3")]


def test_failed_and_rejected_agents_are_journalled_as_failed_and_nulls_not_as_results(tmp_path):
    path = tmp_path / "s.db"
    run_id, outcome = run_once(
        path,
        """
        const a = await agent('ok')
        const b = await agent('bad [[sim:fail=nope]]', {label: 'bad'})
        const c = await agent('worse [[sim:throw=boom]]', {label: 'worse'}).catch(e => 'caught')
        return [a, b, c]
        """,
    )
    assert outcome.status == "completed"
    with Store(path) as store:
        types = [(e.type, e.agent) for e in store.journal(run_id)]
        assert ("failed", 2) in types and ("failed", 3) in types
        assert [a for t, a in types if t == "result"] == [1]
        assert ("failure", "[bad] failed: nope") in store.logs(run_id)
        assert [a.status for a in store.agents(run_id)] == ["done", "failed", "failed"]


def test_each_result_is_committed_before_the_script_receives_it(tmp_path):
    path = tmp_path / "s.db"
    seen: list[int] = []

    class Checking(SimWorker):
        async def run(self, request: AgentRequest) -> AgentResult:
            # Agent n is called only after agent n-1's result reached the script, so a
            # separate connection must already see n-1 results committed.
            db = sqlite3.connect(path)
            seen.append(
                db.execute("SELECT count(*) FROM journal WHERE type='result'").fetchone()[0]
            )
            db.close()
            return await super().run(request)

    run_once(
        path,
        "const out = []\nfor (let i = 0; i < 6; i++) out.push(await agent('step ' + i))\n"
        "return out",
        worker=Checking(latency=0),
    )
    assert seen == [0, 1, 2, 3, 4, 5]


def test_resume_replays_finished_agents_and_reruns_from_the_first_failure(tmp_path):
    path = tmp_path / "s.db"
    body = """
    const out = []
    for (const x of ['a', 'b', 'c', 'd']) out.push(await agent('item ' + x, {label: x}))
    return out
    """
    broken = {"b"}
    worker = SimWorker(latency=0, fail=lambda r: "down" if r.label in broken else None)
    run_id, first = run_once(path, body, worker=worker)
    assert first.result[1] is None
    broken.clear()
    worker.calls = 0
    _, second = run_once(path, body, worker=worker, replay_from=run_id)
    assert [a.status for a in second.agents] == ["cached", "done", "done", "done"]
    assert worker.calls == 3  # b, c, d ran again; a did not
    assert second.result == run_once(tmp_path / "fresh.db", body)[1].result
    with Store(path) as store:
        run = store.get_run(run_id)
        assert run.sessions == 2 and run.status == "completed" and run.agents_cached == 1


def test_edit_then_resume_replays_the_unchanged_prefix_only(tmp_path):
    path = tmp_path / "s.db"
    body = """
    const out = []
    for (const x of ARGS) out.push(await agent('item ' + x, {label: x}))
    return out
    """
    run_id, _ = run_once(path, body.replace("ARGS", "['a', 'b', 'c', 'd', 'e']"))
    worker = SimWorker(latency=0)
    edited = body.replace("ARGS", "['a', 'b', 'C', 'd', 'e']")
    _, outcome = run_once(path, edited, worker=worker, replay_from=run_id)
    assert [a.status for a in outcome.agents] == ["cached", "cached", "done", "done", "done"]
    assert worker.calls == 3
    assert "item C" in outcome.result[2]


def test_agents_running_at_stop_rerun_and_later_finished_ones_stay_cached(tmp_path):
    path = tmp_path / "s.db"
    body = """
    return await parallel([
      () => agent('fast one', {label: 'one'}),
      () => agent('slow two', {label: 'two'}),
      () => agent('fast three', {label: 'three'}),
    ])
    """
    hang = {"two"}

    class Hanging(SimWorker):
        async def run(self, request):
            if request.label in hang:
                await trio.sleep_forever()
            return await super().run(request)

    script = parse_script(script_source(body), path="flow.js")

    async def stopped_run():
        with Store(path) as store:
            recorder = begin(store, script)
            engine = Engine(script, worker=Hanging(latency=0), recorder=recorder)
            async with trio.open_nursery() as nursery:

                async def stop_when_two_done():
                    while sum(a.status == "done" for a in engine.agents) < 2:
                        await trio.sleep(0.005)
                    engine.stop()

                nursery.start_soon(stop_when_two_done)
                outcome = await engine.run()
            recorder.finish(outcome)
            return recorder.run_id, outcome

    run_id, outcome = trio.run(stopped_run)
    assert outcome.status == "stopped"
    hang.clear()
    worker = SimWorker(latency=0)
    _, resumed = run_once(path, body, worker=worker, replay_from=run_id)
    assert [a.status for a in resumed.agents] == ["cached", "done", "cached"]
    assert worker.calls == 1
    with Store(path) as store:
        assert "failed" not in {e.type for e in store.journal(run_id)}


def test_resume_of_a_run_that_is_still_running_is_refused(tmp_path):
    path = tmp_path / "s.db"
    script = parse_script(script_source("return 1"), path="flow.js")
    with Store(path) as first:
        recorder = begin(first, script)
        recorder.entry(JournalEntry("result", "k", 1, "x"))
        recorder.flush()
        with Store(path) as second:
            assert second.get_run(recorder.run_id).shown_status == "running"
            with pytest.raises(StoreError, match="is still running in another process"):
                second.resume_run(recorder.run_id, caps={}, worker="sim", model=None)
        first.close()  # the owning process went away without finishing the run
    with Store(path) as third:
        assert third.get_run(recorder.run_id).shown_status == "interrupted"
        recorder2, replay = third.resume_run(recorder.run_id, caps={}, worker="sim", model=None)
        assert replay.results == {"k": "x"}
        assert recorder2.session == 2


def test_resume_with_nothing_stored_says_so(tmp_path):
    path = tmp_path / "s.db"
    run_id, _ = run_once(path, "return await agent('x [[sim:fail]]')")
    with Store(path) as store, pytest.raises(StoreError, match="nothing to resume"):
        store.resume_run(run_id, caps={}, worker="sim", model=None)


def test_run_ids_resolve_by_unique_prefix(tmp_path):
    path = tmp_path / "s.db"
    run_id, _ = run_once(path, "return 1")
    with Store(path) as store:
        assert store.get_run(run_id[:8]).id == run_id
        with pytest.raises(StoreError, match="no run with id 'wf_nope'"):
            store.get_run("wf_nope")


def test_two_threads_writing_two_runs_do_not_interfere(tmp_path):
    path = tmp_path / "s.db"
    body = "return await parallel(Array.from({length: 50}, (_, i) => () => agent('p' + i)))"
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(run_once(path, body))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Store(path) as store:
        for run_id, outcome in results:
            assert len(store.agents(run_id)) == 50
            assert store.get_run(run_id).result == outcome.result


def test_unstorable_strings_are_escaped_or_refused_not_fatal(tmp_path):
    # A lone surrogate cannot be stored as UTF-8: a log line keeps it as the text "\ud800",
    # an agent() call that holds one is refused (the script can catch it), and the run completes.
    path = tmp_path / "s.db"
    body = "log('\\ud800 lone'); try { await agent('x \\udfff y') } catch (e) { return e.message }"
    run_id, outcome = run_once(path, body)
    assert outcome.status == "completed"
    assert "agent() prompt contains a lone surrogate (U+DFFF" in outcome.result
    with Store(path) as store:
        assert store.logs(run_id) == [("log", "\\ud800 lone")]
        assert store.agents(run_id) == []


# -- the command line -----------------------------------------------------------------------------

META = (
    "export const meta = "
    "{ name: 'cli-store', description: 'store test', phases: [{title: 'Scan'}] }\n"
)


def invoke(*args: str, env=None):
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path, body: str, name="flow.js"):
    p = tmp_path / name
    p.write_text(META + body + "\n", encoding="utf-8")
    return str(p)


def test_runs_and_inspect_on_a_fresh_data_dir():
    result = invoke("runs")
    assert result.exit_code == 0
    assert result.output.startswith("no runs yet")
    assert json.loads(invoke("runs", "--json").output) == []
    result = invoke("inspect", "wf_000000000000")
    assert result.exit_code == 2
    assert "no run with id 'wf_000000000000'" in result.output


def test_run_summary_ends_with_the_run_id_and_resume_command(tmp_path):
    result = invoke("run", write(tmp_path, "return await agent('x')"), "--yes")
    assert result.exit_code == 0
    last = result.output.strip().splitlines()[-1]
    with Store() as store:
        (run,) = store.list_runs()
    assert last == f"run {run.id} · jshost inspect {run.id} · jshost resume {run.id}"


def test_runs_lists_newest_first_with_the_columns(tmp_path):
    invoke("run", write(tmp_path, "return await agent('x')"), "--yes")
    invoke("run", write(tmp_path, "throw new Error('no')", "b.js"), "--yes")
    out = invoke("runs").output.splitlines()
    assert out[0].split() == ["ID", "NAME", "STATUS", "AGENTS", "TOKENS", "IN/OUT", "ELAPSED",
                              "STARTED"]  # fmt: skip
    assert out[1].split()[1:4] == ["cli-store", "failed", "0"]
    assert out[2].split()[1:4] == ["cli-store", "completed", "1"]
    runs = json.loads(invoke("runs", "--json").output)
    assert [r["status"] for r in runs] == ["failed", "completed"]
    assert runs[1]["agents"]["done"] == 1 and runs[1]["tokens"]["output"] > 0


def test_inspect_shows_phases_agents_failures_logs_and_result(tmp_path):
    body = """
    phase('Scan')
    const a = await agent('alpha [[sim:fail=down]]', {label: 'alpha'})
    const b = await agent('beta', {label: 'beta'})
    log('two done')
    return {b}
    """
    invoke("run", write(tmp_path, body), "--yes")
    with Store() as store:
        (run,) = store.list_runs()
    out = invoke("inspect", run.id).output
    assert f"{run.id}  cli-store — store test" in out
    assert "status completed" in out
    assert "Scan" in out and "1 done, 1 failed" in out
    rows = [line.split(None, 3) for line in out.splitlines() if line.startswith("  #")]
    assert [r[:3] for r in rows[1:]] == [["#1", "failed", "alpha"], ["#2", "done", "beta"]]
    assert rows[1][3].split() == ["18/0", "down"]  # input was reported before it failed
    assert "failures\n  [alpha] failed: down" in out
    assert "logs\n  two done" in out
    assert '"b": "[sim sim] beta' in out

    data = json.loads(invoke("inspect", run.id, "--json").output)
    assert data["status"] == "completed"
    assert [a["status"] for a in data["agents"]] == ["failed", "done"]
    assert data["failures"] == ["[alpha] failed: down"] and data["logs"] == ["two done"]
    assert data["result"]["b"].startswith("[sim sim] beta")

    one = invoke("inspect", run.id[:9], "--agent", "2").output
    assert one.startswith("agent #2 [beta] done")
    assert "prompt:\nbeta\n" in one and "result:\n[sim sim] beta" in one
    assert invoke("inspect", run.id, "--agent", "9").exit_code == 2


def test_inspect_journal_is_journal_jsonl_compatible(tmp_path):
    invoke("run", write(tmp_path, "await agent('a'); await agent('b [[sim:fail]]'); return 1"),
           "--yes")  # fmt: skip
    with Store() as store:
        (run,) = store.list_runs()
    lines = [json.loads(x) for x in invoke("inspect", run.id, "--journal").output.splitlines()]
    assert [x["type"] for x in lines] == ["started", "result", "started", "failed"]
    assert all(x["key"].startswith("v2:") and x["agentId"] for x in lines)
    assert lines[0]["key"] == lines[1]["key"] == cache_key("", "a", {})
    assert lines[1]["result"].startswith("[sim sim] a")
    assert "result" not in lines[3]


def test_cli_resume_after_edit_with_run_resume(tmp_path):
    path = write(
        tmp_path, "const a = await agent('one')\nconst b = await agent('two')\nreturn [a, b]"
    )
    invoke("run", path, "--yes")
    with Store() as store:
        (run,) = store.list_runs()
    write(tmp_path, "const a = await agent('one')\nconst b = await agent('TWO')\nreturn [a, b]")
    result = invoke("run", path, "--resume", run.id, "--yes")
    assert result.exit_code == 0
    assert "agent #1 cached [one]" in result.output
    assert "1 done, 0 failed, 0 skipped, 1 cached" in result.output
    with Store() as store:
        again = store.get_run(run.id)
        assert again.sessions == 2 and "TWO" in again.script


def test_cli_resume_uses_stored_script_args_and_caps(tmp_path):
    body = "return await parallel(args.xs.map(x => () => agent('x' + x)))"
    invoke("run", write(tmp_path, body), "--yes", "--args", '{"xs": [1, 2]}', "--concurrency",
           "3", "--budget", "50k")  # fmt: skip
    with Store() as store:
        (run,) = store.list_runs()
    (tmp_path / "flow.js").unlink()  # resume needs only the store
    result = invoke("resume", run.id, "--yes", "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout.splitlines()[-1])
    assert out["agents"]["cached"] == 2 and out["run_id"] == run.id
    with Store() as store:
        again = store.get_run(run.id)
    assert again.caps["concurrency"] == 3 and again.caps["budget"] == 50_000
    assert again.args == {"xs": [1, 2]}


def test_cli_resume_errors_are_clear(tmp_path):
    result = invoke("resume", "wf_missing", "--yes")
    assert result.exit_code == 2
    assert "no run with id 'wf_missing'" in result.output
    invoke("run", write(tmp_path, "return await agent('x [[sim:fail]]')"), "--yes")
    with Store() as store:
        (run,) = store.list_runs()
    result = invoke("resume", run.id, "--yes")
    assert result.exit_code == 2
    assert "nothing to resume" in result.output


def test_a_version_1_store_is_migrated_in_place_keeping_its_runs(tmp_path):
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, caps,"
        " worker) VALUES ('wf_old', 'old', 'x', 'h', '{}', 'completed', 1, 1, '{}', 'sim')"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store(path) as store:
        run = store.get_run("wf_old")
        assert (run.name, run.status, run.paused) == ("old", "completed", False)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_pause_state_is_saved_for_watchers(tmp_path):
    path = tmp_path / "s.db"
    script = parse_script(script_source("return 1"), path="flow.js")
    with Store(path) as store:
        recorder = begin(store, script)
        recorder.paused(True)
        assert recorder.dirty
        recorder.flush()
        with Store(path) as other:
            assert other.get_run(recorder.run_id).shown_status == "paused"
        recorder.paused(False)
        recorder.flush()
        with Store(path) as other:
            assert other.get_run(recorder.run_id).shown_status == "running"
