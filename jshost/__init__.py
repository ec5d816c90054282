"""jshost — run Claude Code workflow scripts in a QuickJS sandbox.

Layout: the subpackages are the stages a script goes through, in order.

- ``script``   1 · check: text → ``Script``, and every problem in it (load, meta, lint, validate).
  Runs nothing.
- ``sandbox``  2 · isolate: one QuickJS context per run, with ``runtime.js`` (the repository's
  top-level prelude) and the outbox bridge.
- ``engine``   3 · run: the trio loop: caps, scheduling, budget, timers, child workflows.
- ``workers``  4 · answer: ``AgentRequest`` → ``AgentResult`` (``sim``, ``anthropic``).
- ``store``    5 · remember: the SQLite run store.
- ``ui``       6 · show: events in, terminal out (plain, live, json, ``interactive``).
- ``cli``      the face: one module per command group.

Plain data every stage may name sits at the top level: ``records`` (a run's records),
``events``, ``journal``, ``errors``, ``schemas``, ``config``, ``library`` (saved workflows).
Imports point one way, from the face toward the plain data: ``tests/test_layers.py`` fails
on a cycle or on a forbidden direction. ``_api`` holds the pipeline, once: the functions below
(``_workflow``, ``_runs``), the CLI, the benchmarks and the tests all run workflows through it.

The public surface is what this module exports (``__all__``), with ``jshost.workers`` and
``jshost.events``; everything else may change. The names load lazily: ``import jshost`` loads
no engine, sandbox, parser or view (see docs/python-api.md)::

    import jshost

    workflow = jshost.load("flow.js")
    result = jshost.run(workflow, worker=lambda request: "an answer")
    print(result.status, result.result, result.tokens)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ._api import ToolOptions
    from ._runs import RunHandle, RunResult, arun, resume, run, start
    from ._workflow import Workflow, load, parse
    from .engine import Limits
    from .errors import JshostError, ScriptError, StoreError, UsageError, WorkerError
    from .sandbox import SandboxLimits
    from .store import Store
    from .workers import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker
    from .workers.function import worker_from

__version__ = "0.1.0"

_WHERE = {
    "AgentRejectedError": "workers",
    "AgentRequest": "workers",
    "AgentResult": "workers",
    "JshostError": "errors",
    "Limits": "engine",
    "RunHandle": "_runs",
    "RunResult": "_runs",
    "SandboxLimits": "sandbox",
    "ScriptError": "errors",
    "Store": "store",
    "StoreError": "errors",
    "ToolOptions": "_api",
    "Usage": "workers",
    "UsageError": "errors",
    "Worker": "workers",
    "WorkerError": "errors",
    "Workflow": "_workflow",
    "arun": "_runs",
    "load": "_workflow",
    "parse": "_workflow",
    "resume": "_runs",
    "run": "_runs",
    "start": "_runs",
    "worker_from": "workers.function",
}

__all__ = [
    "AgentRejectedError",
    "AgentRequest",
    "AgentResult",
    "JshostError",
    "Limits",
    "RunHandle",
    "RunResult",
    "SandboxLimits",
    "ScriptError",
    "Store",
    "StoreError",
    "ToolOptions",
    "Usage",
    "UsageError",
    "Worker",
    "WorkerError",
    "Workflow",
    "__version__",
    "arun",
    "load",
    "parse",
    "resume",
    "run",
    "start",
    "worker_from",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
