"""A finished agent's answer is kept once (issue 22): in the script's heap and the run store,
not a third time in the host.

Once its row is committed, a large answer's record reads it back from the store when asked
(``jshost.store.results``). These tests run real workflows (the real engine, sandbox and
SQLite store; a function worker stands in for the model service) and check both halves: the
host's Python memory does not hold the answers (tracemalloc: QuickJS and SQLite allocate
outside it, so what it sees is the host's own), and every reader still gets each answer
exactly: the Python API's records and events, the views' detail, ``inspect``, the summary, a
resumed run's cached agents, a closed store, a temporary one.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner
from conftest import script_source

import jshost
from jshost import events as ev
from jshost.cli import cli
from jshost.engine import Limits
from jshost.errors import WorkerError
from jshost.records import Stored, held_result
from jshost.store import Store
from jshost.store.results import LEND_CHARS, JournalResult, plain_json, replay_of
from jshost.transcripts import ENTRY_CHARS
from jshost.ui.dispatch import Stamped
from jshost.ui.interactive.widgets import agent_sections
from jshost.ui.state import RunState, view_from_state
from jshost.ui.summary import format_result
from jshost.workers.base import AgentRequest, AgentResult, Usage, Worker
from jshost.workers.sim import SimWorker

ANSWER_CHARS = 256 * 1024

HOLD = script_source(
    """
const kept = []
for (let i = 0; i < args.n; i += 4) {
  const size = Math.min(4, args.n - i)
  kept.push(...await parallel(Array.from({ length: size }, (_, k) => () =>
    agent('chunk ' + (i + k), { label: 'chunk ' + (i + k) }))))
}
let total = 0
for (const text of kept) total += text.length
return total
"""
)


def answer(index: int) -> str:
    head = f"{index:08d}"
    return head + "x" * (ANSWER_CHARS - len(head))


def big_answer(request: AgentRequest) -> str:
    return answer(request.index)


def hold(n: int, **kw: Any) -> jshost.RunResult:
    return jshost.run(
        jshost.parse(HOLD, name="hold.js"),
        args={"n": n},
        worker=big_answer,
        limits=Limits(concurrency=4),
        **kw,
    )


T = TypeVar("T")


def traced(fn: Callable[[], T]) -> tuple[T, int, int]:
    """``fn()``, with the Python memory still held after it and at its peak (tracemalloc)."""
    tracemalloc.start()
    try:
        value = fn()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, held, peak


def test_the_host_keeps_no_copy_of_the_answers_the_script_and_the_store_hold(tmp_path):
    n = 80  # 20 MiB of answers
    total = n * ANSWER_CHARS
    with Store(tmp_path / "jshost.db") as store:
        hold(4, store=store)  # the first run imports what a run imports
        result, held, peak = traced(lambda: hold(n, store=store))
        assert result.status == "completed" and result.result == total
        # Every answer was in Python memory at the end before (20 MiB), and at the peak the
        # answers and their JSON (30 MiB); now only the answers of the last few agents.
        assert held < total / 8, f"{held / 2**20:.1f} MiB still held after the run"
        assert peak < total / 2, f"{peak / 2**20:.1f} MiB of Python memory at the peak"
        agents = result.outcome.agents
        assert all(isinstance(held_result(a), Stored) for a in agents)
        # ... and each still reads back exactly.
        assert [a.result for a in agents] == [answer(i) for i in range(1, n + 1)]


def _finished_views(result: jshost.RunResult, events: list[ev.Event]) -> Any:
    state = RunState()
    state.handle([Stamped(time.monotonic(), e) for e in events])
    return view_from_state(state, run_id=result.run_id or "")


def test_every_reader_gets_the_answers_back(tmp_path):
    expected = {i: answer(i) for i in range(1, 7)}
    seen: dict[int, str] = {}
    events: list[ev.Event] = []

    def on_event(e: ev.Event) -> None:
        events.append(e)
        if isinstance(e, ev.AgentFinished):
            seen[e.agent.index] = e.agent.result  # on the callback's thread, as it happens

    with Store(tmp_path / "jshost.db") as store:
        result = hold(6, store=store, on_event=on_event)
        agents = result.outcome.agents
        assert all(isinstance(held_result(a), Stored) for a in agents)
        # the Python API: RunResult's records and the events' records
        assert {a.index: a.result for a in agents} == expected
        assert seen == expected
        # the views: a snapshot reads no answer; the detail of one shows it
        view = _finished_views(result, events)
        assert all(isinstance(held_result(a), Stored) for a in view.agents)
        detail = dict(agent_sections(view.agent(3)))
        assert detail["result"] == format_result(expected[3])
        run_id = result.run_id
    # the store closed (as `with` does), the records still read their answers
    assert agents[4].result == expected[5]
    # inspect reads the same store
    out = CliRunner().invoke(
        cli, ["inspect", run_id, "--agent", "2", "--json"], env={"JSHOST_HOME": str(tmp_path)}
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["result"] == expected[2]


def test_a_temporary_store_gives_its_answers_to_the_records_before_it_goes():
    result = hold(5)  # no store: a temporary one, deleted when the run ends
    assert result.run_id is None
    agents = result.outcome.agents
    assert all(type(held_result(a)) is str for a in agents)
    assert [a.result for a in agents] == [answer(i) for i in range(1, 6)]


def test_small_and_inexact_answers_stay_in_the_record(tmp_path):
    """An answer under LEND_CHARS is not worth a read, and one whose JSON would come back
    different (a tuple, integer keys) stays what the worker gave."""
    tuple_answer = tuple(f"item {i}" for i in range(LEND_CHARS // 4))
    int_keys = {i: "v" * 20 for i in range(LEND_CHARS // 8)}
    given: dict[str, Any] = {"small": "short", "tuple": tuple_answer, "keys": int_keys}

    class Exact(Worker):
        name = "exact"

        async def run(self, request: AgentRequest) -> AgentResult:
            return AgentResult(value=given[request.prompt], usage=Usage(1, 1), model="m")

    source = script_source(
        "const a = await agent('small'); const b = await agent('tuple');\n"
        "const c = await agent('keys'); return [a, b.length, Object.keys(c).length]"
    )
    with Store(tmp_path / "jshost.db") as store:
        result = jshost.run(jshost.parse(source), worker=Exact(), store=store)
    assert result.result == ["short", len(tuple_answer), len(int_keys)]
    small, tup, keys = result.outcome.agents
    assert small.result == "short"
    assert tup.result is tuple_answer
    assert keys.result is int_keys
    assert not plain_json(tuple_answer) and not plain_json(int_keys)
    assert plain_json({"a": [1, 2.5, None, True, "x"]})


def test_structured_and_unusual_text_answers_read_back_exactly(tmp_path):
    structured = {
        "rows": [{"n": i, "x": i / 3, "ok": i % 2 == 0, "none": None} for i in range(60)],
        "text": "héllo ✓ " * 40,
    }
    odd_text = "a lone surrogate \ud800, a NUL \x00, an escape \x1b[31m " * 40
    given = {"structured": structured, "odd": odd_text}

    class Given(Worker):
        name = "given"

        async def run(self, request: AgentRequest) -> AgentResult:
            return AgentResult(value=given[request.prompt], usage=Usage(1, 1), model="m")

    source = script_source(
        "const s = await agent('structured'); const t = await agent('odd')\n"
        "return [s.rows.length, t.length]"
    )
    with Store(tmp_path / "jshost.db") as store:
        result = jshost.run(jshost.parse(source), worker=Given(), store=store)
        assert result.result == [60, len(odd_text)]
        s_rec, t_rec = result.outcome.agents
        assert isinstance(held_result(s_rec), Stored) and isinstance(held_result(t_rec), Stored)
        assert s_rec.result == structured and type(s_rec.result["rows"][0]["x"]) is float
        assert t_rec.result == odd_text
        # An object read back is the stored one each time: a caller's change stays its own.
        s_rec.result["rows"].clear()
        assert s_rec.result == structured


RESUMABLE = script_source(
    """
const heads = []
for (let i = 0; i < 3; i++) {
  const text = await agent('step ' + i, { label: 'step ' + i })
  heads.push(text.slice(0, 8) + ':' + text.length)
}
return heads
"""
)


def test_a_resume_replays_large_answers_from_the_store_exactly(tmp_path):
    def flaky(request: AgentRequest) -> str:
        if request.index == 3:
            raise WorkerError("the third one fails this time")
        return answer(request.index)

    workflow = jshost.parse(RESUMABLE, name="resumable.js")
    with Store(tmp_path / "jshost.db") as store:
        first = jshost.run(workflow, worker=flaky, store=store)
        assert first.status == "failed"  # the third answer was null
        replay = replay_of(store, first.run_id)
        assert len(replay) == 2
        assert all(isinstance(v, JournalResult) for v in replay.results.values())

        again = jshost.resume(first.run_id, store=store, worker=big_answer)
        assert again.status == "completed"
        assert again.result == [f"{i:08d}:{ANSWER_CHARS}" for i in (1, 2, 3)]
        statuses = [a.status for a in again.outcome.agents]
        assert statuses == ["cached", "cached", "done"]
        assert [a.result for a in again.outcome.agents] == [answer(i) for i in (1, 2, 3)]
        assert all(isinstance(held_result(a), Stored) for a in again.outcome.agents)
        # The first session's records still read their own answers, though the resume
        # replaced that session's rows.
        assert [a.result for a in first.outcome.agents[:2]] == [answer(1), answer(2)]


def test_the_cli_summary_and_inspect_show_a_large_answer(tmp_path, monkeypatch):
    big = "".join(f"line {i}: {'y' * 60}\n" for i in range(400))  # 27 KB
    (tmp_path / "big.txt").write_text(big)
    script = tmp_path / "read.js"
    script.write_text(
        script_source(
            "const t = await agent('read it [[sim:read=big.txt]]', { label: 'reader' })\nreturn t"
        )
    )
    monkeypatch.chdir(tmp_path)
    env = {"JSHOST_HOME": str(tmp_path / "home")}
    out = CliRunner().invoke(cli, ["run", str(script), "--yes", "--json"], env=env)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output.strip().splitlines()[-1])
    assert summary["event"] == "summary" and summary["result"] == big
    shown = CliRunner().invoke(cli, ["inspect", summary["run_id"], "--agent", "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "line 399: " + "y" * 60 in shown.output
    with Store(Path(env["JSHOST_HOME"]) / "jshost.db") as store:
        assert store.agents(summary["run_id"])[0].result == big


TOOL_HOLD = script_source(
    """
const kept = []
for (let i = 0; i < args.n; i += 4) {
  const size = Math.min(4, args.n - i)
  kept.push(...await parallel(Array.from({ length: size }, (_, k) => () => {
    const name = 'answers/' + (i + k + 1) + '.txt'
    return agent('read [[sim:tool=Read ' + name + ']] [[sim:read=' + name + ']]',
      { label: 'reader ' + (i + k + 1) })
  })))
}
let total = 0
for (const text of kept) total += text.length
return total
"""
)


def test_a_worker_with_a_transcript_leaves_only_its_stored_form_in_the_host(tmp_path, monkeypatch):
    """The sim with a tool call reports a transcript whose text entry is its answer (the
    anthropic and claude-code workers' do too): once committed, the record keeps the
    transcript as the store has it, cut to 4,000 characters an entry, not the whole answer."""
    n = 80  # 20 MiB of answers
    total = n * ANSWER_CHARS
    (tmp_path / "answers").mkdir()
    for i in range(1, n + 1):
        (tmp_path / "answers" / f"{i}.txt").write_text(answer(i))
    monkeypatch.chdir(tmp_path)  # the sim reads its files from the current directory
    workflow = jshost.parse(TOOL_HOLD, name="tool-hold.js")

    def hold_read(count: int, store: Store) -> jshost.RunResult:
        return jshost.run(
            workflow,
            args={"n": count},
            worker=SimWorker(latency=0),
            limits=Limits(concurrency=4),
            store=store,
        )

    with Store(tmp_path / "jshost.db") as store:
        hold_read(4, store)  # the first run imports what a run imports
        result, held, peak = traced(lambda: hold_read(n, store))
        assert result.status == "completed" and result.result == total
        # Before, each record's transcript kept its answer whole: 20 MiB at the end.
        assert held < total / 8, f"{held / 2**20:.1f} MiB still held after the run"
        assert peak < total / 2, f"{peak / 2**20:.1f} MiB of Python memory at the peak"
        agents = result.outcome.agents
        assert [a.result for a in agents] == [answer(i) for i in range(1, n + 1)]
        # The record's transcript is the stored one, as `inspect` shows it.
        stored = {a.index: a.transcript for a in store.agents(result.run_id)}
        for a in agents:
            assert [e["kind"] for e in a.transcript] == ["tool_use", "tool_result", "text"]
            assert a.transcript == list(stored[a.index])
            text = a.transcript[-1]["text"]
            assert text == answer(a.index)[:ENTRY_CHARS] + (
                f"… ({ANSWER_CHARS - ENTRY_CHARS:,} more characters)"
            )


@pytest.mark.slow
def test_the_anthropic_worker_with_tools_leaves_its_answers_in_the_store(tmp_path):
    """The anthropic worker's answer is the very string of its transcript's last text entry:
    a real run against the loopback Messages server, each agent reading a file with a tool,
    then answering 512 KiB of text."""
    from messages_server import MessagesServer, Reply

    from jshost.config import Config
    from jshost.workers.anthropic import AnthropicWorker, RetryPolicy

    size, n = 512 * 1024, 8
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("the answer is long\n")

    def model(body: dict[str, Any]) -> Reply:
        if not any(m["role"] == "assistant" for m in body["messages"]):
            return Reply(calls=[("Read", {"file_path": str(ws / "notes.txt")})])
        index = int(body["messages"][0]["content"].split()[-1])
        return Reply(text=f"{index:08d}" + "y" * (size - 8))

    source = script_source(
        "const all = await parallel(Array.from({ length: args.n }, (_, i) => () =>\n"
        "  agent('answer ' + (i + 1), { label: 'a' + (i + 1) })))\n"
        "return all.reduce((s, t) => s + t.length, 0)"
    )
    with MessagesServer(model) as server, Store(tmp_path / "jshost.db") as store:

        def once(count: int) -> jshost.RunResult:
            worker = AnthropicWorker(
                api_key="sk-ant-test-kept", base_url=server.url, config=Config(),
                policy=RetryPolicy(backoff=0.001, max_backoff=0.004, stall=10.0),
            )  # fmt: skip
            return jshost.run(
                jshost.parse(source),
                args={"n": count},
                worker=worker,
                store=store,
                tools=jshost.ToolOptions(workspace=ws, home=tmp_path / "home"),
            )

        once(1)  # the first run imports what a run imports
        result, held, _ = traced(lambda: once(n))
        assert result.status == "completed" and result.result == n * size, result.failures
        # Before, every record's transcript held its whole answer: 4.5 MiB held, 0.6 now.
        assert held < n * size / 4, f"{held / 2**20:.2f} MiB still held after the run"
        stored = {a.index: a.transcript for a in store.agents(result.run_id)}
        for a in result.outcome.agents:
            assert a.result == f"{a.index:08d}" + "y" * (size - 8)
            assert [e["kind"] for e in a.transcript] == ["tool_use", "tool_result", "text"]
            assert a.transcript == list(stored[a.index])
            assert len(a.transcript[-1]["text"]) < ENTRY_CHARS + 40
