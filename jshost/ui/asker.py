"""Permission questions from a run's agents, waiting for the person at the interactive view.

A worker whose tool call falls under ``ask`` awaits :meth:`ViewAsker.ask` in its agent's trio
task: that agent pauses, every other agent goes on. The question waits here, under a lock,
until the view (another thread: textual's, on the main thread) takes it from :meth:`pending`
and answers it with :meth:`answer`. The answer reaches the waiting task through the trio
token of its run (``run_sync_soon`` sets a ``trio.Event``): the view never waits for the
engine's thread, and the engine's thread never waits for the view.

When the run stops, :meth:`close` answers every question still open with ``deny`` at once,
and every later one too (as with nobody to ask). A question whose agent is cancelled
meanwhile (skipped, restarted, the run's timeout) is withdrawn: the view stops showing it.

No terminal here, and no textual: the view's dialog is ``jshost.ui.interactive.permission``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import final

import trio

from ..permissions.decision import Answer, PermissionRequest

__all__ = ["PendingAsk", "ViewAsker"]


@final
@dataclass(eq=False)
class PendingAsk:
    """One open question: the request, and what the view answered (None until then)."""

    id: int
    request: PermissionRequest
    answer: Answer | None = None
    _token: trio.lowlevel.TrioToken | None = field(default=None, repr=False)
    _event: trio.Event | None = field(default=None, repr=False)


@final
class ViewAsker:
    """An :class:`~jshost.permissions.decision.Asker` answered by a person at the view.

    ``ask`` is called on the engine's trio thread; ``pending``, ``answer`` and ``close`` from
    any thread (the view's).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, PendingAsk] = {}
        self._seq = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def ask(self, request: PermissionRequest) -> Answer:
        """Wait for the person's answer: ``once``, ``run`` or ``deny``."""
        event = trio.Event()
        with self._lock:
            if self._closed:
                return "deny"
            self._seq += 1
            pending = PendingAsk(
                self._seq, request, _token=trio.lowlevel.current_trio_token(), _event=event
            )
            self._open[pending.id] = pending
        try:
            await event.wait()
        finally:
            with self._lock:  # cancelled: the question is withdrawn
                self._open.pop(pending.id, None)
        return pending.answer or "deny"

    def pending(self) -> list[PendingAsk]:
        """The open questions, oldest first."""
        with self._lock:
            return sorted(self._open.values(), key=lambda p: p.id)

    def is_open(self, ask_id: int) -> bool:
        with self._lock:
            return ask_id in self._open

    def answer(self, ask_id: int, answer: Answer) -> bool:
        """Answer question ``ask_id``; False when it is no longer open (withdrawn, answered)."""
        if answer not in ("once", "run", "deny"):
            raise ValueError(f"answer must be 'once', 'run' or 'deny', not {answer!r}")
        with self._lock:
            pending = self._open.pop(ask_id, None)
        if pending is None:
            return False
        self._wake(pending, answer)
        return True

    def close(self) -> int:
        """Deny every open question and every later one (the run is stopping); how many."""
        with self._lock:
            self._closed = True
            items = list(self._open.values())
            self._open.clear()
        for pending in items:
            self._wake(pending, "deny")
        return len(items)

    @staticmethod
    def _wake(pending: PendingAsk, answer: Answer) -> None:
        pending.answer = answer
        assert pending._token is not None and pending._event is not None
        # A run that is over has nobody waiting for this answer any more.
        with contextlib.suppress(trio.RunFinishedError):
            pending._token.run_sync_soon(pending._event.set)
