"""Host overhead per agent (figure 3): CPU seconds of one agent round trip, script → engine →
worker → store → script, with zero-latency sim agents, and how it splits.

Two shapes, in-process as ``jshost run --quiet`` (``common.run_in_process``):

- ``parallel``: one ``parallel()`` of N agents; round trips are batched (one JS step and one
  store commit settle every agent that finished meanwhile);
- ``chain``: N ``await agent()`` one after another; every agent is a full round trip of its
  own, with its own JS step, thread hops and store commit.

The figure is the marginal CPU per agent, all threads of the process (``time.process_time``):
(CPU of an N-agent run − CPU of a 1-agent run) ÷ (N − 1), median of the repeats; the 1-agent
run's CPU (sandbox creation, script start, run row) is reported as the fixed cost.

The split comes from a separate instrumented run of each shape: the bench wraps, for that run
only, the sandbox's steps (``Sandbox.start``/``settle``), the store (``RunRecorder``'s buffering
on the trio thread and ``flush`` on the JS thread), the worker's own steps and the engine's
handling of ``agent()`` events, timing each with ``time.thread_time`` (CPU of the calling
thread). The JS thread's total CPU is read before it shuts down; what is left of the process's
CPU is the engine and trio: slots, replies, batches, scheduling and the trio side of the
thread hops. The wrappers cost CPU too; that is reported as ``instrumentation``.

    python -m bench.overhead [--quick] [--json] [--profile]
"""

from __future__ import annotations

import contextlib
import cProfile
import inspect
import io
import json
import pstats
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from jshost import engine as engine_mod
from jshost import sandbox as sandbox_mod
from jshost import store as store_mod
from jshost.engine import Limits
from jshost.workers.base import AgentRequest, AgentResult, Worker
from jshost.workers.sim import SimWorker

from .common import bench_parser, median, pick, run_in_process, spread, temp_home

META = "export const meta = { name: 'bench', description: 'host overhead benchmark' }\n"
PARALLEL = META + (
    "const r = await parallel(Array.from({ length: args.n }, (_, i) => () =>\n"
    "  agent('task ' + i, { label: 'task ' + i })))\n"
    "return r.length\n"
)
CHAIN = META + (
    "let last = ''\n"
    "for (let i = 0; i < args.n; i++)\n"
    "  last = await agent('step ' + i + ' after ' + last.length, { label: 'step ' + i })\n"
    "return last.length\n"
)
SHAPES = {"parallel": PARALLEL, "chain": CHAIN}

BUCKETS = (
    # JS thread
    "sandbox_steps",  # QuickJS: run the script, settle promises, run jobs, drain the outbox
    "store_commit",  # RunRecorder.flush: one SQLite transaction per batch of results
    "js_thread_other",  # the JS thread's hand-off (executor queue, wake-ups)
    # trio thread
    "engine_calls",  # Engine._on_agent: check the event, cache key, record, request, queue
    "engine_slots",  # Engine._pump: give a slot (wake its task, or spawn one)
    "engine_results",  # Engine._slot_task: the slot's task, its agents booked and replied to
    "engine_loop",  # the run loop, batches to and from JSON, trio scheduling, hops' trio side
    "store_buffer",  # RunRecorder.agent/entry/log: row tuples built as records change
    "worker",  # SimWorker.run's own steps
)


def _limits(n: int) -> Limits:
    return Limits(concurrency=16, max_agents=max(n, 1))


def _cpu_run(shape: str, n: int, home: Any) -> float:
    m = run_in_process(
        SHAPES[shape], worker=SimWorker(latency=0), limits=_limits(n), home=home, args={"n": n}
    )
    assert len(m.outcome.agents) == n
    return m.cpu


# ---- the chain's floor ---------------------------------------------------------------------

# A bare QuickJS program with the chain's shape: each settle resolves the pending promise and
# the script makes its next call, whose event (JSON text) the host takes from an outbox.
_FLOOR_JS = """
let resolve = null;
const out = [];
const next = () => new Promise((r) => { resolve = r; });
globalThis.settle = (json) => { resolve(JSON.parse(json).r[0][2]); };
globalThis.take = () => { const s = '[' + out.join(',') + ']'; out.length = 0; return s; };
(async () => {
  let last = '';
  for (let i = 0; ; i++) {
    const p = next();
    out.push('{"t":"agent","id":' + i + ',"prompt":' + JSON.stringify('step ' + i + ' after ' +
      last.length) + ',"opts":{"label":"step ' + i + '"},"schema":null}');
    last = await p;
  }
})();
"""

#: what each floor level adds to the one before (see _chain_floor)
FLOOR_LEVELS = ("trio_hop", "commit", "js_step")


def _chain_floor_run(n: int, level: int, home: Any) -> float:
    """CPU of ``n`` links of the chain's floor at ``level`` (1-3), as :func:`_chain_floor`."""
    import quickjs
    import trio

    from jshost.journal import JournalEntry
    from jshost.records import AgentRecord
    from jshost.sandbox import JsThread

    store = store_mod.Store(home / "floor.db")
    recorder = store.begin_run(
        name="floor", path=None, script="floor", sha256="0" * 64, args_json=None,
        meta={"name": "floor", "description": "the chain's floor"}, caps={}, worker="sim",
        model=None,
    )  # fmt: skip
    box: dict[str, Any] = {}

    def setup() -> None:
        ctx = quickjs.Context()
        ctx.eval(_FLOOR_JS)
        box.update(ctx=ctx, settle=ctx.get("settle"), take=ctx.get("take"))

    def step(i: int) -> Any:
        # The JS thread's share of a link: commit the link's rows, then settle and take.
        if level >= 2:
            rec = AgentRecord(
                index=i + 1, label=f"step {i}", prompt=f"step {i} after 30", phase=None,
                model=None, key=f"v2:{i:064x}", options={"label": f"step {i}"},
                queued_at=time.monotonic(),
            )  # fmt: skip
            rec.status, rec.attempts = "done", 1
            rec.result = f"[sim sim] step {i} after 30 (#0123abcd)"
            rec.started_at = rec.finished_at = time.monotonic()
            recorder.agent(rec)
            recorder.entry(JournalEntry("started", rec.key, rec.index))
            recorder.entry(JournalEntry("result", rec.key, rec.index, rec.result))
            recorder.flush()
        if level >= 3:
            box["settle"](json.dumps({"spent": 0, "count": i, "r": [[i, True, "x" * 30]]}))
            while box["ctx"].execute_pending_job():
                pass
            return json.loads(box["take"]())
        return None

    async def agent() -> None:
        await trio.lowlevel.checkpoint()  # a worker yields at least once

    async def chain() -> None:
        js = JsThread()
        try:
            if level >= 3:
                await js.run(setup, watch=False)
            async with trio.open_nursery() as nursery:
                for i in range(n):
                    nursery.start_soon(agent)
                    await trio.lowlevel.checkpoint()
                    # The engine's lightest hop: a direct job, whose end wakes this task
                    # through the thread's wake-up pipe.
                    job = js.start_direct(step, i)
                    while not job.done:
                        await trio.lowlevel.wait_readable(js.wake_fd)
                        js.drain()
                    js.outcome(job)
        finally:
            js.close()

    try:
        cpu0 = time.process_time()
        trio.run(chain)
        return time.process_time() - cpu0
    finally:
        store.close()


def _chain_floor(n: int, home: Any) -> dict[str, float]:
    """The chain's floor, µs a link, marginal over a 1-link run, at each of three levels.

    1 ``trio_hop``: bare trio, a task per link that yields once (the agent's), one hop to a
    thread and back (jshost's own ``JsThread`` and its direct jobs, the lightest hop it has);
    2 ``commit``: the thread
    also commits the link's rows (agent row, ``started`` and ``result`` journal rows) through
    the real ``RunRecorder``; 3 ``js_step``: and settles a promise in a bare QuickJS context,
    whose script makes its next call (its event as JSON text, taken and parsed). No engine:
    no checks, records, cache keys, slots, limits, watchdog or events.
    """
    out = {}
    for level, name in enumerate(FLOOR_LEVELS, start=1):
        one = _chain_floor_run(1, level, home)
        many = _chain_floor_run(n, level, home)
        out[name] = (many - one) / (n - 1) * 1e6
    return out


# ---- the instrumented run ---------------------------------------------------------------


_nesting = threading.local()


def _enter() -> tuple[float, float]:
    outer = getattr(_nesting, "inner", 0.0)
    _nesting.inner = 0.0
    return outer, time.thread_time()


def _leave(acc: dict[str, float], key: str, outer: float, t: float) -> None:
    # Exclusive time: what timed calls nested in this one took counts under their own key.
    spent = time.thread_time() - t
    acc[key] += spent - _nesting.inner
    _nesting.inner = outer + spent


class _TimedCoroutine:
    """Awaits ``coro``, adding the CPU of each of its steps (not of its waits) to ``acc``."""

    def __init__(self, coro: Any, acc: dict[str, float], key: str) -> None:
        self.coro, self.acc, self.key = coro, acc, key

    def __await__(self) -> Any:
        coro, acc, key = self.coro, self.acc, self.key
        value: Any = None
        error: BaseException | None = None
        while True:
            outer, t = _enter()
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                _leave(acc, key, outer, t)
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # delivered into the coroutine on its next step
                value, error = None, exc


class _TimedWorker(Worker):
    name = "sim"

    def __init__(self, inner: Worker, acc: dict[str, float]) -> None:
        self.inner, self.acc = inner, acc

    def describe(self) -> str:
        return self.inner.describe()

    async def run(self, request: AgentRequest) -> AgentResult:
        return await _TimedCoroutine(self.inner.run(request), self.acc, "worker")


@contextlib.contextmanager
def _patched(acc: dict[str, float]) -> Iterator[None]:
    """Time the product's functions for one run; everything is put back afterwards."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, replacement: Any) -> None:
        # Patch the class that defines it (the engine's methods live in mixins).
        owner = next((c for c in owner.__mro__ if name in c.__dict__), owner)
        if name not in owner.__dict__:
            # The split times the product's own functions by name: say which one moved, so a
            # refactor that renames it breaks the bench with a message, not a KeyError.
            raise RuntimeError(
                f"bench/overhead.py times {owner.__module__}.{owner.__qualname__}.{name}, "
                "which no longer exists: update the instrumented split"
            )
        saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def wrap(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)
        if inspect.iscoroutinefunction(original):
            # A sync wrapper would time only the coroutine's creation (a function that became
            # async, like Engine._on_agent, would read ~1 us); time its steps instead.
            wrap_async(owner, name, key)
            return

        def timed(*a: Any, **kw: Any) -> Any:
            outer, t = _enter()
            try:
                return original(*a, **kw)
            finally:
                _leave(acc, key, outer, t)

        patch(owner, name, timed)

    def wrap_async(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)
        assert inspect.iscoroutinefunction(original), f"{name} is not async"

        async def timed(*a: Any, **kw: Any) -> Any:
            return await _TimedCoroutine(original(*a, **kw), acc, key)

        patch(owner, name, timed)

    original_close = sandbox_mod.JsThread.close

    def close(self: Any) -> None:
        # Read the JS thread's CPU on that thread, queued after every step it was given:
        # close() joins the thread, so the reading has landed when close() returns.
        reading: list[float] = []
        self.submit(lambda: reading.append(time.thread_time()))
        original_close(self)
        acc["js_thread_total"] += reading[0] if reading else 0.0

    wrap(sandbox_mod.Sandbox, "__init__", "sandbox_create")
    wrap(sandbox_mod.Sandbox, "start", "sandbox_steps")
    wrap(sandbox_mod.Sandbox, "settle", "sandbox_steps")
    wrap(store_mod.RunRecorder, "flush", "store_commit")
    wrap(store_mod.RunRecorder, "agent", "store_buffer")
    wrap(store_mod.RunRecorder, "entry", "store_buffer")
    wrap(store_mod.RunRecorder, "log", "store_buffer")
    wrap(store_mod.RunRecorder, "finish", "store_finish")
    wrap(engine_mod.Engine, "_on_agent", "engine_calls")
    wrap(engine_mod.Engine, "_pump", "engine_slots")
    wrap_async(engine_mod.Engine, "_slot_task", "engine_results")
    patch(sandbox_mod.JsThread, "close", close)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def _split(shape: str, n: int, home: Any) -> dict[str, float]:
    """CPU microseconds per agent by part, from one instrumented n-agent run."""
    acc: dict[str, float] = defaultdict(float)
    worker = _TimedWorker(SimWorker(latency=0), acc)
    with _patched(acc):
        m = run_in_process(
            SHAPES[shape], worker=worker, limits=_limits(n), home=home, args={"n": n}
        )
    js_total = acc["js_thread_total"]
    on_js = acc["sandbox_create"] + acc["sandbox_steps"] + acc["store_commit"]
    # The last flush runs inside finish(), on the main thread, after the run: a fixed cost.
    trio_thread = m.cpu - js_total - acc["store_finish"]
    timed_on_trio = sum(
        acc[k] for k in ("store_buffer", "worker", "engine_calls", "engine_slots", "engine_results")
    )
    parts = {k: acc[k] for k in BUCKETS if k in acc}
    parts["js_thread_other"] = max(0.0, js_total - on_js)
    parts["engine_loop"] = trio_thread - timed_on_trio
    fixed = acc["sandbox_create"] + acc["store_finish"]
    per_agent = {k: parts.get(k, 0.0) / n * 1e6 for k in BUCKETS}
    per_agent["total_instrumented"] = (m.cpu - fixed) / n * 1e6
    return per_agent


def profile(shape: str, n: int, top: int = 25) -> str:
    """cProfile of both threads of one zero-latency run, by own CPU time (for digging)."""
    js_profile = cProfile.Profile(time.thread_time)
    original_start = sandbox_mod.JsThread.start

    # Every step goes through start(): run() calls it, and so does an agent handing the JS
    # thread the next batch itself.
    def start(self: Any, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        return original_start(self, lambda *x: js_profile.runcall(fn, *x), *a, **kw)

    main_profile = cProfile.Profile(time.thread_time)
    sandbox_mod.JsThread.start = start  # type: ignore[method-assign]
    try:
        with temp_home() as home:
            main_profile.enable()
            run_in_process(
                SHAPES[shape], worker=SimWorker(latency=0), limits=_limits(n), home=home,
                args={"n": n},
            )  # fmt: skip
            main_profile.disable()
    finally:
        sandbox_mod.JsThread.start = original_start  # type: ignore[method-assign]
    out = []
    for title, prof in (("trio thread", main_profile), ("JS thread", js_profile)):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
        out.append(f"==== {shape}, {n} agents: {title} ====\n{buf.getvalue()}")
    return "\n".join(out)


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    n = pick(quick, 1000, 200, 20)
    reps = repeat or pick(quick, 5, 1)
    figures: dict[str, Any] = {}
    with temp_home() as home:
        _cpu_run("parallel", 10, home)  # warm up: first imports, first sandbox
        for shape in SHAPES:
            fixed, per, splits, floors = [], [], [], []
            for _ in range(reps):
                one = _cpu_run(shape, 1, home)
                many = _cpu_run(shape, n, home)
                fixed.append(one)
                per.append((many - one) / (n - 1))
                splits.append(_split(shape, n, home))
                if shape == "chain":  # alternating with the chain's own runs
                    floors.append(_chain_floor(n, home))
            split = {k: median([s[k] for s in splits]) for k in splits[0]}
            groups = {
                "sandbox": split["sandbox_steps"],
                "engine": sum(split[k] for k in BUCKETS if k.startswith("engine")),
                "store": split["store_commit"] + split["store_buffer"],
                "worker": split["worker"],
                "thread_hand_off": split["js_thread_other"],
            }
            figures[shape] = {
                "agents": n,
                "repeats": reps,
                "cpu_per_agent_us": median(per) * 1e6,
                "cpu_per_agent_us_all": [round(p * 1e6, 1) for p in per],
                "cpu_per_agent_us_spread": spread(per, 1e6, 1),
                "fixed_cpu_ms": median(fixed) * 1e3,
                "split_us": {k: round(v, 1) for k, v in split.items()},
                "split_groups_us": {k: round(v, 1) for k, v in groups.items()},
                "split_groups_share": {
                    k: round(v / split["total_instrumented"], 3) for k, v in groups.items()
                },
            }
            if floors:
                floor = {k: median([f[k] for f in floors]) for k in FLOOR_LEVELS}
                figures[shape]["floor_us"] = {k: round(v, 1) for k, v in floor.items()}
                figures[shape]["cpu_over_floor"] = median(per) * 1e6 / floor["js_step"]
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--profile", choices=sorted(SHAPES), help="print a cProfile instead")
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile, 200 if args.quick else 1000))
        return
    figures = run(args.quick, args.repeat)
    print(json.dumps(figures, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
