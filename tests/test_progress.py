"""Tests for progress output: the event queue, the live view, plain lines, --json events, summary.

The live view is drawn to a recording rich console (forced terminal, fixed width) while a real
engine runs a script on a sim worker whose agents wait at gates the test opens, so each
snapshot is taken at a known point of the run.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from typing import Any

import trio
from click.testing import CliRunner
from conftest import script_source
from rich.console import Console

from jshost import events as ev
from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.store import Store
from jshost.ui.dispatch import EventQueue, EventsDropped, Stamped, UiThread
from jshost.ui.live import LiveView
from jshost.ui.plain import PlainProgress
from jshost.ui.summary import format_result
from jshost.workers.base import Usage, report_usage
from jshost.workers.sim import SimWorker

# -- the event queue -------------------------------------------------------------------------


def test_queue_hands_over_everything_in_order_when_the_reader_keeps_up():
    q = EventQueue(capacity=10)
    for i in range(5):
        q.put(ev.LogLine(str(i)))
    batch = q.take(0)
    assert [item.event.message for item in batch] == ["0", "1", "2", "3", "4"]
    assert all(isinstance(item, Stamped) for item in batch)
    assert q.take(0) == []
    q.close()
    assert q.take(0) is None


def test_full_queue_drops_intermediate_events_and_keeps_the_essential_ones():
    q = EventQueue(capacity=3)
    for i in range(3):
        q.put(ev.LogLine(str(i)))
    q.put(ev.LogLine("dropped"))
    q.put(ev.BudgetChanged(1, 2))
    q.put(ev.FailureLine("kept"))
    q.put(ev.PhaseStarted("dropped too"))
    q.put(ev.RunPaused(True))
    events = [item.event for item in q.take(0)]
    assert events[:5] == [
        ev.LogLine("0"),
        ev.LogLine("1"),
        ev.LogLine("2"),
        ev.FailureLine("kept"),
        ev.RunPaused(True),
    ]
    assert events[5] == EventsDropped({"log": 1, "budget": 1, "phase": 1})


def test_a_stuck_ui_neither_blocks_the_engine_nor_loses_what_the_summary_needs():
    release = threading.Event()
    seen: list[Any] = []

    class StuckUi:
        def handle(self, batch):
            release.wait()
            seen.extend(item.event for item in batch)

        def tick(self, now):
            pass

        def close(self):
            pass

    thread = UiThread(StuckUi(), queue=EventQueue(capacity=50)).start()
    body = (
        "return (await parallel(Array.from({length: 400}, (_, i) => () => agent('a' + i)))).length"
    )
    script = parse_script(script_source(body), path="t.js")
    engine = Engine(script, worker=SimWorker(latency=0), sink=thread.sink)
    outcome = trio.run(engine.run)  # finishes although the UI has not drawn a thing
    assert outcome.status == "completed" and outcome.result == 400
    assert len(thread.queue._items) <= 50 + 400 + 2  # capacity + finished agents + run events
    release.set()
    thread.finish(timeout=10)
    finished = [e for e in seen if isinstance(e, ev.AgentFinished)]
    assert sorted(e.agent.index for e in finished) == list(range(1, 401))
    dropped = [e for e in seen if isinstance(e, EventsDropped)]
    assert dropped and dropped[0].counts["agent_queued"] > 0
    assert isinstance(seen[-2], ev.RunFinished) or isinstance(seen[-1], ev.RunFinished)


# -- the live view ------------------------------------------------------------------------------

LIVE_META = (
    "export const meta = { name: 'live-test', description: 'live view test',"
    " phases: [{title: 'Scan'}, {title: 'Analyze'}, {title: 'Report'}] }\n"
)
LIVE_BODY = """
phase('Scan')
const scans = await parallel(['web-1', 'web-2', 'web-3'].map(h => () =>
  agent('scan ' + h, {label: 'scan ' + h, model: 'haiku'})))
log('scanned ' + scans.length + ' hosts')
phase('Analyze')
const a = await agent('analyze [[sim:fail=overloaded]]', {label: 'analyze', model: 'opus'})
return scans.length
"""


class GatedWorker(SimWorker):
    """A sim worker whose agents wait until the test opens their label's gate."""

    def __init__(self) -> None:
        super().__init__(latency=0)
        self.gates: dict[str, trio.Event] = {}

    def gate(self, label: str) -> trio.Event:
        return self.gates.setdefault(label, trio.Event())

    async def run(self, request):
        report_usage(Usage(input_tokens=100))
        await self.gate(request.label).wait()
        return await super().run(request)


def screen(view: LiveView, now: float, width: int = 80) -> str:
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor")
    console.print(view.render(now))
    return console.export_text()


def test_live_view_at_several_points_of_a_run():
    worker = GatedWorker()
    view = LiveView(Console(file=io.StringIO(), force_terminal=True), run_id="wf_abc")

    def sink(event):
        view.handle([Stamped(time.monotonic(), event)])

    script = parse_script(script_source(LIVE_BODY, meta=LIVE_META), path="t.js")
    engine = Engine(script, worker=worker, sink=sink, limits=Limits(max_agents=50, budget=10_000))
    shots: dict[str, str] = {}

    async def until(cond):
        while not cond():
            await trio.sleep(0.001)

    def running(n):
        return sum(a.status == "running" for a in engine.agents) == n

    async def main():
        async with trio.open_nursery() as nursery:

            async def drive():
                await until(lambda: running(3) and all(a.usage.input_tokens for a in engine.agents))
                shots["start"] = screen(view, view.t0 + 2.5)
                worker.gate("scan web-2").set()
                await until(lambda: running(2))
                shots["one done"] = screen(view, view.t0 + 3.0)
                worker.gate("scan web-1").set()
                worker.gate("scan web-3").set()
                worker.gate("analyze").set()

            nursery.start_soon(drive)
            return await engine.run()

    outcome = trio.run(main)
    shots["end"] = screen(view, view.t0 + 60)

    start = shots["start"].splitlines()
    assert start[0] == "live-test · running · 0:02 · wf_abc"
    assert start[1] == "agents 3 running · 0 queued · 0 done · 0 failed · 3/50"
    assert start[2] == "tokens 300 in / 0 out · budget 0/10.0k (0%)"
    # Declared phases from the start, in order; the running one marked.
    assert [line.split()[:2] for line in start[3:6]] == [
        ["▸", "Scan"],
        ["Analyze", "–"],
        ["Report", "–"],
    ]
    assert "3 running" in start[3]
    rows = [line.split() for line in start[6:9]]
    assert rows == [
        ["#1", "scan", "web-1", "haiku", "0:02", "100→0"],
        ["#2", "scan", "web-2", "haiku", "0:02", "100→0"],
        ["#3", "scan", "web-3", "haiku", "0:02", "100→0"],
    ]

    mid = shots["one done"].splitlines()
    assert mid[1] == "agents 2 running · 0 queued · 1 done · 0 failed · 3/50"
    assert "2 running 1 done" in mid[3]
    assert [line.split()[0] for line in mid[6:8]] == ["#1", "#3"]

    end = shots["end"].splitlines()
    assert end[0] == "live-test · completed · 0:00 · wf_abc"  # the clock stopped at the end
    assert end[1] == "agents 0 running · 0 queued · 3 done · 1 failed · 4/50"
    out_tokens = sum(a.usage.output_tokens for a in outcome.agents)
    in_tokens = sum(a.usage.input_tokens for a in outcome.agents)
    assert end[2].startswith(f"tokens {in_tokens} in / {out_tokens} out · budget {out_tokens}/")
    assert end[3].split()[:4] == ["✓", "Scan", "3", "done"]
    assert end[4].split()[:4] == ["!", "Analyze", "1", "failed"]
    assert end[5].split() == ["Report", "–"]
    assert end[6] == "· scanned 3 hosts"
    assert end[7] == "✗ [analyze] failed: overloaded"


def test_live_view_stays_within_80_columns_at_1000_agents():
    meta = (
        "export const meta = "
        "{ name: 'a-workflow-with-a-long-name-for-the-header', description: 'd' }\n"
    )
    body = (
        "phase('A phase title that is much longer than eighty columns would comfortably hold, "
        "really')\n"
        "return (await parallel(Array.from({length: 1000}, (_, i) => () => "
        "agent('x' + i + ' [[sim:hang]]', {label: 'a label that goes on and on and on and on ' + i,"
        " model: 'claude-some-very-long-model-identifier-20990101'})))).length"
    )
    view = LiveView(Console(file=io.StringIO()), run_id="wf_0123456789ab")
    script = parse_script(script_source(body, meta=meta), path="t.js")

    stopped = []

    def sink(event: ev.Event) -> None:
        view.handle([Stamped(0.0, event)])
        # Stop once every agent is known (how long that takes depends on the machine's load).
        if len(engine.agents) == 1000 and not stopped:
            stopped.append(True)
            engine.stop()

    engine = Engine(
        script,
        worker=SimWorker(latency=0),
        sink=sink,
        limits=Limits(concurrency=256, timeout=60),
    )
    trio.run(engine.run)
    assert len(engine.agents) == 1000
    # Drawn while the 256 agents still ran: render from the state at their peak.
    for a in engine.agents[:256]:
        a.status = "running"
    text = screen(view, 100.0, width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert len(lines) <= 20
    assert "… and 248 more" in text
    assert "1000/1,000" in text


def test_live_view_shows_stopping():
    view = LiveView(Console(file=io.StringIO()))
    view.handle([Stamped(0, ev.RunStopping())])
    assert "stopping… (Ctrl-C again to exit at once)" in screen(view, 1.0)


def test_live_view_draws_through_rich_live_at_a_bounded_rate():
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=80), fps=10)
    view.handle([Stamped(0.0, ev.LogLine("hello"))])
    view.tick(100.0)
    drawn = out.getvalue()
    assert "hello" in drawn
    view.handle([Stamped(0.0, ev.LogLine("again"))])
    view.tick(100.05)  # 50 ms later: too soon to draw again
    assert out.getvalue() == drawn
    view.tick(100.0 + max(0.1, 50 * view._draw_cost) + 0.01)  # an expensive frame waits longer
    assert "again" in out.getvalue()
    view.close()


# -- plain lines and --json events, through the real command line -----------------------------

CLI_META = (
    "export const meta = { name: 'progress-test', description: 'progress output test',"
    " phases: [{title: 'One'}] }\n"
)
CLI_BODY = """
phase('One')
const a = await agent('first', {label: 'first', model: 'haiku'})
const b = await agent('second [[sim:fail=broken]]', {label: 'second'})
log('after two')
return a.length > 0
"""


def cli_run(tmp_path, *extra: str):
    path = tmp_path / "p.js"
    path.write_text(CLI_META + CLI_BODY)
    result = CliRunner().invoke(
        cli, ["run", str(path), "--yes", "--sim-latency", "0", *extra], catch_exceptions=False
    )
    assert "Traceback" not in result.output
    return result


def test_plain_progress_line_by_line(tmp_path):
    result = cli_run(tmp_path, "--no-live")
    assert result.exit_code == 0
    with Store() as store:
        (run,) = store.list_runs()
        agents = store.agents(run.id)
    a1, a2 = agents
    # Elapsed times depend on the machine's load; every other figure is exact.
    lines = [re.sub(r"\b\d+\.\d+ s\b", "T s", line) for line in result.stderr.splitlines()]
    tokens_in = a1.tokens_in + a2.tokens_in
    total = tokens_in + a1.tokens_out
    assert total < 1000  # written as they are (1000 and more would read 1.2k)
    assert lines == [
        "jshost: using the offline sim worker (no API key configured; its agents run no tools)",
        "running progress-test: progress output test",
        "  sim worker (offline, 0 s simulated latency); concurrency 16, max 1000 agents",
        "phase One",
        f"agent #1 done [first] T s, {a1.tokens_in}→{a1.tokens_out} tokens",
        f"agent #2 failed [second] T s, {a2.tokens_in}→0 tokens: broken",
        "failure [second] failed: broken",
        "log after two",
        "completed · agents 1 done, 1 failed, 0 skipped · T s · "
        f"tokens {a1.tokens_in + a2.tokens_in} in / {a1.tokens_out} out",
        # the failed agent named no model: it is the sim worker's default, "sim" (issue 14)
        f"tokens by model: haiku {a1.tokens_in} in / {a1.tokens_out} out, "
        f"sim {a2.tokens_in} in / 0 out",
        "failures (1):",
        "  [second] failed: broken",
        # the usage block (docs/plan.md): per phase, agents by model and their tokens
        "usage by phase:",
        f"  1 Haiku + 1 sim agents, One: {total} tokens ({tokens_in} in / {a1.tokens_out} out)",
        f"  Total: {total} tokens ({tokens_in} in / {a1.tokens_out} out), no budget",
        f"run {run.id} · jshost inspect {run.id} · jshost resume {run.id}",
    ]
    assert result.stdout == "true\n"
    assert "\x1b" not in result.output


def test_json_events_line_by_line(tmp_path):
    result = cli_run(tmp_path, "--json")
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [o["event"] for o in objects]
    assert kinds == [
        "run_started",
        "phase",
        "agent_queued",
        "agent_started",
        "agent_progress",
        "agent_done",
        "agent_queued",
        "agent_started",
        "agent_progress",
        "agent_failed",
        "failure",
        "log",
        "run_finished",
        "summary",
    ]
    first = objects[0]
    assert first["name"] == "progress-test" and first["phases"] == ["One"]
    assert first["caps"] == {"concurrency": 16, "max_agents": 1000, "budget": None, "timeout": None}
    assert objects[2] == {
        "event": "agent_queued", "agent": 1, "label": "first", "phase": "One", "model": "haiku",
        "t": objects[2]["t"],
    }  # fmt: skip
    assert objects[5]["model"] == "haiku" and objects[5]["attempts"] == 1
    assert objects[9]["error"] == "broken"
    assert objects[10] == {
        "event": "failure",
        "line": "[second] failed: broken",
        "t": objects[10]["t"],
    }
    ts = [o["t"] for o in objects[:-1]]
    assert ts == sorted(ts)
    summary = objects[-1]
    assert summary["run_id"] == first["run_id"]
    assert summary["result"] is True
    assert result.stderr == ""


def test_summary_numbers_equal_the_store(tmp_path):
    result = cli_run(tmp_path, "--json")
    summary = json.loads(result.stdout.splitlines()[-1])
    inspected = CliRunner().invoke(cli, ["inspect", summary["run_id"], "--json"])
    stored = json.loads(inspected.stdout)
    assert stored["status"] == summary["status"]
    assert stored["tokens"] == summary["tokens"]
    for key in ("done", "failed", "skipped", "cached"):
        assert stored["counts"][key] == summary["agents"][key]
    assert stored["result"] == summary["result"]
    assert stored["failures"] == summary["failures"]


def test_quiet_prints_only_result_and_summary(tmp_path):
    result = cli_run(tmp_path, "--quiet")
    assert result.stdout == "true\n"
    lines = result.stderr.splitlines()
    assert lines[0].startswith("completed · agents 1 done, 1 failed")
    assert not any(line.startswith(("phase", "agent #", "log ")) for line in lines)


def test_budget_events_in_a_budgeted_run(tmp_path):
    result = cli_run(tmp_path, "--json", "--budget", "10k")
    budget = [json.loads(x) for x in result.stdout.splitlines() if '"budget"' in x]
    assert [b["total"] for b in budget if b["event"] == "budget"] == [10_000]


# -- the result ---------------------------------------------------------------------------------


def test_long_results_are_cut_with_a_note():
    value = {"rows": [f"row {i}" for i in range(5000)]}
    text = format_result(value, limit=2000)
    assert len(text) < 2100
    assert text.splitlines()[-1].startswith("… result truncated: ")
    assert "more lines" in text
    assert format_result(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert format_result("short", limit=2000) == "short"


def test_plain_progress_reports_dropped_events():
    out = io.StringIO()
    PlainProgress(out)(EventsDropped({"log": 12, "agent_started": 3}))
    assert out.getvalue() == (
        "dropped 12 log, 3 agent started event(s): the output could not keep up (all are stored)\n"
    )


def test_ui_thread_ticks_while_idle_and_closes_after_the_last_event():
    ticks: list[float] = []
    handled: list[Any] = []

    class Ui:
        def handle(self, batch):
            handled.extend(batch)

        def tick(self, now):
            ticks.append(now)

        def close(self):
            handled.append("closed")

    thread = UiThread(Ui(), interval=0.01).start()
    time.sleep(0.1)
    thread.sink(ev.LogLine("x"))
    thread.finish(timeout=5)
    assert len(ticks) >= 3
    assert handled[-1] == "closed" and handled[0].event == ev.LogLine("x")


def test_inspect_result_prints_the_whole_result(tmp_path):
    result = cli_run(tmp_path, "--json")
    run_id = json.loads(result.stdout.splitlines()[-1])["run_id"]
    out = CliRunner().invoke(cli, ["inspect", run_id, "--result"])
    assert (out.exit_code, out.stdout) == (0, "true\n")


# -- steering a running engine (the interactive view's keys) ------------------------------------


def _steered(body: str, steer, **limits):
    """Run ``body`` on a gated worker; ``steer(engine, worker)`` runs alongside it."""
    worker = GatedWorker()
    script = parse_script(script_source(body), path="t.js")
    engine = Engine(script, worker=worker, limits=Limits(**limits))

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(steer, engine, worker)
            return await engine.run()

    return trio.run(main), engine


async def _until(cond):
    with trio.fail_after(5):
        while not cond():
            await trio.sleep(0.001)


def _statuses(engine):
    return [a.status for a in engine.agents]


THREE = "return await parallel(['a', 'b', 'c'].map(x => () => agent(x, {label: x})))"


def test_paused_run_starts_no_agent_until_it_carries_on():
    seen = {}

    async def steer(engine, worker):
        await _until(lambda: _statuses(engine) == ["running", "queued", "queued"])
        engine.set_paused(True)
        worker.gate("a").set()
        await _until(lambda: engine.agents[0].status == "done")
        await trio.sleep(0.05)
        seen["while paused"] = _statuses(engine)
        engine.set_paused(False)
        for x in "bc":
            worker.gate(x).set()

    outcome, _ = _steered(THREE, steer, concurrency=1)
    assert seen["while paused"] == ["done", "queued", "queued"]
    assert outcome.status == "completed" and all(outcome.result)


def test_skipped_agents_resolve_to_null_and_are_recorded_as_skipped():
    async def steer(engine, worker):
        await _until(lambda: _statuses(engine) == ["running", "queued", "queued"])
        assert engine.skip_agent(1)  # running
        assert engine.skip_agent(3)  # queued
        assert not engine.skip_agent(42)
        worker.gate("b").set()

    outcome, engine = _steered(THREE, steer, concurrency=1)
    assert outcome.result[0] is None and outcome.result[2] is None
    assert outcome.result[1].startswith("[sim sim] b")
    assert _statuses(engine) == ["skipped", "done", "skipped"]
    assert engine.agents[0].error == "skipped by the user"


def test_restarted_agent_runs_again_with_two_attempts():
    async def steer(engine, worker):
        await _until(lambda: _statuses(engine) == ["running"])
        assert engine.restart_agent(1)
        await _until(lambda: engine.agents[0].attempts == 2)
        worker.gate("a").set()

    outcome, engine = _steered("return await agent('a', {label: 'a'})", steer)
    assert outcome.status == "completed"
    assert engine.agents[0].status == "done" and engine.agents[0].attempts == 2


def test_a_slot_goes_on_to_the_next_agents_after_a_restart_and_a_skip():
    # One slot's task runs agent after agent in one cancel scope; a restart or a skip cancels
    # that scope, so the slot must go on in a fresh one: the agents after it run unsteered.
    async def steer(engine, worker):
        await _until(lambda: _statuses(engine) == ["running", "queued", "queued", "queued"])
        assert engine.restart_agent(1)
        await _until(lambda: engine.agents[0].attempts == 2)
        worker.gate("a").set()
        await _until(lambda: _statuses(engine)[:2] == ["done", "running"])
        assert engine.skip_agent(2)
        for x in "cd":
            worker.gate(x).set()

    body = "return await parallel(['a', 'b', 'c', 'd'].map(x => () => agent(x, {label: x})))"
    outcome, engine = _steered(body, steer, concurrency=1)
    assert outcome.status == "completed"
    assert _statuses(engine) == ["done", "skipped", "done", "done"]
    assert [a.attempts for a in engine.agents] == [2, 1, 1, 1]
    assert outcome.result[1] is None and outcome.result[3].startswith("[sim sim] d")


def test_engine_control_steers_from_another_thread():
    from jshost.engine import EngineControl

    results = {}

    async def steer(engine, worker):
        control = EngineControl(engine, trio.lowlevel.current_trio_token())
        await _until(lambda: _statuses(engine) == ["running", "queued", "queued"])

        def from_ui_thread():
            results["pause"] = control.set_paused(True)
            results["skip"] = control.skip_agent(2)
            results["unpause"] = control.set_paused(False)

        await trio.to_thread.run_sync(from_ui_thread)
        for x in "ac":
            worker.gate(x).set()

    outcome, engine = _steered(THREE, steer, concurrency=1)
    assert results == {"pause": True, "skip": True, "unpause": True}
    assert _statuses(engine) == ["done", "skipped", "done"]
    assert outcome.result[1] is None


def test_summary_lines_wrap_at_separators_then_words_and_never_inside_a_word():
    from jshost.ui.wrap import wrap_line, wrap_lines

    run_line = (
        "run wf_6d675d665e45 · jshost inspect wf_6d675d665e45 · jshost resume wf_6d675d665e45"
    )
    assert wrap_line(run_line, 80) == [
        "run wf_6d675d665e45 · jshost inspect wf_6d675d665e45 ·",
        "  jshost resume wf_6d675d665e45",
    ]
    failure = "  [fetch] failed: " + "word " * 20 + "x" * 90 + " end"
    lines = wrap_line(failure, 60)
    assert lines[0].startswith("  [fetch] failed: word")
    assert all(line.startswith("    ") for line in lines[1:])
    assert "    " + "x" * 90 in lines  # wider than the terminal: whole, on a line of its own
    assert all(len(line) <= 60 for line in lines if "x" * 90 not in line)
    assert " ".join(" ".join(lines).split()) == " ".join(failure.split())
    assert wrap_line("short · line", 80) == ["short · line"]
    # Not a terminal (a pipe, a file): lines stay whole, for grep.
    assert wrap_lines([run_line], io.StringIO()) == [run_line]
