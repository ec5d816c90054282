"""An agent that does not end on its own (stopped, timed out, skipped, restarted) keeps the
transcript its worker had written: the real engine and sim worker (its scripted tool calls), and
the real CLI with the real store for ``--timeout`` and ``inspect --agent N``."""

from __future__ import annotations

import json

import trio
from click.testing import CliRunner
from conftest import script_source

from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.workers.sim import SimWorker

HANGS = "look [[sim:tool=Read src/app.py]] [[sim:tool=Grep TODO]] [[sim:hang]]"


def _steered(body: str, steer):
    script = parse_script(script_source(body), path="t.js")
    engine = Engine(script, worker=SimWorker(latency=0.0), limits=Limits())

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(steer, engine)
            return await engine.run()

    return trio.run(main), engine


async def _until(cond):
    with trio.fail_after(5):
        while not cond():
            await trio.sleep(0.001)


def _calls(rec) -> list[str]:
    return [e["tool"] for e in rec.transcript if e["kind"] == "tool_use"]


def _two_calls_made(engine) -> bool:
    return (
        bool(engine.agents)
        and engine.agents[0].last_tool is not None
        and (engine.agents[0].last_tool.tool == "Grep")
    )


def test_a_skipped_agent_keeps_its_transcript():
    async def steer(engine):
        await _until(lambda: _two_calls_made(engine))
        assert engine.skip_agent(1)

    outcome, engine = _steered(f"return await agent({HANGS!r}, {{label: 'a'}})", steer)
    (rec,) = engine.agents
    assert rec.status == "skipped" and outcome.result is None
    assert _calls(rec) == ["Read", "Grep"]


def test_a_restarted_agent_keeps_the_first_attempts_transcript_then_the_next():
    async def steer(engine):
        await _until(lambda: _two_calls_made(engine))
        engine.agents[0].last_tool = None
        assert engine.restart_agent(1)
        await _until(lambda: _two_calls_made(engine))
        assert engine.skip_agent(1)

    _, engine = _steered(f"return await agent({HANGS!r}, {{label: 'a'}})", steer)
    (rec,) = engine.agents
    assert _calls(rec) == ["Read", "Grep", "Read", "Grep"]
    assert {"kind": "note", "text": "restarted by the user"} in rec.transcript


def test_a_stopped_agent_keeps_its_transcript():
    async def steer(engine):
        await _until(lambda: _two_calls_made(engine))
        engine.stop()

    outcome, engine = _steered(f"return await agent({HANGS!r}, {{label: 'a'}})", steer)
    (rec,) = engine.agents
    assert outcome.status == "stopped" and rec.status == "cancelled"
    assert _calls(rec) == ["Read", "Grep"]


def test_a_timed_out_agent_shows_its_transcript_in_inspect(tmp_path, monkeypatch):
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    path = tmp_path / "hang.js"
    path.write_text(script_source(f"return await agent({HANGS!r}, {{label: 'a'}})"))
    runner = CliRunner()
    done = runner.invoke(cli, ["run", str(path), "--yes", "--json", "--timeout", "0.5"])
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["agents"]["cancelled"] == 1
    shown = runner.invoke(cli, ["inspect", summary["run_id"], "--agent", "1", "--json"])
    entries = json.loads(shown.stdout)["transcript"]
    assert [e["tool"] for e in entries if e["kind"] == "tool_use"] == ["Read", "Grep"]
    text = runner.invoke(cli, ["inspect", summary["run_id"], "--agent", "1"]).stdout
    assert "→ Read src/app.py" in text and "→ Grep TODO" in text
