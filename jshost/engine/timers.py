"""``setTimeout`` / ``clearTimeout`` on the host: Node's delay rule and a run's pending timers.

The script's timers fire on the trio clock; the loop sleeps until the earliest one (or until
something else finishes) and hands the fired ones to the sandbox in the next batch.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

__all__ = ["MAX_TIMER_MS", "Timers", "timer_delay"]

#: Node's largest timer delay; longer (or shorter than 1 ms, or not a number) means 1 ms
MAX_TIMER_MS = 2**31 - 1


def timer_delay(ms: float) -> float:
    """Seconds a ``setTimeout(fn, ms)`` waits: Node's rule, as in the reference runtime."""
    ms = float(ms)
    if not (1 <= ms <= MAX_TIMER_MS):  # also NaN
        ms = 1.0
    return ms / 1000


class Timers:
    """A run's pending timers: when each fires, the earliest first (a heap, cleared lazily)."""

    def __init__(self) -> None:
        self._at: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._at)

    def set(self, timer_id: int, at: float) -> None:
        """Timer ``timer_id`` fires at trio time ``at`` (set again: the later call wins)."""
        self._at[timer_id] = at
        heapq.heappush(self._heap, (at, timer_id))

    def clear(self, timer_id: Any) -> None:
        self._at.pop(timer_id, None)

    def next_at(self) -> float:
        """When the earliest pending timer fires; ``inf`` when none is pending."""
        heap = self._heap
        while heap and (heap[0][1] not in self._at or self._at[heap[0][1]] != heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def fire(self, now: float) -> list[int]:
        """The timers due at ``now``, in firing order; they are no longer pending."""
        fired = []
        while self.next_at() <= now:
            _, timer_id = heapq.heappop(self._heap)
            del self._at[timer_id]
            fired.append(timer_id)
        return fired
