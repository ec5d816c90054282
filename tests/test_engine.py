"""Tests for jshost.engine and runtime.js: the primitives a workflow script sees, and the engine's
contract (caps, FIFO scheduling, budget, timers, deadlock, child workflows, timeout and stop).

Every exact message comes from reference/claude-code-workflows.md §3–§4: scripts written for
Claude Code catch and match these texts, so they are asserted word for word.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trio
from conftest import arun, run, script_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jshost import events as ev
from jshost.engine import AgentRecord, Engine, Limits, RunOutcome, default_label
from jshost.script import parse_script
from jshost.workers.base import AgentRequest, AgentResult, Usage, Worker
from jshost.workers.sim import SimWorker

CAP_MESSAGE = (
    "Workflow agent() call cap reached ({n}). This usually means a loop using "
    "budget.remaining() never terminates because no token budget was set — remaining() "
    "returns Infinity when budget.total is null. Add a hard iteration cap to the loop, or "
    "pass a token budget."
)
BUDGET_MESSAGE = (
    "Workflow token budget exceeded ({spent} / {total} output tokens). Stopping further "
    "agent() calls. In-flight agents will complete; their results are preserved."
)
MAX_ITEMS_MESSAGE = (
    "array length 4097 exceeds the maximum of 4096 supported across the workflow VM boundary"
)


def ok(outcome: RunOutcome) -> Any:
    """The result of a run that must have completed; shows the error when it did not."""
    assert outcome.status == "completed", (outcome.status, outcome.error)
    return outcome.result


def failed(outcome: RunOutcome) -> Any:
    """The error of a run that must have failed."""
    assert outcome.status == "failed", (outcome.status, outcome.result)
    assert outcome.error is not None
    return outcome.error


def by_label(outcome: RunOutcome, label: str) -> AgentRecord:
    found = [a for a in outcome.agents if a.label == label]
    assert len(found) == 1, [a.label for a in outcome.agents]
    return found[0]


class CountingWorker(Worker):
    """Wraps a worker and measures how many ``run()`` calls overlap, independently of the engine."""

    name = "counting"

    def __init__(self, inner: Worker) -> None:
        self.inner = inner
        self.active = 0
        self.peak = 0
        self.calls = 0

    async def run(self, request: AgentRequest) -> AgentResult:
        self.calls += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            return await self.inner.run(request)
        finally:
            self.active -= 1


class ExplodingWorker(Worker):
    """A buggy worker: raises a plain Python exception for prompts containing 'boom'."""

    name = "exploding"

    async def run(self, request: AgentRequest) -> AgentResult:
        await trio.lowlevel.checkpoint()
        if "boom" in request.prompt:
            raise RuntimeError("kaboom")
        return AgentResult(value="fine:" + request.prompt, usage=Usage(1, 2))


# -- agent() ---------------------------------------------------------------------------------


def test_agent_resolves_to_sim_text():
    outcome = run("return await agent('hello world')")
    result = ok(outcome)
    assert isinstance(result, str)
    assert result.startswith("[sim sim] hello world (#")
    [rec] = outcome.agents
    assert rec.status == "done"
    assert rec.result == result
    assert rec.index == 1
    assert rec.usage.output_tokens > 0
    assert outcome.tokens_out == rec.usage.output_tokens
    assert outcome.tokens_in == rec.usage.input_tokens > 0


def test_agent_with_schema_resolves_to_validating_object():
    """The schema result must be a JSON object that the caller's schema accepts."""
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "n": {"type": "integer", "minimum": 1, "maximum": 9},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "kind": {"enum": ["bug", "feature"]},
            "nested": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            },
        },
        "required": ["title", "n", "tags", "kind", "nested"],
        "additionalProperties": False,
    }
    outcome = run(
        f"""
        const r = await agent('classify this', {{ schema: {json.dumps(schema)} }})
        return {{ r, type: typeof r, isArray: Array.isArray(r) }}
        """
    )
    result = ok(outcome)
    assert result["type"] == "object" and result["isArray"] is False
    jsonschema.validate(result["r"], schema)
    assert outcome.agents[0].schema == schema


def test_default_label_is_first_60_chars_whitespace_collapsed():
    prompt = "  Scan   the\n\tlogs of " + "x" * 100
    outcome = run(f"return await agent({json.dumps(prompt)})")
    ok(outcome)
    expected = ("Scan the logs of " + "x" * 100)[:60]
    assert outcome.agents[0].label == expected
    assert default_label(prompt) == expected
    assert len(expected) == 60


def test_label_phase_model_are_recorded():
    outcome = run(
        """
        await agent('a', { label: 'Alpha', phase: 'Scan', model: 'haiku' })
        return await agent('b', { model: 'opus' })
        """
    )
    result = ok(outcome)
    a, b = outcome.agents
    assert (a.label, a.phase, a.model) == ("Alpha", "Scan", "haiku")
    assert (b.label, b.phase, b.model) == ("b", None, "opus")
    assert result.startswith("[sim opus] b")


def test_phase_sets_phase_of_later_agents_and_opts_phase_overrides():
    outcome = run(
        """
        await agent('before')
        phase('One')
        await agent('in one')
        await agent('explicit', { phase: 'Other' })
        phase('Two')
        await agent('in two')
        return 1
        """
    )
    ok(outcome)
    phases = {a.label: a.phase for a in outcome.agents}
    assert phases == {"before": None, "in one": "One", "explicit": "Other", "in two": "Two"}


def test_meta_phases_listed_first_then_undeclared_titles():
    meta = (
        "export const meta = { name: 'p', description: 'd', "
        "phases: [{ title: 'Scan' }, { title: 'Analyze', detail: 'x' }] }\n"
    )
    outcome = run(
        """
        phase('Extra')
        await agent('a')
        await agent('b', { phase: 'Side' })
        phase('Analyze')
        await agent('c')
        return 1
        """,
        meta=meta,
    )
    ok(outcome)
    assert outcome.phases == ["Scan", "Analyze", "Extra", "Side"]


@pytest.mark.parametrize("prompt", ["42", "null", "undefined", "{ text: 'x' }", "['a']"])
def test_non_string_prompt_is_a_type_error(prompt):
    outcome = run(f"return await agent({prompt}).catch(e => [e.name, e.message])")
    name, _message = ok(outcome)
    assert name == "TypeError"
    assert outcome.agents == []


def test_non_string_prompt_uncaught_fails_run_with_type_error():
    error = failed(run("\nawait agent(42)"))
    assert error.name == "TypeError"
    assert error.line == 2


def test_invalid_schema_rejects():
    outcome = run(
        "return await agent('x', { schema: { type: 'nope' } }).catch(e => [e.name, e.message])"
    )
    _name, message = ok(outcome)
    assert message.startswith("agent({schema}) received an invalid JSON Schema: ")
    assert outcome.count("done") == 0


def test_unsatisfiable_schema_rejects_before_starting():
    outcome = run(
        """
        const schema = { type: 'object', properties: {}, required: ['x'],
                         additionalProperties: false }
        return await agent('x', { schema }).catch(e => e.message)
        """
    )
    message = ok(outcome)
    assert message.startswith("agent({schema}) received an unusable JSON Schema — ")
    assert message.endswith("The subagent was not started — fix the schema and call agent() again.")
    assert "'x'" in message or '"x"' in message or " x " in message
    # "not started": no agent ran for it.
    assert outcome.count("done") == 0 and outcome.count("running") == 0


def test_unusable_schema_message_states_the_problem_once():
    """The explanation and the detail are two parts; the same clause must not be printed twice."""
    outcome = run(
        """
        const schema = { type: 'object', properties: { a: { type: 'string', minLength: 5,
                         maxLength: 2 } }, required: ['a'] }
        return await agent('x', { schema }).catch(e => e.message)
        """
    )
    message = ok(outcome)
    assert message.startswith("agent({schema}) received an unusable JSON Schema — ")
    assert message.count("minLength 5 is greater than maxLength 2") == 1, message


def test_isolation_remote_rejects():
    outcome = run("return await agent('x', { isolation: 'remote' }).catch(e => e.message)")
    assert ok(outcome) == "agent({isolation:'remote'}) is not available in this build"
    assert outcome.agents == []


def test_unknown_options_are_ignored():
    outcome = run("return await agent('x', { colour: 'red', effort: 'high', stallMs: 5 })")
    assert ok(outcome).startswith("[sim sim] x")


def test_failing_agent_resolves_to_null_with_failure_line():
    outcome = run("return await agent('[[sim:fail]] x', { label: 'Fixer' })")
    assert ok(outcome) is None
    assert outcome.failures == ["[Fixer] failed: sim: injected failure"]
    assert outcome.agents[0].status == "failed"
    assert outcome.count("failed") == 1


def test_failing_agent_default_label_in_failure_line():
    outcome = run("return await agent('[[sim:fail]] check the thing')")
    assert ok(outcome) is None
    assert outcome.failures == ["[[[sim:fail]] check the thing] failed: sim: injected failure"]


def test_throwing_agent_rejects_and_caught_value_is_available():
    outcome = run("return await agent('[[sim:throw=bad]] x').catch(e => e.message)")
    assert ok(outcome) == "bad"


def test_throwing_agent_uncaught_fails_the_run():
    error = failed(run("const r = await agent('[[sim:throw=bad]] x')\nreturn r"))
    assert error.message == "bad"


# -- total agent cap -------------------------------------------------------------------------


def test_total_cap_1000_with_1200_calls():
    """A runaway loop gets exactly 1000 agents; every later call rejects with the reference text."""
    outcome = run(
        """
        const ps = []
        for (let i = 0; i < 1200; i++) {
          ps.push(agent('p' + i).catch(e => ({ name: e.name, message: e.message })))
        }
        return await Promise.all(ps)
        """,
        worker=SimWorker(latency=0),
        concurrency=256,
    )
    result = ok(outcome)
    assert len(result) == 1200
    assert all(isinstance(r, str) for r in result[:1000])
    rejections = result[1000:]
    assert len(rejections) == 200
    assert all(
        r == {"name": "WorkflowAgentCapError", "message": CAP_MESSAGE.format(n=1000)}
        for r in rejections
    )
    assert len(outcome.agents) == 1000
    assert outcome.count("done") == 1000


def test_cap_message_names_the_configured_cap():
    outcome = run(
        """
        const out = []
        for (let i = 0; i < 6; i++) out.push(await agent('p' + i).catch(e => e.message))
        return out
        """,
        max_agents=5,
    )
    result = ok(outcome)
    assert result[5] == CAP_MESSAGE.format(n=5)
    assert len(outcome.agents) == 5


def test_cap_uncaught_fails_run_with_cap_error_name():
    error = failed(run("for (let i = 0; i < 3; i++) await agent('p' + i)", max_agents=2))
    assert error.name == "WorkflowAgentCapError"
    assert error.message == CAP_MESSAGE.format(n=2)


def test_parallel_entry_rejects_when_cap_reached():
    outcome = run(
        """
        await agent('a'); await agent('b')
        try {
          await parallel([() => 1])
          return 'no error'
        } catch (e) { return [e.name, e.message] }
        """,
        max_agents=2,
    )
    assert ok(outcome) == ["WorkflowAgentCapError", CAP_MESSAGE.format(n=2)]


def test_pipeline_entry_rejects_when_cap_reached():
    outcome = run(
        """
        await agent('a')
        return await pipeline([1], x => x).catch(e => e.name)
        """,
        max_agents=1,
    )
    assert ok(outcome) == "WorkflowAgentCapError"


# -- concurrency -----------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 16, 64])
def test_peak_concurrency_equals_cap(cap):
    worker = CountingWorker(SimWorker(latency=0.02))
    outcome = run(
        """
        const n = args.n
        return await parallel(Array.from({ length: n }, (_, i) => () => agent('p' + i)))
        """,
        worker=worker,
        args={"n": 3 * cap},
        concurrency=cap,
    )
    result = ok(outcome)
    assert len(result) == 3 * cap
    assert outcome.peak_concurrency == cap
    assert worker.peak == cap
    assert worker.calls == 3 * cap
    assert outcome.count("done") == 3 * cap


def test_fifo_order_with_concurrency_one():
    outcome = run(
        """
        const ps = []
        for (let i = 0; i < 8; i++) ps.push(agent('p' + i, { label: 'L' + i }))
        return await Promise.all(ps)
        """,
        worker=SimWorker(latency=0.005),
        concurrency=1,
    )
    ok(outcome)
    agents = sorted(outcome.agents, key=lambda a: a.index)
    assert [a.label for a in agents] == [f"L{i}" for i in range(8)]
    starts = [a.started_at for a in agents]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    # One at a time: each starts after the previous one finished.
    for prev, nxt in itertools.pairwise(agents):
        assert nxt.started_at >= prev.finished_at


def test_fifo_first_wave_is_the_first_calls():
    """With a cap of 3 and 9 queued calls, the first three calls get the first three slots."""
    outcome = run(
        """
        return await parallel(Array.from({ length: 9 }, (_, i) => () => agent('p' + i)))
        """,
        worker=SimWorker(latency=0.03),
        concurrency=3,
    )
    ok(outcome)
    first_finish = min(a.finished_at for a in outcome.agents)
    first_wave = sorted(a.index for a in outcome.agents if a.started_at < first_finish)
    assert first_wave == [1, 2, 3]


class _OrderWorker(Worker):
    """Finishes at once; notes how many agents the engine had queued when each one started."""

    name = "order"

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.queued_at_start: dict[int, int] = {}

    async def run(self, request: AgentRequest) -> AgentResult:
        queued = sum(isinstance(e, ev.AgentQueued) for e in self.events)
        self.queued_at_start[request.index] = queued
        await trio.lowlevel.checkpoint()
        return AgentResult(value="ok", usage=Usage(1, 1))


FAN_OUT_300 = """
const calls = []
for (let i = 0; i < 300; i++) calls.push(agent('p' + i))
return (await Promise.all(calls)).length
"""


def test_worker_starts_when_its_agent_gets_a_slot_not_after_the_whole_step():
    """One step emits 300 agent() calls: the first agents' workers start while the engine is
    still taking in the rest of them, not once all 300 are queued."""
    events: list[Any] = []
    worker = _OrderWorker(events)
    outcome = run(FAN_OUT_300, worker=worker, sink=events.append, concurrency=4)
    assert ok(outcome) == 300
    assert worker.queued_at_start[1] < 300
    assert all(worker.queued_at_start[i] < 300 for i in (1, 2, 3, 4))


def test_agents_finish_while_a_long_step_is_still_being_taken_in():
    """Finished agents are seen (and their slots reused, in call order) during a long step."""
    events: list[Any] = []
    outcome = run(FAN_OUT_300, worker=_OrderWorker(events), sink=events.append, concurrency=1)
    assert ok(outcome) == 300
    last_queued = next(
        i for i, e in enumerate(events) if isinstance(e, ev.AgentQueued) and e.agent.index == 300
    )
    finished_before = [
        e.agent.index for e in events[:last_queued] if isinstance(e, ev.AgentFinished)
    ]
    assert finished_before, "no agent finished before the step's last call was queued"
    assert finished_before == list(range(1, len(finished_before) + 1))
    starts = sorted(outcome.agents, key=lambda a: a.started_at)
    assert [a.index for a in starts] == list(range(1, 301))


# -- parallel() ------------------------------------------------------------------------------


def test_parallel_results_in_input_order_when_later_finish_first():
    outcome = run(
        """
        return await parallel([
          () => agent('[[sim:latency=0.15]] slow', { label: 'slow' }),
          () => agent('[[sim:latency=0.05]] medium', { label: 'medium' }),
          () => agent('fast', { label: 'fast' }),
        ])
        """
    )
    result = ok(outcome)
    assert "slow" in result[0] and "medium" in result[1] and "fast" in result[2]
    slow, medium, fast = (by_label(outcome, n) for n in ("slow", "medium", "fast"))
    assert fast.finished_at < medium.finished_at < slow.finished_at


def test_parallel_failing_slots_become_null_with_failure_lines():
    outcome = run(
        """
        return await parallel([
          () => agent('[[sim:fail]] f', { label: 'F' }),
          () => { throw new Error('sync boom') },
          () => Promise.reject(new Error('async boom')),
          () => 42,
          () => agent('fine'),
          () => agent('[[sim:throw=rejected]] t'),
          async () => { throw new TypeError('async fn boom') },
          () => ({ plain: 'value' }),
        ])
        """
    )
    result = ok(outcome)
    assert result[0] is None
    assert result[1] is None
    assert result[2] is None
    assert result[3] == 42
    assert result[4].startswith("[sim sim] fine")
    assert result[5] is None
    assert result[6] is None
    assert result[7] == {"plain": "value"}
    assert sorted(outcome.failures) == sorted(
        [
            "[F] failed: sim: injected failure",
            "parallel[1] failed: sync boom",
            "parallel[2] failed: async boom",
            "parallel[5] failed: rejected",
            "parallel[6] failed: async fn boom",
        ]
    )
    # The reference: a rejected slot's failure line is also a log line.
    assert "parallel[1] failed: sync boom" in outcome.logs


def test_parallel_rejects_non_array():
    outcome = run(
        """
        const out = []
        for (const bad of [undefined, 'abc', 5, { length: 1, 0: () => 1 }]) {
          out.push(await parallel(bad).then(() => 'resolved', e => [e.name, e.message]))
        }
        return out
        """
    )
    assert ok(outcome) == [["TypeError", "parallel() expects an array of functions"]] * 4


def test_parallel_rejects_promises_in_array():
    outcome = run(
        """
        const p = agent('x')
        const r = await parallel([() => 1, p]).catch(e => [e.name, e.message])
        await p
        return r
        """
    )
    assert ok(outcome) == [
        "TypeError",
        "parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)",
    ]


def test_parallel_rejects_more_than_4096_items():
    outcome = run(
        """
        const thunks = Array.from({ length: 4097 }, () => () => 1)
        return await parallel(thunks).catch(e => e.message)
        """
    )
    assert ok(outcome) == MAX_ITEMS_MESSAGE
    assert outcome.agents == []


def test_parallel_accepts_exactly_4096_items():
    outcome = run("return (await parallel(Array.from({ length: 4096 }, (_, i) => () => i))).length")
    assert ok(outcome) == 4096


def test_parallel_empty_array():
    assert ok(run("return await parallel([])")) == []


def test_parallel_never_rejects_for_slot_failures():
    outcome = run(
        """
        let rejected = false
        const r = await parallel([() => { throw new Error('x') }, () => agent('[[sim:throw]] y')])
          .catch(() => { rejected = true })
        return { rejected, r }
        """
    )
    assert ok(outcome) == {"rejected": False, "r": [None, None]}


# -- pipeline() ------------------------------------------------------------------------------


def test_pipeline_has_no_barrier_between_stages():
    """Item 1 reaches stage 2 while item 0 is still in its (slow) stage 1."""
    outcome = run(
        """
        return await pipeline([0, 1],
          x => agent((x === 0 ? '[[sim:latency=0.3]] ' : '') + 's1 item ' + x,
                     { label: 's1-' + x }),
          (prev, x) => agent('s2 item ' + x, { label: 's2-' + x }),
        )
        """
    )
    result = ok(outcome)
    assert "s2 item 0" in result[0] and "s2 item 1" in result[1]
    s1_0 = by_label(outcome, "s1-0")
    s2_1 = by_label(outcome, "s2-1")
    s2_0 = by_label(outcome, "s2-0")
    assert s2_1.started_at < s1_0.finished_at
    assert s2_1.index < s2_0.index


def test_pipeline_stage_arguments():
    outcome = run(
        """
        return await pipeline(['x', 'y'],
          (a, b, c) => ({ a, b, c }),
          (prev, item, index) => [prev, item, index],
        )
        """
    )
    assert ok(outcome) == [
        [{"a": "x", "b": "x", "c": 0}, "x", 0],
        [{"a": "y", "b": "y", "c": 1}, "y", 1],
    ]


def test_pipeline_null_skips_remaining_stages():
    outcome = run(
        """
        const seen = []
        const r = await pipeline([1, 2, 3],
          x => (x === 2 ? null : x * 10),
          x => { seen.push(x); return x + 1 },
        )
        return { r, seen }
        """
    )
    result = ok(outcome)
    assert result["r"] == [11, None, 31]
    assert sorted(result["seen"]) == [10, 30]
    assert outcome.failures == []


def test_pipeline_failed_agent_null_skips_later_stages():
    outcome = run(
        """
        return await pipeline(['a', 'b'],
          x => agent((x === 'a' ? '[[sim:fail]] ' : '') + 'stage one ' + x, { label: 'one-' + x }),
          prev => agent('stage two', { label: 'two' }),
        )
        """
    )
    result = ok(outcome)
    assert result[0] is None
    assert result[1].startswith("[sim sim] stage two")
    assert [a.label for a in outcome.agents].count("two") == 1
    assert outcome.failures == ["[one-a] failed: sim: injected failure"]


def test_pipeline_throwing_stage_gives_null_and_failure_line():
    outcome = run(
        """
        return await pipeline([1, 2, 3],
          x => { if (x === 2) throw new Error('stage broke'); return x },
          async x => { if (x === 3) throw new Error('async stage broke'); return x * 2 },
          x => agent('[[sim:throw=agent broke]] ' + x).catch(e => { throw e }),
        )
        """
    )
    result = ok(outcome)
    assert result == [None, None, None]
    assert sorted(outcome.failures) == [
        "pipeline[0] failed: agent broke",
        "pipeline[1] failed: stage broke",
        "pipeline[2] failed: async stage broke",
    ]


def test_pipeline_rejects_non_array_items():
    outcome = run("return await pipeline('abc', x => x).catch(e => [e.name, e.message])")
    assert ok(outcome) == ["TypeError", "pipeline() expects an array as the first argument"]


def test_pipeline_rejects_non_function_stage():
    outcome = run("return await pipeline([1], x => x, 'nope').catch(e => [e.name, e.message])")
    assert ok(outcome) == [
        "TypeError",
        "pipeline() stages must be functions: pipeline(items, item => ..., result => ...)",
    ]


def test_pipeline_rejects_more_than_4096_items():
    outcome = run(
        "return await pipeline(Array.from({ length: 4097 }, (_, i) => i), x => x)"
        ".catch(e => e.message)"
    )
    assert ok(outcome) == MAX_ITEMS_MESSAGE


def test_pipeline_empty_and_no_stages():
    assert ok(run("return [await pipeline([], x => x), await pipeline([1, 'a'])]")) == [
        [],
        [1, "a"],
    ]


def test_pipeline_results_in_item_order():
    outcome = run(
        """
        const lat = [0.12, 0.06, 0]
        return await pipeline([0, 1, 2],
          x => agent('[[sim:latency=' + lat[x] + ']] item ' + x),
          (prev, x) => 'done ' + x,
        )
        """
    )
    assert ok(outcome) == ["done 0", "done 1", "done 2"]


# -- budget ----------------------------------------------------------------------------------


def test_budget_exceeded_rejects_new_agent_calls():
    outcome = run(
        """
        const out = []
        for (let i = 0; i < 6; i++) {
          try {
            await agent('[[sim:tokens=100]] a' + i)
            out.push(budget.spent())
          } catch (e) {
            out.push([e.name, e.message])
            break
          }
        }
        return out
        """,
        budget=250,
    )
    result = ok(outcome)
    assert result == [
        100,
        200,
        300,
        ["WorkflowBudgetExceededError", BUDGET_MESSAGE.format(spent=300, total=250)],
    ]
    assert len(outcome.agents) == 3
    assert outcome.tokens_out == 300


def test_budget_in_flight_agents_complete_and_keep_results():
    outcome = run(
        """
        const a = agent('[[sim:tokens=100]] a')
        const b = agent('[[sim:tokens=100]] [[sim:latency=0.15]] b')
        await a
        const err = await agent('c').then(() => 'no error', e => e.message)
        return { b: await b, err, spent: budget.spent() }
        """,
        budget=100,
    )
    result = ok(outcome)
    assert result["err"] == BUDGET_MESSAGE.format(spent=100, total=100)
    assert result["b"].startswith("[sim sim] [[sim:tokens=100]] [[sim:latency=0.15]] b")
    assert result["spent"] == 200
    assert [a.status for a in outcome.agents] == ["done", "done"]
    assert outcome.agents[1].result == result["b"]


def test_budget_uncaught_fails_run_with_budget_error_name():
    error = failed(run("await agent('[[sim:tokens=50]] a')\nawait agent('b')", budget=50))
    assert error.name == "WorkflowBudgetExceededError"
    assert error.message == BUDGET_MESSAGE.format(spent=50, total=50)


def test_budget_object_reports_during_run():
    outcome = run(
        """
        const before = [budget.total, budget.spent(), budget.remaining()]
        await agent('[[sim:tokens=100]] a')
        const mid = [budget.total, budget.spent(), budget.remaining()]
        await agent('[[sim:tokens=950]] b')
        const after = [budget.total, budget.spent(), budget.remaining()]
        return { before, mid, after }
        """,
        budget=1000,
    )
    assert ok(outcome) == {
        "before": [1000, 0, 1000],
        "mid": [1000, 100, 900],
        "after": [1000, 1050, 0],
    }


def test_budget_without_total():
    outcome = run(
        """
        await agent('[[sim:tokens=70]] a')
        return [budget.total, budget.spent(), budget.remaining() === Infinity]
        """
    )
    assert ok(outcome) == [None, 70, True]


def test_budget_checked_when_agent_gets_its_slot_in_parallel():
    """Queued slots dropped by the budget are null, with one summary line and no slot lines.

    Every agent spends the whole budget, so whichever gets the single slot first runs and the
    two queued behind it are skipped when their turn comes (the order is FIFO's business and
    is tested on its own above).
    """
    outcome = run(
        """
        return await parallel([
          () => agent('[[sim:tokens=100]] first', { label: 'first' }),
          () => agent('[[sim:tokens=100]] second', { label: 'second' }),
          () => agent('[[sim:tokens=100]] third', { label: 'third' }),
          () => 'plain',
        ])
        """,
        budget=100,
        concurrency=1,
    )
    result = ok(outcome)
    assert result[3] == "plain"
    texts = [r for r in result[:3] if r is not None]
    assert len(texts) == 1 and texts[0].startswith("[sim sim] [[sim:tokens=100]] ")
    assert outcome.failures == ["parallel: 2 slot(s) dropped — token budget exceeded"]
    assert not any(f.startswith("parallel[") for f in outcome.failures)
    assert outcome.count("done") == 1
    assert outcome.count("skipped") == 2
    assert outcome.tokens_out == 100


def test_budget_entry_check_of_parallel():
    outcome = run(
        """
        await agent('[[sim:tokens=10]] a')
        return await parallel([() => agent('b')]).catch(e => [e.name, e.message])
        """,
        budget=10,
    )
    assert ok(outcome) == [
        "WorkflowBudgetExceededError",
        BUDGET_MESSAGE.format(spent=10, total=10),
    ]


# -- log() and console -----------------------------------------------------------------------


def test_log_and_console_lines():
    outcome = run(
        """
        log('a', { b: 1 }, 2)
        log([1, 'x'], null, undefined, true)
        console.log('plain log')
        console.info('plain info')
        console.debug('plain debug')
        console.warn('careful', 1)
        console.error('broken', { c: [2] })
        return 1
        """
    )
    ok(outcome)
    assert outcome.logs == [
        'a {"b":1} 2',
        '[1,"x"] null undefined true',
        "plain log",
        "plain info",
        "plain debug",
        "[warn] careful 1",
        '[error] broken {"c":[2]}',
    ]


def test_sink_receives_phase_log_and_agent_events():
    events: list[Any] = []
    outcome = run(
        """
        phase('Scan')
        log('hi')
        await agent('x')
        return 1
        """,
        sink=events.append,
    )
    ok(outcome)
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.RunStarted
    assert kinds[-1] is ev.RunFinished
    assert ev.PhaseStarted("Scan") in events
    assert ev.LogLine("hi") in events
    order = [k for k in kinds if k in (ev.AgentQueued, ev.AgentStarted, ev.AgentFinished)]
    assert order == [ev.AgentQueued, ev.AgentStarted, ev.AgentFinished]
    assert kinds.index(ev.PhaseStarted) < kinds.index(ev.AgentQueued)
    assert events[-1].outcome is outcome


# -- timers ----------------------------------------------------------------------------------


def test_set_timeout_sleeps():
    t0 = time.monotonic()
    outcome = run("await new Promise(r => setTimeout(r, 50)); return 'woke'")
    assert ok(outcome) == "woke"
    assert time.monotonic() - t0 >= 0.05
    assert outcome.elapsed >= 0.05


def test_set_timeout_passes_extra_arguments():
    outcome = run("return await new Promise(r => setTimeout((a, b) => r([a, b]), 1, 'x', 2))")
    assert ok(outcome) == ["x", 2]


def test_set_timeout_fires_in_delay_order():
    outcome = run(
        """
        const seen = []
        await new Promise(r => {
          setTimeout(() => seen.push('late'), 40)
          setTimeout(() => seen.push('early'), 5)
          setTimeout(() => { seen.push('last'); r() }, 80)
        })
        return seen
        """
    )
    assert ok(outcome) == ["early", "late", "last"]


def test_clear_timeout_cancels_callback():
    outcome = run(
        """
        let hit = false
        const id = setTimeout(() => { hit = true; log('fired') }, 10)
        clearTimeout(id)
        await new Promise(r => setTimeout(r, 60))
        return hit
        """
    )
    assert ok(outcome) is False
    assert "fired" not in outcome.logs


def test_waiting_only_on_cleared_timer_is_a_deadlock():
    t0 = time.monotonic()
    error = failed(
        run("await new Promise(r => { const id = setTimeout(r, 10); clearTimeout(id) })")
    )
    assert error.name == "DeadlockError"
    assert time.monotonic() - t0 < 2


def test_throwing_timer_callback_is_logged_not_fatal():
    outcome = run(
        """
        setTimeout(() => { throw new Error('tick failed') }, 1)
        await new Promise(r => setTimeout(r, 30))
        return 'survived'
        """
    )
    assert ok(outcome) == "survived"
    assert any("tick failed" in line for line in outcome.logs)


# -- deadlock --------------------------------------------------------------------------------


def test_never_settling_promise_is_a_deadlock():
    t0 = time.monotonic()
    error = failed(run("await new Promise(() => {})\nreturn 1"))
    assert error.name == "DeadlockError"
    assert time.monotonic() - t0 < 2


def test_deadlock_after_agents_finish():
    outcome = run("await agent('a')\nawait new Promise(() => {})")
    assert failed(outcome).name == "DeadlockError"
    assert outcome.agents[0].status == "done"


def test_timer_settled_promise_is_not_a_deadlock():
    outcome = run(
        """
        let resolve
        const p = new Promise(r => { resolve = r })
        setTimeout(() => resolve('late value'), 30)
        return await p
        """
    )
    assert ok(outcome) == "late value"


# -- args ------------------------------------------------------------------------------------


def test_args_undefined_without_args():
    assert ok(run("return typeof args")) == "undefined"


@pytest.mark.parametrize(
    "value",
    [
        {"servers": ["a", "b"], "n": 3, "deep": {"x": [1, {"y": None}], "flag": True}},
        ["list", 1, 2.5, None, False],
        "a string",
        '{"json": "in a string stays a string"}',
        0,
        -17.25,
        False,
        {"unicode": 'héllo ✓ 🎉 中文 \u2028 \\ "quoted" </script>'},
        {"": {"empty key": []}},
    ],
)
def test_args_arrive_as_the_same_structure(value):
    outcome = run("return { type: typeof args, args }", args=value)
    result = ok(outcome)
    assert result["args"] == value
    expected_type = {dict: "object", list: "object", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )
    assert result["type"] == expected_type


def test_args_mutation_inside_script_does_not_leak():
    value = {"list": [1, 2], "obj": {"k": "v"}}
    outcome = run(
        """
        args.list.push(3)
        args.obj.k = 'changed'
        args.added = true
        return args
        """,
        args=value,
    )
    assert ok(outcome) == {"list": [1, 2, 3], "obj": {"k": "changed"}, "added": True}
    assert value == {"list": [1, 2], "obj": {"k": "v"}}


# -- result ----------------------------------------------------------------------------------


def test_object_result_round_trips():
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": {"d": "é✓"}}, "e": [], "f": {}}
    assert ok(run(f"return {json.dumps(value)}")) == value


def test_return_undefined_is_none():
    assert ok(run("return undefined")) is None
    assert ok(run("const x = 1")) is None


def test_return_function_fails():
    error = failed(run("return () => 1"))
    assert error.message == "workflow result cannot be a function"
    assert error.name == "TypeError"


@pytest.mark.parametrize(
    "expr", ["10n", "{ big: 10n }", "(() => { const o = {}; o.o = o; return o })()"]
)
def test_non_json_result_fails_with_type_error(expr):
    error = failed(run(f"return {expr}"))
    assert error.name == "TypeError"
    assert "JSON" in error.message


def test_five_megabyte_string_result_round_trips():
    outcome = run("return 'ab'.repeat(5 * 1024 * 1024 / 2) + 'é'")
    result = ok(outcome)
    assert len(result) == 5 * 1024 * 1024 + 1
    assert result.startswith("abab") and result.endswith("bé")


def test_uncaught_error_has_location():
    error = failed(run("const x = 1\n\nnull.foo"))
    assert error.name == "TypeError"
    assert (error.line, error.column) == (4, 1)
    assert error.path == "test.js"


# -- un-awaited agents -----------------------------------------------------------------------


def test_unawaited_failing_agent_is_reported():
    """A rejection nobody awaited must not vanish: the run completes but a failure names it."""
    outcome = run(
        """
        agent('[[sim:throw=lost]] x')
        await agent('[[sim:latency=0.05]] keep going')
        return 1
        """
    )
    assert ok(outcome) == 1
    assert any("lost" in f for f in outcome.failures), outcome.failures


def test_unawaited_failing_agent_when_script_returns_at_once():
    """The brief's exact shape: the script returns before the agent has even settled."""
    outcome = run("agent('[[sim:throw=lost]] x'); return 1")
    assert ok(outcome) == 1
    assert any("lost" in f for f in outcome.failures), (outcome.failures, outcome.agents)


def test_agents_in_flight_at_return_are_cancelled():
    outcome = run(
        """
        agent('[[sim:hang]] forever', { label: 'hang' })
        await agent('quick', { label: 'quick' })
        return 'returned'
        """
    )
    assert ok(outcome) == "returned"
    assert by_label(outcome, "hang").status == "cancelled"
    assert by_label(outcome, "quick").status == "done"
    assert outcome.count("cancelled") == 1


# -- workflow() ------------------------------------------------------------------------------

CHILD = """export const meta = { name: 'kid', description: 'a child workflow' }
phase('ignored in child')
log('hello', args.n)
console.warn('careful')
const out = []
for (let i = 0; i < args.n; i++) out.push(await agent('child item ' + i, { label: 'c' + i }))
return { n: args.n, out }
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


@pytest.mark.anyio
async def test_workflow_script_path_runs_child(tmp_path):
    child = write(tmp_path, "child.js", CHILD)
    parent = tmp_path / "parent.js"
    outcome = await arun(
        f"""
        phase('Parent')
        const first = await workflow({{ scriptPath: {json.dumps(child)} }}, {{ n: 2 }})
        const second = await workflow({{ scriptPath: {json.dumps(child)} }}, {{ n: 1 }})
        await agent('after', {{ label: 'after' }})
        return {{ first, second }}
        """,
        path=str(parent),
    )
    result = ok(outcome)
    assert result["first"]["n"] == 2 and len(result["first"]["out"]) == 2
    assert result["second"]["n"] == 1
    assert result["first"]["out"][0].startswith("[sim sim] child item 0")
    phases = [a.phase for a in outcome.agents]
    assert phases == ["▸ kid", "▸ kid", "▸ kid #2", "Parent"]
    # phase() in the child is a no-op: neither the phase list nor the parent's phase change.
    assert "ignored in child" not in outcome.phases
    assert outcome.phases == ["Parent", "▸ kid", "▸ kid #2"]
    assert "[kid] hello 2" in outcome.logs
    assert "[kid] [warn] careful" in outcome.logs
    assert "[kid] hello 1" in outcome.logs


@pytest.mark.anyio
async def test_workflow_relative_script_path_is_beside_parent(tmp_path):
    write(tmp_path, "child.js", CHILD)
    outcome = await arun(
        "return await workflow({ scriptPath: 'child.js' }, { n: 1 })",
        path=str(tmp_path / "parent.js"),
    )
    assert ok(outcome)["n"] == 1


@pytest.mark.anyio
async def test_workflow_child_shares_agent_cap(tmp_path):
    child = write(
        tmp_path,
        "capped.js",
        """export const meta = { name: 'capped', description: 'd' }
const out = []
for (let i = 0; i < 5; i++) out.push(await agent('c' + i).catch(e => e.name))
return out
""",
    )
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(child)} }})",
        path=str(tmp_path / "parent.js"),
        max_agents=3,
    )
    result = ok(outcome)
    assert len(result) == 5
    assert all(isinstance(r, str) and r.startswith("[sim sim]") for r in result[:3])
    assert result[3:] == ["WorkflowAgentCapError", "WorkflowAgentCapError"]
    assert len(outcome.agents) == 3


@pytest.mark.anyio
async def test_workflow_child_shares_budget(tmp_path):
    child = write(
        tmp_path,
        "spender.js",
        """export const meta = { name: 'spender', description: 'd' }
return [budget.total, budget.spent(), await agent('c').catch(e => e.name)]
""",
    )
    outcome = await arun(
        f"""
        await agent('[[sim:tokens=40]] parent')
        return await workflow({{ scriptPath: {json.dumps(child)} }})
        """,
        path=str(tmp_path / "parent.js"),
        budget=40,
    )
    assert ok(outcome) == [40, 40, "WorkflowBudgetExceededError"]


@pytest.mark.anyio
async def test_workflow_child_may_declare_log_and_args(tmp_path):
    child = write(
        tmp_path,
        "shadow.js",
        """export const meta = { name: 'shadow', description: 'd' }
const log = 1
const args = { mine: true }
const phase = 'p'
return [log, args, phase]
""",
    )
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(child)} }}, {{ theirs: 1 }})",
        path=str(tmp_path / "parent.js"),
    )
    assert ok(outcome) == [1, {"mine": True}, "p"]


@pytest.mark.anyio
async def test_workflow_nested_call_rejects(tmp_path):
    child = write(
        tmp_path,
        "nester.js",
        """export const meta = { name: 'nester', description: 'd' }
return await workflow('anything').catch(e => e.message)
""",
    )
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(child)} }})",
        path=str(tmp_path / "parent.js"),
    )
    assert ok(outcome) == (
        "workflow() cannot be called from within a child workflow — nesting is limited to one "
        "level. Inline the inner script or call its agents directly."
    )


@pytest.mark.anyio
async def test_workflow_child_failure_rejects_parent_await(tmp_path):
    child = write(
        tmp_path,
        "broken.js",
        """export const meta = { name: 'broken', description: 'd' }
throw new RangeError('child broke')
""",
    )
    outcome = await arun(
        f"""
        return await workflow({{ scriptPath: {json.dumps(child)} }})
          .catch(e => [e.name, e.message])
        """,
        path=str(tmp_path / "parent.js"),
    )
    assert ok(outcome) == ["RangeError", "child broke"]
    assert any("child broke" in f for f in outcome.failures)


@pytest.mark.anyio
async def test_workflow_missing_path_rejects(tmp_path):
    missing = str(tmp_path / "nope" / "missing.js")
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(missing)} }}).catch(e => e.message)",
        path=str(tmp_path / "parent.js"),
    )
    message = ok(outcome)
    assert message.startswith("workflow({scriptPath: '")
    assert "missing.js" in message


@pytest.mark.anyio
async def test_workflow_child_with_bad_meta_rejects(tmp_path):
    child = write(tmp_path, "badmeta.js", "export const meta = { name: 'x' }\nreturn 1\n")
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(child)} }}).catch(e => e.message)",
        path=str(tmp_path / "parent.js"),
    )
    message = ok(outcome)
    assert message.startswith("workflow({scriptPath: '")
    assert "meta.description must be a non-empty string" in message


@pytest.mark.anyio
async def test_workflow_uncaught_child_error_points_into_child_file(tmp_path):
    child = write(
        tmp_path,
        "faulty.js",
        "export const meta = { name: 'faulty', description: 'd' }\nconst a = 1\nnull.x\n",
    )
    outcome = await arun(
        f"await agent('first')\nreturn await workflow({{ scriptPath: {json.dumps(child)} }})",
        path=str(tmp_path / "parent.js"),
    )
    error = failed(outcome)
    assert error.name == "TypeError"
    assert error.path == child
    assert (error.line, error.column) == (3, 1)
    assert outcome.failures == ["▸ faulty: TypeError: " + error.message]
    assert outcome.agents[0].status == "done"


@pytest.mark.anyio
async def test_workflow_child_without_args_sees_undefined(tmp_path):
    child = write(
        tmp_path,
        "noargs.js",
        "export const meta = { name: 'noargs', description: 'd' }\nreturn typeof args\n",
    )
    outcome = await arun(
        f"return await workflow({{ scriptPath: {json.dumps(child)} }})",
        path=str(tmp_path / "parent.js"),
        args={"parent": True},
    )
    assert ok(outcome) == "undefined"


def test_workflow_unknown_name_rejects():
    outcome = run("return await workflow('nope').catch(e => e.message)")
    assert ok(outcome) == "workflow('nope'): no workflow with that name. Available: (none)"


@pytest.mark.parametrize("arg", ["42", "undefined", "{}", "{ scriptPath: 5 }", "null"])
def test_workflow_bad_argument_is_type_error(arg):
    outcome = run(f"return await workflow({arg}).catch(e => [e.name, e.message])")
    assert ok(outcome) == [
        "TypeError",
        "workflow() expects a workflow name (string) or {scriptPath: string}",
    ]


@pytest.mark.anyio
async def test_workflow_by_name_through_resolver(tmp_path):
    """With a resolver (the saved-workflow library), workflow('name') runs that file."""
    child = write(tmp_path, "child.js", CHILD)
    script = parse_script(
        script_source("return await workflow('kid', { n: 1 })"), path=str(tmp_path / "p.js")
    )
    engine = Engine(
        script,
        worker=SimWorker(latency=0.001),
        resolve_workflow=lambda name: Path(child) if name == "kid" else None,
        workflow_names=lambda: ["kid"],
    )
    outcome = await engine.run()
    assert ok(outcome)["n"] == 1
    assert outcome.agents[0].phase == "▸ kid"


# -- timeout and stop ------------------------------------------------------------------------


def test_timeout_with_hanging_agent():
    t0 = time.monotonic()
    outcome = run("await agent('[[sim:hang]] h', { label: 'hang' })\nreturn 1", timeout=0.3)
    error = failed(outcome)
    assert error.name == "TimeoutError"
    assert time.monotonic() - t0 < 3
    assert outcome.agents[0].status == "cancelled"


@pytest.mark.anyio
async def test_stop_keeps_finished_agents_and_cancels_in_flight():
    hanging = 0
    both_running = trio.Event()

    def sink(event: Any) -> None:
        nonlocal hanging
        if isinstance(event, ev.AgentStarted) and "hang" in event.agent.prompt:
            hanging += 1
            if hanging == 2:
                both_running.set()

    script = parse_script(
        script_source(
            """
            await agent('first', { label: 'first' })
            await parallel([
              () => agent('[[sim:hang]] one', { label: 'h1' }),
              () => agent('[[sim:hang]] two', { label: 'h2' }),
            ])
            return 'not reached'
            """
        ),
        path="stop.js",
    )
    engine = Engine(script, worker=SimWorker(latency=0.001), limits=Limits(), sink=sink)
    box: dict[str, RunOutcome] = {}

    async def go() -> None:
        box["outcome"] = await engine.run()

    t0 = time.monotonic()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(go)
        with trio.fail_after(5):
            await both_running.wait()
        engine.stop()
    outcome = box["outcome"]
    assert outcome.status == "stopped"
    assert outcome.result is None
    assert outcome.error is None
    assert by_label(outcome, "first").status == "done"
    assert by_label(outcome, "first").result.startswith("[sim sim] first")
    assert by_label(outcome, "h1").status == "cancelled"
    assert by_label(outcome, "h2").status == "cancelled"
    assert time.monotonic() - t0 < 5


@pytest.mark.anyio
async def test_stop_before_run_starts():
    script = parse_script(script_source("await agent('x')\nreturn 1"), path="s.js")
    engine = Engine(script, worker=SimWorker(latency=0.001))
    engine.stop()
    outcome = await engine.run()
    assert outcome.status == "stopped"
    assert outcome.count("done") == 0


# -- worker errors ---------------------------------------------------------------------------


def test_worker_unexpected_exception_gives_null_and_failure_line():
    outcome = run(
        """
        const a = await agent('boom please', { label: 'B' })
        const b = await agent('ok please')
        return [a, b]
        """,
        worker=ExplodingWorker(),
    )
    assert ok(outcome) == [None, "fine:ok please"]
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith("[B] failed: ")
    assert "kaboom" in outcome.failures[0]
    assert by_label(outcome, "B").status == "failed"


# -- property tests --------------------------------------------------------------------------

PROMPTS = st.lists(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    max_size=30,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=PROMPTS, concurrency=st.integers(1, 8))
def test_parallel_shapes_property(items, concurrency):
    outcome = run(
        "return await parallel(args.map((p, i) => () => agent('p #' + i + ' ' + p)))",
        args=items,
        worker=SimWorker(latency=0.002, jitter=1.0),
        concurrency=concurrency,
    )
    result = ok(outcome)
    assert len(result) == len(items)
    assert len(outcome.agents) == len(items)
    assert outcome.peak_concurrency <= concurrency
    for i, text in enumerate(result):
        assert text.startswith(f"[sim sim] p #{i} ")
        assert outcome.agents[i].result == text


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=PROMPTS, stages=st.integers(1, 3), concurrency=st.integers(1, 8))
def test_pipeline_shapes_property(items, stages, concurrency):
    outcome = run(
        """
        const stages = []
        for (let k = 0; k < args.k; k++) {
          stages.push((prev, item, i) => agent('s' + k + ' #' + i + ' ' + prev))
        }
        return await pipeline(args.items, ...stages)
        """,
        args={"items": items, "k": stages},
        worker=SimWorker(latency=0.002, jitter=1.0),
        concurrency=concurrency,
    )
    result = ok(outcome)
    assert len(result) == len(items)
    assert len(outcome.agents) == stages * len(items)
    for i, text in enumerate(result):
        assert text.startswith(f"[sim sim] s{stages - 1} #{i} ")


def test_meta_is_not_a_name_the_body_sees():
    """As in the reference runtime, the body runs without `meta`, and may declare its own."""
    assert ok(run("return typeof meta")) == "undefined"
    assert ok(run("const meta = { mine: true }; return meta")) == {"mine": True}


def test_meta_spanning_lines_keeps_line_numbers():
    outcome = run(
        "null.x",
        meta="export const meta = {\n  name: 'a',\n  description: 'b',\n}\n",
    )
    assert outcome.error is not None and outcome.error.line == 5


@pytest.mark.parametrize(
    ("ms", "seconds"),
    [(50, 0.05), (0, 0.001), (-5, 0.001), (1e12, 0.001), (2**31 - 1, (2**31 - 1) / 1000),
     (float("nan"), 0.001)],
)  # fmt: skip
def test_timer_delays_follow_nodes_rule(ms, seconds):
    from jshost.engine.timers import timer_delay

    assert timer_delay(ms) == pytest.approx(seconds)


def test_a_timer_too_long_for_node_fires_at_once_instead_of_parking_the_run():
    outcome = run("await new Promise(r => setTimeout(r, 1e12)); return 'woke'")
    assert outcome.status == "completed" and outcome.result == "woke"
