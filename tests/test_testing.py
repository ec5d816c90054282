"""jshost.testing.check_worker: passes a worker that keeps the contract, names each broken rule."""

from __future__ import annotations

import pytest
import trio

from jshost.testing import WorkerCheckError, acheck_worker, check_worker
from jshost.workers import AgentRequest, AgentResult, Usage, Worker
from jshost.workers.base import report_usage
from jshost.workers.sim import SimWorker


def test_the_sim_worker_keeps_the_contract():
    report = check_worker(lambda: SimWorker(latency=0.01), slow_prompt="[[sim:hang]]")
    assert report.concurrent == 4
    assert report.schema_checked
    assert report.usage_reports >= 1
    assert report.cancel_seconds < 1.0


def test_it_runs_inside_trio_too():
    report = trio.run(
        lambda: acheck_worker(lambda: SimWorker(latency=0.01), slow_prompt="[[sim:hang]]")
    )
    assert report.concurrent == 4


class Careless(Worker):
    """Breaks every rule check_worker checks, each behind a switch."""

    name = "careless"

    def __init__(
        self,
        *,
        usage: bool = True,
        shield: float = 0.0,
        close_twice: bool = True,
        schema_value: object = None,
        text: bool = True,
    ) -> None:
        self.usage, self.shield, self.close_twice = usage, shield, close_twice
        self.schema_value, self.text = schema_value, text
        self.closed = False

    async def run(self, request: AgentRequest) -> AgentResult:
        if self.usage:
            report_usage(Usage(input_tokens=1))
        if "slow" in request.prompt:
            if self.shield:
                with trio.CancelScope(shield=True):
                    await trio.sleep(self.shield)
            await trio.sleep_forever()
        if request.schema is not None:
            value = self.schema_value if self.schema_value is not None else {"answer": "a"}
            return AgentResult(value, usage=Usage(1, 1))
        return AgentResult("hi" if self.text else 42, usage=Usage(1, 1))

    async def aclose(self) -> None:
        if self.closed and not self.close_twice:
            raise RuntimeError("already closed")
        self.closed = True


def test_a_worker_that_keeps_the_rules_passes():
    check_worker(lambda: Careless(), slow_prompt="slow")


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({"usage": False}, "run() never called report_usage()"),
        ({"shield": 1.5}, "to return after cancellation (at most 1.0 s)"),
        ({"close_twice": False}, "the second aclose() raised RuntimeError: already closed"),
        ({"schema_value": {"n": 1}}, "a schema answer does not validate: 'answer' is a required"),
        ({"text": False}, "run #0: a text request's value is int, not str"),
    ],
)
def test_each_broken_rule_is_named(kw, problem):
    with pytest.raises(WorkerCheckError) as caught:
        check_worker(lambda: Careless(**kw), slow_prompt="slow")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("worker 'careless' breaks the contract:\n- ")


def test_a_slow_prompt_that_is_not_slow_is_reported_not_passed():
    with pytest.raises(WorkerCheckError, match="cancellation was not tried: pass a slow_prompt"):
        check_worker(lambda: SimWorker(latency=0.01))


def test_make_must_build_a_worker():
    with pytest.raises(WorkerCheckError, match="make\\(\\) returned str, not a jshost Worker"):
        check_worker(lambda: "nope")  # type: ignore[arg-type, return-value]
