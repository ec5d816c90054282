"""A JS step that cannot be interrupted is given up once it has used its CPU allowance: QuickJS
consults its interrupt only every few thousand operations, and one native operation may take
seconds."""

from __future__ import annotations

import threading

from conftest import run

from jshost.engine import Limits
from jshost.sandbox import SandboxLimits


def js_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jshost-js"]


def test_a_step_that_cannot_be_interrupted_is_abandoned_and_the_host_carries_on():
    """indexOf over 128 MiB is one native operation: QuickJS's interrupt is not consulted for
    thousands of them. The run gives up on the step after its CPU allowance (4 × 0.1 s + 1 s),
    while the step still runs; the abandoned step ends later on its own thread, and nothing
    crashes when it does."""
    before = set(js_threads())
    out = run(
        "const s = 'x'.repeat(2 ** 27)\nlet n = 0\n"
        "for (let i = 0; i < 8; i++) n += s.indexOf('y')\nreturn n",
        limits=Limits(sandbox=SandboxLimits(cpu_slice=0.1)),
    )
    abandoned = [t for t in set(js_threads()) - before if t.is_alive()]
    assert (out.status, out.error.name) == ("failed", "TimeoutError")
    assert out.error.message == "Script execution timed out after 100ms"
    assert abandoned, "the run waited for the whole step"
    # Other runs work meanwhile, and the abandoned thread ends by itself (then frees its
    # context on that thread: a crash there would take this process down).
    assert run("return await agent('meanwhile')").status == "completed"
    for thread in abandoned:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert run("return 1 + 1").result == 2
