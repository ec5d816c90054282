"""Host CPU per agent in a warm process (figure 3b): what a Python program running many
workflows pays per agent once imports, the first sandbox and the store's schema are behind it.

One process runs the fan-out of the makespan benchmark (N ``agent()`` calls started at once,
awaited with ``Promise.all``; sim worker with a fixed latency; concurrency 16; real engine,
sandbox thread and SQLite store, as ``jshost run --quiet``) once to warm up, then again for
each repeat. The figure is that run's CPU, every thread (``time.process_time``), ÷ N: the whole
run, fixed costs included, as issue 22 measures its peers. Its floor, measured right after each
engine run in the same process, is the same schedule in bare trio: N tasks sleeping the
latency under a ``CapacityLimiter(16)``. The ratio is taken per repeat; the median and the
spread of the repeats are reported.

The same process then runs the fan-out again with zero-latency agents (``zero_latency``), each
beside its bare-trio floor at zero latency: the host's own cost per agent in a warm process,
without what waiting for the model costs any trio program (at 50 ms the floor's own timer
and wake-up work is ~65–90 µs an agent on this machine, over the target by itself).

    python -m bench.warm [--quick] [--json]
"""

from __future__ import annotations

import json
import time
from typing import Any

import trio

from jshost.engine import Limits
from jshost.workers.sim import SimWorker

from .common import bench_parser, median, pick, run_in_process, spread, temp_home
from .makespan import FANOUT, _source

CONCURRENCY = 16
TARGET_US = 70.0


async def _floor(n: int, concurrency: int, latency: float) -> None:
    limiter = trio.CapacityLimiter(concurrency)

    async def one() -> None:
        async with limiter:
            await trio.sleep(latency)

    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(one)


def floor_cpu(n: int, latency: float) -> float:
    cpu0 = time.process_time()
    trio.run(_floor, n, CONCURRENCY, latency)
    return time.process_time() - cpu0


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    n = pick(quick, 1000, 200, 20)
    latency = pick(quick, 0.05, 0.05, 0.0)
    reps = repeat or pick(quick, 5, 5, 1)
    source = _source(FANOUT, n=n)
    limits = Limits(concurrency=CONCURRENCY, max_agents=n)
    with temp_home() as home:

        def one_run(latency: float) -> float:
            m = run_in_process(source, worker=SimWorker(latency=latency), limits=limits, home=home)
            if len(m.outcome.agents) != n:
                raise RuntimeError(f"warm: {len(m.outcome.agents)} agents ran, not {n}")
            return m.cpu / n

        first = one_run(latency)  # the cold run: imports, first sandbox, the store's schema
        floor_cpu(n, latency)
        at_latency = _repeats(one_run, n, latency, reps)
        zero = _repeats(one_run, n, 0.0, reps)
    return {
        "agents": n,
        "concurrency": CONCURRENCY,
        "latency_s": latency,
        "repeats": reps,
        "target_us": TARGET_US,
        **at_latency,
        "first_run_cpu_per_agent_us": first * 1e6,
        "zero_latency": zero,
    }


def _repeats(one_run: Any, n: int, latency: float, reps: int) -> dict[str, Any]:
    """``reps`` engine runs at ``latency``, each followed by its bare-trio floor."""
    engine: list[float] = []
    floors: list[float] = []
    for _ in range(reps):
        engine.append(one_run(latency))
        floors.append(floor_cpu(n, latency) / n)
    ratios = [e / f for e, f in zip(engine, floors, strict=True) if f > 0]
    return {
        "cpu_per_agent_us": median(engine) * 1e6,
        "cpu_per_agent_us_spread": spread(engine, 1e6, 1),
        "floor_cpu_per_agent_us": median(floors) * 1e6,
        "floor_cpu_per_agent_us_spread": spread(floors, 1e6, 1),
        "cpu_over_floor": median(ratios) if ratios else None,
        "cpu_over_floor_spread": spread(ratios, digits=3) if ratios else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.repeat), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
