"""The pipeline, once: load → check → open the run in a store → engine → worker → record.

Everything that runs a workflow goes through here: the public functions (``jshost.load``,
``parse``, ``run``, ``arun``, ``start``, ``resume``), the command line (``cli``), the
benchmarks and the tests. The CLI adds only what belongs to a terminal on top (the review, the
progress views, signals); it has no way into the engine that this module does not offer.

Threads. ``run`` and ``start`` run the trio engine under ``trio.run`` on a thread of its own
(:class:`~jshost.engine.EngineThread`), so they work from plain Python and from any thread of an
asyncio program. ``arun`` runs it in the caller's trio run, or, under asyncio, awaits that
thread without blocking the event loop. Events reach ``on_event`` and ``RunHandle.events()``
through the bounded queue the views use, so a slow caller never slows the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from . import events as ev
from .errors import JshostError, ScriptError, WorkflowError
from .records import RunOutcome, RunStatus
from .ui.dispatch import EventsDropped
from .workers.base import Usage, Worker

if TYPE_CHECKING:
    from .engine import Engine, EngineThread, Limits
    from .journal import Recorder, Replay
    from .script import Meta, Report, Script
    from .store import Store

__all__ = [
    "Prepared",
    "RunHandle",
    "RunResult",
    "Workflow",
    "arun",
    "load",
    "parse",
    "prepare",
    "resolve_worker",
    "resume",
    "run",
    "start",
]

# ---- a workflow ---------------------------------------------------------------------------------


@final
class Workflow:
    """A checked workflow script, ready to run. Made by :func:`load` or :func:`parse`.

    Attributes:
        name (str): ``meta.name``.
        meta (Meta): the script's ``export const meta``.
        source (str): the script's text.
        sha256 (str): the hex digest of ``source`` (what an approval and a resume compare).
        path (str | None): the file it was read from, or the ``name`` given to :func:`parse`.
    """

    def __init__(self, script: Script, report: Report) -> None:
        self.script = script
        self._report = report

    @property
    def name(self) -> str:
        return self.script.meta.name

    @property
    def meta(self) -> Meta:
        return self.script.meta

    @property
    def source(self) -> str:
        return self.script.source

    @property
    def sha256(self) -> str:
        return self.script.sha256

    @property
    def path(self) -> str | None:
        return self.script.path

    def validate(self) -> Report:
        """What ``jshost validate`` reports for this script, as data.

        The report's ``diagnostics`` hold the warnings (a loaded workflow has no errors),
        ``fanout`` the agent estimate, and ``to_json()`` the object ``validate --json`` prints.
        """
        return self._report

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} from {self.path or '<string>'}>"


def _checked(report: Report) -> Workflow:
    if report.errors or report.script is None:
        from .script.validate import format_text

        count = report.errors
        exc = ScriptError(
            f"not run: {count} error{'s' if count != 1 else ''} "
            "(nothing was spent; check with jshost validate)",
            path=report.path,
            detail="\n".join(format_text(report)),
        )
        exc.diagnostics = list(report.diagnostics)
        raise exc
    return Workflow(report.script, report)


def load(path: str | os.PathLike[str]) -> Workflow:
    """Read and check the workflow script at ``path``, as ``jshost run`` does before it runs.

    Raises:
        ScriptError: the file cannot be read (a ``ScriptLoadError``), or the script has errors;
            ``diagnostics`` lists them (the ``validate`` findings).
    """
    from .script.validate import validate_file

    return _checked(validate_file(path))


def parse(source: str, *, name: str | None = None) -> Workflow:
    """Check a workflow script held in a string; ``name`` is the path messages show.

    Raises:
        ScriptError: the script has errors; ``diagnostics`` lists them.
    """
    from .script.validate import validate_source

    return _checked(validate_source(source, path=name))


def _as_workflow(workflow: Workflow | str | os.PathLike[str]) -> Workflow:
    if isinstance(workflow, Workflow):
        return workflow
    if isinstance(workflow, (str, os.PathLike)):
        return load(workflow)
    raise TypeError(f"workflow must be a Workflow or a path, not {type(workflow).__name__}")


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
        agents = {"total": len(outcome.agents)} | {s: outcome.count(s) for s in states}  # type: ignore[arg-type]
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


# ---- the pipeline -------------------------------------------------------------------------------


def resolve_worker(
    worker: Worker | str | Callable[..., Any] | None, *, model: str | None = None
) -> Worker:
    """A worker from what a caller passed: a Worker, a registered name, or a function.

    None picks as the CLI does: ``anthropic`` when ``ANTHROPIC_API_KEY`` is set, else ``sim``.

    Raises:
        UsageError: an unknown worker name, a missing API key, an unknown model.
    """
    from .workers.registry import WorkerSettings, choose_worker, make_worker

    if isinstance(worker, Worker):
        return worker
    if worker is None or isinstance(worker, str):
        name, _ = choose_worker(worker)
        return make_worker(name, WorkerSettings(model=model))
    if callable(worker):
        from .workers.function import worker_from

        return worker_from(worker)
    raise TypeError(f"worker must be a Worker, a name or a function, not {type(worker).__name__}")


def _caps(limits: Limits) -> dict[str, Any]:
    return {
        "concurrency": limits.concurrency,
        "max_agents": limits.max_agents,
        "budget": limits.budget,
        "timeout": limits.timeout,
        "cpu_limit": limits.sandbox.cpu_slice,
        "memory_limit": limits.sandbox.memory >> 20,
    }


class Prepared:
    """One run, opened in its store and ready to start: the pipeline's middle.

    :meth:`engine` builds the engine with an event sink, :meth:`serve` runs it with its worker
    open, :meth:`finish` records the end. Made by :func:`prepare`.
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        worker: Worker,
        limits: Limits,
        args: Any,
        model: str | None,
        recorder: Recorder | None,
        replay: Replay | None,
    ) -> None:
        self.workflow = workflow
        self.worker = worker
        self.limits = limits
        self.args = args
        self.model = model
        self.recorder = recorder
        self.replay = replay
        self.run_id: str | None = getattr(recorder, "run_id", None)
        self._saved: list[Any] = []
        self._saved_lock = threading.Lock()

    def _saved_workflows(self) -> list[Any]:
        # Discovered once per run, not per workflow('name') call: a script that misses in a
        # loop must not re-read every saved file each time.
        from .library import discover

        with self._saved_lock:
            if not self._saved:
                self._saved.append(discover()[0])
            return self._saved[0]

    def _resolve_workflow(self, name: str) -> Path | None:
        from .library import find_workflow

        found = find_workflow(name, workflows=self._saved_workflows())
        return None if found is None else found.path

    def engine(self, sink: ev.Sink | None = None) -> Engine:
        """The engine for this run, publishing its events to ``sink``."""
        from .engine import Engine
        from .settings import ModelPolicy

        return Engine(
            self.workflow.script,
            worker=self.worker,
            limits=self.limits,
            args=self.args,
            sink=sink,
            model=self.model,
            recorder=self.recorder,
            replay=self.replay,
            model_policy=ModelPolicy.from_env(),
            resolve_workflow=self._resolve_workflow,
            workflow_names=lambda: [wf.name for wf in self._saved_workflows()],
        )

    async def serve(self, engine: Engine) -> RunOutcome:
        """Run ``engine`` in the current trio run, its worker open for the run's length."""
        async with self.worker:  # its connections close with the run
            return await engine.run()

    def finish(self, outcome: RunOutcome) -> str | None:
        """Record the run's end; the store's complaint when it could not (the run still ended)."""
        if self.recorder is None:
            return None
        try:
            self.recorder.finish(outcome)  # type: ignore[attr-defined]
        except JshostError as exc:
            return str(exc)
        return None


def prepare(
    workflow: Workflow,
    *,
    worker: Worker,
    limits: Limits,
    args: Any,
    model: str | None = None,
    store: Store | None = None,
    resume_id: str | None = None,
) -> Prepared:
    """Open a run of ``workflow`` in ``store`` (a new one, or ``resume_id`` replayed).

    Without a store nothing is recorded and the run cannot be resumed.

    Raises:
        StoreError: the store cannot record the run; ``resume_id`` is unknown or not resumable.
    """
    from .engine import NO_ARGS

    recorder = replay = None
    if store is not None:
        args_json = None if args is NO_ARGS else json.dumps(args, ensure_ascii=True)
        path = workflow.path
        script = {
            "script": workflow.source,
            "sha256": workflow.sha256,
            "path": None if path is None else str(Path(path).resolve()),
            "name": workflow.name,
            "meta": workflow.meta.raw,
            "args_json": args_json,
        }
        kw = {"caps": _caps(limits), "worker": worker.name, "model": model, **script}
        if resume_id is None:
            recorder = store.begin_run(**kw)
        else:
            recorder, replay = store.resume_run(resume_id, **kw)
    return Prepared(
        workflow,
        worker=worker,
        limits=limits,
        args=args,
        model=model,
        recorder=recorder,
        replay=replay,
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

    The script's failure is a ``failed`` result, not an exception.

    Raises:
        ScriptError: the script has errors (nothing ran).
        UsageError: an unknown worker name, a missing API key.
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
) -> RunResult:
    """:func:`run` for async callers, with the same arguments.

    Under trio the engine runs in the caller's trio run. Under asyncio the trio engine runs on
    a thread of its own, awaited without blocking the event loop; cancelling the awaiting task
    stops the run (finished agents kept) and waits for it to end.
    """
    import sniffio

    library = sniffio.current_async_library()
    if library == "trio":
        session = _Session(
            workflow,
            args=args,
            worker=worker,
            limits=limits,
            store=store,
            on_event=on_event,
            model=model,
        )
        outcome = None
        try:
            prepared = session.prepared
            outcome = await prepared.serve(prepared.engine(session.sink))
        finally:
            result = session.end(outcome)
        assert result is not None
        return result
    if library != "asyncio":
        raise RuntimeError(f"jshost.arun runs under trio or asyncio, not {library}")
    import asyncio

    handle = start(
        workflow,
        args=args,
        worker=worker,
        limits=limits,
        store=store,
        on_event=on_event,
        model=model,
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
) -> RunResult:
    """Resume a stopped, failed or interrupted run kept in ``store``, as ``jshost resume`` does.

    The stored script runs again with the stored args, caps and model; each ``agent()`` call
    whose result is stored returns it at once. ``worker`` and ``limits`` replace the stored ones
    when given (the worker by default: as for :func:`run`).

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
    )
    return RunHandle(session).wait()
