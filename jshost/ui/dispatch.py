"""Hand engine events to a UI on its own thread, so a slow terminal never slows a run.

The engine calls :meth:`EventQueue.put` (the sink): an append under a lock, never a wait. A UI
thread takes everything queued in one batch, hands it to the UI, and lets the UI redraw at its
own pace. If the UI falls far behind (a terminal that stopped reading), the queue stays
bounded by coalescing: events that only describe an intermediate state (an agent queued,
started or progressing, a budget figure, a log line, a phase title) are dropped and counted,
while the events a summary depends on (agents finishing, failure lines, the end of the run)
are kept: there are at most a few per agent, agents are capped, and the engine caps failure
lines. Tool calls (``AgentTool``) are kept too: ``--json`` promises every one, and an agent
makes at most a few per turn of its capped turns.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .. import events as ev

__all__ = ["EventQueue", "EventsDropped", "Stamped", "UiHandler", "UiThread"]

#: events queued before intermediate ones are coalesced away
DEFAULT_CAPACITY = 10_000

_DROPPABLE = {
    ev.AgentQueued: "agent_queued",
    ev.AgentStarted: "agent_started",
    ev.AgentProgress: "agent_progress",
    ev.BudgetChanged: "budget",
    ev.LogLine: "log",
    # phase() may be called in a loop; the phases an agent ran in arrive with the agent anyway
    ev.PhaseStarted: "phase",
}


@dataclass(frozen=True)
class EventsDropped:
    """Some events were coalesced away because the UI could not keep up; counts by kind."""

    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Stamped:
    """An event with the monotonic time it was published."""

    at: float
    event: ev.Event | EventsDropped


class EventQueue:
    """A bounded, coalescing, thread-safe event queue; ``put`` is the engine's sink.

    Args:
        capacity (int): queued events past which intermediate events are dropped.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: deque[Stamped] = deque()
        self._dropped: dict[str, int] = {}
        self._cond = threading.Condition(threading.Lock())
        self._closed = False

    def put(self, event: ev.Event) -> None:
        with self._cond:
            if len(self._items) >= self.capacity and (kind := _DROPPABLE.get(type(event))):
                self._dropped[kind] = self._dropped.get(kind, 0) + 1
                return
            self._items.append(Stamped(time.monotonic(), event))
            if len(self._items) == 1:
                self._cond.notify()

    def close(self) -> None:
        """No more events will come; the reader gets what is left, then an empty batch."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def take(self, timeout: float | None) -> list[Stamped] | None:
        """Everything queued, waiting up to ``timeout`` for something.

        None once the queue is closed and empty.
        """
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            batch = list(self._items)
            self._items.clear()
            if self._dropped:
                batch.append(Stamped(time.monotonic(), EventsDropped(self._dropped)))
                self._dropped = {}
            if not batch and self._closed:
                return None
            return batch


class UiHandler(Protocol):
    """What a UI implements to be driven by :class:`UiThread`."""

    def handle(self, batch: list[Stamped]) -> None:
        """Take in a batch of events (in order)."""

    def tick(self, now: float) -> None:
        """Redraw if the UI wants to (called at least every ``UiThread.interval`` seconds)."""

    def close(self) -> None:
        """The run is over and every event was handled: draw the last state, let go."""


class UiThread:
    """Runs a UI on a daemon thread fed by an :class:`EventQueue`.

    Args:
        ui (UiHandler): the UI to drive.
        interval (float): longest wait between ``tick`` calls, in seconds.
        queue (EventQueue | None): the queue to read; a new one by default.
    """

    def __init__(
        self, ui: UiHandler, *, interval: float = 0.1, queue: EventQueue | None = None
    ) -> None:
        self.ui = ui
        self.interval = interval
        self.queue = queue or EventQueue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="jshost-ui", daemon=True)

    @property
    def sink(self) -> Callable[[ev.Event], None]:
        return self.queue.put

    def start(self) -> UiThread:
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            while (batch := self.queue.take(self.interval)) is not None:
                if batch:
                    self.ui.handle(batch)
                self.ui.tick(time.monotonic())
            self.ui.close()
        except BaseException as exc:  # a broken UI must not take the run with it
            self.error = exc

    def finish(self, timeout: float | None = None) -> None:
        """Close the queue and wait for the UI to draw everything that was queued."""
        self.queue.close()
        self._thread.join(timeout)
