"""Start-up (figure 4): ``jshost --help`` and ``jshost validate samples/hello.js`` as whole
processes, against ``python -c pass`` as the floor.

Each command runs as a new process (cold imports: nothing is imported yet, the bytecode
caches are warm), alternately, after one warm-up round. Wall time is measured around the
process; CPU time (user + system) comes from ``getrusage(RUSAGE_CHILDREN)``, which load on
the machine does not inflate the way it does wall time. A separate run of each command with
``PYTHONPROFILEIMPORTTIME=1`` lists every module it imported, to check that the anthropic SDK
(about a second of imports) is not among them.

    python -m bench.startup [--quick] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .common import bench_parser, clean_env, jshost_command, median, run_process

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hello.js"


def commands() -> dict[str, list[str]]:
    jshost = jshost_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "jshost --help": [*jshost, "--help"],
        "jshost validate samples/hello.js": [*jshost, "validate", str(SAMPLE)],
    }


def imported_modules(cmd: list[str]) -> list[str]:
    """Every module ``cmd`` imports, from ``-X importtime``'s report."""
    proc = run_process(cmd, env=clean_env(PYTHONPROFILEIMPORTTIME="1"))
    names = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "package":
                names.append(name)
    return names


def validate_available() -> bool:
    proc = run_process([*jshost_command(), "validate", "--help"], env=clean_env())
    return proc.returncode == 0


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    reps = repeat or (3 if quick else 10)
    cmds = commands()
    if not validate_available():
        del cmds["jshost validate samples/hello.js"]
    env = clean_env()
    for cmd in cmds.values():  # warm-up: bytecode caches, page cache
        run_process(cmd, env=env)
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            p = run_process(cmd, env=env)
            if p.returncode != 0:
                raise RuntimeError(f"{name} exited {p.returncode}: {p.stderr.strip()[-500:]}")
            walls[name].append(p.wall)
            cpus[name].append(p.cpu)
    floor_wall = median(walls["python -c pass"])
    floor_cpu = median(cpus["python -c pass"])
    figures: dict[str, Any] = {"repeats": reps}
    for name, cmd in cmds.items():
        wall, cpu = median(walls[name]), median(cpus[name])
        entry: dict[str, Any] = {
            "wall_ms": wall * 1e3,
            "cpu_ms": cpu * 1e3,
            "wall_over_floor": wall / floor_wall,
            "cpu_over_floor": cpu / floor_cpu,
        }
        if name != "python -c pass":
            modules = imported_modules(cmd)
            entry["modules_imported"] = len(modules)
            entry["anthropic_imported"] = any(
                m == "anthropic" or m.startswith("anthropic.") for m in modules
            )
        figures[name] = entry
    if "jshost validate samples/hello.js" not in cmds:
        figures["jshost validate samples/hello.js"] = None
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(__doc__)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.repeat), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
