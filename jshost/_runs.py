"""The public runs on top of the pipeline: ``run``, ``arun``, ``start``, ``resume``.

Each opens its run through ``_api.prepare`` (the CLI's path) and gives back a ``RunResult``,
or a ``RunHandle`` to watch, stop and wait for a run going on in the background.

Threads. ``run`` and ``start`` run the trio engine under ``trio.run`` on a thread of its own
(:class:`~jshost.engine.EngineThread`), so they work from plain Python and from any thread of an
asyncio program. ``arun`` runs it in the caller's trio run, or, under asyncio, awaits that
thread without blocking the event loop. Events reach ``on_event`` and ``RunHandle.events()``
through the bounded queue the views use, so a slow caller never slows the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from . import events as ev
from ._api import ToolOptions, prepare, resolve_worker
from ._workflow import Workflow, _as_workflow, parse
from .errors import WorkflowError
from .records import RunOutcome, RunStatus, keep_results
from .ui.dispatch import EventsDropped
from .workers.base import Usage, Worker

if TYPE_CHECKING:
    from .engine import Limits
    from .store import Store

__all__ = [
    "RunHandle",
    "RunResult",
    "arun",
    "resume",
    "run",
    "start",
]

# ---- what a run gives back ----------------------------------------------------------------------


@final
@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    Attributes:
        status (str): ``completed``, ``failed`` or ``stopped``.
        result (Any): the script's return value (None unless completed).
        error (WorkflowError | None): why the script failed.
        agents (dict[str, int]): agents by final state (``done``, ``failed``, ``skipped``,
            ``cancelled``, ``cached``), and their ``total``.
        tokens (Usage): every agent's tokens, summed.
        tokens_by_model (dict[str, Usage]): the same, per model the worker reported.
        elapsed (float): seconds the run took.
        failures (list[str]): the failure lines (``[label] failed: …``) the summary prints.
        run_id (str | None): the run's id in its store (a temporary store's is gone afterwards).
        outcome (RunOutcome): every agent's record, the logs, the phases.
    """

    status: RunStatus
    result: Any
    error: WorkflowError | None
    agents: dict[str, int]
    tokens: Usage
    tokens_by_model: dict[str, Usage]
    elapsed: float
    failures: list[str]
    run_id: str | None
    outcome: RunOutcome = field(repr=False)

    @property
    def ok(self) -> bool:
        """Whether the script ran to its end."""
        return self.status == "completed"

    @classmethod
    def from_outcome(cls, outcome: RunOutcome, run_id: str | None) -> RunResult:
        by_model: dict[str, Usage] = {}
        for a in outcome.agents:
            model = a.model_used or a.model or "default"
            by_model[model] = by_model.get(model, Usage()) + a.usage
        states = ("done", "failed", "skipped", "cancelled", "cached")
        statuses = outcome.statuses()
        agents = {"total": len(statuses)} | {s: statuses.count(s) for s in states}  # type: ignore[arg-type]
        return cls(
            status=outcome.status,
            result=outcome.result,
            error=outcome.error,
            agents=agents,
            tokens=outcome.usage,
            tokens_by_model=by_model,
            elapsed=outcome.elapsed,
            failures=list(outcome.failures),
            run_id=run_id,
            outcome=outcome,
        )


# ---- the public runs ----------------------------------------------------------------------------


class _Callback:
    """Hands events to ``on_event`` on a thread of its own (a UiThread handler)."""

    def __init__(self, on_event: Callable[[ev.Event], None]) -> None:
        self.on_event = on_event

    def handle(self, batch: list[Any]) -> None:
        for stamped in batch:
            if not isinstance(stamped.event, EventsDropped):
                self.on_event(stamped.event)

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


class _Session:
    """What one public run holds: its store (maybe temporary), the prepared run, the sinks."""

    def __init__(
        self,
        workflow: Workflow | str | os.PathLike[str],
        *,
        args: Any,
        worker: Worker | str | Callable[..., Any] | None,
        limits: Limits | None,
        store: Store | None,
        on_event: Callable[[ev.Event], None] | None,
        model: str | None,
        resume_id: str | None = None,
        keep_events: bool = False,
        tools: ToolOptions | None = None,
    ) -> None:
        from .engine import NO_ARGS, Limits
        from .store import Store
        from .ui.dispatch import EventQueue, UiThread

        wf = _as_workflow(workflow)
        self._tmp: str | None = None
        if store is None:
            self._tmp = tempfile.mkdtemp(prefix="jshost-run-")
            store = Store(Path(self._tmp) / "jshost.db")
        self.store = store
        try:
            self.prepared = prepare(
                wf,
                worker=resolve_worker(worker, model=model),
                limits=limits or Limits(),
                args=NO_ARGS if args is None else args,
                model=model,
                store=store,
                resume_id=resume_id,
                tools=tools,
            )
        except BaseException:
            self._close_store()
            raise
        self.queue = EventQueue() if keep_events else None
        self.callback = UiThread(_Callback(on_event)).start() if on_event is not None else None
        self.result: RunResult | None = None
        self._lock = threading.Lock()

    def sink(self, event: ev.Event) -> None:
        if self.queue is not None:
            self.queue.put(event)
        if self.callback is not None:
            self.callback.sink(event)

    def end(self, outcome: RunOutcome | None) -> RunResult | None:
        """Record the end, let the callback catch up, drop a temporary store. Once."""
        with self._lock:
            if self.result is None and outcome is not None:
                self.prepared.finish(outcome)
                self.result = RunResult.from_outcome(
                    outcome, None if self._tmp else self.prepared.run_id
                )
            if self.callback is not None:
                self.callback.finish()
                self.callback = None
            if self.queue is not None:
                self.queue.close()
            if self._tmp is not None and outcome is not None:
                # Large results were read back from the store as they were asked for; this
                # store goes now, so the records keep them (the script's copies are gone).
                keep_results(outcome.agents)
            self._close_store()
            return self.result

    def _close_store(self) -> None:
        if self._tmp is not None:
            self.store.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


@final
class RunHandle:
    """A run going on in the background: watch it, stop it, wait for it. Made by :func:`start`."""

    def __init__(self, session: _Session) -> None:
        from .engine import EngineThread

        self._session = session
        self._runner: EngineThread = EngineThread(session.prepared.engine(session.sink))
        self._runner.start()

    @property
    def run_id(self) -> str | None:
        """The run's id in its store (None for a run in a temporary store)."""
        return None if self._session._tmp else self._session.prepared.run_id

    def events(self) -> Iterator[ev.Event]:
        """The run's events as they happen, ending with ``RunFinished``.

        These are the events ``jshost run --json`` prints (see docs/events.md). When they are
        not read as fast as they come, intermediate ones (an agent's progress, a log line) are
        coalesced away, as for the terminal views; those that sum the run up are all kept.
        """
        queue = self._session.queue
        assert queue is not None
        while True:
            batch = queue.take(0.2)
            if batch is None:
                return
            for stamped in batch:
                if isinstance(stamped.event, ev.RunFinished):
                    yield stamped.event
                    return
                if not isinstance(stamped.event, EventsDropped):
                    yield stamped.event
            if not batch and self._runner.done.is_set():
                return

    def stop(self) -> bool:
        """Stop the run, as Ctrl-C does: running agents are cancelled, finished ones kept.

        A run with a store can then be resumed (:func:`resume`). False when it had ended.
        """
        return self._runner.stop()

    @property
    def done(self) -> bool:
        return self._runner.done.is_set()

    def wait(self, timeout: float | None = None) -> RunResult:
        """The run's result, once it has ended (a first Ctrl-C meanwhile stops it).

        Raises:
            TimeoutError: ``timeout`` seconds passed first (the run goes on).
        """
        try:
            outcome = self._runner.wait(timeout)
        except TimeoutError:
            raise
        except BaseException:
            if self._runner.done.is_set():
                self._session.end(None)
            raise
        result = self._session.end(outcome)
        assert result is not None
        return result


def start(
    workflow: Workflow | str | os.PathLike[str],
    *,
    args: Any = None,
    worker: Worker | str | Callable[..., Any] | None = None,
    limits: Limits | None = None,
    store: Store | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
    model: str | None = None,
    tools: ToolOptions | None = None,
) -> RunHandle:
    """Start a run on a thread of its own and return at once; see :func:`run`."""
    session = _Session(
        workflow,
        args=args,
        worker=worker,
        limits=limits,
        store=store,
        on_event=on_event,
        model=model,
        keep_events=True,
        tools=tools,
    )
    return RunHandle(session)


def run(
    workflow: Workflow | str | os.PathLike[str],
    *,
    args: Any = None,
    worker: Worker | str | Callable[..., Any] | None = None,
    limits: Limits | None = None,
    store: Store | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
    model: str | None = None,
    tools: ToolOptions | None = None,
) -> RunResult:
    """Run a workflow to its end and return how it ended: ``start(...).wait()``.

    Args:
        workflow: a :class:`Workflow`, or the path of a script (checked as :func:`load` does).
        args: the JSON value the script sees as ``args``; None: ``args`` is undefined.
        worker: a ``Worker``, a worker name (``"sim"``, ``"anthropic"``, a plugin's), or a
            function ``fn(request) -> str | dict | AgentResult`` (see ``worker_from``).
            None: ``anthropic`` when ``ANTHROPIC_API_KEY`` is set, else the offline ``sim``.
        limits: the run's caps (``Limits``); the CLI's defaults when None.
        store: where the run is kept (``Store(path)``, ``Store.default()``: the CLI's, so
            ``jshost runs`` lists it). None: a temporary store, deleted when the run ends:
            such a run has no ``run_id`` afterwards and cannot be resumed.
        on_event: called with every event, in order, on a thread of its own.
        model: the model for agents that ask for none (as ``--model``).
        tools: what agents may do on this machine (``ToolOptions``: workspace, rules, mode,
            MCP servers, turn cap, who answers permission requests); None: the defaults
            (tools on for a worker that supports them, read-only inside the current
            directory). See docs/tools.md.

    The script's failure is a ``failed`` result, not an exception.

    Raises:
        ScriptError: the script has errors (nothing ran).
        UsageError: an unknown worker name, a missing API key, unusable ``tools``.
        StoreError: the store cannot record the run.
    """
    return start(
        workflow,
        args=args,
        worker=worker,
        limits=limits,
        store=store,
        on_event=on_event,
        model=model,
        tools=tools,
    ).wait()


async def arun(
    workflow: Workflow | str | os.PathLike[str],
    *,
    args: Any = None,
    worker: Worker | str | Callable[..., Any] | None = None,
    limits: Limits | None = None,
    store: Store | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
    model: str | None = None,
    tools: ToolOptions | None = None,
) -> RunResult:
    """:func:`run` for async callers, with the same arguments.

    A script given by path is read and checked on a worker thread (a large one takes up to a
    second or so), so the caller's event loop goes on meanwhile. Under trio the engine runs
    in the caller's trio run. Under asyncio the trio engine runs on
    a thread of its own, awaited without blocking the event loop; cancelling the awaiting task
    stops the run (finished agents kept) and waits for it to end.
    """
    import sniffio

    library = sniffio.current_async_library()
    if library not in ("trio", "asyncio"):
        raise RuntimeError(f"jshost.arun runs under trio or asyncio, not {library}")
    if not isinstance(workflow, Workflow):
        # Reading and checking a script takes up to a second or so for a large or deeply
        # nested one: on a worker thread, so the caller's event loop goes on meanwhile.
        if library == "trio":
            import trio

            workflow = await trio.to_thread.run_sync(_as_workflow, workflow, abandon_on_cancel=True)
        else:
            import asyncio

            workflow = await asyncio.to_thread(_as_workflow, workflow)
    if library == "trio":
        session = _Session(
            workflow,
            args=args,
            worker=worker,
            limits=limits,
            store=store,
            on_event=on_event,
            model=model,
            tools=tools,
        )
        outcome = None
        try:
            prepared = session.prepared
            outcome = await prepared.serve(prepared.engine(session.sink))
        finally:
            result = session.end(outcome)
        assert result is not None
        return result
    import asyncio

    handle = start(
        workflow,
        args=args,
        worker=worker,
        limits=limits,
        store=store,
        on_event=on_event,
        model=model,
        tools=tools,
    )
    loop = asyncio.get_running_loop()
    waiting = loop.run_in_executor(None, handle.wait)
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        handle.stop()
        await waiting
        raise


def resume(
    run_id: str,
    *,
    store: Store,
    worker: Worker | str | Callable[..., Any] | None = None,
    limits: Limits | None = None,
    on_event: Callable[[ev.Event], None] | None = None,
    tools: ToolOptions | None = None,
) -> RunResult:
    """Resume a stopped, failed or interrupted run kept in ``store``, as ``jshost resume`` does.

    The stored script runs again with the stored args, caps and model; each ``agent()`` call
    whose result is stored returns it at once. ``worker`` and ``limits`` replace the stored ones
    when given (the worker by default: as for :func:`run`). ``tools`` are not stored with a
    run: pass them again (the defaults when None). They are not part of an agent's cache
    key, so agents whose results are stored are not re-run for a changed rule.

    Raises:
        StoreError: no such run, or it cannot be resumed (it completed, or it is running).
        ScriptError: the stored script no longer passes the checks.
    """
    from .engine import NO_ARGS, Limits
    from .sandbox import SandboxLimits

    row = store.get_run(run_id)
    workflow = parse(row.script, name=row.path)
    if limits is None:
        caps = row.caps
        given = {
            k: caps[k]
            for k in ("concurrency", "max_agents", "budget", "timeout")
            if caps.get(k) is not None
        }
        sandbox = {}
        if caps.get("cpu_limit") is not None:
            sandbox["cpu_slice"] = caps["cpu_limit"]
        if caps.get("memory_limit") is not None:
            sandbox["memory"] = int(caps["memory_limit"]) << 20
        limits = Limits(**given, sandbox=SandboxLimits(**sandbox))
    session = _Session(
        workflow,
        args=row.args if row.has_args else NO_ARGS,
        worker=worker,
        limits=limits,
        store=store,
        on_event=on_event,
        model=row.model,
        resume_id=row.id,
        keep_events=True,
        tools=tools,
    )
    return RunHandle(session).wait()
