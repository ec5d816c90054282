"""Makespan efficiency (figure 1) and workflow shapes (figure 2).

Every run is in-process through the real ``Engine``, the sim worker with a fixed latency, the
sandbox on its own JS thread and the real SQLite run recorder (``common.run_in_process``).
Wall time is the engine's own elapsed time (sandbox creation and script start included).

``ideal`` is ceil(N / concurrency) × latency (a chain: N × latency). ``floor`` is the same
schedule in bare trio — N tasks sleeping ``latency`` under a ``CapacityLimiter`` (a chain: N
sleeps one after another) — measured alternately with the engine runs, so both see the same
load. ``wall ÷ ideal`` is the figure the target applies to; ``wall ÷ floor`` is what the host
adds on top of trio's own timers on this machine at this moment.

    python -m bench.makespan [--quick] [--json]
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import trio

from jshost.engine import Limits
from jshost.workers.sim import SimWorker

from .common import bench_parser, median, pick, run_in_process, spread, temp_home

META = "export const meta = { name: 'bench', description: 'makespan benchmark' }\n"

#: every agent() call started at once, awaited together (no parallel() wrapper)
FANOUT = """\
const calls = []
for (let i = 0; i < {n}; i++) calls.push(agent('task ' + i, {{ label: 'task ' + i }}))
const results = await Promise.all(calls)
return results.length
"""

PARALLEL = """\
const results = await parallel(Array.from({{ length: {n} }}, (_, i) => () =>
  agent('task ' + i, {{ label: 'task ' + i }})))
return results.length
"""

PIPELINE = """\
const items = Array.from({{ length: {items} }}, (_, i) => 'item ' + i)
const out = await pipeline(items,
  (item, _, i) => agent('read ' + item, {{ label: 'read ' + i }}),
  (prev, _, i) => agent('check ' + i + ': ' + prev.length, {{ label: 'check ' + i }}),
  (prev, _, i) => agent('fix ' + i + ': ' + prev.length, {{ label: 'fix ' + i }}),
  (prev, _, i) => agent('report ' + i + ': ' + prev.length, {{ label: 'report ' + i }}))
return out.filter(Boolean).length
"""

NESTED = """\
const items = Array.from({{ length: {items} }}, (_, i) => 'item ' + i)
const out = await pipeline(items,
  (item, _, i) => parallel(Array.from({{ length: {fan} }}, (_, k) => () =>
    agent('look ' + i + '.' + k, {{ label: 'look ' + i + '.' + k }}))),
  (found, _, i) => agent('sum ' + i + ': ' + found.length, {{ label: 'sum ' + i }}))
return out.filter(Boolean).length
"""

CHAIN = """\
let last = ''
for (let i = 0; i < {n}; i++)
  last = await agent('step ' + i + ' after ' + last.length, {{ label: 'step ' + i }})
return last.length
"""


def _source(template: str, **values: int) -> str:
    return META + template.format(**values)


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    agents: int
    concurrency: int
    latency: float
    chain: bool = False

    @property
    def ideal(self) -> float:
        if self.chain:
            return self.agents * self.latency
        return math.ceil(self.agents / self.concurrency) * self.latency

    @property
    def ideal_wait(self) -> float | None:
        """Mean queue wait of a perfect FIFO schedule of independent agents."""
        if self.chain or self.source.find("pipeline(") >= 0:
            return None
        c, n = self.concurrency, self.agents
        return self.latency * sum(i // c for i in range(n)) / n


async def _floor_flat(n: int, concurrency: int, latency: float) -> float:
    limiter = trio.CapacityLimiter(concurrency)

    async def one() -> None:
        async with limiter:
            await trio.sleep(latency)

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(one)
    return time.perf_counter() - t0


async def _floor_chain(n: int, latency: float) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await trio.sleep(latency)
    return time.perf_counter() - t0


def floor(case: Case) -> float:
    if case.chain:
        return trio.run(_floor_chain, case.agents, case.latency)
    return trio.run(_floor_flat, case.agents, case.concurrency, case.latency)


def measure_case(case: Case, repeat: int, *, with_floor: bool = True) -> dict[str, Any]:
    walls, floors, ratios, host, waits, peaks, cpus = [], [], [], [], [], [], []
    with temp_home() as home:
        for _ in range(repeat):
            m = run_in_process(
                case.source,
                worker=SimWorker(latency=case.latency),
                limits=Limits(concurrency=case.concurrency, max_agents=case.agents),
                home=home,
            )
            agents = m.outcome.agents
            if len(agents) != case.agents:
                raise RuntimeError(f"{case.name}: {len(agents)} agents ran, not {case.agents}")
            walls.append(m.wall)
            cpus.append(m.cpu)
            ratios.append(m.wall / case.ideal)
            peaks.append(m.outcome.peak_concurrency)
            waits.append(sum(a.started_at - a.queued_at for a in agents) / len(agents))
            if with_floor:
                f = floor(case)
                floors.append(f)
                host.append(m.wall / f)
    result: dict[str, Any] = {
        "agents": case.agents,
        "concurrency": case.concurrency,
        "latency_s": case.latency,
        "repeats": repeat,
        "ideal_s": case.ideal,
        "wall_s": median(walls),
        "wall_over_ideal": median(ratios),
        "wall_over_ideal_all": [round(r, 4) for r in ratios],
        "wall_over_ideal_spread": spread(ratios),
        "cpu_s": median(cpus),
        "peak_concurrency": max(peaks),
        "peak_concurrency_all": peaks,
        "peak_is_cap": all(p == min(case.concurrency, case.agents) for p in peaks)
        if not case.chain
        else all(p == 1 for p in peaks),
        "mean_queue_wait_s": median(waits),
        "mean_queue_wait_s_all": [round(w, 4) for w in waits],
        "ideal_mean_queue_wait_s": case.ideal_wait,
    }
    if with_floor:
        result["floor_s"] = median(floors)
        result["floor_over_ideal"] = median(floors) / case.ideal
        result["wall_over_floor"] = median(host)
        result["wall_over_floor_spread"] = spread(host)
    return result


def makespan_cases(quick: bool) -> list[Case]:
    n = pick(quick, 1000, 200, 20)
    return [
        Case("c16_50ms", _source(FANOUT, n=n), n, 16, 0.05),
        Case("c16_10ms", _source(FANOUT, n=n), n, 16, 0.01),
        Case("c64_50ms", _source(FANOUT, n=n), n, 64, 0.05),
        Case("c256_50ms", _source(FANOUT, n=n), n, 256, 0.05),
    ]


def shape_cases(quick: bool) -> list[Case]:
    scale = pick(quick, 1, 5, 50)
    n = 1000 // scale
    return [
        Case("parallel", _source(PARALLEL, n=n), n, 16, 0.05),
        Case("pipeline", _source(PIPELINE, items=250 // scale), n, 16, 0.05),
        Case("nested", _source(NESTED, items=200 // scale, fan=4), n, 16, 0.05),
        Case("chain", _source(CHAIN, n=200 // scale), 200 // scale, 16, 0.05, chain=True),
    ]


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    reps = repeat or pick(quick, 5, 1)
    makespan = {c.name: measure_case(c, reps) for c in makespan_cases(quick)}
    shapes = {}
    for case in shape_cases(quick):
        # parallel, pipeline and nested have the flat schedule's floor (there is always a
        # queued agent for a free slot), which the c16_50ms makespan case has just measured.
        flat_floor = not case.chain
        shapes[case.name] = measure_case(case, reps, with_floor=not flat_floor)
        if flat_floor:
            base = makespan["c16_50ms"]
            shapes[case.name]["floor_s"] = base["floor_s"]
            shapes[case.name]["floor_over_ideal"] = base["floor_over_ideal"]
            shapes[case.name]["wall_over_floor"] = shapes[case.name]["wall_s"] / base["floor_s"]
    return {"makespan": makespan, "shapes": shapes}


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    figures = run(args.quick, args.repeat)
    print(json.dumps(figures, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
