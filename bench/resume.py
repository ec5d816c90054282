"""Resume replay (figure 3c, issue 22): N cached agents replayed, host time, beside floors.

A script starts N ``agent()`` calls at once (sim worker, zero latency), awaits them and then
throws, so its run is failed and resumable with every result stored. Each repeat resumes it
(``jshost._api.prepare(resume_id=…)``, the pipeline of ``jshost resume``): every ``agent()``
call is answered from the journal, none reaches the worker. The figure is the resume's whole
host time in-process: the process CPU (all threads) and the wall from ``prepare`` (which
loads the journal) to the outcome, target ≤ 0.3 s for 1000 agents.

Beside it, measured in the same repeat:

- ``fresh``: the first run of the same script (every agent run by the zero-latency sim
  worker, every result committed): what a cache hit is meant to save;
- ``floor``: the least any replay does: the journal's rows read in one query and their
  results decoded, plus the same N calls made in a bare QuickJS context whose ``agent()``
  resolves at once (no engine, no store, no thread).

    python -m bench.resume [--quick] [--json]
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import trio

from jshost._api import Workflow, prepare
from jshost.engine import NO_ARGS, Limits
from jshost.script import parse_script
from jshost.script.validate import validate_source
from jshost.store import Store
from jshost.workers.sim import SimWorker

from .common import bench_parser, median, pick, spread, temp_home

TARGET_S = 0.3


def script(n: int, *, fail: bool = True) -> str:
    end = "throw new Error(`stop after ${rs.length}`)" if fail else "return rs.length"
    return (
        "export const meta = { name: 'resume-bench', description: 'replayed from the journal' }\n"
        f"const rs = await Promise.all(Array.from({{ length: {n} }}, (_, i) =>\n"
        "  agent(`item ${i}: say something`, { label: `item ${i}` })))\n"
        f"{end}\n"
    )


def _limits(n: int) -> Limits:
    return Limits(concurrency=16, max_agents=n + 10, budget=None, timeout=None)


def _session(
    source: str, home: Path, n: int, run_id: str | None = None
) -> tuple[float, float, Any, str]:
    """A first run (``run_id`` None) or a resume of ``run_id``: wall, CPU, outcome, run id."""
    workflow = Workflow(parse_script(source, path="bench.js"), validate_source(source))
    with Store(home / "jshost.db") as db:
        cpu0, t0 = time.process_time(), time.perf_counter()
        prepared = prepare(
            workflow,
            worker=SimWorker(latency=0.0),
            limits=_limits(n),
            args=NO_ARGS,
            store=db,
            resume_id=run_id,
        )
        engine = prepared.engine()
        outcome = trio.run(prepared.serve, engine)
        prepared.finish(outcome)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return wall, cpu, outcome, prepared.run_id


def _journal_floor(home: Path) -> float:
    """One query for the journal's result rows and their JSON decoded: CPU seconds."""
    cpu0 = time.process_time()
    con = sqlite3.connect(home / "jshost.db")
    try:
        rows = con.execute("SELECT key, result FROM journal WHERE type = 'result'").fetchall()
        decoded = {k: json.loads(v) for k, v in rows if v is not None}
    finally:
        con.close()
    assert decoded
    return time.process_time() - cpu0


def _quickjs_floor(n: int) -> float:
    """The script's N calls in a bare QuickJS context, ``agent()`` resolving at once: CPU s."""
    import quickjs

    cpu0 = time.process_time()
    ctx = quickjs.Context()
    calls = (
        f"Array.from({{ length: {n} }}, (_, i) =>"
        " agent(`item ${i}: say something`, { label: `item ${i}` }))"
    )
    ctx.eval(
        "globalThis.done = 0; const agent = async (p, o) => `answer to ${p}`;"
        f"(async () => {{ const rs = await Promise.all({calls}); done = rs.length }})()"
    )
    while ctx.execute_pending_job():
        pass
    assert ctx.eval("done") == n
    return time.process_time() - cpu0


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    n = pick(quick, 1000, 200, 20)
    reps = repeat or pick(quick, 5, 3, 1)
    source = script(n)
    walls: list[float] = []
    cpus: list[float] = []
    fresh_cpus: list[float] = []
    floor_cpus: list[float] = []
    for _ in range(reps):
        with temp_home() as home:
            _, fresh_cpu, first, run_id = _session(source, home, n)
            if first.status != "failed":
                raise RuntimeError(f"the first run ended {first.status}, not failed")
            fresh_cpus.append(fresh_cpu)
            wall, cpu, outcome, _ = _session(source, home, n, run_id)
            cached = sum(1 for a in outcome.agents if a.status == "cached")
            if outcome.status != "failed" or cached != n:
                raise RuntimeError(f"the resume ended {outcome.status} with {cached}/{n} cached")
            walls.append(wall)
            cpus.append(cpu)
            journal = _journal_floor(home)
            floor_cpus.append(journal + _quickjs_floor(n))
    ratios = [c / f for c, f in zip(cpus, floor_cpus, strict=True)]
    return {
        "agents": n,
        "repeats": reps,
        "target_s": TARGET_S,
        "wall_s": median(walls),
        "cpu_s": median(cpus),
        "cpu_s_spread": spread(cpus),
        "wall_s_spread": spread(walls),
        "cpu_per_agent_us": median(cpus) / n * 1e6,
        "fresh_cpu_s": median(fresh_cpus),
        "floor_cpu_s": median(floor_cpus),
        "cpu_over_floor": median(ratios),
        "cpu_over_floor_spread": spread(ratios, digits=3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.repeat), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
