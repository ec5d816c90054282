"""Start-up (figure 4): whole processes, each beside its floor.

- ``jshost --help`` and ``jshost validate samples/hello.js`` against ``python -c pass``;
- ``jshost run`` of a one-agent script (sim worker, zero latency, its own store) against a
  Python process that imports trio and runs one task under a ``CapacityLimiter``: the same
  schedule with nothing of jshost (issue 22's target: ≤ 1.2 × that floor).

Each command runs as a new process (cold imports: nothing is imported yet, the bytecode
caches are warm), alternately, after one warm-up round. Wall time is measured around the
process; CPU time (user + system) comes from ``getrusage(RUSAGE_CHILDREN)``, which load on
the machine does not inflate the way it does wall time. A row's ratio to its floor is taken
per repeat (the row and its floor ran in the same round) and reported as the median with its
spread. A separate run of each jshost command with ``PYTHONPROFILEIMPORTTIME=1`` lists every
module it imported, to check that the anthropic SDK (about a second of imports) is not among
them.

    python -m bench.startup [--quick] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .common import (
    bench_parser,
    clean_env,
    jshost_command,
    median,
    pick,
    run_process,
    spread,
    temp_home,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hello.js"

PYTHON_FLOOR = "python -c pass"
TRIO_FLOOR = "python: trio, 1 task under a CapacityLimiter"
RUN_ONE = "jshost run (1 agent)"
DEPS_FLOOR = "python: trio + jshost's dependencies imported, 1 task"
VALIDATE = "jshost validate samples/hello.js"

#: ``jshost run``'s floor: what the run schedules for its one agent, in bare trio.
TRIO_ONE_TASK = """
import trio

async def main():
    limiter = trio.CapacityLimiter(16)

    async def one():
        async with limiter:
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one)

trio.run(main)
"""

#: what no jshost can go below: the floor's schedule after importing the packages ``jshost run``
#: cannot do without (the CLI parser, the store, the sandbox, the parser), none of them used.
#: The sandbox's binding is the C extension ``_quickjs``, as jshost imports it (the ``quickjs``
#: package's Python layer around it is not on jshost's path).
DEPS_ONE_TASK = (
    "import json, sqlite3\n"
    "import click, _quickjs, tree_sitter, tree_sitter_javascript\n" + TRIO_ONE_TASK
)

ONE_AGENT = """\
export const meta = { name: 'one', description: 'start-up benchmark: one agent' }
return await agent('say hello', { label: 'hello' })
"""

#: each command's floor: the same work without jshost
FLOORS = {
    PYTHON_FLOOR: PYTHON_FLOOR,
    "jshost --help": PYTHON_FLOOR,
    VALIDATE: PYTHON_FLOOR,
    TRIO_FLOOR: TRIO_FLOOR,
    RUN_ONE: TRIO_FLOOR,
    DEPS_FLOOR: TRIO_FLOOR,
}


def commands(one_agent: Path | None = None) -> dict[str, list[str]]:
    jshost = jshost_command()
    cmds = {
        PYTHON_FLOOR: [sys.executable, "-c", "pass"],
        "jshost --help": [*jshost, "--help"],
        VALIDATE: [*jshost, "validate", str(SAMPLE)],
    }
    if one_agent is not None:
        cmds[TRIO_FLOOR] = [sys.executable, "-c", TRIO_ONE_TASK]
        cmds[DEPS_FLOOR] = [sys.executable, "-c", DEPS_ONE_TASK]
        cmds[RUN_ONE] = [
            *jshost, "run", str(one_agent), "--worker", "sim", "--sim-latency", "0",
            "--yes", "--quiet", "--no-live", "--no-interactive",
        ]  # fmt: skip
    return cmds


def imported_modules(cmd: list[str], env: dict[str, str] | None = None) -> list[str]:
    """Every module ``cmd`` imports, from ``-X importtime``'s report."""
    env = dict(env or clean_env())
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    return _modules(run_process(cmd, env=env).stderr)


def _modules(stderr: str) -> list[str]:
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                names.append(name)
    return names


def validate_available() -> bool:
    proc = run_process([*jshost_command(), "validate", "--help"], env=clean_env())
    return proc.returncode == 0


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    reps = repeat or pick(quick, 10, 5, 1)
    with temp_home() as home:
        one_agent = home / "one.js"
        one_agent.write_text(ONE_AGENT, encoding="utf-8")
        env = clean_env(JSHOST_HOME=str(home / "store"))
        # Bytecode caches as an installed package has them: a shell with
        # PYTHONDONTWRITEBYTECODE set would otherwise have every jshost module compiled from
        # source in every round (a third of `jshost run`'s CPU on 2026-12-06), which is a
        # figure of the shell, not of jshost. The warm-up round writes them, out of the tree.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
        return measure(commands(one_agent), reps, env, warm_up=pick(quick, True, True, False))


def measure(
    cmds: dict[str, list[str]], reps: int, env: dict[str, str], *, warm_up: bool = True
) -> dict[str, Any]:
    if not validate_available():
        del cmds[VALIDATE]
    if warm_up:  # bytecode caches, page cache, the store's schema
        for cmd in cmds.values():
            run_process(cmd, env=env)
    else:
        # A smoke run: one round, which also lists the modules (its timings are not figures),
        # so no command runs twice.
        env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    stderrs: dict[str, str] = {}
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():  # alternately: a row and its floor see the same load
            p = run_process(cmd, env=env)
            if p.returncode != 0:
                raise RuntimeError(f"{name} exited {p.returncode}: {p.stderr.strip()[-500:]}")
            walls[name].append(p.wall)
            cpus[name].append(p.cpu)
            stderrs[name] = p.stderr
    figures: dict[str, Any] = {"repeats": reps}
    for name, cmd in cmds.items():
        floor = FLOORS[name]
        wall_ratios = [w / f for w, f in zip(walls[name], walls[floor], strict=True)]
        # getrusage counts in clock ticks: a floor that read 0 gives no ratio, not infinity.
        cpu_ratios = [c / f for c, f in zip(cpus[name], cpus[floor], strict=True) if f > 0]
        entry: dict[str, Any] = {
            "floor": floor,
            "wall_ms": median(walls[name]) * 1e3,
            "cpu_ms": median(cpus[name]) * 1e3,
            "wall_over_floor": median(wall_ratios),
            "cpu_over_floor": median(cpu_ratios) if cpu_ratios else None,
            "wall_ms_spread": spread(walls[name], 1e3, 1),
            "cpu_ms_spread": spread(cpus[name], 1e3, 1),
            "wall_over_floor_spread": spread(wall_ratios, digits=3),
        }
        if name not in FLOORS.values() and name != DEPS_FLOOR:
            modules = imported_modules(cmd, env) if warm_up else _modules(stderrs[name])
            entry["modules_imported"] = len(modules)
            entry["anthropic_imported"] = any(
                m == "anthropic" or m.startswith("anthropic.") for m in modules
            )
        figures[name] = entry
    if VALIDATE not in cmds:
        figures[VALIDATE] = None
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.repeat), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
