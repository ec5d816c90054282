"""The pipeline, once: load → check → open the run in a store → engine → worker → record.

Everything that runs a workflow goes through here: the public functions (``jshost.load``,
``parse``, ``run``, ``arun``, ``start``, ``resume``), the command line (``cli``), the
benchmarks and the tests. The CLI adds only what belongs to a terminal on top (the review, the
progress views, signals); it has no way into the engine that this module does not offer.

This module holds the pipeline's middle (:func:`prepare`, :class:`Prepared`); the checked
script is ``_workflow``'s, the public runs on top of the pipeline are ``_runs``'.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import events as ev
from ._workflow import Workflow, load, parse
from .errors import JshostError
from .records import RunOutcome
from .workers.base import Worker

if TYPE_CHECKING:
    from .engine import Engine, Limits
    from .journal import Recorder, Replay
    from .store import Store

__all__ = [
    "Prepared",
    "Workflow",
    "load",
    "parse",
    "prepare",
    "resolve_worker",
]

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
        #: where agent types are discovered from and isolated agents' worktrees are made (None:
        #: the current directory), and the user's home for ~/.claude/agents (None: the real one)
        self.workspace: Path | None = None
        self.home: Path | None = None
        #: the permission rules' say on an agent type: ``denial(name) -> (rule, source) | None``
        self.agent_type_denial: Callable[[str], tuple[str, str] | None] | None = None

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

    def _agent_types(self) -> Any:
        # Called once a run by the engine, in a worker thread, at the first agentType.
        from .agent_types import discover_agent_types

        return discover_agent_types(self.workspace, home=self.home)

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
            agent_types=self._agent_types,
            agent_type_denial=self.agent_type_denial,
            workspace=self.workspace,
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
