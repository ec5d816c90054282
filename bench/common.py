"""Shared pieces of the benchmarks: running a script in-process as ``jshost run`` does,
machine facts, medians, and whole-process runs with a clean environment.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import trio

from jshost._api import Workflow, prepare
from jshost.engine import NO_ARGS, Limits, RunOutcome
from jshost.script import parse_script
from jshost.script.validate import validate_source
from jshost.store import Store
from jshost.workers.base import Worker

#: How big a run is: ``full`` (the figures), ``quick`` (a run of about 30 s) or ``smoke`` (every
#: section at its smallest, a few seconds; what tests/test_bench_smoke.py runs). ``smoke`` also
#: passes ``quick=True`` to every section, so a section that does not look at the size still
#: runs small.
SIZES = ("full", "quick", "smoke")
_size = "full"


def set_size(size: str) -> None:
    global _size
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    _size = size


def pick(quick: bool, full: Any, quick_value: Any, smoke: Any | None = None) -> Any:
    """The value for this run's size. ``quick`` is the section's own flag (a section run
    alone with ``--quick``); ``smoke`` falls back to ``quick_value`` when not given."""
    if _size == "smoke":
        return quick_value if smoke is None else smoke
    return quick_value if quick or _size == "quick" else full


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 4) -> dict[str, Any]:
    """Median, lowest and highest of some repeats (times ``scale``), and every value: the
    spread is what a target is judged against, since on a shared machine it is the noise."""
    scaled = [v * scale for v in values]
    return {
        "median": round(statistics.median(scaled), digits),
        "min": round(min(scaled), digits),
        "max": round(max(scaled), digits),
        "all": [round(v, digits) for v in scaled],
    }


def machine() -> dict[str, Any]:
    """Where the figures come from: cores, Python, versions, load average now."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "quickjs_ng": _version("quickjs-ng"),
        "trio": _version("trio"),
        "sqlite": sqlite3.sqlite_version,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


@contextlib.contextmanager
def temp_home() -> Iterator[Path]:
    """A fresh ``JSHOST_HOME`` for one benchmark, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jshost-bench-") as tmp:
        yield Path(tmp)


@dataclass
class Measured:
    """One in-process run: its outcome, wall seconds (the engine's own elapsed) and the
    process CPU seconds it took (every thread: trio, the JS thread, SQLite)."""

    outcome: RunOutcome
    wall: float
    cpu: float


def run_in_process(
    source: str,
    *,
    worker: Worker,
    limits: Limits,
    home: Path,
    args: Any = NO_ARGS,
    store: bool = True,
    engine_hook: Any = None,
) -> Measured:
    """Run ``source`` the way ``jshost run --quiet --yes`` does, without the process around it.

    The real ``Engine`` with the given worker, its sandbox on its own JS thread, and the real
    SQLite ``RunRecorder`` (a run row in ``home``'s store, every result committed before the
    script sees it, the run's end recorded). No progress UI, as with ``--quiet``.
    """
    workflow = Workflow(parse_script(source, path="bench.js"), validate_source(source))
    db = Store(home / "jshost.db") if store else None
    try:
        # The pipeline every run takes (jshost._api): the CLI's, jshost.run's and this one.
        prepared = prepare(workflow, worker=worker, limits=limits, args=args, store=db)
        engine = prepared.engine()
        if engine_hook is not None:
            engine_hook(engine)

        cpu0 = time.process_time()
        outcome = trio.run(prepared.serve, engine)
        prepared.finish(outcome)
        cpu = time.process_time() - cpu0
    finally:
        if db is not None:
            db.close()
    if outcome.status != "completed":
        raise RuntimeError(f"benchmark run {outcome.status}: {outcome.error}")
    return Measured(outcome=outcome, wall=outcome.elapsed, cpu=cpu)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a whole-process run: no API key, no jshost settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env.update(extra)
    return env


@dataclass
class ProcessTime:
    wall: float
    cpu: float  # user + system seconds of the child
    returncode: int
    stdout: str
    stderr: str


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> ProcessTime:
    """Run ``cmd`` to its end; wall time, and the child's CPU time from ``getrusage``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ProcessTime(wall, cpu, proc.returncode, proc.stdout, proc.stderr)


def jshost_command() -> list[str]:
    """The installed ``jshost`` console script next to this interpreter, else ``-m jshost``."""
    script = Path(sys.executable).with_name("jshost")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "jshost"]


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options every benchmark module takes: ``--quick``, ``--repeat N``, ``--json``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke variant")
    parser.add_argument("--repeat", type=int, help="repeats per figure")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser
