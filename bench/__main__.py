"""Run every jshost benchmark and print the figures as a table.

    python -m bench                # everything, a few minutes on 2 cores
    python -m bench --quick        # a short run: fewer agents, fewer repeats
    python -m bench --smoke        # every section at its smallest (tests/test_bench_smoke.py)
    python -m bench --json         # the figures as one JSON object on stdout
    python -m bench --only makespan,startup

Sections: makespan (figures 1 and 2: makespan efficiency and shapes), overhead (3: host CPU
per agent), warm (3b: CPU per agent of a run in a warm process), resume (3c: 1000 cached
agents replayed), startup (4), validate (5:
validation speed), memory (6), live (7: live view cost), prefix_cache (8: prompt-cache stagger,
input-token cost of a same-prefix fan-out). Each figure is a ratio or a count measured side by
side in one run. Benchmarks are not tests: they never fail on a timing, and pytest never collects
them (tests/test_bench_smoke.py runs ``--smoke`` only to check that every section still runs).
Progress goes to stderr, the table (or the JSON) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from . import common

SECTIONS = (
    "makespan",
    "overhead",
    "warm",
    "resume",
    "startup",
    "validate",
    "memory",
    "live",
    "prefix_cache",
)

MAKESPAN_TARGET = 1.03
OVERHEAD_TARGET_US = 100.0
LIVE_TARGET = 1.05
RUN_STARTUP_TARGET = 1.2  # jshost run (1 agent) ÷ its bare-trio floor, issue 22

#: ``--json``'s layout version: raised when a documented key (bench/RESULTS.md) is renamed or
#: removed; new keys may appear without it.
JSON_SCHEMA = 1


def _makespan(quick: bool, repeat: int | None) -> Any:
    from . import makespan

    return makespan.run(quick, repeat)


def _overhead(quick: bool, repeat: int | None) -> Any:
    from . import overhead

    return overhead.run(quick, repeat)


def _warm(quick: bool, repeat: int | None) -> Any:
    from . import warm

    return warm.run(quick, repeat)


def _resume(quick: bool, repeat: int | None) -> Any:
    from . import resume

    return resume.run(quick, repeat)


def _startup(quick: bool, repeat: int | None) -> Any:
    from . import startup

    return startup.run(quick, repeat)


def _validate(quick: bool, repeat: int | None) -> Any:
    try:
        from . import validate_speed
    except ImportError:  # lands with `jshost validate`
        return None
    only = ("16 KiB",) if common.pick(quick, False, False, True) else None
    return validate_speed.measure(repeat or (1 if quick else 5), only)


def _memory(quick: bool, repeat: int | None) -> Any:
    from . import memory

    return memory.run(quick, repeat)


def _live(quick: bool, repeat: int | None) -> Any:
    from . import live_view

    if quick:
        agents = common.pick(quick, 1000, 200, 20)
        return live_view.measure(agents=agents, latency=0.01, repeat=repeat or 1)
    return live_view.measure(agents=1000, latency=0.01, repeat=repeat or 3)


def _prefix_cache(quick: bool, repeat: int | None) -> Any:
    from . import prefix_cache

    return prefix_cache.run(quick, repeat)


RUNNERS: dict[str, Callable[[bool, int | None], Any]] = {
    "makespan": _makespan,
    "overhead": _overhead,
    "warm": _warm,
    "resume": _resume,
    "startup": _startup,
    "validate": _validate,
    "memory": _memory,
    "live": _live,
    "prefix_cache": _prefix_cache,
}


# ---- the table ---------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append(indent + "  ".join(cells).rstrip())
        if n == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def _range(s: dict[str, Any], fmt: str = "{:.2f}") -> str:
    """A spread from ``common.spread`` as ``low..high``."""
    return f"{fmt.format(s['min'])}..{fmt.format(s['max'])}"


def _peaks(peaks: list[int]) -> str:
    low, high = min(peaks), max(peaks)
    return str(high) if low == high else f"{low}..{high}"


def _makespan_rows(cases: dict[str, Any]) -> list[str]:
    rows = [
        ["case", "ideal", "wall", "wall/ideal", "", "floor/ideal", "wall/floor", "(low..high)",
         "peak/cap", "mean wait (ideal)"],
    ]  # fmt: skip
    for name, f in cases.items():
        cap = 1 if name == "chain" else min(f["concurrency"], f["agents"])
        ideal_wait = f["ideal_mean_queue_wait_s"]
        wait = _ms(f["mean_queue_wait_s"])
        if ideal_wait is not None:
            wait += f" ({_ms(ideal_wait)})"
        rows.append(
            [
                name,
                _ms(f["ideal_s"]),
                _ms(f["wall_s"]),
                f"{f['wall_over_ideal']:.3f}",
                _verdict(f["wall_over_ideal"] <= MAKESPAN_TARGET),
                f"{f['floor_over_ideal']:.3f}",
                f"{f['wall_over_floor']:.3f}",
                _range(f["wall_over_floor_spread"], "{:.3f}")
                if "wall_over_floor_spread" in f
                else "(c16_50ms)",
                _peaks(f["peak_concurrency_all"]) + f"/{cap} " + _verdict(f["peak_is_cap"]),
                wait,
            ]
        )
    return _table(rows)


def format_report(figures: dict[str, Any]) -> list[str]:
    m = figures["machine"]
    lines = [
        f"jshost benchmarks ({figures['size']} run, {figures['seconds']:.0f} s)",
        f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu'] or '?'}, "
        f"Python {m['python']}, quickjs-ng {m['quickjs_ng']}, trio {m['trio']}, "
        f"SQLite {m['sqlite']}",
        f"load average (1/5/15 min): {'/'.join(map(str, m['loadavg']))} at start, "
        f"{'/'.join(map(str, figures['loadavg_end']))} at the end",
        "",
    ]
    res = figures["results"]

    if "makespan" in res:
        ms = res["makespan"]
        first = next(iter(ms["makespan"].values()))
        lines += [
            f"1. Makespan efficiency: {first['agents']} sim agents started at once, in-process "
            f"(real engine, sandbox thread, SQLite store), median of {first['repeats']}; "
            f"target wall/ideal <= {MAKESPAN_TARGET}",
            "   ideal = ceil(N/c) x latency; floor = the same schedule in bare trio "
            "(sleeps under a CapacityLimiter)",
            *_makespan_rows(ms["makespan"]),
            "",
            "2. Shapes at concurrency 16, latency 50 ms (chain: ideal = N x latency; the other "
            "shapes' floor is the flat one of case c16_50ms)",
            *_makespan_rows(ms["shapes"]),
            "",
        ]

    if "overhead" in res:
        ov = res["overhead"]
        lines.append(
            "3. Host overhead: CPU per agent round trip (all threads), zero-latency sim agents, "
            f"marginal over a 1-agent run, median of {next(iter(ov.values()))['repeats']}; "
            f"target <= {OVERHEAD_TARGET_US:.0f} us"
        )
        rows = [["shape", "agents", "CPU/agent", "(low..high)", "", "fixed", "sandbox", "engine",
                 "store", "worker", "hand-off"]]  # fmt: skip
        for shape, f in ov.items():
            g = f["split_groups_us"]
            rows.append(
                [
                    shape,
                    str(f["agents"]),
                    f"{f['cpu_per_agent_us']:.0f} us",
                    _range(f["cpu_per_agent_us_spread"], "{:.0f}"),
                    _verdict(f["cpu_per_agent_us"] <= OVERHEAD_TARGET_US),
                    f"{f['fixed_cpu_ms']:.1f} ms",
                    *(f"{g[k]:.0f} us" for k in ("sandbox", "engine", "store", "worker")),
                    f"{g['thread_hand_off']:.0f} us",
                ]
            )
        lines += _table(rows)
        lines.append(
            "   split (instrumented run, us per agent): sandbox = QuickJS steps; engine = "
            "agent() calls in, slots, results, loop + trio; store = row buffering + commits; "
            "hand-off = the JS thread's executor"
        )
        for shape, f in ov.items():
            s = f["split_us"]
            parts = ", ".join(f"{k} {v:g}" for k, v in s.items() if k != "total_instrumented")
            lines.append(f"   {shape}: {parts} (instrumented total {s['total_instrumented']:g})")
        chain = ov.get("chain", {})
        if "floor_us" in chain:
            fl = chain["floor_us"]
            lines.append(
                "   chain floor (bare trio, no engine; us a link, each adding to the one before): "
                f"a task and a thread hop {fl['trio_hop']:.0f}, + the link's commit "
                f"{fl['commit']:.0f}, + a QuickJS promise step {fl['js_step']:.0f}; "
                f"chain / floor {chain['cpu_over_floor']:.2f}"
            )
        lines.append("")

    if "warm" in res:
        wa = res["warm"]

        def warm_row(latency_s: float, fig: dict[str, Any], first: str) -> list[str]:
            ratio_spread = fig["cpu_over_floor_spread"]
            return [
                f"{latency_s * 1e3:.0f} ms",
                f"{fig['cpu_per_agent_us']:.0f} us",
                _range(fig["cpu_per_agent_us_spread"], "{:.0f}"),
                _verdict(fig["cpu_per_agent_us"] <= wa["target_us"]),
                f"{fig['floor_cpu_per_agent_us']:.0f} us",
                "n/a" if fig["cpu_over_floor"] is None else f"{fig['cpu_over_floor']:.2f}",
                "" if ratio_spread is None else _range(ratio_spread),
                first,
            ]

        rows = [warm_row(wa["latency_s"], wa, f"{wa['first_run_cpu_per_agent_us']:.0f} us")]
        if "zero_latency" in wa:
            rows.append(warm_row(0.0, wa["zero_latency"], ""))
        lines += [
            f"3b. Host CPU per agent in a warm process: {wa['agents']} sim agents, "
            f"c{wa['concurrency']}, the whole run's CPU (all threads) / agents, after a first run "
            f"in the same process; floor = the same schedule in bare trio, right after each run; "
            f"median of {wa['repeats']} (low..high); target <= {wa['target_us']:.0f} us",
            *_table(
                [
                    [
                        "latency",
                        "CPU/agent",
                        "(low..high)",
                        "",
                        "floor",
                        "CPU/floor",
                        "(low..high)",
                        "first run",
                    ],
                    *rows,
                ]
            ),
            "   at 50 ms the floor alone (bare trio's timers and wake-ups) is near or over the "
            "target; at 0 ms what is left is the host's own work an agent",
            "",
        ]

    if "resume" in res:
        rs = res["resume"]
        lines += [
            f"3c. Resume replay: {rs['agents']} cached agents answered from the journal "
            f"(jshost resume's pipeline, in-process), the host's CPU (all threads) and wall from "
            f"opening the run to its outcome, median of {rs['repeats']} (low..high); floor = "
            f"one query for the journal's results + the same calls in a bare QuickJS context; "
            f"target <= {rs['target_s']:g} s",
            *_table(
                [
                    [
                        "CPU",
                        "(low..high)",
                        "wall",
                        "(low..high)",
                        "",
                        "per agent",
                        "floor",
                        "CPU/floor",
                        "fresh run CPU",
                    ],
                    [
                        f"{rs['cpu_s'] * 1e3:.0f} ms",
                        _range(rs["cpu_s_spread"], "{:.3f}"),
                        f"{rs['wall_s'] * 1e3:.0f} ms",
                        _range(rs["wall_s_spread"], "{:.3f}"),
                        _verdict(max(rs["cpu_s"], rs["wall_s"]) <= rs["target_s"]),
                        f"{rs['cpu_per_agent_us']:.0f} us",
                        f"{rs['floor_cpu_s'] * 1e3:.1f} ms",
                        f"{rs['cpu_over_floor']:.1f}",
                        f"{rs['fresh_cpu_s'] * 1e3:.0f} ms",
                    ],
                ]
            ),
            "",
        ]

    if "startup" in res:
        st = res["startup"]
        lines.append(
            f"4. Start-up: whole processes, cold imports, each beside its floor, median of "
            f"{st['repeats']} alternating rounds (low..high of the per-round ratio); CPU = user "
            f"+ system of the child; target for jshost run: wall/floor <= {RUN_STARTUP_TARGET}"
        )
        rows = [["command", "floor", "wall", "CPU", "wall/floor", "(low..high)", "",
                 "CPU/floor", "modules", "anthropic"]]  # fmt: skip
        for name, f in st.items():
            if name == "repeats":
                continue
            if f is None:
                rows.append([name, "", "n/a", "", "", "", "", "", "", "(no validate command)"])
                continue
            anthropic = f.get("anthropic_imported")
            is_floor = f["floor"] == name
            verdict = ""
            if name.startswith("jshost run"):
                verdict = _verdict(f["wall_over_floor"] <= RUN_STARTUP_TARGET)
            cpu_ratio = f["cpu_over_floor"]
            rows.append(
                [
                    name,
                    "(floor)" if is_floor else "bare trio" if "trio" in f["floor"] else f["floor"],
                    f"{f['wall_ms']:.0f} ms",
                    f"{f['cpu_ms']:.0f} ms",
                    f"{f['wall_over_floor']:.2f}",
                    "" if is_floor else _range(f["wall_over_floor_spread"]),
                    verdict,
                    "n/a" if cpu_ratio is None else f"{cpu_ratio:.2f}",
                    str(f.get("modules_imported", "")),
                    "" if anthropic is None else ("IMPORTED: MISS" if anthropic else "no: ok"),
                ]
            )
        lines += [*_table(rows), ""]

    if "validate" in res:
        va = res["validate"]
        if va is None:
            lines += ["5. Validation speed: n/a (bench/validate_speed.py lands with validate)", ""]
        else:
            lines.append(
                f"5. Validation speed: validate_source in-process, median; target "
                f"<= {va['target_s']:g} s per script, and <= "
                f"{va.get('target_512k_s', 0.3):g} s of CPU for 512 KiB (issue 22); floor = "
                "one tree-sitter parse + the sandbox's syntax check of the script (QuickJS "
                "compiles it as a declaration; as a method only when the function's source "
                "text does not prove its end, as an expression only where a / token needs it)"
            )
            rows = [["size", "chars", "lines", "wall", "CPU", "wall/target", "", "diagnostics",
                     "floor CPU", "CPU/floor", "512 KiB target"]]  # fmt: skip
            for f in va["sizes"]:
                floor = f.get("floor_cpu_seconds")
                big = f["size"] == "512 KiB"
                rows.append(
                    [
                        f["size"],
                        f"{f['chars']:,}",
                        f"{f['lines']:,}",
                        f"{f['seconds'] * 1e3:.0f} ms",
                        f"{f['cpu_seconds'] * 1e3:.0f} ms",
                        f"{f['ratio']:.3f}",
                        _verdict(f["ratio"] <= 1),
                        str(f["diagnostics"]),
                        "" if floor is None else f"{floor * 1e3:.0f} ms",
                        "" if not f.get("cpu_over_floor") else f"{f['cpu_over_floor']:.2f}",
                        _verdict(f["cpu_seconds"] <= va.get("target_512k_s", 0.3)) if big else "",
                    ]
                )
            lines += _table(rows)
            lines += [
                f"   jshost validate on the {va['command_size']} script as a process: "
                f"{va['command_s'] * 1e3:.0f} ms",
                "",
            ]

    if "memory" in res:
        me = res["memory"]
        lines.append(
            f"6. Memory: peak RSS (VmHWM) of a child process per variant, median of "
            f"{me['repeats']}; JS heap = QuickJS memory_used_size after each step"
        )
        rows = [["variant", "peak RSS", "over bare", "RSS/bare", "JS heap peak", "limit", ""]]
        names = {
            "bare": "bare interpreter",
            "imported": "run modules imported",
            "agents_1000": f"{me['agents']}-agent run",
            "results_50mb": f"{me['held_mib']} MiB of results held in JS",
            "transcripts_50mb": "the same, with transcripts",
        }
        for variant, label in names.items():
            if variant not in me:  # a results file from before the variant
                continue
            f = me[variant]
            heap = "js_heap_peak_mib" in f
            rows.append(
                [
                    label,
                    f"{f['peak_rss_mib']:.1f} MiB",
                    f"{f['over_bare_mib']:.1f} MiB",
                    f"{f['rss_over_bare']:.2f}",
                    f"{f['js_heap_peak_mib']:.1f} MiB" if heap else "",
                    f"{f['js_heap_limit_mib']:.0f} MiB" if heap else "",
                    _verdict(f["js_heap_under_limit"]) if heap else "",
                ]
            )
        lines += _table(rows)
        for variant, which in (
            ("results_50mb", "run"),
            ("transcripts_50mb", "run with transcripts"),
        ):
            held = me.get(variant, {})
            if "python_end_mib" in held:
                lines.append(
                    f"   the {me['held_mib']} MiB {which}'s Python memory (tracemalloc, a run of "
                    f"its own): {held['python_end_mib']:.1f} MiB when it has ended, "
                    f"{held['python_peak_mib']:.1f} MiB at its peak"
                )
        lines.append("")

    if "live" in res:
        lv = res["live"]
        lines += [
            f"7. Live view cost: {lv['agents']} sim agents at {lv['latency_s'] * 1e3:.0f} ms as "
            "whole `jshost run` processes, live view on a pty vs --quiet (run's own elapsed)",
            *_table(
                [
                    ["quiet", "live", "live/quiet", ""],
                    [
                        f"{lv['quiet_s']:.3f} s",
                        f"{lv['live_s']:.3f} s",
                        f"{lv['ratio']:.3f}",
                        _verdict(lv["ratio"] <= LIVE_TARGET) + f" (target <= {LIVE_TARGET})",
                    ],
                ]
            ),
            "",
        ]
    if "prefix_cache" in res:
        from .prefix_cache import format_rows

        pc = res["prefix_cache"]
        lines += [
            f"8. Prompt-cache stagger: {pc['agents']} schema agents sharing a "
            f"{pc['schema_chars']:,}-character schema, anthropic worker against the loopback "
            f"server's prompt cache, {pc['prefill_s']} s before each response starts; input cost "
            "in base input tokens (cache write 1.25x, read 0.1x)",
            *format_rows(pc),
            "",
        ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run: fewer agents and repeats")
    size.add_argument(
        "--smoke", action="store_true", help="every section at its smallest: checks, not figures"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--repeat", type=int, help="repeats of every measurement")
    parser.add_argument(
        "--only", metavar="SECTIONS", help=f"comma-separated subset of: {', '.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    chosen = SECTIONS
    if args.only:
        chosen = tuple(s.strip() for s in args.only.split(",") if s.strip())
        unknown = [s for s in chosen if s not in SECTIONS]
        if unknown:
            parser.error(f"unknown section(s): {', '.join(unknown)}")

    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    common.set_size(size)
    quick = size != "full"
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "size": size,
        "quick": quick,
        "machine": common.machine(),
        "results": {},
    }
    for name in chosen:
        t0 = time.perf_counter()
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        figures["results"][name] = RUNNERS[name](quick, args.repeat)
        print(f"bench: {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    figures["seconds"] = time.perf_counter() - started
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("\n".join(format_report(figures)))


if __name__ == "__main__":
    main()
