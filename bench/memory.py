"""Memory (figure 6): peak RSS of a 1000-agent run and of a run holding 50 MB of agent results
in JS variables, against a bare interpreter; the JS heap against the sandbox's limit.

Each variant runs in a fresh child process (``python -m bench.memory --child VARIANT``), which
prints its own peak RSS (``VmHWM``, see ``_peak_rss``) when done:

- ``bare``: ``python -c`` printing its peak RSS, nothing imported;
- ``imported``: the modules a run needs imported, nothing run (what the run itself adds shows
  against this);
- ``agents_1000``: ``parallel()`` of 1000 zero-latency sim agents, in-process as
  ``jshost run --quiet`` (real engine, sandbox and SQLite store);
- ``results_50mb``: 50 agents each answering 1 MiB of text, every answer kept in a JS array
  until the script ends. The sim worker caps its answers far below 1 MiB, so this variant
  uses a worker of the bench's that answers ``size`` characters (everything else is real);
- ``transcripts_50mb``: the same, the worker also reporting a transcript (a tool call, its
  result, then the answer as its last text entry, the very string, as the anthropic worker
  with tools gives it).

The JS heap is QuickJS's ``memory_used_size`` (``Sandbox.memory_used``), read after every
step of the run; its peak is compared with the sandbox's memory limit (default 256 MiB).

The ``results_50mb`` and ``transcripts_50mb`` runs are made once more per repeat under
``tracemalloc`` (their RSS is not used: tracing costs memory of its own): the host's Python
memory when the run has ended (the outcome still held, as a caller holds it) and at its peak.
QuickJS and SQLite allocate outside Python, so this is what the host itself keeps of the
answers (issue 22: kept once, in the script's heap and the store).

    python -m bench.memory [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from typing import Any

VARIANTS = ("bare", "imported", "agents_1000", "results_50mb", "transcripts_50mb")
#: the variants also run under tracemalloc
TRACED = ("results_50mb", "transcripts_50mb")
MIB = 1 << 20

META = "export const meta = { name: 'bench', description: 'memory benchmark' }\n"
AGENTS = META + (
    "const r = await parallel(Array.from({ length: args.n }, (_, i) => () =>\n"
    "  agent('task ' + i, { label: 'task ' + i })))\n"
    "return r.length\n"
)
HOLD = META + (
    "const kept = []\n"
    "for (let i = 0; i < args.n; i += 10) {\n"
    "  const size = Math.min(10, args.n - i)\n"
    "  const batch = await parallel(Array.from({ length: size }, (_, k) => () =>\n"
    "    agent('chunk ' + (i + k), { label: 'chunk ' + (i + k) })))\n"
    "  for (const text of batch) kept.push(text)\n"
    "}\n"
    "globalThis.kept = kept  // still held after the script's last step, when the heap is read\n"
    "let total = 0\n"
    "for (const text of kept) total += text.length\n"
    "return total\n"
)


def _peak_rss() -> int:
    """Peak RSS of this process in bytes: ``VmHWM`` of ``/proc/self/status`` on Linux.

    Not ``ru_maxrss`` there: after a fork (or vfork) and exec, Linux carries the parent's peak
    over into the child's ``ru_maxrss``, so a small child of a big bench process would show
    the bench's peak, not its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


# The bare interpreter: nothing imported but what it needs to print its own peak.
BARE = (
    "import json\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmHWM:'):\n"
    "        print(json.dumps({'peak_rss': int(line.split()[1]) * 1024}))\n"
)


def _child(variant: str, agents: int, held_mib: int, trace: bool = False) -> dict[str, Any]:
    from jshost import sandbox as sandbox_mod
    from jshost.engine import Limits
    from jshost.workers.base import AgentRequest, AgentResult, Usage, Worker
    from jshost.workers.sim import SimWorker

    from .common import run_in_process, temp_home

    if variant == "imported":
        return {"peak_rss": _peak_rss()}

    class LargeAnswers(Worker):
        """Answers ``size`` characters of text, different for every agent; with ``transcript``
        reports one, whose last entry is the answer."""

        name = "bench-large"

        def __init__(self, size: int, transcript: bool = False) -> None:
            self.size = size
            self.transcript = transcript

        async def run(self, request: AgentRequest) -> AgentResult:
            import trio

            await trio.lowlevel.checkpoint()
            head = f"{request.index:08d}"
            text = head + "x" * (self.size - len(head))
            transcript: tuple[dict[str, Any], ...] = ()
            if self.transcript:
                call = {"kind": "tool_use", "id": "t1", "tool": "Read", "input": {"file_path": "a"}}
                done = {"kind": "tool_result", "id": "t1", "content": "read", "is_error": False}
                transcript = (call, done, {"kind": "text", "text": text})
            return AgentResult(
                value=text,
                usage=Usage(1, self.size // 4),
                model="bench",
                transcript=transcript,
            )

    heap = {"peak": 0}
    original_settle = sandbox_mod.Sandbox.settle
    original_start = sandbox_mod.Sandbox.start

    def note(sandbox: Any) -> None:
        heap["peak"] = max(heap["peak"], sandbox.memory_used())

    def settle(self: Any, batch: str) -> Any:
        events = original_settle(self, batch)
        note(self)
        return events

    def start(self: Any, wrapped: str) -> Any:
        events = original_start(self, wrapped)
        note(self)
        return events

    sandbox_mod.Sandbox.settle = settle  # type: ignore[method-assign]
    sandbox_mod.Sandbox.start = start  # type: ignore[method-assign]
    limits = Limits(concurrency=16, max_agents=max(agents, held_mib))
    traced: dict[str, int] = {}
    if trace:
        import tracemalloc

        tracemalloc.start()
    with temp_home() as home:
        if variant == "agents_1000":
            m = run_in_process(
                AGENTS, worker=SimWorker(latency=0), limits=limits, home=home, args={"n": agents}
            )
            assert len(m.outcome.agents) == agents
        else:
            worker = LargeAnswers(MIB, transcript=variant == "transcripts_50mb")
            m = run_in_process(HOLD, worker=worker, limits=limits, home=home, args={"n": held_mib})
            assert m.outcome.result == held_mib * MIB, m.outcome.result
        if trace:
            traced["python_end"], traced["python_peak"] = tracemalloc.get_traced_memory()
    return {
        **traced,
        "peak_rss": _peak_rss(),
        "js_heap_peak": heap["peak"],
        "js_heap_limit": limits.sandbox.memory,
        "status": m.outcome.status,
    }


def _spawn(variant: str, agents: int, held_mib: int, trace: bool = False) -> dict[str, Any]:
    from .common import clean_env

    if variant == "bare":
        cmd = [sys.executable, "-c", BARE]
    else:
        cmd = [sys.executable, "-m", "bench.memory", "--child", variant]
        cmd += ["--agents", str(agents), "--held-mib", str(held_mib)]
        cmd += ["--trace"] if trace else []
    proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {variant} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout)


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    from .common import median, pick

    reps = repeat or pick(quick, 3, 1)
    agents = pick(quick, 1000, 200, 20)
    held = pick(quick, 50, 10, 2)
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    traced: dict[str, list[dict[str, Any]]] = {v: [] for v in TRACED}
    for _ in range(reps):
        for variant in VARIANTS:
            samples[variant].append(_spawn(variant, agents, held))
        for variant in TRACED:
            traced[variant].append(_spawn(variant, agents, held, trace=True))
    bare = median([s["peak_rss"] for s in samples["bare"]])
    figures: dict[str, Any] = {"repeats": reps, "agents": agents, "held_mib": held}
    for variant in VARIANTS:
        rss = median([s["peak_rss"] for s in samples[variant]])
        entry: dict[str, Any] = {
            "peak_rss_mib": rss / MIB,
            "over_bare_mib": (rss - bare) / MIB,
            "rss_over_bare": rss / bare,
        }
        if "js_heap_peak" in samples[variant][0]:
            peak = max(s["js_heap_peak"] for s in samples[variant])
            limit = samples[variant][0]["js_heap_limit"]
            entry.update(
                js_heap_peak_mib=peak / MIB,
                js_heap_limit_mib=limit / MIB,
                js_heap_under_limit=peak < limit,
            )
        figures[variant] = entry
    for variant in TRACED:
        figures[variant].update(
            python_end_mib=median([t["python_end"] for t in traced[variant]]) / MIB,
            python_peak_mib=median([t["python_peak"] for t in traced[variant]]) / MIB,
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    from .common import bench_parser  # lazily, like the rest: the child measures a bare start

    parser = bench_parser(__doc__)
    parser.add_argument("--child", choices=VARIANTS[1:], help=argparse.SUPPRESS)
    parser.add_argument("--agents", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--held-mib", type=int, default=50, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.agents, args.held_mib, args.trace)))
        return
    print(json.dumps(run(args.quick, args.repeat), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
