"""Where the view reads a run from: a run this process runs, or one followed from the store.

:class:`LiveSource` takes the engine's events from a queue and steers the engine;
:class:`StoreSource` re-reads a stored run (``jshost watch``) and is read-only.
"""

from __future__ import annotations

from typing import Any, Protocol

from ...engine import Engine, EngineThread
from ..asker import ViewAsker
from ..dispatch import EventQueue
from ..state import RunState, RunView, view_from_state, view_from_store

__all__ = ["LiveSource", "Source", "StoreSource"]


#: seconds between looks at what changed (events for a run here, the store for a watched run)
LIVE_POLL = 0.25
STORE_POLL = 0.5
#: a watched run that has ended is looked at less often (it may be resumed elsewhere)
STORE_POLL_FINISHED = 2.0
#: log lines kept and shown under the lists
LOG_ROWS = 4


class Source(Protocol):
    """Where the view reads a run from, and (unless read-only) how it steers it."""

    read_only: bool
    #: poll() does blocking I/O: the view calls it on a worker thread
    blocking: bool
    poll_interval: float

    def start(self) -> None: ...

    def poll(self) -> RunView: ...

    def steer(self, action: str, *args: Any) -> bool: ...


class LiveSource:
    """A run this process runs: the engine on its own thread, its events through a queue.

    Args:
        engine (Engine): the engine, built with ``sink=queue.put``.
        queue (EventQueue): the queue the engine's events go to.
        run_id (str): the run's id in the store.
        asker (ViewAsker | None): the agents' permission questions, which the view asks.
    """

    read_only = False
    blocking = False
    poll_interval = LIVE_POLL

    def __init__(
        self, engine: Engine, queue: EventQueue, *, run_id: str, asker: ViewAsker | None = None
    ) -> None:
        self.runner = EngineThread(engine)
        self.asker = asker
        self.queue = queue
        self.run_id = run_id
        self.state = RunState(log_rows=LOG_ROWS)
        self._script = engine.script

    def start(self) -> None:
        self.runner.start()

    def poll(self) -> RunView:
        batch = self.queue.take(0)
        if batch:
            self.state.handle(batch)
        script = self._script
        return view_from_state(
            self.state, run_id=self.run_id, script=script.source, path=script.path, meta=script.meta
        )

    @property
    def failed(self) -> bool:
        """The run ended in an error before it could report its end (an MCP server that did
        not start): the view has nothing more to show, and the error is the caller's."""
        runner = self.runner
        return runner.done.is_set() and runner.error is not None and self.state.outcome is None

    def steer(self, action: str, *args: Any) -> bool:
        """``set_paused``, ``skip_agent``, ``restart_agent`` or ``stop``; blocks briefly."""
        control = self.runner.control
        return control is not None and bool(getattr(control, action)(*args))


class StoreSource:
    """A run followed from the store, read-only (``jshost watch``).

    Args:
        store (Store): an open store (``Store(reading=True)``); calls are serialized by it.
        run_id (str): the run to follow.
    """

    read_only = True
    blocking = True
    poll_interval = STORE_POLL
    asker = None  # a watcher answers nothing: the terminal running the run does

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def start(self) -> None:
        pass

    def poll(self) -> RunView:
        run = self.store.get_run(self.run_id)
        agents = self.store.agents(run.id)
        logs = self.store.logs(run.id, last=LOG_ROWS)
        return view_from_store(run, agents, logs)

    def steer(self, action: str, *args: Any) -> bool:
        raise RuntimeError("a watched run is read-only")
