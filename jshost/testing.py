"""Checks for people who write workers: run the worker contract against your own worker.

::

    from jshost.testing import check_worker

    def test_my_worker_keeps_the_contract():
        check_worker(lambda: MyWorker(...), slow_prompt="write a long essay")

:func:`check_worker` builds a worker with ``make()`` and checks what the engine relies on:
several ``run`` calls at once, each answering; a running agent cancelled within a second (and
the worker still usable after); ``report_usage`` called while an agent runs, never above the
final count; a schema answer that validates (for a worker with ``supports_schema``); and an
``aclose`` that can be called twice. It raises :class:`WorkerCheckError` naming every broken
rule, in the way ``trio.testing.check_one_way_stream`` checks a stream.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, final

import trio
from jsonschema import Draft202012Validator

from .workers.base import AgentRequest, AgentResult, Usage, Worker, progress_callback

__all__ = ["WorkerCheck", "WorkerCheckError", "acheck_worker", "check_worker"]

#: a schema any worker that supports schemas can answer
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


class WorkerCheckError(AssertionError):
    """The worker broke the contract; the message lists every rule it broke."""


@final
@dataclass
class WorkerCheck:
    """What :func:`check_worker` measured on a worker that passed.

    Args:
        concurrent (int): ``run`` calls made at once, all answered.
        concurrent_seconds (float): how long they took together.
        cancel_seconds (float): from cancelling a running agent to ``run`` returning.
        usage_reports (int): ``report_usage`` calls seen during one agent.
        schema_checked (bool): whether a schema answer was asked for and validated.
    """

    concurrent: int = 0
    concurrent_seconds: float = 0.0
    cancel_seconds: float = math.nan
    usage_reports: int = 0
    schema_checked: bool = False
    problems: list[str] = field(default_factory=list, repr=False)


def _request(index: int, prompt: str, schema: Any = None) -> AgentRequest:
    return AgentRequest(index=index, prompt=prompt, label=f"check-{index}", schema=schema)


def _result_problem(what: str, result: Any, *, text: bool) -> str | None:
    if not isinstance(result, AgentResult):
        return f"{what}: run() returned {type(result).__name__}, not an AgentResult"
    if not isinstance(result.usage, Usage):
        return f"{what}: AgentResult.usage is {type(result.usage).__name__}, not a Usage"
    if text and not isinstance(result.value, str):
        return f"{what}: a text request's value is {type(result.value).__name__}, not str"
    return None


async def acheck_worker(
    make: Callable[[], Worker | Awaitable[Worker]],
    *,
    prompt: str = "Say hello.",
    slow_prompt: str | None = None,
    concurrent: int = 4,
    cancel_after: float = 0.2,
    cancel_within: float = 1.0,
    timeout: float = 60.0,
) -> WorkerCheck:
    """:func:`check_worker` for callers already inside ``trio.run``."""
    check = WorkerCheck()
    problems = check.problems
    worker = make()
    if inspect.isawaitable(worker):
        worker = await worker  # an async factory
    if not isinstance(worker, Worker):
        raise WorkerCheckError(f"make() returned {type(worker).__name__}, not a jshost Worker")
    if not isinstance(worker.describe(), str):
        problems.append("describe() must return a str")

    with trio.move_on_after(timeout) as deadline:
        # 1. several agents at once
        results: list[Any] = [None] * concurrent
        errors: list[str] = []

        async def one(i: int) -> None:
            try:
                results[i] = await worker.run(_request(i, f"{prompt} (#{i})"))
            except Exception as exc:
                errors.append(f"concurrent run #{i} raised {type(exc).__name__}: {exc}")

        start = time.monotonic()
        async with trio.open_nursery() as nursery:
            for i in range(concurrent):
                nursery.start_soon(one, i)
        check.concurrent_seconds = time.monotonic() - start
        problems += errors
        for i, result in enumerate(results):
            if result is not None and (p := _result_problem(f"run #{i}", result, text=True)):
                problems.append(p)
        if not errors:
            check.concurrent = concurrent

        # 2. report_usage while an agent runs
        reports: list[Any] = []

        async def reported() -> Any:
            token = progress_callback.set(reports.append)
            try:
                return await worker.run(_request(concurrent, prompt))
            finally:
                progress_callback.reset(token)

        try:
            result = await reported()
        except Exception as exc:
            problems.append(f"run raised {type(exc).__name__}: {exc}")
        else:
            check.usage_reports = len(reports)
            if not reports:
                problems.append("run() never called report_usage(); live token counts stay at 0")
            elif not all(isinstance(u, Usage) for u in reports):
                problems.append("report_usage() was given something other than a Usage")
            elif isinstance(result, AgentResult) and isinstance(result.usage, Usage):
                last, final = reports[-1], result.usage
                if (
                    last.input_tokens + last.output_tokens
                    > final.input_tokens + final.output_tokens
                ):
                    problems.append(f"report_usage() reported {last}, more than the final {final}")

        # 3. a schema answer
        if worker.supports_schema:
            check.schema_checked = True
            try:
                result = await worker.run(
                    _request(concurrent + 1, f"{prompt} Answer in JSON.", CHECK_SCHEMA)
                )
            except Exception as exc:
                problems.append(f"a schema request raised {type(exc).__name__}: {exc}")
            else:
                if p := _result_problem("schema run", result, text=False):
                    problems.append(p)
                else:
                    error = next(Draft202012Validator(CHECK_SCHEMA).iter_errors(result.value), None)
                    if error is not None:
                        problems.append(f"a schema answer does not validate: {error.message}")

        # 4. cancellation within a second, and still usable afterwards
        finished: list[Any] = []
        slow = _request(concurrent + 2, slow_prompt or prompt)
        cancelled_at = math.nan
        with trio.CancelScope() as scope:

            async def slow_run() -> None:
                finished.append(await worker.run(slow))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(slow_run)
                await trio.sleep(cancel_after)
                cancelled_at = time.monotonic()
                scope.cancel()
        if finished:
            problems.append(
                f"the slow agent finished within {cancel_after} s, so cancellation was not "
                "tried: pass a slow_prompt your worker takes longer over"
            )
        else:
            check.cancel_seconds = time.monotonic() - cancelled_at
            if check.cancel_seconds > cancel_within:
                problems.append(
                    f"run() took {check.cancel_seconds:.2f} s to return after cancellation "
                    f"(at most {cancel_within} s)"
                )
            try:
                result = await worker.run(_request(concurrent + 3, prompt))
            except Exception as exc:
                problems.append(f"after a cancellation, run raised {type(exc).__name__}: {exc}")
            else:
                if p := _result_problem("run after cancellation", result, text=True):
                    problems.append(p)

    if deadline.cancelled_caught:
        problems.append(f"the checks took longer than {timeout} s")

    # 5. aclose, twice
    for attempt in ("first", "second"):
        try:
            await worker.aclose()
        except Exception as exc:
            problems.append(f"the {attempt} aclose() raised {type(exc).__name__}: {exc}")

    if problems:
        name = getattr(worker, "name", type(worker).__name__)
        raise WorkerCheckError(
            f"worker {name!r} breaks the contract:\n" + "\n".join(f"- {p}" for p in problems)
        )
    return check


def check_worker(
    make: Callable[[], Worker | Awaitable[Worker]],
    *,
    prompt: str = "Say hello.",
    slow_prompt: str | None = None,
    concurrent: int = 4,
    cancel_after: float = 0.2,
    cancel_within: float = 1.0,
    timeout: float = 60.0,
) -> WorkerCheck:
    """Run the worker contract on the worker ``make()`` builds; raise if it breaks it.

    Args:
        make: builds the worker (called once, inside ``trio.run``, so it may open clients).
        prompt: a prompt the worker answers quickly.
        slow_prompt: a prompt it takes longer than ``cancel_after`` over, to cancel mid-run.
        concurrent: ``run`` calls made at once.
        cancel_after: seconds the slow agent runs before it is cancelled.
        cancel_within: seconds ``run`` may take to return once cancelled.
        timeout: for all the checks together.

    Returns:
        WorkerCheck: what was measured.

    Raises:
        WorkerCheckError: every rule the worker broke.
    """
    return trio.run(
        lambda: acheck_worker(
            make,
            prompt=prompt,
            slow_prompt=slow_prompt,
            concurrent=concurrent,
            cancel_after=cancel_after,
            cancel_within=cancel_within,
            timeout=timeout,
        )
    )
