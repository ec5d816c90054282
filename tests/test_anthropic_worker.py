"""Tests for the anthropic worker, over real HTTP to a Messages API server on 127.0.0.1.

Every test drives the real ``anthropic`` SDK (its retries, streaming and connection handling)
through the real worker against ``tests/messages_server.py``; some go on through the engine
and the command line with a workflow script. Backoff and stall limits are made small through
``RetryPolicy`` and ``stallMs`` so that the retry paths run for real, quickly. Nothing here
reaches the internet: the worker is always given the loopback server's URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner
from conftest import script_source
from messages_server import MessagesServer, Reply, text_of_last_user_turn

from jshost.cli import cli
from jshost.config import DEFAULT_MODELS, Config
from jshost.engine import Engine, Limits
from jshost.errors import WorkerError
from jshost.script import parse_script
from jshost.ui.summary import tokens_by_model
from jshost.workers.anthropic import (
    EFFORT_LEVELS,
    NUDGE,
    PLAIN_SYSTEM,
    SCHEMA_SYSTEM,
    AnthropicWorker,
    RetryPolicy,
    effort_level,
    tool_schema,
)
from jshost.workers.base import AgentRejectedError, AgentRequest, Usage

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-0123456789-SECRET"
# Tiny waits, so that retry paths run for real without slowing the suite down.
FAST = RetryPolicy(backoff=0.001, max_backoff=0.004, retry_after_cap=0.05, stall=10.0)
CAUSE = {"type": "object", "properties": {"cause": {"type": "string"}}, "required": ["cause"]}
CAP_PREFIX = (
    "agent({schema}): StructuredOutput retry cap (5) exceeded — 5 failed calls with no valid "
    "output — last StructuredOutput error: "
)


@pytest.fixture
def server():
    with MessagesServer() as srv:
        yield srv


def make_worker(server: MessagesServer, **kw: Any) -> AnthropicWorker:
    kw.setdefault("policy", FAST)
    kw.setdefault("config", Config())
    return AnthropicWorker(api_key=KEY, base_url=server.url, **kw)


def req(prompt: str = "Say hi", **kw: Any) -> AgentRequest:
    kw.setdefault("label", "lbl")
    return AgentRequest(index=1, prompt=prompt, **kw)


async def ask(server: MessagesServer, request: AgentRequest, **kw: Any) -> Any:
    # A bound on every test: a broken cap or stall limit must fail, not hang the suite.
    with trio.fail_after(20):
        async with make_worker(server, **kw) as worker:
            return await worker.run(request)


async def run_script(body: str, worker: Any, **limits: Any) -> Any:
    script = parse_script(script_source(body), path="flow.js")
    with trio.fail_after(20):
        return await Engine(script, worker=worker, limits=Limits(**limits)).run()


def model_info(model: str, efforts: tuple[str, ...] = EFFORT_LEVELS, adaptive: bool = True):
    """A Models API entry with these effort levels and thinking support."""
    support = {level: {"supported": level in efforts} for level in EFFORT_LEVELS}
    no = {"supported": False}
    return {
        "id": model,
        "type": "model",
        "display_name": model,
        "created_at": "2026-01-01T00:00:00Z",
        "lifecycle": "active",
        "capabilities": {
            "effort": {"supported": bool(efforts), **support},
            "thinking": {
                "supported": adaptive,
                "types": {
                    "adaptive": {"supported": adaptive},
                    "enabled": no,
                    "disabled": {"supported": True},
                    "between_tools": no,
                },
            },
        },
    }


# -- plain agents ----------------------------------------------------------------------------


async def test_plain_agent_returns_the_final_text(server):
    server.enqueue(Reply(text="The answer is 42.", usage=(31, 7, 0, 0)))
    result = await ask(server, req("What is the answer?", model="haiku"))
    assert result.value == "The answer is 42."
    assert result.model == "claude-haiku-5-5"
    assert result.attempts == 1
    assert result.usage == Usage(31, 7)
    [sent] = server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["X-Stainless-Async"] == "async:trio"
    body = sent.body
    assert body["model"] == "claude-haiku-5-5"
    assert body["system"] == [
        {"type": "text", "text": PLAIN_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"] == [{"role": "user", "content": "What is the answer?"}]
    assert body["stream"] is True
    assert "tools" not in body and "tool_choice" not in body
    assert "output_config" not in body and "thinking" not in body


async def test_result_names_the_model_the_api_used(server):
    server.enqueue(Reply(text="ok", model="claude-sonnet-5-5-20990101"))
    result = await ask(server, req(model="sonnet"))
    assert server.posts[0]["model"] == "claude-sonnet-5-5"
    assert result.model == "claude-sonnet-5-5-20990101"


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        (None, "claude-sonnet-5-5"),
        ("inherit", "claude-sonnet-5-5"),
        ("opus", "claude-opus-5-5"),
        ("fable", "claude-fable-5-2"),
        ("claude-opus-4-8", "claude-opus-4-8"),
        ("my-gateway/claude-x", "my-gateway/claude-x"),
    ],
)
async def test_model_aliases_map_to_ids_and_full_ids_pass_through(server, asked, sent):
    await ask(server, req(model=asked))
    assert server.posts[0]["model"] == sent


async def test_run_model_and_config_aliases(server):
    config = Config(models={**DEFAULT_MODELS, "haiku": "claude-haiku-4-5", "fast": "claude-fast-1"})
    await ask(server, req(model=None), config=config, model="fast")
    await ask(server, req(model="haiku"), config=config)
    assert [b["model"] for b in server.posts] == ["claude-fast-1", "claude-haiku-4-5"]


async def test_unknown_alias_rejects_without_a_request(server):
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(model="sonet"))
    assert str(info.value) == (
        "unknown model 'sonet' (known: fable, haiku, opus, sonnet, inherit, or a full model id)"
    )
    assert server.requests == []


async def test_refusal_is_a_terminal_failure(server):
    server.enqueue(Reply(text="", stop_reason="refusal"))
    with pytest.raises(WorkerError) as info:
        await ask(server, req())
    assert str(info.value) == "the model declined the task (stop reason: refusal)"
    assert len(server.posts) == 1


# -- schema agents ---------------------------------------------------------------------------


async def test_schema_agent_forces_the_structured_output_tool(server):
    server.enqueue(Reply(tool_input={"cause": "upstream timeout"}, usage=(50, 12, 0, 0)))
    result = await ask(server, req("Find the cause", schema=CAUSE))
    assert result.value == {"cause": "upstream timeout"}
    assert result.usage == Usage(50, 12)
    [body] = server.posts
    assert body["system"] == [
        {"type": "text", "text": SCHEMA_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    [tool] = body["tools"]
    assert tool["name"] == "StructuredOutput"
    assert tool["input_schema"] == CAUSE
    assert body["tool_choice"] == {
        "type": "tool",
        "name": "StructuredOutput",
        "disable_parallel_tool_use": True,
    }


async def test_non_object_root_is_wrapped_and_unwrapped(server):
    schema = {
        "type": "array",
        "items": {"$ref": "#/$defs/tag"},
        "$defs": {"tag": {"enum": ["bug", "feature"]}},
    }
    server.enqueue(Reply(tool_input={"value": ["bug", "feature"]}))
    result = await ask(server, req(schema=schema))
    assert result.value == ["bug", "feature"]
    sent = server.posts[0]["tools"][0]["input_schema"]
    assert sent == {
        "type": "object",
        "properties": {"value": {"type": "array", "items": {"$ref": "#/$defs/tag"}}},
        "required": ["value"],
        "additionalProperties": False,
        "$defs": {"tag": {"enum": ["bug", "feature"]}},
    }


def test_tool_schema_of_boolean_and_object_roots():
    assert tool_schema(True) == (
        {
            "type": "object",
            "properties": {"value": {}},
            "required": ["value"],
            "additionalProperties": False,
        },
        True,
    )
    assert tool_schema(CAUSE) == (CAUSE, False)


async def test_invalid_structured_output_is_corrected_on_retry(server):
    server.enqueue(
        Reply(tool_input={"cause": 3}, usage=(40, 9, 0, 0)),
        Reply(tool_input={"cause": "disk full"}, usage=(70, 11, 0, 0)),
    )
    result = await ask(server, req("Why?", schema=CAUSE))
    assert result.value == {"cause": "disk full"}
    assert result.usage == Usage(110, 20)
    assert result.attempts == 1
    second = server.posts[1]
    assert second["messages"][0] == {"role": "user", "content": "Why?"}
    assistant, feedback = second["messages"][1:]
    assert assistant["role"] == "assistant"
    [call] = assistant["content"]
    assert call["type"] == "tool_use" and call["input"] == {"cause": 3}
    assert feedback == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "content": "Output does not match required schema: $.cause: 3 is not of type "
                "'string'",
                "is_error": True,
            }
        ],
    }


async def test_all_validation_problems_are_reported_with_paths(server):
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 10}, "tags": {"type": "array"}},
        "required": ["n", "tags"],
        "additionalProperties": False,
    }
    server.enqueue(Reply(tool_input={"n": 11, "extra": 1}), Reply(tool_input={"n": 1, "tags": []}))
    result = await ask(server, req(schema=schema))
    assert result.value == {"n": 1, "tags": []}
    feedback = text_of_last_user_turn(server.posts[1])
    assert feedback == (
        "Output does not match required schema: "
        "$: 'tags' is a required property; "
        "$: Additional properties are not allowed ('extra' was unexpected); "
        "$.n: 11 is greater than the maximum of 10"
    )


async def test_five_invalid_outputs_reject_with_the_retry_cap_message(server):
    server.enqueue(*[Reply(tool_input={"reason": "x"}, usage=(10, 3, 0, 0)) for _ in range(5)])
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(schema=CAUSE))
    assert str(info.value) == (
        CAP_PREFIX + "Output does not match required schema: $: 'cause' is a required property"
    )
    assert len(server.posts) == 5
    # The tokens of the five calls are reported with the failure, for the budget.
    assert info.value.usage == Usage(50, 15)
    assert info.value.model == "claude-sonnet-5-5"
    assert len(server.posts[-1]["messages"]) == 9  # the prompt, then 4 × (call, feedback)


async def test_wrapped_value_missing_is_explained(server):
    server.enqueue(Reply(tool_input={"values": [1]}), Reply(tool_input={"value": [1]}))
    result = await ask(server, req(schema={"type": "array"}))
    assert result.value == [1]
    assert text_of_last_user_turn(server.posts[1]) == (
        "Output does not match required schema: $: 'value' is a required property "
        '(put the result in "value")'
    )


async def test_reply_without_the_tool_is_nudged_once(server):
    server.enqueue(Reply(text="The cause is DNS."), Reply(tool_input={"cause": "DNS"}))
    result = await ask(server, req(schema=CAUSE))
    assert result.value == {"cause": "DNS"}
    assert text_of_last_user_turn(server.posts[1]) == NUDGE


async def test_never_calling_the_tool_rejects_after_the_nudge(server):
    server.enqueue(Reply(text="no"), Reply(text="still no"))
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(schema=CAUSE))
    assert str(info.value) == (
        "agent({schema}): subagent completed without calling StructuredOutput "
        "(after in-conversation nudge)"
    )
    assert len(server.posts) == 2


async def test_model_refusing_forced_tool_choice_is_asked_instead(server):
    refusal = "Thinking may not be enabled when tool_choice forces tool use."

    def responder(body: dict[str, Any]) -> Reply:
        if body["tool_choice"]["type"] == "tool":
            return Reply(status=400, error_type="invalid_request_error", error_message=refusal)
        return Reply(tool_input={"cause": "x"})

    server.responder = responder
    logs: list[str] = []
    async with make_worker(server) as worker:
        first = await worker.run(req(schema=CAUSE, log=logs.append))
        second = await worker.run(req(schema=CAUSE, log=logs.append))
    assert first.value == second.value == {"cause": "x"}
    # Only the first agent tried the forced choice: the model is remembered for the run.
    assert [b["tool_choice"]["type"] for b in server.posts] == ["tool", "auto", "auto"]
    assert logs == [
        f"[lbl] claude-sonnet-5-5 refused a forced tool_choice (400 invalid_request_error: "
        f"{refusal}); asking for StructuredOutput instead"
    ]


async def test_invalid_or_unsatisfiable_schema_throws_before_any_request(server):
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(schema={"type": "nope"}))
    assert info.value.name == "TypeError"
    assert str(info.value).startswith("agent({schema}) received an invalid JSON Schema: ")
    contradiction = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["b"],
        "additionalProperties": False,
    }
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(schema=contradiction))
    assert str(info.value).startswith("agent({schema}) received an unusable JSON Schema — ")
    assert server.requests == []


# -- effort ----------------------------------------------------------------------------------


def test_effort_levels():
    assert [effort_level(e) for e in ("low", "med", "Medium", "xhigh", "max")] == [
        "low",
        "medium",
        "medium",
        "xhigh",
        "max",
    ]
    assert [effort_level(e) for e in ("extreme", 3, 2.5, None, "")] == [None] * 5


async def test_effort_maps_to_output_config_and_adaptive_thinking(server):
    server.models["claude-opus-5-5"] = model_info("claude-opus-5-5")
    server.responder = lambda body: Reply(tool_input={"cause": "x"}) if "tools" in body else Reply()
    async with make_worker(server) as worker:
        async with trio.open_nursery() as nursery:
            for _ in range(4):  # a burst: the capabilities are still read once
                nursery.start_soon(worker.run, req(model="opus", effort="high"))
        await worker.run(req(model="opus", effort="med", schema=CAUSE))
    assert [r.path for r in server.requests if r.method == "GET"] == ["/v1/models/claude-opus-5-5"]
    plain = server.posts[:4]
    assert all(b["output_config"] == {"effort": "high"} for b in plain)
    assert all(b["thinking"] == {"type": "adaptive"} for b in plain)
    # Thinking excludes a forced tool choice: schema agents get the effort only.
    schema_body = server.posts[4]
    assert schema_body["output_config"] == {"effort": "medium"}
    assert "thinking" not in schema_body


async def test_effort_the_model_lacks_falls_back_or_is_left_out(server):
    server.models["claude-sonnet-5-5"] = model_info(
        "claude-sonnet-5-5", efforts=("low", "medium", "high"), adaptive=False
    )
    server.models["claude-haiku-5-5"] = model_info("claude-haiku-5-5", efforts=())
    logs: list[str] = []
    async with make_worker(server) as worker:
        await worker.run(req(model="sonnet", effort="max", log=logs.append))
        await worker.run(req(model="haiku", effort="low", log=logs.append))
        await worker.run(req(model="claude-unlisted", effort="low", log=logs.append))
        await worker.run(req(model="sonnet", effort=4000, log=logs.append))
    sonnet, haiku, unlisted, numeric = server.posts
    assert sonnet["output_config"] == {"effort": "high"} and "thinking" not in sonnet
    for body in (haiku, unlisted, numeric):
        assert "output_config" not in body and "thinking" not in body
    assert logs == [
        "[lbl] effort 'max' is not offered by claude-sonnet-5-5; using 'high'",
        "[lbl] effort 'low' is not applied to claude-haiku-5-5: it takes no effort",
        "[lbl] effort 'low' is not applied to claude-unlisted: cannot read its capabilities",
    ]


# -- request retries (the SDK's) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "cap", "low", "high"), [("0.3", 5.0, 0.3, 2.0), ("3600", 0.05, 0, 2.0)]
)
async def test_429_retry_after_is_honoured_up_to_the_cap(server, retry_after, cap, low, high):
    server.enqueue(
        Reply(status=429, error_type="rate_limit_error", headers={"retry-after": retry_after}),
        Reply(text="finally"),
    )
    policy = RetryPolicy(backoff=0.001, retry_after_cap=cap)
    start = time.monotonic()
    result = await ask(server, req(), policy=policy)
    waited = time.monotonic() - start
    assert result.value == "finally"
    assert low <= waited < high
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_500_and_529_are_retried_then_succeed(server):
    server.enqueue(
        Reply(status=500, error_type="api_error"),
        Reply(status=529, error_type="overloaded_error"),
        Reply(text="ok after two"),
    )
    result = await ask(server, req())
    assert result.value == "ok after two"
    assert result.attempts == 1  # request retries are not attempts of the ladder
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1", "2"]


async def test_retries_used_up_resolve_null_with_the_api_error(server):
    server.responder = lambda body: Reply(status=529, error_type="overloaded_error")
    policy = RetryPolicy(max_retries=2, backoff=0.001)
    async with make_worker(server, policy=policy) as worker:
        outcome = await run_script("return await agent('hi', { label: 'busy' })", worker)
    assert outcome.status == "completed"
    assert outcome.result is None
    assert outcome.failures == ["[busy] failed: 529 overloaded_error: scripted 529"]
    assert len(server.posts) == 3


async def test_bad_request_is_not_retried(server):
    server.enqueue(Reply(status=400, error_type="invalid_request_error"))
    with pytest.raises(WorkerError) as info:
        await ask(server, req())
    assert str(info.value) == "400 invalid_request_error: scripted 400"
    assert len(server.posts) == 1


async def test_bad_key_says_what_to_check(server):
    server.enqueue(Reply(status=401, error_type="authentication_error"))
    with pytest.raises(WorkerError) as info:
        await ask(server, req())
    assert str(info.value) == ("401 authentication_error: scripted 401 (check ANTHROPIC_API_KEY)")


async def test_unreachable_api_is_a_terminal_failure():
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = AnthropicWorker(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{port}",
        config=Config(),
        policy=RetryPolicy(max_retries=1, backoff=0.001),
    )
    async with worker:
        with pytest.raises(WorkerError) as info:
            await worker.run(req())
    assert str(info.value).startswith(f"cannot reach the API at http://127.0.0.1:{port}")


# -- stalls and broken responses (the ladder) ------------------------------------------------


async def test_hung_response_is_abandoned_and_retried(server):
    server.enqueue(Reply(hang=True), Reply(text="second time lucky"))
    logs: list[str] = []
    result = await ask(server, req(label="slow", stall_ms=300, log=logs.append))
    assert result.value == "second time lucky"
    assert result.attempts == 2
    assert server.wait_idle(2)
    assert server.hangups == 1  # the hung request's connection was closed, not left open
    assert logs == ['[stall] agent "slow" stalled (no progress) after 0.3s — retrying (1/5)']


async def test_stream_that_stops_midway_is_a_stall(server):
    server.enqueue(
        Reply(hang_after=3, usage=(20, 4, 0, 0)), Reply(text="done", usage=(20, 6, 0, 0))
    )
    result = await ask(server, req(stall_ms=300))
    assert result.value == "done"
    assert result.attempts == 2
    # The abandoned stream's input tokens (from message_start) count too.
    assert result.usage == Usage(40, 7)


async def test_slow_but_steady_stream_is_not_a_stall(server):
    server.enqueue(Reply(text="slow and steady", gap=0.06))  # 9 events, 0.5 s in all
    result = await ask(server, req(stall_ms=250))
    assert result.value == "slow and steady"
    assert result.attempts == 1


async def test_retry_waits_are_not_stalls(server):
    server.enqueue(
        Reply(status=429, error_type="rate_limit_error", headers={"retry-after": "1.0"}),
        Reply(text="waited"),
    )
    # The wait is twice the stall limit; the limit itself leaves the retried request half a
    # second to answer, which a loaded CI machine needs (250 ms once was not enough).
    result = await ask(server, req(stall_ms=500), policy=RetryPolicy(retry_after_cap=2.0))
    assert result.value == "waited"
    assert result.attempts == 1
    assert len(server.posts) == 2


async def test_stalling_on_every_attempt_rejects(server):
    server.responder = lambda body: Reply(hang=True)
    with pytest.raises(AgentRejectedError) as info:
        await ask(server, req(stall_ms=50))
    assert str(info.value) == "agent stalled on all 6 attempts (no progress for 50ms each)"
    assert info.value.attempts == 6
    assert len(server.posts) == 6
    assert server.wait_idle(2)
    assert server.hangups == 6


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (Reply(raw=b'{"type": "message", "content": [tru'), "the API sent no message"),
        (
            Reply(raw=b"event: message_start\ndata: {oops\n\n", raw_type="text/event-stream"),
            "the response broke off or was malformed: JSONDecodeError",
        ),
        (Reply(drop_after=3), "the response broke off or was malformed: RemoteProtocolError"),
        (Reply(cut_after=4), "the response ended before the message was complete"),
        (
            Reply(stream_error="overloaded_error"),
            "the response broke off: overloaded_error: scripted stream error",
        ),
    ],
    ids=["json-body", "sse-json", "dropped", "cut-short", "stream-error"],
)
async def test_malformed_or_broken_response_is_retried(server, broken, reason):
    server.enqueue(broken, Reply(text="intact"))
    logs: list[str] = []
    result = await ask(server, req(label="b", log=logs.append))
    assert result.value == "intact"
    assert result.attempts == 2
    [line] = logs
    assert line.startswith(f'[retry] agent "b": {reason}')
    assert line.endswith("— retrying (1/5)")


async def test_malformed_every_time_resolves_null(server):
    server.responder = lambda body: Reply(raw=b"<html>bad gateway</html>", raw_type="text/html")
    async with make_worker(server) as worker:
        outcome = await run_script("return await agent('hi', { label: 'gw' })", worker)
    assert outcome.result is None
    assert outcome.failures[-1] == (
        "[gw] failed: the API sent no message (content type text/html, expected a stream) "
        "(gave up after 6 attempts)"
    )
    assert outcome.agents[0].attempts == 6
    assert len(server.posts) == 6


async def test_non_retryable_stream_error_is_terminal(server):
    server.enqueue(Reply(stream_error="invalid_request_error"))
    with pytest.raises(WorkerError) as info:
        await ask(server, req())
    assert str(info.value) == "invalid_request_error: scripted stream error"
    assert len(server.posts) == 1


# -- through the engine: usage, concurrency, cancellation ------------------------------------


async def test_usage_totals_are_exact(server):
    usage = {
        "a": (100, 10, 0, 0),
        "b": (200, 20, 1000, 0),
        "c": (300, 30, 0, 5000),
    }

    def responder(body: dict[str, Any]) -> Reply:
        prompt = text_of_last_user_turn(body)
        if body.get("tools"):
            ok = "Output does not match" in prompt
            return Reply(tool_input={"cause": "x"} if ok else {}, usage=(7, 1, 0, 0))
        return Reply(text=prompt.upper(), usage=usage[prompt])

    server.responder = responder
    body = """
    const [a, b] = await parallel([() => agent('a', { model: 'haiku' }), () => agent('b')])
    const c = await agent('c', { model: 'haiku' })
    const d = await agent('d', { schema: { type: 'object', required: ['cause'] } })
    return { a, b, c, d, spent: budget.spent() }
    """
    async with make_worker(server) as worker:
        outcome = await run_script(body, worker)
    assert outcome.status == "completed", outcome.error
    assert outcome.result == {"a": "A", "b": "B", "c": "C", "d": {"cause": "x"}, "spent": 62}
    assert outcome.tokens_in == 614
    assert outcome.tokens_out == 62
    assert outcome.usage == Usage(614, 62, 1000, 5000)
    assert tokens_by_model(outcome) == {
        "claude-haiku-5-5": (400, 40),
        "claude-sonnet-5-5": (214, 22),
    }
    assert [a.usage for a in outcome.agents] == [
        Usage(100, 10),
        Usage(200, 20, 1000, 0),
        Usage(300, 30, 0, 5000),
        Usage(14, 2),
    ]


async def test_failed_agents_tokens_count_against_the_budget(server):
    server.responder = lambda body: Reply(tool_input={}, usage=(10, 100, 0, 0))
    body = """
    const r = await parallel([() => agent('x', { schema: { type: 'object', required: ['a'] } })])
    return [r, budget.spent()]
    """
    async with make_worker(server) as worker:
        outcome = await run_script(body, worker)
    assert outcome.result == [[None], 500]
    [rec] = outcome.agents
    assert rec.status == "failed"
    assert rec.usage == Usage(50, 500)
    assert rec.model_used == "claude-sonnet-5-5"


async def test_64_agents_at_concurrency_16_never_exceed_16_requests(server):
    seen = 0

    def responder(body: dict[str, Any]) -> Reply:
        nonlocal seen
        seen += 1
        # The first wave is held until all of it has arrived, so that the peak of 16 is
        # reached on any machine; the rest keep a request busy for a moment each.
        return Reply(gather=16) if seen <= 16 else Reply(delay=0.02)

    server.responder = responder
    body = "return await parallel(Array.from({ length: 64 }, (_, i) => () => agent('task ' + i)))"
    # All 16 must be in flight at once: no prompt-cache stagger holding same-prefix agents.
    async with make_worker(server, stagger=0) as worker:
        outcome = await run_script(body, worker, concurrency=16)
    assert outcome.status == "completed", outcome.error
    assert outcome.result == [f"echo: task {i}" for i in range(64)]
    assert len(server.posts) == 64
    assert server.peak == 16
    assert outcome.peak_concurrency == 16


async def test_stopping_the_run_closes_every_request_in_flight(server):
    server.responder = lambda body: Reply(hang=True)
    body = "await parallel([1, 2, 3, 4].map((i) => () => agent('wait ' + i)))"
    script = parse_script(script_source(body), path="flow.js")
    async with make_worker(server, stagger=0) as worker:  # all four in flight at once
        engine = Engine(script, worker=worker)
        async with trio.open_nursery() as nursery:

            async def stop_when_all_wait() -> None:
                while server.in_flight < 4:
                    await trio.sleep(0.01)
                engine.stop()

            nursery.start_soon(stop_when_all_wait)
            with trio.fail_after(10):
                outcome = await engine.run()
    assert outcome.status == "stopped"
    assert outcome.count("cancelled") == 4
    assert await trio.to_thread.run_sync(server.wait_idle, 2)
    assert server.hangups == 4


# -- the command line ------------------------------------------------------------------------

META = "export const meta = { name: 'live', description: 'a run on the API' }\n"


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "flow.js"
    path.write_text(META + body + "\n", encoding="utf-8")
    return str(path)


def invoke(args: list[str], env: dict[str, str]) -> Any:
    result = CliRunner().invoke(cli, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_cli_uses_the_anthropic_worker_when_a_key_is_set(server, tmp_path):
    server.enqueue(
        Reply(text="from the API", usage=(12, 3, 0, 0)),
        Reply(text="and again", usage=(10, 5, 0, 700)),
    )
    body = "return [await agent('hello', { model: 'haiku' }), await agent('again')].join(' ')"
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.url}
    result = invoke(["run", write(tmp_path, body), "--yes"], env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "from the API and again\n"
    assert f"anthropic worker (default model claude-sonnet-5-5, {server.url})" in result.stderr
    assert "tokens 22 in (+ 700 cache read) / 8 out" in result.stderr
    assert (
        "tokens by model: claude-haiku-5-5 12 in / 3 out, claude-sonnet-5-5 10 in / 5 out"
        in result.stderr
    )
    assert "sim worker" not in result.stderr


def test_cli_base_url_option_wins_over_the_environment(server, tmp_path):
    path = write(tmp_path, "return await agent('hello')")
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    result = invoke(["run", path, "--yes", "--base-url", server.url, "--json"], env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["result"] == "echo: hello"
    assert summary["tokens"] == {"input": 10, "output": 5, "cache_write": 0, "cache_read": 0}
    assert summary["tokens_by_model"] == {"claude-sonnet-5-5": {"input": 10, "output": 5}}


def test_cli_without_a_key_uses_sim_and_says_so(tmp_path):
    path = write(tmp_path, "return await agent('hello')")
    result = invoke(["run", path, "--yes", "--sim-latency", "0"], {})
    assert result.exit_code == 0
    note = "jshost: using the offline sim worker (no API key configured; its agents run no tools)"
    assert note in result.stderr
    explicit = invoke(["run", path, "--yes", "--sim-latency", "0", "--worker", "sim"], {})
    assert "offline sim worker" not in explicit.stderr


def test_cli_anthropic_worker_without_a_key_is_a_usage_error(tmp_path):
    path = write(tmp_path, "return await agent('hello')")
    result = invoke(["run", path, "--yes", "--worker", "anthropic"], {"ANTHROPIC_API_KEY": ""})
    assert result.exit_code == 2
    assert result.stderr == "jshost: no API key: set ANTHROPIC_API_KEY or use --worker sim\n"
    assert result.stdout == ""


def test_cli_unknown_model_is_a_usage_error(tmp_path):
    path = write(tmp_path, "return await agent('hello')")
    result = invoke(["run", path, "--yes", "--model", "sonet"], {"ANTHROPIC_API_KEY": KEY})
    assert result.exit_code == 2
    assert result.stderr.startswith("jshost: --model: unknown model 'sonet' (known: ")


def test_the_key_is_never_printed_or_stored(server, tmp_path):
    server.responder = lambda body: Reply(status=401, error_type="authentication_error")
    path = write(tmp_path, "return await agent('hello', { label: 'auth' })")
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.url}
    for extra in ([], ["--json"]):
        result = invoke(["run", path, "--yes", *extra], env)
        assert result.exit_code == 0
        assert KEY not in result.stdout and KEY not in result.stderr
    assert "[auth] failed: 401 authentication_error" in result.stdout
    home = Path(os.environ["JSHOST_HOME"])
    stored = [p for p in home.rglob("*") if p.is_file()]
    assert stored  # the run store was written …
    for p in stored:  # … and holds no trace of the key
        assert KEY.encode() not in p.read_bytes(), p


def test_ctrl_c_mid_request_leaves_no_request_running(server, tmp_path):
    server.responder = lambda body: Reply(hang=True)
    path = write(tmp_path, "return await parallel([1, 2, 3].map((i) => () => agent('wait ' + i)))")
    env = dict(os.environ, ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=server.url)
    env["CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS"] = "0"  # all three in flight at once
    proc = subprocess.Popen(
        [sys.executable, "-m", "jshost", "run", path, "--yes"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.wait_in_flight(3, timeout=30), "the requests never arrived"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert server.wait_idle(2)
    assert server.hangups == 3
    assert "3 cancelled" in err
    assert "Traceback" not in err and KEY not in err


def test_importing_the_sdk_is_left_to_the_anthropic_worker(tmp_path):
    path = write(tmp_path, "return await agent('hello')")
    code = f"""
import sys
from jshost.cli import main
for argv in (
    ["--help"],
    ["run", "--help"],
    ["run", {path!r}, "--yes", "--sim-latency", "0"],
    ["runs"],
    ["list"],
):
    sys.argv = ["jshost", *argv]
    try:
        main()
    except SystemExit:
        pass
print("IMPORTED" if "anthropic" in sys.modules else "LAZY", file=sys.stderr)
"""
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.stderr.strip().endswith("LAZY"), proc.stderr


def test_store_keeps_the_model_used_and_cache_tokens(server, tmp_path):
    from jshost.store import Store

    server.enqueue(Reply(text="cached", usage=(5, 2, 300, 4000)))
    path = write(tmp_path, "return await agent('hello', { model: 'opus' })")
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.url}
    result = invoke(["run", path, "--yes", "--json"], env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    run_id = summary["run_id"]
    assert summary["tokens"] == {"input": 5, "output": 2, "cache_write": 300, "cache_read": 4000}
    with Store() as store:
        [agent] = store.agents(run_id)
    assert (agent.model, agent.model_used) == ("opus", "claude-opus-5-5")
    assert (agent.tokens_in, agent.tokens_out, agent.cache_write, agent.cache_read) == (
        5,
        2,
        300,
        4000,
    )
    shown = invoke(["inspect", run_id, "--agent", "1"], env).stdout
    assert "model opus (claude-opus-5-5)" in shown
    assert "tokens 5 in (+ 4,000 cache read, 300 cache write) / 2 out" in shown
    stored = json.loads(invoke(["inspect", run_id, "--json"], env).stdout)
    assert stored["tokens"] == summary["tokens"]
    assert stored["agents"][0]["model_used"] == "claude-opus-5-5"


async def test_text_cut_off_at_max_tokens_is_returned_and_logged(server):
    server.enqueue(Reply(text="The first half of a long", stop_reason="max_tokens"))
    logs: list[str] = []
    result = await ask(server, req(log=logs.append), config=Config(max_tokens=64))
    assert result.value == "The first half of a long"
    assert server.posts[0]["max_tokens"] == 64
    assert logs == ["[lbl] the reply was cut off at max_tokens (64; see docs/anthropic-worker.md)"]


async def test_cut_off_or_misnamed_tool_calls_count_as_failed_calls(server):
    server.enqueue(
        Reply(tool_input={"cause": 1}, stop_reason="max_tokens"),
        Reply(tool_input={"command": "ls"}, tool_name="Bash"),
        Reply(tool_input={"cause": "ok"}),
    )
    result = await ask(server, req(schema=CAUSE))
    assert result.value == {"cause": "ok"}
    assert text_of_last_user_turn(server.posts[1]) == (
        "Output does not match required schema: $.cause: 1 is not of type 'string' "
        "(the output was cut off at max_tokens: make it shorter)"
    )
    assert text_of_last_user_turn(server.posts[2]) == (
        "there is no tool named 'Bash'; call StructuredOutput"
    )


async def test_script_sees_schema_errors_and_stall_lines_in_the_run_log(server):
    server.enqueue(Reply(hang=True), Reply(text="late"))
    body = """
    let message
    try { await agent('x', { schema: { type: 'nope' } }) } catch (e) { message = e.message }
    const text = await agent('y', { label: 'slow', stallMs: 300 })
    return { message, text }
    """
    async with make_worker(server) as worker:
        outcome = await run_script(body, worker)
    assert outcome.result["text"] == "late"
    assert outcome.result["message"].startswith("agent({schema}) received an invalid JSON Schema")
    assert len(server.posts) == 2  # the bad schema cost no request
    assert outcome.logs == [
        '[stall] agent "slow" stalled (no progress) after 0.3s — retrying (1/5)'
    ]
    assert outcome.agents[0].attempts == 2


async def test_live_views_see_tokens_after_each_request(server):
    from jshost import events as ev

    server.enqueue(
        Reply(tool_input={}, usage=(10, 2, 0, 0)),
        Reply(tool_input={"cause": "x"}, usage=(30, 4, 0, 0)),
    )
    seen: list[Usage] = []

    def sink(event: Any) -> None:
        if isinstance(event, ev.AgentProgress):
            seen.append(event.agent.usage)

    script = parse_script(
        script_source("return await agent('x', { schema: " + json.dumps(CAUSE) + " })")
    )
    async with make_worker(server) as worker:
        outcome = await Engine(script, worker=worker, sink=sink).run()
    assert outcome.result == {"cause": "x"}
    assert seen == [Usage(10, 2), Usage(40, 6)]
