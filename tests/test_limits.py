"""Sandbox limits hold: CPU slice, memory, stack, source nesting, wall clock, threads.

Every limit is tripped in-process, on purpose: a limit that crashed or wedged the host would
take the test run down with it, so a green run is itself the proof that the host survives.
Limits are kept small (0.5 s slices, 32 MiB heaps) so the whole file stays fast.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import trio
from conftest import arun, run, script_source

from jshost.engine import Limits, RunOutcome
from jshost.errors import ScriptLoadError
from jshost.sandbox import SandboxLimits
from jshost.script import parse_script

FAST_CPU = Limits(sandbox=SandboxLimits(cpu_slice=0.5))
SMALL_HEAP = Limits(sandbox=SandboxLimits(memory=32 << 20, cpu_slice=5.0))
CPU_MSG = "Script execution timed out after 500ms"


def assert_host_fine() -> None:
    """The host still runs scripts normally after a limit was hit."""
    out = run("const r = await agent('after'); return [r.length > 0, 1 + 1]")
    assert out.status == "completed", out.error
    assert out.result == [True, 2]


def failed(outcome: RunOutcome) -> tuple[str, str]:
    assert outcome.status == "failed", (outcome.status, outcome.result)
    assert outcome.error is not None
    return outcome.error.name, outcome.error.message


# -- CPU -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("while (true) {}", id="before-any-await"),
        pytest.param("await agent('a')\nwhile (true) {}", id="after-await"),
        pytest.param("await agent('a').then(() => { while (true) {} })", id="in-then"),
        pytest.param(
            "await new Promise((r) => setTimeout(() => { while (true) {} }, 0))",
            id="in-setTimeout",
        ),
        pytest.param("async function f() { for (;;) await null }\nawait f()", id="microtasks"),
        pytest.param(
            "Promise.resolve().then(function loop() { return Promise.resolve().then(loop) })\n"
            "await agent('x')",
            id="promise-job-chain",
        ),
        pytest.param("return /(a+)+$/.test('a'.repeat(40) + '!')", id="catastrophic-regex"),
        pytest.param("try { while (true) {} } catch (e) { return 'swallowed' }", id="try-catch"),
        pytest.param("await parallel([() => { while (true) {} }])", id="in-parallel-thunk"),
        pytest.param("return { get x() { while (true) {} } }", id="result-getter"),
        pytest.param(
            "await pipeline([1], () => agent('p'), () => { for (;;) {} })", id="in-pipeline-stage"
        ),
    ],
)
def test_cpu_slice_limit(body):
    """Each endless synchronous slice ends the run as TimeoutError, promptly, and the script
    cannot catch the interrupt."""
    started = time.monotonic()
    out = run(body, limits=FAST_CPU)
    elapsed = time.monotonic() - started
    assert failed(out) == ("TimeoutError", CPU_MSG)
    assert elapsed < 10
    assert_host_fine()


def test_cpu_limit_does_not_leak_into_the_next_run():
    """The interrupt state belongs to the dead run's context, not to the process."""
    assert failed(run("while (true) {}", limits=FAST_CPU))[0] == "TimeoutError"
    out = run(
        "let n = 0\nfor (let i = 0; i < 100000; i++) n += i\nawait agent('x')\nreturn n",
        limits=FAST_CPU,
    )
    assert out.status == "completed"
    assert out.result == 4999950000


@pytest.mark.anyio
async def test_a_spinning_run_does_not_take_down_a_concurrent_run():
    """Two runs in one process each own a context and a JS thread: one hitting its CPU limit
    ends alone, while the other carries on to completion."""
    outcomes: dict[str, RunOutcome] = {}

    async def one(key: str, body: str) -> None:
        outcomes[key] = await arun(body, limits=FAST_CPU)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, "spin", "await agent('a')\nwhile (true) {}")
        nursery.start_soon(
            one,
            "busy",
            "const out = []\nfor (let i = 0; i < 20; i++) out.push(await agent('b' + i))\n"
            "return out.length",
        )
    assert failed(outcomes["spin"]) == ("TimeoutError", CPU_MSG)
    assert outcomes["busy"].status == "completed", outcomes["busy"].error
    assert outcomes["busy"].result == 20


# -- memory --------------------------------------------------------------------------------

# A growth that really allocates must be reported as running out of memory.
MEMORY_GROWTH = [
    pytest.param("let s = 'x'\nfor (;;) { s += s; s.indexOf('y') }", id="string-doubling-flat"),
    pytest.param("let s = 'x'\nfor (;;) s = [s, s].join('')", id="string-doubling-join"),
    pytest.param("const a = []\nfor (;;) a.push({ i: a.length, s: 'abc' })", id="array-of-objects"),
    pytest.param("const a = []\nfor (;;) a.push([a.length])", id="array-of-arrays"),
    pytest.param("const o = {}\nfor (let i = 0; ; i++) o['k' + i] = i", id="object-keys"),
    pytest.param("const m = new Map()\nfor (let i = 0; ; i++) m.set(i, [i])", id="map-entries"),
    pytest.param("const a = []\nfor (let i = 0; ; i++) a[i] = i + 0.5", id="array-of-doubles"),
    pytest.param("return new Array(1e9).fill(0).length", id="huge-array-fill"),
    pytest.param("return 'x'.repeat(2 ** 28).length", id="repeat-256M"),
    pytest.param("const a = []\nfor (;;) a.push(new ArrayBuffer(1 << 20))", id="array-buffers"),
]


@pytest.mark.parametrize("body", MEMORY_GROWTH)
def test_memory_limit(body):
    """Exhausting the heap fails the run with a clear out-of-memory error, and the host
    survives (quickjs-ng throws `null` when it cannot even allocate the error object: that
    must not reach the user as `Error: null`)."""
    out = run(body, limits=SMALL_HEAP)
    name, message = failed(out)
    assert name in {"RangeError", "InternalError"}, (name, message)
    assert "memory" in message.lower(), (name, message)
    assert_host_fine()


# QuickJS strings are at most 2**30 - 1 characters, and `+` builds ropes: these hit that
# length cap before they allocate anything, so the honest error names the length, not memory.
STRING_LENGTH_CAP = [
    pytest.param("let s = 'x'\nfor (;;) s += s", id="string-doubling-rope"),
    pytest.param("return 'x'.repeat(2 ** 30).length", id="repeat-2**30"),
]


@pytest.mark.parametrize("body", STRING_LENGTH_CAP)
def test_string_length_cap(body):
    out = run(body, limits=SMALL_HEAP)
    name, message = failed(out)
    assert name in {"RangeError", "InternalError"}, (name, message)
    assert re.search(r"memory|string too long|invalid string length", message), message
    assert out.error.line == body.count("\n") + 2  # the growing statement, in the user's file
    assert_host_fine()


def test_memory_is_per_run():
    """A run that filled its heap leaves nothing behind: the next run gets a full heap."""
    failed(run("return 'x'.repeat(2 ** 28).length", limits=SMALL_HEAP))
    out = run("return 'x'.repeat(8 << 20).length", limits=SMALL_HEAP)
    assert out.status == "completed"
    assert out.result == 8 << 20


def test_host_does_not_hold_more_than_the_sandbox_limit_in_logs():
    """The heap limit must bound what a script can make the host hold: logging a big string
    once per tick would otherwise park unbounded memory in the host's run record (1000 log
    lines, each as large as the heap)."""
    out = run(
        """
        const s = 'x'.repeat(2 << 20)
        for (let i = 0; i < 24; i++) {
          log(s)
          await new Promise((r) => setTimeout(r, 0))
        }
        return 'done'
        """,
        limits=SMALL_HEAP,
    )
    held = sum(len(line) for line in out.logs)
    assert held <= SMALL_HEAP.sandbox.memory, f"host holds {held >> 20} MiB of log text"


# -- stack ---------------------------------------------------------------------------------


def test_deep_recursion_is_a_range_error_not_a_crash():
    """Running it in-process is the proof: a segfault would kill pytest."""
    out = run("function f(n) { return f(n + 1) + 1 }\nf(0)")
    assert failed(out) == ("RangeError", "Maximum call stack size exceeded")
    assert out.error.line == 2
    assert_host_fine()


def test_caught_stack_overflow_lets_the_script_continue():
    out = run(
        "function f(n) { return f(n + 1) + 1 }\n"
        "try { f(0) } catch (e) { return 'caught ' + e.name }"
    )
    assert out.status == "completed"
    assert out.result == "caught RangeError"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("const f = async (n) => f(n + 1)\nawait f(0)", id="async-recursion"),
        pytest.param(
            "await agent('a')\nfunction f(n) { return f(n + 1) + 1 }\nf(0)", id="after-await"
        ),
        pytest.param(
            "const o = {}\no.toString = function () { return String(this) }\nreturn String(o)",
            id="toString",
        ),
        pytest.param("const a = []\na[0] = a\nreturn a.join()", id="cyclic-join"),
        pytest.param(
            "let x = {}\nfor (let i = 0; i < 100000; i++) x = { x }\nreturn JSON.stringify(x)",
            id="deep-stringify",
        ),
        pytest.param(
            "const p = new Proxy({}, { get(t, k, r) { return r[k] } })\nreturn p.x", id="proxy"
        ),
        pytest.param(
            "const g = function* () { yield* g() }\nreturn [...g()]", id="generator-delegation"
        ),
    ],
)
def test_other_stack_exhaustion_paths(body):
    out = run(body)
    name, message = failed(out)
    assert "Maximum call stack size exceeded" in message, (name, message)
    assert_host_fine()


@pytest.mark.parametrize("stack", [64 << 10, 8 << 20], ids=["min-64KiB", "max-8MiB"])
def test_stack_limits_at_both_ends(stack):
    """At the smallest stack the prelude still works; at the largest, QuickJS's own guard still
    fires before the JS thread's C stack runs out."""
    limits = Limits(sandbox=SandboxLimits(stack=stack))
    ok = run("await agent('x')\nreturn [1, 2].map((n) => n * 2)", limits=limits)
    assert ok.status == "completed"
    assert ok.result == [2, 4]
    out = run("function f(n) { return f(n + 1) + 1 }\nf(0)", limits=limits)
    assert failed(out) == ("RangeError", "Maximum call stack size exceeded")


@pytest.mark.parametrize(
    "kwargs",
    [{"stack": 0}, {"stack": 16 << 20}, {"memory": 1 << 20}, {"cpu_slice": 0}],
    ids=["stack-0-is-unlimited", "stack-too-big", "memory-too-small", "cpu-0"],
)
def test_unsafe_sandbox_limits_are_refused(kwargs):
    """stack=0 means unlimited in QuickJS, i.e. a segfault on deep recursion."""
    with pytest.raises(ValueError):
        SandboxLimits(**kwargs)


# -- source nesting --------------------------------------------------------------------------

N = 100_000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("return " + "(" * N + "1" + ")" * N, id="parens"),
        pytest.param("return " + "[" * N + "]" * N, id="arrays"),
        pytest.param("return " + "{a:" * (N // 2) + "1" + "}" * (N // 2), id="objects"),
        pytest.param("return " + "-" * (2 * N) + "1", id="unary"),
        pytest.param("return " + "(() => " * (N // 5) + "1" + ")" * (N // 5), id="arrows"),
        pytest.param("if (1) " * (N // 2) + ";", id="ifs"),
        pytest.param("let x\nx" + " = x" * N, id="assignments"),
    ],
)
def test_deeply_nested_source_is_refused_with_a_clear_error(body):
    """The parser recurses per nesting level; the loader must refuse such a script with an
    error about nesting/stack depth — not crash, and not blame unbalanced braces."""
    source = script_source(body)
    with pytest.raises(ScriptLoadError) as info:
        parse_script(source, path="deep.js")
    message = info.value.message
    assert "unbalanced" not in message and "closes its own function" not in message, message
    assert re.search(r"stack|nest|deep|recursion", message, re.I), message
    assert_host_fine()


def test_moderately_nested_source_is_fine():
    out = run("return " + "[" * 300 + "]" * 300 + ".length")
    assert out.status == "completed"
    assert out.result == 1


# -- wall clock ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("for (;;) { await new Promise((r) => setTimeout(r, 0)) }", id="timer-spin"),
        pytest.param("await new Promise((r) => setTimeout(r, 60000))", id="long-timer"),
        pytest.param("await agent('[[sim:hang]]')", id="hung-agent"),
    ],
)
def test_wall_clock_timeout_holds_against_scripts_that_keep_yielding(body):
    """No single slice is long, so only the run's wall-clock limit can end these."""
    started = time.monotonic()
    out = run(body, timeout=0.3)
    assert failed(out)[0] == "TimeoutError"
    assert "0.3 s" in out.error.message
    assert time.monotonic() - started < 5


# -- threads -------------------------------------------------------------------------------


def test_runs_never_leak_threads():
    """Every run owns a JS thread; it must be gone when the run is, however the run ended."""
    run("return 1")  # warm up anything created once per process
    before = threading.active_count()
    bodies = [
        "return 1",
        "await parallel([() => agent('a'), () => agent('b')])\nreturn 2",
        "throw new Error('x')",
        "setTimeout(() => {}, 60000)\nreturn 'pending timer'",
        "agent('[[sim:hang]]')\nreturn 'hung agent left behind'",
        "await new Promise(() => {})",
        "function f() { return f() }\nf()",
    ]
    for i in range(20):
        run(bodies[i % len(bodies)])
    run("while (true) {}", limits=FAST_CPU)
    run("await agent('[[sim:hang]]')", timeout=0.1)
    # Give finished pool threads a moment to exit.
    deadline = time.monotonic() + 2
    while threading.active_count() > before + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert abs(threading.active_count() - before) <= 1, [t.name for t in threading.enumerate()]
