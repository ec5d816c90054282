"""The interactive run view (textual): ``run --interactive`` and ``watch``.

Drill into phases and agents; pause, stop, skip, save.

Threads. The view is a textual app on the main thread: textual's asyncio loop owns the terminal
(raw mode, resize signals). The trio engine runs under ``trio.run`` on a thread of its own, as
it would without a view. Trio's guest mode inside textual's loop was the alternative; it was
not taken because the engine and the view would then share one thread, and every frame
textual composes would delay the engine's scheduling. On its own thread the engine never waits
for the view: events reach the view through the same bounded, coalescing
:class:`~jshost.ui.dispatch.EventQueue` the other views use (an append under a lock), and the
view polls it a few times a second and draws a frozen :class:`~jshost.ui.state.RunView`.
Steering goes the other way through :class:`~jshost.engine.EngineControl`, called from a
worker thread so that the view's loop never waits for the engine either.

``jshost watch`` draws the same app from a :class:`StoreSource`: it re-reads the run from the
store (a running engine commits its changes within half a second) and is read-only.

The modules, each importing only those after it: ``entry`` (the two ways in), ``app`` (the
app: layout, drawing, keys), ``screens`` (its dialogs), ``widgets`` (the row list and what it
draws), ``sources`` (where a run comes from); the engine's thread is ``jshost.engine.EngineThread``.

Importing this package imports textual: the CLI imports it only for these two views.
"""

from ...engine import EngineThread
from .app import RunApp
from .entry import run_interactive, watch
from .screens import HelpScreen, SaveScreen, StopScreen
from .sources import LiveSource, StoreSource

__all__ = [
    "EngineThread",
    "HelpScreen",
    "LiveSource",
    "RunApp",
    "SaveScreen",
    "StopScreen",
    "StoreSource",
    "run_interactive",
    "watch",
]
