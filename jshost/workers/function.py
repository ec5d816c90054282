"""A worker made of a Python function: ``worker_from(fn)``.

The function answers one ``AgentRequest`` with a ``str``, a JSON value (a ``dict``, a list, …)
or an ``AgentResult``. The host does the rest around it, so a function stays a few lines:

- **threads**: a plain function runs on a worker thread (it may block); an ``async def`` runs in
  the engine's trio run (it must use trio or anyio, not asyncio);
- **schemas**: with ``agent({schema})`` the answer (a JSON value, or a string of JSON) is
  validated off the run loop; an invalid one is asked for again, up to the reference's
  StructuredOutput cap (``MAX_STRUCTURED_OUTPUT_RETRIES``, else 5), and past it ``agent()``
  rejects with the reference's message;
- **usage**: an answer without its own ``Usage`` is charged an estimate (4 characters a token);
- **failures**: ``WorkerError`` and ``AgentRejectedError`` mean what they mean for any worker;
  any other exception fails the agent (``agent()`` resolves to null, a failure line is recorded);
- **cancellation**: a stop or a skip cancels an ``async def`` at its next await; a plain function's
  thread is abandoned (its answer, when it comes, is dropped).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, final

import trio

from ..errors import WorkerError
from ..settings import structured_output_retries
from .base import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker

__all__ = ["FunctionWorker", "worker_from"]

#: what one invalid answer's problems are cut to, in the rejection message
_MAX_PROBLEMS = 5


def _estimate(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


@final
class FunctionWorker(Worker):
    """A :class:`Worker` around ``fn(request)``; see :func:`worker_from`.

    Args:
        fn: the function, plain or ``async def``.
        name (str | None): the worker's name in summaries; the function's name by default.
        structured_output_cap (int | None): tries for a schema answer; the reference's when None.
    """

    name = "function"

    def __init__(
        self,
        fn: Callable[[AgentRequest], Any],
        *,
        name: str | None = None,
        structured_output_cap: int | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"worker_from() needs a function, not {type(fn).__name__}")
        self.fn = fn
        self.label = name or getattr(fn, "__name__", "function")
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
        )
        self.cap = structured_output_cap or structured_output_retries()

    def describe(self) -> str:
        return f"function worker ({self.label})"

    async def _call(self, request: AgentRequest) -> Any:
        try:
            if self.is_async:
                return await self.fn(request)
            return await trio.to_thread.run_sync(self.fn, request, abandon_on_cancel=True)
        except WorkerError:
            raise
        except Exception as exc:
            raise WorkerError(f"{self.label} raised {type(exc).__name__}: {exc}") from exc

    async def run(self, request: AgentRequest) -> AgentResult:
        from ..schemas import structured_output_cap_message

        model = request.model or self.label
        spent = Usage()
        problems: list[str] = []
        tries = self.cap if request.schema is not None else 1
        for attempt in range(1, tries + 1):
            problems = []
            answer = await self._call(request)
            result = answer if isinstance(answer, AgentResult) else None
            value = result.value if result is not None else answer
            if request.schema is None:
                if not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False, default=str)
            elif isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    value, problems = None, [f"$: not JSON: {exc}"]
            if result is not None and result.usage != Usage():
                usage = result.usage
            else:
                out = value if isinstance(value, str) else json.dumps(value, default=str)
                usage = Usage(_estimate(request.prompt), _estimate(out))
            spent = spent + usage
            if request.schema is not None and not problems:
                problems = await trio.to_thread.run_sync(_problems, request.schema, value)
            if request.schema is None or not problems:
                return AgentResult(
                    value=value,
                    usage=spent,
                    model=(result.model if result is not None and result.model else model),
                    attempts=attempt,
                )
            if request.log is not None:
                request.log(f"[{request.label}] invalid answer ({problems[0]}); asking again")
        error = AgentRejectedError(structured_output_cap_message("; ".join(problems), self.cap))
        error.usage, error.model, error.attempts = spent, model, tries
        raise error


def _problems(schema: dict[str, Any] | bool, value: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: e.json_path)
    found = [f"${e.json_path[1:]}: {e.message}" for e in errors]
    if len(found) > _MAX_PROBLEMS:
        found = [*found[:_MAX_PROBLEMS], f"… and {len(found) - _MAX_PROBLEMS} more"]
    return found


def worker_from(fn: Callable[[AgentRequest], Any] | Worker, *, name: str | None = None) -> Worker:
    """A worker that answers every ``agent()`` call with ``fn(request)``.

    ``fn`` returns a ``str`` (a text answer), a JSON value (a schema answer; a ``str`` of JSON
    is parsed) or an ``AgentResult`` (to report its own usage and model). It may be an
    ``async def`` (run in the engine's trio run) or a plain function (run on a thread).
    Schema validation, the retry on an invalid answer, a usage estimate and cancellation are
    handled around it; see this module's docstring. A ``Worker`` is returned as it is.

    Example::

        def answer(request: jshost.AgentRequest) -> str:
            return request.prompt.upper()

        jshost.run(workflow, worker=jshost.worker_from(answer))
    """
    if isinstance(fn, Worker):
        return fn
    return FunctionWorker(fn, name=name)
