"""Events cross the bridge a chunk at a time: a script may emit millions in one slice, and the
host must not hold them all at once, nor lose their order."""

from __future__ import annotations

from conftest import run

from jshost.events import LogLine
from jshost.sandbox import context as sandbox_mod


def test_a_flood_of_events_crosses_in_bounded_chunks_and_in_order(monkeypatch):
    """One slice that emits 20,000 events: the host takes them a chunk at a time (it never
    holds them all), and handles them in the order they were emitted, agent calls included."""
    sizes: list[int] = []
    take = sandbox_mod.Sandbox.take

    def counting(self):
        events = take(self)
        sizes.append(len(events))
        return events

    monkeypatch.setattr(sandbox_mod.Sandbox, "take", counting)
    seen: list[str] = []

    def sink(event):
        if isinstance(event, LogLine):
            seen.append(event.message)

    out = run(
        """
        const calls = []
        for (let i = 0; i < 20000; i++) {
          log('line ' + i)
          if (i % 5000 === 4999) calls.push(agent('after line ' + i))
        }
        return (await Promise.all(calls)).length
        """,
        sink=sink,
    )
    assert out.status == "completed", out.error
    assert out.result == 4
    assert max(sizes) == sandbox_mod._CHUNK
    assert sum(sizes) >= 20_004
    assert seen == [f"line {i}" for i in range(20000)]
    # Cache keys chain in call order: the agents were started in the order they were called.
    assert [a.prompt for a in out.agents] == [f"after line {i}" for i in (4999, 9999, 14999, 19999)]
