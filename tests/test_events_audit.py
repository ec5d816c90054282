"""Every event docs/events.md promises is seen being emitted, with the fields it documents.

The events come from real runs: `jshost run --json` and `jshost resume --json` through the
CLI on the sim worker, a real `python -m jshost` process stopped with SIGINT, and, for what
only the interactive view or a slow reader triggers (pause, dropped events), the engine
writing through the real `JsonEvents` writer on its UI thread.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner
from conftest import script_source

from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.ui.dispatch import EventQueue, UiThread
from jshost.ui.jsonl import JsonEvents
from jshost.workers.sim import SimWorker

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
META = (
    "export const meta = { name: 'audit', description: 'every event',"
    " phases: [{ title: 'One' }, { title: 'Two' }] }\n"
)


def documented() -> dict[str, list[str]]:
    """event name -> the top-level fields the table documents for it."""
    out: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| (`[a-z_]+`(?: / `[a-z_]+`)*) \|\s*(.*?)\s*\| .* \|$", line)
        if not m or m.group(1) == "`event`":  # the header
            continue
        # nested fields and values in parentheses are not top-level field names
        fields = re.sub(r"\{[^}]*\}|\([^)]*\)", "", m.group(2))
        names = re.findall(r"`([a-z_]+)`", fields)
        for event in re.findall(r"`([a-z_]+)`", m.group(1)):
            out[event] = names
    return out


def _env(home: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ANTHROPIC_")}
    env.update(
        JSHOST_HOME=str(home),
        JSHOST_MAX_CONCURRENT_AGENTS=None,
        CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS=None,
    )
    return env


def _cli_events(args: list[str], env: dict[str, str | None]) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# Phases, agents done / failed / skipped / cancelled, progress, logs, failures, budget.
MAIN = """
phase('One')
const a = await agent('first [[sim:tokens=30]] [[sim:tool=Read src/app.py]]',
  { label: 'first', model: 'haiku' })
log('after first')
const b = await agent('[[sim:fail=broken]] second', { label: 'second' })
phase('Two')
// the budget (50) is spent while these queue at concurrency 1: the later ones are skipped
const more = await parallel([
  () => agent('third [[sim:tokens=40]]', { label: 'third' }),
  () => agent('fourth', { label: 'fourth' }),
])
agent('[[sim:hang]] left running', { label: 'orphan' }).catch(() => null)
await new Promise((r) => setTimeout(r, 50))
return { a: typeof a, b, more: more.map((x) => x === null) }
"""

# A run that fails after one finished agent, then is resumed: the first comes from the store.
RESUMABLE = """
const a = await agent('kept', { label: 'kept' })
const b = await agent('[[sim:fail]] lost', { label: 'lost' })
if (b === null) throw new Error('lost failed')
return a
"""


def _stopped_process(tmp_path: Path, env: dict[str, str | None]) -> list[dict[str, Any]]:
    path = tmp_path / "stop.js"
    path.write_text(script_source("return await agent('[[sim:hang]] wait')", META))
    full = {k: v for k, v in os.environ.items() if env.get(k, "") is not None}
    full.update({k: v for k, v in env.items() if v is not None})
    proc = subprocess.Popen(
        [sys.executable, "-m", "jshost", "run", str(path), "--worker", "sim", "--yes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if '"agent_started"' in line:
            proc.send_signal(signal.SIGINT)
            break
    out, _ = proc.communicate(timeout=60)
    lines += out.splitlines()
    assert proc.returncode == 130
    return [json.loads(line) for line in lines if line.strip()]


def _engine_through_json_writer(body: str, steer: Any, capacity: int | None = None) -> str:
    """Run ``body`` with the real JSON writer on its UI thread; ``steer(engine)`` runs inside
    the trio run alongside it. With ``capacity``, the writer is held until the run ends, so
    the bounded queue overflows as behind a slow reader."""
    release = threading.Event()
    held = capacity is not None

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            if held:
                release.wait(30)
            return super().write(text)

    out = Out()
    queue = EventQueue(capacity=capacity) if capacity else None
    thread = UiThread(JsonEvents(out, "wf_audit"), queue=queue).start()
    script = parse_script(script_source(body, META), path="audit.js")
    engine = Engine(script, worker=SimWorker(latency=0.01), limits=Limits(), sink=thread.sink)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(steer, engine)
            await engine.run()

    try:
        trio.run(main)
    finally:
        release.set()
        thread.finish()
    return out.getvalue()


async def _pause_then_carry_on(engine: Engine) -> None:
    await trio.sleep(0.05)
    engine.set_paused(True)
    await trio.sleep(0.1)
    engine.set_paused(False)


async def _nothing(engine: Engine) -> None:
    pass


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    tmp_path = tmp_path_factory.mktemp("audit")
    env = _env(tmp_path / "home")
    objects: list[dict[str, Any]] = []

    main = tmp_path / "main.js"
    main.write_text(script_source(MAIN, META))
    objects += _cli_events(
        ["run", str(main), "--worker", "sim", "--yes", "--json", "--sim-latency", "0.01",
         "--concurrency", "1", "--budget", "50"],
        env,
    )  # fmt: skip

    resumable = tmp_path / "resume.js"
    resumable.write_text(script_source(RESUMABLE, META))
    first = _cli_events(["run", str(resumable), "--worker", "sim", "--yes", "--json"], env)
    run_id = first[-1]["run_id"]
    objects += first
    objects += _cli_events(["resume", run_id, "--worker", "sim", "--yes", "--json"], env)

    objects += _stopped_process(tmp_path, env)

    paused = _engine_through_json_writer(
        "return await parallel([1, 2, 3].map((i) => () => agent('p' + i)))",
        _pause_then_carry_on,
    )
    objects += [json.loads(line) for line in paused.splitlines()]

    flood = _engine_through_json_writer(
        "return (await parallel(Array.from({ length: 300 }, (_, i) => () => agent('f' + i))))"
        ".length",
        _nothing,
        capacity=40,
    )
    objects += [json.loads(line) for line in flood.splitlines()]

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["event"], []).append(obj)
    return by_kind


def test_the_table_is_parsed():
    events = documented()
    assert len(events) >= 19 and "agent_cancelled" in events and "summary" in events
    assert events["run_started"][:2] == ["run_id", "name"]
    assert events["agent_done"] == [
        "agent",
        "label",
        "phase",
        "model",
        "attempts",
        "tokens",
        "elapsed_s",
    ]


@pytest.mark.parametrize("event", sorted(documented()))
def test_every_documented_event_is_emitted_with_its_fields(seen, event):
    assert event in seen, f"docs/events.md promises {event!r}; no run emitted it"
    fields = documented()[event]
    missing = [f for f in fields if not any(f in obj for obj in seen[event])]
    assert missing == [], f"{event} never carries {missing}"
    if event != "summary":
        assert all(isinstance(obj.get("t"), int | float) for obj in seen[event])


def test_no_event_is_emitted_that_the_docs_do_not_list(seen):
    assert set(seen) <= set(documented())
