"""Faults of the Messages API, end to end: a workflow script through the real engine and the
real ``AnthropicWorker`` (the real SDK over HTTP) against the loopback server of
``tests/messages_server.py``, with a real store.

The server injects a different fault into each agent of one run: 429 storms with
``retry-after``, 5xx, 529, connection resets, streams dropped, cut short or stalled, truncated
and malformed bodies, StructuredOutput input that never validates. Each run is checked for the
exact nulls and failure lines the script sees, the requests the server saw (the retries that
should have happened, no more), what the store kept, and what a resume asks the API again.

Resume follows the reference (§5.3): a failed agent runs again and turns the cache off for
every call after it. The runs here make their failing calls last, so a resume must replay every
agent that finished and send requests only for the failed ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
import trio
from conftest import begin, script_source
from messages_server import MessagesServer, Recorded, Reply

from jshost.config import Config
from jshost.engine import Engine, Limits, RunOutcome
from jshost.script import parse_script
from jshost.store import Store
from jshost.workers.anthropic import AnthropicWorker, RetryPolicy

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-faults"
# Three SDK retries a request, tiny backoffs; retry-after is honoured up to 50 ms.
POLICY = RetryPolicy(
    max_retries=3, backoff=0.001, max_backoff=0.004, retry_after_cap=0.05, stall=10.0
)
CAP = (
    "agent({schema}): StructuredOutput retry cap (5) exceeded — 5 failed calls with no valid "
    "output — last StructuredOutput error: Output does not match required schema: "
)

R429 = Reply(status=429, error_type="rate_limit_error", headers={"retry-after": "0.01"})
R500 = Reply(status=500, error_type="api_error")
R502 = Reply(status=502, error_type="api_error")
R503 = Reply(status=503, error_type="api_error")
R529 = Reply(status=529, error_type="overloaded_error")
RESET = Reply(reset=True)
TRUNCATED = Reply(raw=b'{"type": "message", "content": [tru')
BAD_SSE = Reply(raw=b"event: message_start\ndata: {oops\n\n", raw_type="text/event-stream")

# What each agent meets, request by request (then a good answer). The agents that recover
# come first in call order, the ones that fail for good last.
RECOVER: dict[str, list[Reply]] = {
    "storm": [R429, R429, R429],  # three 429s: every SDK retry used, the fourth request works
    "storm2": [R429, R429],
    "fivexx": [R500, R502, R503],
    "overloaded": [R529, R529],
    "reset": [RESET, RESET],  # the SDK retries a reset before any response
    "dropped": [Reply(drop_after=3)],  # a stream broken off: the ladder's attempt 2
    "stalled": [Reply(hang_after=2)],  # a stream that stops: abandoned after stallMs
    "slow": [],  # slow but steady (see good()): not a stall
    "truncated": [TRUNCATED],
    "badsse": [BAD_SSE],
    "cut": [Reply(cut_after=4)],
    "mixed": [R429, RESET, R529],  # one request, three kinds of retry
}
# Requests the server must see for each recovering agent.
RECOVER_POSTS = {name: len(faults) + 1 for name, faults in RECOVER.items()}
FIXED_SCHEMA_POSTS = 3  # two invalid StructuredOutput calls, then a valid one

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

STORM = (
    f"const recover = {json.dumps(list(RECOVER))}\nconst schema = {json.dumps(SCHEMA)}\n"
    + """
const stallMs = (name) => ({ slow: 400, stalled: 150 })[name] ?? 60000
const opts = (name) => ({ label: name, stallMs: stallMs(name) })
phase('Recover')
const ok = await parallel(recover.map((name) => () => agent('task ' + name, opts(name))))
const fixed = await agent('task fixschema', { label: 'fixschema', schema })
log('recovered: ' + ok.filter((v) => v !== null).length)
phase('Fail')
const bad = await parallel([
  () => agent('task dead500', { label: 'dead500' }),
  () => agent('task dead529', { label: 'dead529' }),
  () => agent('task deadreset', { label: 'deadreset' }),
  () => agent('task garbage', { label: 'garbage' }),
  () => agent('task bad400', { label: 'bad400' }),
  () => agent('task neverschema', { label: 'neverschema', schema }),
  () => agent('task stallsforever', { label: 'stallsforever', stallMs: 150 }),
])
const piped = await pipeline(['pipeschema', 'pipe529'], (name) =>
  name === 'pipeschema'
    ? agent('task pipeschema', { label: name, schema })
    : agent('task pipe529', { label: name }))
let caught = null
try {
  await agent('task topschema', { label: 'topschema', schema })
} catch (e) {
  caught = e.name + ': ' + e.message
}
return { ok, fixed, bad, piped, caught }
"""
)

FAILING = [
    "dead500",
    "dead529",
    "deadreset",
    "garbage",
    "bad400",
    "neverschema",
    "stallsforever",
    "pipeschema",
    "pipe529",
    "topschema",
]
# Requests for each failing agent: 1 + 3 SDK retries; 6 ladder attempts; 1 (not retried);
# 5 invalid StructuredOutput calls.
FAILING_POSTS = {
    "dead500": 4,
    "dead529": 4,
    "deadreset": 4,
    "garbage": 6,
    "bad400": 1,
    "neverschema": 5,
    "stallsforever": 6,
    "pipeschema": 5,
    "pipe529": 4,
    "topschema": 5,
}


def name_of(body: dict[str, Any]) -> str:
    """The agent a request is for: its first user message is ``task <name>``."""
    return body["messages"][0]["content"].removeprefix("task ")


def good(body: dict[str, Any]) -> Reply:
    name = name_of(body)
    # Agents on the command line also get the built-in tools: only a schema agent's request
    # offers StructuredOutput, the tool this model answers with.
    if any(t.get("name") == "StructuredOutput" for t in body.get("tools") or []):
        return Reply(tool_input={"n": len(name)}, tool_name="StructuredOutput")
    # 'slow' streams 9 events 80 ms apart: 0.64 s in all, more than its stallMs of 400.
    return Reply(text=f"done: {name}", gap=0.08 if name == "slow" else 0.0)


def stormy() -> Any:
    """A responder that gives each agent its faults in turn, then a good answer."""
    seen: Counter[str] = Counter()

    def responder(body: dict[str, Any]) -> Reply:
        name = name_of(body)
        i = seen[name]
        seen[name] += 1
        if name in RECOVER:
            faults = RECOVER[name]
            return faults[i] if i < len(faults) else good(body)
        if name == "fixschema":
            return Reply(tool_input={"n": "two"}) if i < 2 else good(body)
        if name in ("neverschema", "pipeschema", "topschema"):
            return Reply(tool_input={"n": f"not a number {i}"})
        return {
            "dead500": R500,
            "dead529": R529,
            "deadreset": RESET,
            "garbage": TRUNCATED,
            "bad400": Reply(status=400, error_type="invalid_request_error"),
            "stallsforever": Reply(hang=True),
            "pipe529": R529,
        }[name]

    return responder


def make_worker(server: MessagesServer) -> AnthropicWorker:
    # No prompt-cache stagger: it would release the same-prefix agents in one burst when the
    # first response starts, and on a loaded machine that burst alone can outlast the 150 ms
    # stall windows these agents use. The stagger has its own tests (tests/test_stagger.py).
    return AnthropicWorker(
        api_key=KEY, base_url=server.url, config=Config(), policy=POLICY, stagger=0
    )


async def run_in_store(
    path: Any,
    body: str,
    server: MessagesServer,
    *,
    resume: str | None = None,
    stop_when: Any = None,
    **limits: Any,
) -> tuple[str, RunOutcome]:
    """Run ``body`` (or resume run ``resume``) with the anthropic worker and a store at
    ``path``; ``stop_when(engine)`` is polled and stops the run once it is true."""
    script = parse_script(script_source(body), path="flow.js")
    with Store(path) as store:
        if resume is None:
            recorder, replay = begin(store, script), None
        else:
            recorder, replay = store.resume_run(resume, caps={}, worker="anthropic", model=None)
        async with make_worker(server) as worker:
            engine = Engine(
                script,
                worker=worker,
                limits=Limits(**limits),
                recorder=recorder,
                replay=replay,
            )
            with trio.fail_after(30):  # a broken retry cap or stall limit fails, never hangs
                async with trio.open_nursery() as nursery:
                    if stop_when is not None:

                        async def stopper() -> None:
                            while not stop_when(engine):
                                await trio.sleep(0.005)
                            engine.stop()

                        nursery.start_soon(stopper)
                    outcome = await engine.run()
                    nursery.cancel_scope.cancel()
        recorder.finish(outcome)
        return recorder.run_id, outcome


def posts_by_agent(requests: list[Recorded]) -> Counter[str]:
    return Counter(name_of(r.body) for r in requests if r.method == "POST")


def retry_counts(requests: list[Recorded], name: str) -> list[str]:
    return [
        r.headers["x-stainless-retry-count"]
        for r in requests
        if r.method == "POST" and name_of(r.body) == name
    ]


def check_store(path: Any, run_id: str, outcome: RunOutcome, status: str) -> None:
    """Every finished agent's result is journalled as the script got it; failed ones are
    journalled ``failed``; the stored agent rows match the outcome."""
    with Store(path) as store:
        row = store.get_run(run_id)
        journal = store.journal(run_id)
        agents = {a.index: a for a in store.agents(run_id)}
        failures = [t for kind, t in store.logs(run_id) if kind == "failure"]
    assert row.status == status
    results = {e.key: e.result for e in journal if e.type == "result"}
    failed = {e.key for e in journal if e.type == "failed"}
    assert len(agents) == len(outcome.agents)
    for rec in outcome.agents:
        stored = agents[rec.index]
        assert (stored.label, stored.status) == (rec.label, rec.status)
        if rec.status == "done":
            assert results[rec.key] == rec.result == stored.result
        elif rec.status == "failed":
            assert rec.key in failed and rec.key not in results
        elif rec.status == "cancelled":
            assert rec.key not in failed and rec.key not in results
    assert failures == outcome.failures


async def test_a_storm_of_api_faults_gives_exact_nulls_failure_lines_and_stored_results(tmp_path):
    path = tmp_path / "s.db"
    with MessagesServer(stormy()) as server:
        run_id, out = await run_in_store(path, STORM, server, concurrency=32)
        first = list(server.requests)
        port = server.url.rsplit(":", 1)[1]
    assert out.status == "completed", out.error
    res = out.result

    # What the script saw.
    assert res["ok"] == [f"done: {name}" for name in RECOVER]
    assert res["fixed"] == {"n": len("fixschema")}
    assert res["bad"] == [None] * 7
    assert res["piped"] == [None, None]
    assert res["caught"] == f"Error: {CAP}$.n: 'not a number 4' is not of type 'integer'"
    lines = out.failures
    expected = [
        "[dead500] failed: 500 api_error: scripted 500",
        "[dead529] failed: 529 overloaded_error: scripted 529",
        "[bad400] failed: 400 invalid_request_error: scripted 400",
        "[garbage] failed: the API sent no message (content type application/json, expected "
        "a stream) (gave up after 6 attempts)",
        f"parallel[5] failed: {CAP}$.n: 'not a number 4' is not of type 'integer'",
        "parallel[6] failed: agent stalled on all 6 attempts (no progress for 150ms each)",
        f"pipeline[0] failed: {CAP}$.n: 'not a number 4' is not of type 'integer'",
        "[pipe529] failed: 529 overloaded_error: scripted 529",
    ]
    [reset_line] = [line for line in lines if line.startswith("[deadreset]")]
    assert reset_line.startswith(
        f"[deadreset] failed: cannot reach the API at http://127.0.0.1:{port}"
    )
    # Concurrent agents finish in any order; the set of lines, and nothing else, is exact.
    assert sorted(lines) == sorted([*expected, reset_line])
    assert len(lines) == 9  # topschema's rejection was caught by the script: no line

    # The worker's narration of the ladder, in the run log.
    assert "recovered: 12" in out.logs
    assert '[stall] agent "stalled" stalled (no progress) after 0.15s — retrying (1/5)' in out.logs
    for name, reason in [
        ("dropped", "the response broke off or was malformed: RemoteProtocolError"),
        ("truncated", "the API sent no message (content type application/json"),
        ("badsse", "the response broke off or was malformed: JSONDecodeError"),
        ("cut", "the response ended before the message was complete"),
    ]:
        assert any(x.startswith(f'[retry] agent "{name}": {reason}') for x in out.logs), name
    assert not any('agent "slow"' in x for x in out.logs)

    by_label = {a.label: a for a in out.agents}
    assert {n for n, a in by_label.items() if a.status == "done"} == {*RECOVER, "fixschema"}
    assert {n for n, a in by_label.items() if a.status == "failed"} == set(FAILING)
    # The ladder's attempts: a broken or stalled stream costs one; request retries do not.
    attempts = {n: a.attempts for n, a in by_label.items()}
    for name in ("dropped", "stalled", "truncated", "badsse", "cut"):
        assert attempts[name] == 2, name
    for name in ("storm", "storm2", "fivexx", "overloaded", "reset", "mixed", "slow"):
        assert attempts[name] == 1, name
    assert attempts["garbage"] == attempts["stallsforever"] == 6

    # The requests the server saw: each retry that should have happened, and no more.
    seen = posts_by_agent(first)
    assert seen == Counter({**RECOVER_POSTS, "fixschema": FIXED_SCHEMA_POSTS, **FAILING_POSTS})
    assert retry_counts(first, "storm") == ["0", "1", "2", "3"]
    assert retry_counts(first, "mixed") == ["0", "1", "2", "3"]
    assert retry_counts(first, "dead500") == ["0", "1", "2", "3"]
    assert retry_counts(first, "deadreset") == ["0", "1", "2", "3"]
    # A new attempt of the ladder is a new request, not an SDK retry.
    assert retry_counts(first, "dropped") == ["0", "0"]
    assert retry_counts(first, "garbage") == ["0"] * 6
    # Schema agents: each invalid input went back as an error tool result.
    fix_bodies = [r.body for r in first if r.method == "POST" and name_of(r.body) == "fixschema"]
    assert [len(b["messages"]) for b in fix_bodies] == [1, 3, 5]
    assert fix_bodies[-1]["messages"][-1]["content"][0]["is_error"] is True

    check_store(path, run_id, out, "completed")
    with Store(path) as store:
        stored = {e.agent: e.result for e in store.journal(run_id) if e.type == "result"}
    assert sorted(stored.values(), key=str) == sorted([*res["ok"], res["fixed"]], key=str)

    # The API has recovered: a resume replays every finished agent and asks only for the
    # failed ones.
    with MessagesServer(good) as server:
        _, again = await run_in_store(path, STORM, server, resume=run_id, concurrency=32)
        second = posts_by_agent(server.requests)
    assert again.status == "completed", again.error
    assert set(second) == set(FAILING)
    assert all(n == 1 for n in second.values())
    statuses = {a.label: a.status for a in again.agents}
    assert {n for n, s in statuses.items() if s == "cached"} == {*RECOVER, "fixschema"}
    assert again.result["ok"] == res["ok"] and again.result["fixed"] == res["fixed"]
    assert again.result["bad"] == [f"done: {n}" for n in FAILING[:5]] + [
        {"n": len("neverschema")},
        "done: stallsforever",
    ]
    assert again.result["piped"] == [{"n": len("pipeschema")}, "done: pipe529"]
    assert again.result["caught"] is None
    assert again.failures == []
    check_store(path, run_id, again, "completed")


CANCEL = """
const first = await parallel(['a', 'b', 'c'].map((n) => () => agent('task ' + n, { label: n })))
log('first wave in')
const second = await parallel(['e', 'f', 'g', 'h', 'd'].map((n) => () =>
  agent('task ' + n, { label: n })))
return { first, second }
"""


def cancelling() -> Any:
    """a-d answer at once (d after a 429); e hangs, f answers late, g stalls mid-stream, h is
    slow: all four are in flight when the run is stopped. d is called after them, so a resume
    that let an interrupted agent turn the cache off would ask for d again."""

    seen: Counter[str] = Counter()

    def responder(body: dict[str, Any]) -> Reply:
        name = name_of(body)
        seen[name] += 1
        if name == "d" and seen[name] == 1:
            return R429
        return {
            "e": Reply(hang=True),
            "f": Reply(delay=0.3),  # the response arrives after the run was stopped
            "g": Reply(hang_after=3),
            "h": Reply(gap=0.2),
        }.get(name, good(body))

    return responder


async def test_stopping_with_requests_in_flight_then_resuming(tmp_path):
    path = tmp_path / "s.db"

    def all_in_flight(engine: Engine) -> bool:
        done = {a.label for a in engine.agents if a.status == "done"}
        return done == {"a", "b", "c", "d"} and server.in_flight == 4

    with MessagesServer(cancelling()) as server:
        with trio.fail_after(10):
            run_id, out = await run_in_store(path, CANCEL, server, stop_when=all_in_flight)
        # Nothing is left running: every held request was hung up on, and the late answer
        # found nobody listening.
        assert await trio.to_thread.run_sync(server.wait_idle, 3)
        assert server.in_flight == 0
        assert server.hangups >= 3  # e, g and h; f may or may not see its peer gone
        first = posts_by_agent(server.requests)
    assert out.status == "stopped"
    assert out.result is None and out.error is None
    statuses = {a.label: a.status for a in out.agents}
    assert statuses == {**dict.fromkeys("abcd", "done"), **dict.fromkeys("efgh", "cancelled")}
    assert out.failures == []  # stopping is not failing
    assert first == Counter({"a": 1, "b": 1, "c": 1, "d": 2, "e": 1, "f": 1, "g": 1, "h": 1})
    check_store(path, run_id, out, "stopped")
    with Store(path) as store:
        journal = store.journal(run_id)
    assert not [e for e in journal if e.type == "failed"]
    started = [e.agent for e in journal if e.type == "started"]
    assert sorted(started) == list(range(1, 9))

    with MessagesServer(good) as server:
        _, again = await run_in_store(path, CANCEL, server, resume=run_id)
        second = posts_by_agent(server.requests)
    assert again.status == "completed", again.error
    # The interrupted agents start over; the cache stays on, so the finished ones replay.
    assert second == Counter({"e": 1, "f": 1, "g": 1, "h": 1})
    assert {a.label: a.status for a in again.agents} == {
        **dict.fromkeys("abcd", "cached"),
        **dict.fromkeys("efgh", "done"),
    }
    assert again.result == {
        "first": ["done: a", "done: b", "done: c"],
        "second": [f"done: {n}" for n in "efghd"],
    }
    check_store(path, run_id, again, "completed")


def test_ctrl_c_of_jshost_run_mid_requests_then_jshost_resume(tmp_path):
    """The command line: SIGINT while requests hang stops the run (exit 130) with nothing
    left running; ``jshost resume`` asks the API only for the agents that were cut off."""
    flow = tmp_path / "flow.js"
    flow.write_text(script_source(CANCEL), encoding="utf-8")
    env = dict(os.environ, ANTHROPIC_API_KEY=KEY)

    def jshost(*args: str, server: MessagesServer) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "jshost", *args, "--yes", "--json"],
            env=dict(env, ANTHROPIC_BASE_URL=server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def responder(body: dict[str, Any]) -> Reply:
        return good(body) if name_of(body) in "abcd" else Reply(hang=True)

    def wait_for_done(n: int) -> bool:
        """Wait until the store shows ``n`` agents done (and so a-d answered in full)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Store(reading=True) as store:
                runs = store.list_runs()
                agents = store.agents(runs[0].id) if runs else []
            if sum(a.status == "done" for a in agents) >= n:
                return True
            time.sleep(0.02)
        return False

    with MessagesServer(responder) as server:
        proc = jshost("run", str(flow), server=server)
        try:
            assert server.wait_in_flight(4, timeout=30), "the requests never arrived"
            assert wait_for_done(4), "a-d never finished"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, err
        assert server.wait_idle(3)
        assert server.hangups == 4
        assert posts_by_agent(server.requests) == Counter("abcdefgh")
    assert "Traceback" not in err
    summary = json.loads(out.splitlines()[-1])
    run_id = summary["run_id"]
    assert summary["status"] == "stopped"

    with MessagesServer(good) as server:
        proc = jshost("resume", run_id, server=server)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert posts_by_agent(server.requests) == Counter("efgh")
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["result"] == {
        "first": ["done: a", "done: b", "done: c"],
        "second": [f"done: {n}" for n in "efghd"],
    }
    with Store() as store:
        agents = store.agents(run_id)
        results = {e.agent: e.result for e in store.journal(run_id) if e.type == "result"}
    assert [a.status for a in agents] == ["cached"] * 3 + ["done"] * 4 + ["cached"]
    assert results == {i: f"done: {n}" for i, n in enumerate("abcefghd", 1)}
