"""What the user sees of agents that act: ``agent_tool`` events, stored transcripts, ``inspect``,
the plain and live views' lines about tool calls.

Tool calls come from the sim worker's ``[[sim:tool=…]]`` markers (it runs nothing: it reports
the calls and hands back a transcript as a worker with tools does) through the real engine,
store and CLI; the crash test kills a real ``python -m jshost`` process.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio
from click.testing import CliRunner
from conftest import run_once, script_source
from rich.console import Console

from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.estimate import reported_cost
from jshost.records import ToolUse
from jshost.script import parse_script
from jshost.store import SCHEMA_VERSION, Store
from jshost.store.migrations import _MIGRATIONS
from jshost.transcripts import (
    TRANSCRIPT_BYTES,
    StoredTranscript,
    bound_transcript,
    call_text,
    clip_value,
    transcript_lines,
    use_line,
)
from jshost.ui.dispatch import Stamped
from jshost.ui.live import LiveView
from jshost.workers.base import AgentRequest, AgentResult, Worker
from jshost.workers.sim import SimWorker

TOOLS = """
const a = await agent(
  'look [[sim:tool=Read src/app.py]] [[sim:tool=Bash rm -rf build => denied]] '
  + '[[sim:tool=Grep TODO]] [[sim:tool=Bash make test => error]]',
  { label: 'looker' })
return a.length > 0
"""


def _cli(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _run(tmp_path: Path, body: str, *extra: str) -> Any:
    path = tmp_path / "flow.js"
    path.write_text(script_source(body), encoding="utf-8")
    return _cli(["run", str(path), "--worker", "sim", "--yes", "--sim-latency", "0.01", *extra])


def _events(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# -- --json ------------------------------------------------------------------------------------


def test_json_shows_every_tool_call_in_order_with_its_keys(tmp_path):
    events = _events(_run(tmp_path, TOOLS, "--json"))
    tools = [e for e in events if e["event"] == "agent_tool"]
    assert [(e["tool"], e["input"], e["status"]) for e in tools] == [
        ("Read", {"file_path": "src/app.py"}, "ok"),
        ("Bash", {"command": "rm -rf build"}, "denied"),
        ("Grep", {"pattern": "TODO"}, "ok"),
        ("Bash", {"command": "make test"}, "error"),
    ]
    first = tools[0]
    assert set(first) == {
        "event", "agent", "label", "phase", "tool", "input", "status", "summary", "rule",
        "elapsed_s", "t",
    }  # fmt: skip
    assert (first["agent"], first["label"]) == (1, "looker")
    assert "no rule allows Bash(rm -rf build)" in tools[1]["summary"]
    # between the agent's start and its end
    kinds = [e["event"] for e in events]
    assert kinds.index("agent_started") < kinds.index("agent_tool") < kinds.index("agent_done")


def test_a_long_tool_input_is_cut_in_events_and_says_so(tmp_path):
    body = "return await agent('[[sim:tool=Bash echo ' + 'x'.repeat(5000) + ']]', {label: 'long'})"
    [event] = [e for e in _events(_run(tmp_path, body, "--json")) if e["event"] == "agent_tool"]
    command = event["input"]["command"]
    assert command.startswith("echo xxx") and command.endswith("… (3,005 more characters)")
    assert len(command) < 2_100


def test_clip_value_is_exact_where_nothing_is_cut():
    value = {"a": [1, 2.5, None, True, {"b": "short"}], "s": "ok"}
    assert clip_value(value) == value
    assert clip_value({"s": "y" * 10}, 4) == {"s": "yyyy… (6 more characters)"}
    deep: Any = "leaf"
    for _ in range(20):
        deep = [deep]
    assert "nested too deeply" in json.dumps(clip_value(deep))


# -- stored with the agent, shown by inspect ---------------------------------------------------


def _run_id(result: Any) -> str:
    return _events(result)[-1]["run_id"]


def test_inspect_agent_shows_the_transcript_and_json_includes_it(tmp_path):
    run_id = _run_id(_run(tmp_path, TOOLS, "--json"))
    shown = _cli(["inspect", run_id, "--agent", "1"])
    assert shown.exit_code == 0
    out = shown.stdout
    assert "transcript (4 tool calls):" in out
    lines = out[out.index("transcript (") :].splitlines()
    assert lines[1:5] == [
        "  → Read src/app.py",
        "  ← sim: nothing was run",
        "  → Bash rm -rf build",
        "  ← error: Permission to use Bash(rm -rf build) was denied: no rule allows "
        "Bash(rm -rf build) (sim: no policy)",
    ]
    assert lines[-1].startswith("assistant: [sim sim] look")
    data = json.loads(_cli(["inspect", run_id, "--agent", "1", "--json"]).stdout)
    kinds = [e["kind"] for e in data["transcript"]]
    assert kinds == ["tool_use", "tool_result"] * 4 + ["text"]
    assert data["transcript"][0] == {
        "kind": "tool_use",
        "id": "sim_1_1",
        "tool": "Read",
        "input": {"file_path": "src/app.py"},
    }
    assert data["last_tool"]["tool"] == "Bash" and data["last_tool"]["status"] == "error"
    # the run's JSON has it too, per agent
    run = json.loads(_cli(["inspect", run_id, "--json"]).stdout)
    assert run["agents"][0]["transcript"] == data["transcript"]


def test_a_script_never_sees_the_transcript(tmp_path):
    run_id = _run_id(_run(tmp_path, "return await agent('[[sim:tool=Read a.txt]] go')", "--json"))
    journal = _cli(["inspect", run_id, "--journal"]).stdout
    assert "tool_use" not in journal and "Read" not in journal.replace("[[sim:tool=Read", "")
    with Store() as store:
        run = store.get_run(run_id)
        [agent] = store.agents(run_id)
    assert isinstance(run.result, str) and "tool_use" not in run.result
    assert agent.transcript and agent.result == run.result


def test_tool_input_from_the_model_reaches_the_terminal_inert(tmp_path):
    body = "return await agent('[[sim:tool=Bash echo \\u001b[2J\\u001b[31mpwned\\u0007 hi]]')"
    run_id = _run_id(_run(tmp_path, body, "--json"))
    out = _cli(["inspect", run_id, "--agent", "1"]).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "→ Bash echo ⟨U+001B⟩[2J⟨U+001B⟩[31mpwned⟨U+0007⟩ hi" in out


def test_a_failed_agent_keeps_the_transcript_it_had(tmp_path):
    body = "return await agent('[[sim:tool=Glob **/*.py]] [[sim:fail=gave up]]', {label: 'f'})"
    run_id = _run_id(_run(tmp_path, body, "--json"))
    with Store() as store:
        [agent] = store.agents(run_id)
    assert agent.status == "failed" and agent.error == "gave up"
    assert [e["kind"] for e in agent.transcript] == ["tool_use", "tool_result"]


class _Talkative(Worker):
    """A worker whose agent had a very long conversation (it stands in for a model)."""

    name = "talkative"

    async def run(self, request: AgentRequest) -> AgentResult:
        entries = [{"kind": "text", "text": "first: " + "a" * 50_000}]
        for i in range(2_000):
            entries.append({"kind": "tool_use", "id": f"t{i}", "tool": "Read",
                            "input": {"file_path": f"f{i}.txt"}})  # fmt: skip
            entries.append({"kind": "tool_result", "id": f"t{i}", "content": "b" * 3_000,
                            "is_error": False})  # fmt: skip
        entries.append({"kind": "text", "text": "the answer"})
        return AgentResult("done", transcript=tuple(entries))


def test_a_long_transcript_is_cut_per_entry_and_in_total_with_a_note(tmp_path):
    run_id, outcome = run_once(tmp_path / "s.db", "return await agent('talk')", worker=_Talkative())
    assert outcome.status == "completed"
    with Store(tmp_path / "s.db") as store:
        [agent] = store.agents(run_id)
    stored = list(agent.transcript)
    assert len(json.dumps(stored)) <= TRANSCRIPT_BYTES
    assert stored[0]["text"].endswith("… (46,007 more characters)")  # "first: " + 50,000 a
    assert stored[-1] == {"kind": "text", "text": "the answer"}  # the end is kept
    [note] = [e for e in stored if e["kind"] == "note"]
    assert note["text"].startswith("… ") and "entries left out here" in note["text"]
    left_out = int(note["text"].split()[1].replace(",", ""))
    assert len(stored) - 1 + left_out == 4_002
    # Once committed, the engine's record keeps what the store keeps (issue 22: the model's
    # whole text is not held twice), and writing its row again cuts nothing more.
    record = outcome.agents[0].transcript
    assert isinstance(record, StoredTranscript) and record == stored
    assert bound_transcript(record) is record


def test_the_cost_notes_of_entries_left_out_are_kept_in_the_note_that_says_so():
    """The claude-code worker notes its program's cost after each attempt; an attempt's note
    in a long transcript's middle must still count (the record keeps the stored form now)."""
    entries: list[dict[str, Any]] = [{"kind": "text", "text": "task"}]
    for attempt in range(3):
        entries += [{"kind": "tool_result", "id": f"t{i}", "content": "c" * 3_000,
                     "is_error": False} for i in range(60)]  # fmt: skip
        entries.append(
            {"kind": "note", "text": "Claude Code's cost", "cost_usd": 0.25 * 2**attempt}
        )
    entries.append({"kind": "text", "text": "done"})
    stored = bound_transcript(entries)
    assert len(json.dumps(stored)) <= TRANSCRIPT_BYTES
    [left_out] = [e for e in stored if "entries left out here" in e.get("text", "")]
    assert left_out["cost_usd"] == 0.75  # the first two attempts', gone with the middle
    assert reported_cost([stored]) == reported_cost([entries]) == 1.75
    no_costs = [e for e in entries if "cost_usd" not in e]
    assert not any("cost_usd" in e for e in bound_transcript(no_costs))


def test_bounding_a_stored_transcript_again_gives_it_back_unchanged():
    long = [{"kind": "text", "text": "x" * 9_000}]
    once = bound_transcript(long)
    assert once[0]["text"] == "x" * 4_000 + "… (5,000 more characters)"
    assert bound_transcript(once) is once
    # a plain list of the same entries is bounded afresh: it is not known to be stored
    assert bound_transcript(list(once))[0]["text"].endswith("… (25 more characters)")


def test_bound_transcript_keeps_small_ones_whole_and_mends_odd_entries():
    small = [{"kind": "text", "text": "hi"}, {"kind": "tool_use", "tool": "Read", "input": {}}]
    assert bound_transcript(small) == small
    assert bound_transcript(["loose", {"text": "no kind"}]) == [
        {"kind": "note", "text": "loose"},
        {"kind": "note", "text": "no kind"},
    ]


def test_a_transcript_survives_the_process_being_killed(tmp_path):
    path = tmp_path / "crash.js"
    path.write_text(
        script_source(
            "const a = await agent('[[sim:tool=Read notes.md]] first', {label: 'kept'})\n"
            "return await agent('[[sim:hang]] second', {label: 'hung'})"
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "jshost", "run", str(path), "--worker", "sim", "--yes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ},
    )
    run_id = None
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        run_id = run_id or event.get("run_id")
        if event["event"] == "agent_started" and event["agent"] == 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert run_id is not None
    with Store() as store:
        first = store.agents(run_id)[0]  # saved before the script saw its result
    assert first.status == "done"
    assert [e["kind"] for e in first.transcript] == ["tool_use", "tool_result", "text"]
    assert first.transcript[0]["input"] == {"file_path": "notes.md"}


def test_a_version_5_store_is_upgraded_and_its_agents_have_no_transcript(tmp_path):
    path = tmp_path / "jshost.db"
    db = sqlite3.connect(path)
    db.executescript("".join(_MIGRATIONS[v] for v in range(1, 6)))
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, "
        "caps, worker) VALUES ('wf_old', 'old', 's', 'h', '{}', 'completed', 1, 1, '{}', 'sim')"
    )
    db.execute(
        "INSERT INTO agents (run_id, idx, session, key, label, prompt, options, status) "
        "VALUES ('wf_old', 1, 1, 'k', 'a', 'p', '{}', 'done')"
    )
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()
    with Store(path) as store:
        [agent] = store.agents("wf_old")
    assert SCHEMA_VERSION >= 6
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert (agent.transcript, agent.last_tool) == ((), None)
    assert agent.to_json()["transcript"] == [] and agent.to_json()["last_tool"] is None
    # and an upgraded store takes transcripts
    with Store(path) as store:
        store._query('UPDATE agents SET transcript = \'[{"kind": "note", "text": "x"}]\'')
        [agent] = store.agents("wf_old")
    assert agent.transcript == ({"kind": "note", "text": "x"},)


# -- the plain and live views ------------------------------------------------------------------


def test_plain_progress_prints_denials_and_not_ordinary_calls(tmp_path):
    result = _run(tmp_path, TOOLS, "--no-live")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert (
        "[looker] denied Bash(rm -rf build): no rule allows Bash(rm -rf build) (sim: no policy)"
        in lines
    )
    assert not any("src/app.py" in line or "make test" in line for line in lines)


def _live_while_running(body: str, until: Any, width: int = 80) -> str:
    """Render the live view of ``body`` on a ``width``-column console at the moment
    ``until(agent_records)`` holds, while the engine is still running, then stop it."""
    events: list[Stamped] = []
    script = parse_script(script_source(body), path="live.js")
    engine = Engine(
        script,
        worker=SimWorker(latency=0),
        limits=Limits(),
        sink=lambda e: events.append(Stamped(trio.current_time(), e)),
    )
    drawn: list[str] = []

    async def look() -> None:
        with trio.fail_after(20):
            while not until(engine.agents):
                await trio.sleep(0.01)
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None, force_terminal=False)
        view = LiveView(console, run_id="wf_live")
        view.handle(list(events))
        console.print(view.render())
        drawn.append(out.getvalue())
        engine.stop()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(look)
            await engine.run()

    trio.run(main)
    return drawn[0]


def test_the_live_view_shows_each_running_agents_latest_tool_call_in_its_row():
    body = """
    await parallel([
      () => agent('[[sim:tool=Read src/app.py]] [[sim:tool=Bash git log -5 --oneline]] '
        + '[[sim:hang]]', { label: 'history' }),
      () => agent('[[sim:tool=Grep TODO]] [[sim:hang]]', { label: 'todos' }),
      () => agent('[[sim:hang]] nothing yet', { label: 'quiet' }),
    ])
    """

    def ready(agents: list[Any]) -> bool:
        return (
            len(agents) == 3
            and agents[0].last_tool is not None
            and agents[0].last_tool.tool == "Bash"
            and agents[1].last_tool is not None
        )

    text = _live_while_running(body, ready)
    rows = {line.split()[1]: line for line in text.splitlines() if line.lstrip().startswith("#")}
    assert "history  Bash git log -5 --oneline" in rows["history"]
    assert "Read" not in rows["history"]  # the latest call only
    assert "todos  Grep TODO" in rows["todos"]
    assert rows["quiet"].split()[:2] == ["#3", "quiet"] and "Grep" not in rows["quiet"]
    assert all(len(line) <= 80 for line in text.splitlines())


def test_the_live_row_is_sanitised_and_cut_to_the_width():
    body = (
        "await agent('[[sim:tool=Bash printf \\u001b[31mred\\u001b[0m && "
        + "echo "
        + "z" * 300
        + "]] [[sim:hang]]', { label: 'hostile' })"
    )
    text = _live_while_running(body, lambda agents: agents and agents[0].last_tool is not None)
    assert "\x1b" not in text
    [row] = [line for line in text.splitlines() if "hostile" in line]
    assert "Bash printf ⟨U+001B⟩[31mred" in row and row.rstrip().endswith("…")
    assert len(row) <= 80


def test_one_line_forms_of_a_call():
    assert call_text("Bash", {"command": "git log\n  -5", "timeout": 100}) == "Bash git log -5"
    assert call_text("Grep", {"pattern": "TODO", "path": "src"}) == "Grep TODO in src"
    assert call_text("mcp__redis__get", {"key": "a"}) == 'mcp__redis__get {"key": "a"}'
    denied = ToolUse("Bash", {"command": "rm -rf build"}, "denied", "denied: no rule allows it")
    assert use_line(denied) == "denied Bash(rm -rf build): no rule allows it"
    waiting = ToolUse("Bash", {"command": "git push"}, "waiting")
    assert use_line(waiting) == "waiting for your answer: Bash(git push)"
    lines = transcript_lines(
        [
            {"kind": "tool_use", "id": "1", "tool": "Read",
             "input": {"file_path": "a", "limit": 5}},
            {"kind": "tool_result", "id": "1", "content": "\n".join(map(str, range(30)))},
            {"kind": "permission", "tool": "Bash", "behavior": "ask", "rule": "Bash(ls)",
             "answer": "run"},
            {"kind": "permission", "tool": "Bash", "behavior": "ask", "rule": None,
             "answer": None},
            {"kind": "permission", "tool": "Bash", "behavior": "deny", "rule": "Bash(rm *)",
             "answer": ""},
            {"kind": "permission", "tool": "Edit", "behavior": "deny", "rule": None,
             "answer": "nobody to ask"},
        ]
    )  # fmt: skip
    assert lines[0] == '  → Read a {"limit": 5}'
    assert lines[1].startswith("  ← 0\n    1\n") and lines[1].endswith("… 18 more lines")
    assert lines[2] == "  ? Bash: allowed for this run by you (rule Bash(ls))"
    assert lines[3] == "  ? Bash: needed your answer; nobody could give it, so denied"
    assert lines[4:] == ["  ? Bash: denied (rule Bash(rm *))", "  ? Edit: denied (nobody to ask)"]
