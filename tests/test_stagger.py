"""Prompt-cache stagger and cache breakpoints in the anthropic worker (reference §6.7).

The real worker, engine and sandbox run fan-outs against the loopback Messages server in its
``prompt_cache`` mode, which reports cache writes and reads as the API does: the first request
with a prefix writes it, and once that response has started, the others read it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from conftest import script_source
from messages_server import MessagesServer, Reply, cache_parts

from jshost.config import Config
from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.workers.anthropic import AnthropicWorker, RetryPolicy
from jshost.workers.anthropic.stagger import ENV, stagger_ms

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-ant-test-stagger"
SCHEMA = {
    "type": "object",
    "properties": {"finding": {"type": "string", "description": "what was seen " * 200}},
    "required": ["finding"],
}
FANOUT = (
    f"const schema = {json.dumps(SCHEMA)}\n"
    "return await parallel(Array.from({ length: 6 }, (_, i) => () =>\n"
    "  agent('check host ' + i, { label: 'host ' + i, schema })))\n"
)
HELD = re.compile(
    r"^workflow agent \[host \d\] held (\d+)ms for a same-prefix sibling's first response "
    r"\(prompt-cache warm-up\)$"
)


def worker(server: MessagesServer, **kw: Any) -> AnthropicWorker:
    return AnthropicWorker(
        api_key=KEY, base_url=server.url, config=Config(), policy=RetryPolicy(max_retries=0), **kw
    )


async def run(body: str, w: AnthropicWorker) -> Any:
    script = parse_script(script_source(body), path="flow.js")
    with trio.fail_after(30):
        async with w:
            return await Engine(script, worker=w, limits=Limits(concurrency=16)).run()


def answer(delay: float = 0.0, **kw: Any):
    return lambda body: Reply(tool_input={"finding": "ok"}, delay=delay, **kw)


async def test_same_prefix_agents_wait_for_the_first_response_and_read_the_cache():
    with MessagesServer(answer(delay=0.3), prompt_cache=True) as server:
        outcome = await run(FANOUT, worker(server))  # the default cap: 5000 ms
        posts = server.posts
    assert outcome.status == "completed", outcome.error
    _, prefix, _ = cache_parts(posts[0])
    usage = outcome.usage
    assert usage.cache_creation_input_tokens == prefix  # written once
    assert usage.cache_read_input_tokens == 5 * prefix  # read by the five others
    held = [HELD.match(line) for line in outcome.logs]
    # Every sibling that arrived before the first response began was held (all five, unless
    # the machine is so loaded that one arrived later: then it read the warm cache at once).
    assert 1 <= sum(m is not None for m in held) <= 5, outcome.logs
    # Held until the first response began (0.3 s of "prefill"), well short of the cap.
    assert all(200 <= int(m.group(1)) < 4000 for m in held if m)
    # Breakpoints: after the tool and after the system prompt.
    assert posts[0]["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert posts[0]["system"][-1]["cache_control"] == {"type": "ephemeral"}


async def test_without_the_stagger_every_agent_of_the_wave_writes_the_prefix():
    # gather=6: the first response waits until all six requests have arrived.
    with MessagesServer(answer(gather=6), prompt_cache=True) as server:
        outcome = await run(FANOUT, worker(server, stagger=0))
        posts = server.posts
    assert outcome.status == "completed", outcome.error
    _, prefix, _ = cache_parts(posts[0])
    assert outcome.usage.cache_creation_input_tokens == 6 * prefix
    assert outcome.usage.cache_read_input_tokens == 0
    assert not any("prompt-cache warm-up" in line for line in outcome.logs)


async def test_the_wait_is_capped(monkeypatch):
    monkeypatch.setenv(ENV, "200")
    slow_first = {"n": 0}

    def responder(body: dict[str, Any]) -> Reply:
        slow_first["n"] += 1
        return Reply(tool_input={"finding": "ok"}, delay=1.5 if slow_first["n"] == 1 else 0.0)

    with MessagesServer(responder, prompt_cache=True) as server:
        outcome = await run(FANOUT, worker(server))
    assert outcome.status == "completed", outcome.error
    held = [int(m.group(1)) for line in outcome.logs if (m := HELD.match(line))]
    assert len(held) == 5 and all(150 <= ms < 1200 for ms in held), outcome.logs


async def test_a_leader_that_fails_lets_its_siblings_go_at_once():
    def responder(body: dict[str, Any]) -> Reply:
        if "check host 0" in json.dumps(body["messages"]):
            return Reply(status=400, error_type="invalid_request_error", delay=0.2)
        return Reply(tool_input={"finding": "ok"})

    with MessagesServer(responder, prompt_cache=True) as server:
        started = trio.current_time()
        outcome = await run(FANOUT, worker(server))
        elapsed = trio.current_time() - started
    assert outcome.status == "completed", outcome.error
    assert outcome.result[0] is None and all(outcome.result[1:])
    assert elapsed < 4  # not the 5 s cap


async def test_different_prefixes_do_not_wait_for_each_other():
    body = (
        "return await parallel([\n"
        "  () => agent('a', { model: 'haiku' }),\n"
        "  () => agent('b', { model: 'sonnet' }),\n"
        f"  () => agent('c', {{ model: 'haiku', schema: {json.dumps(SCHEMA)} }}),\n"
        "])\n"
    )

    def responder(body: dict[str, Any]) -> Reply:
        if body.get("tools"):
            return Reply(tool_input={"finding": "ok"}, delay=0.3)
        return Reply(delay=0.3)

    with MessagesServer(responder, prompt_cache=True) as server:
        outcome = await run(body, worker(server))
    assert outcome.status == "completed", outcome.error
    assert not any("prompt-cache warm-up" in line for line in outcome.logs)


def test_the_cap_comes_from_the_reference_variable():
    assert stagger_ms({}) == 5000
    assert stagger_ms({ENV: "0"}) == 0
    assert stagger_ms({ENV: "250"}) == 250
    assert stagger_ms({ENV: "soon"}) == 5000


def test_the_run_summary_shows_cache_reads_writes_and_a_cost_estimate(tmp_path):
    path = tmp_path / "flow.js"
    path.write_text(
        "export const meta = { name: 'fan', description: 'f', phases: [{ title: 'Scan' }] }\n"
        "phase('Scan')\n" + FANOUT.replace("agent('check host ' + i,", "agent('check ' + i,")
    )
    with MessagesServer(answer(delay=0.2), prompt_cache=True) as server:
        env = dict(os.environ, ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=server.url)
        env.pop("JSHOST_RAISE_ERRORS", None)
        done = subprocess.run(
            [sys.executable, "-m", "jshost", "run", str(path), "--yes", "--model", "haiku"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert re.search(r"tokens [\d,]+ in \(\+ [\d,]+ cache read, [\d,]+ cache write\)", err), err
    assert "6 Haiku agents, Scan: " in err, err
    assert "cache read, " in err.split("usage by phase:")[1]
    assert "cost (estimate from list prices): Haiku $" in err, err


def test_the_stagger_benchmark_runs_in_its_smallest_mode():
    done = subprocess.run(
        [sys.executable, "-m", "bench.prefix_cache", "--quick", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    on, off = figures["with"], figures["without"]
    assert figures["agents"] == 8 and on["agents"] == off["agents"] == 8
    # With the stagger the prefix is written once and read by the seven others, however the
    # requests were spread in time (how many were held, and the run without, depend on load).
    assert on["cache_write"] > 0 and on["cache_read"] == 7 * on["cache_write"]
    assert 1 <= on["held_lines"] <= 7
    assert off["cost_input_units"] >= on["cost_input_units"] > 0
    assert isinstance(figures["cost_ratio"], float)
