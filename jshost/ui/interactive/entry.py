"""The two ways into the view: :func:`run_interactive` (``run --interactive``), :func:`watch`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from ...engine import Engine, RunOutcome
from ..asker import ViewAsker
from ..dispatch import EventQueue
from .app import EXIT_STOPPED, RunApp
from .sources import LiveSource, StoreSource

__all__ = ["run_interactive", "watch"]


def run_interactive(
    engine_factory: Callable[[Any], Engine], *, run_id: str, asker: ViewAsker | None = None
) -> RunOutcome:
    """Run an engine with the interactive view on this terminal; the outcome once both end.

    ``engine_factory(sink)`` builds the engine with the given event sink. ``asker``, the one
    the run's workers ask (``jshost._api.prepare(asker=…)``), has its questions shown here.
    """
    queue = EventQueue()
    source = LiveSource(engine_factory(queue.put), queue, run_id=run_id, asker=asker)
    app = RunApp(source, handle_signals=True)
    try:
        app.run()
    finally:
        if asker is not None:
            asker.close()  # nobody is left to answer: from now on, ask means deny
    runner = source.runner
    # The view may close on the run's last event, a moment before its thread has returned.
    if not runner.done.is_set() and source.state.outcome is None:
        if app.abandoned:
            sys.stderr.write(f"jshost: left at once; resume the run with: jshost resume {run_id}\n")
            sys.stderr.flush()
            os._exit(EXIT_STOPPED)
        # The view failed or was closed some other way: the run goes on without it.
        sys.stderr.write("jshost: the view closed before the run ended; Ctrl-C stops the run\n")
        if not runner.started:  # it failed before it started the run
            runner.start()
    return runner.wait()


def watch(store: Any, run_id: str) -> None:
    """Follow a stored run in the interactive view, read-only, until the user leaves."""
    RunApp(StoreSource(store, run_id), handle_signals=True).run()
