"""The bench still runs: every section of ``python -m bench`` at its smallest (``--smoke``).

Modules move (issue 16) and private names change; the bench times some of them by name. This
runs the real ``python -m bench --smoke --json`` as a process, the way a person would, and
checks that every section produced its figures: the documented keys are there and every number
is finite. It never judges a timing: under a loaded machine any figure may be anything.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import SECTIONS, format_report

ROOT = Path(__file__).resolve().parent.parent

#: the keys bench/RESULTS.md documents, per section (a section not listed here, such as one
#: added later, is still checked for running and for finite numbers)
EXPECTED: dict[str, dict[Any, tuple[str, ...]]] = {
    "makespan": {
        ("makespan", "c16_50ms"): ("wall_s", "ideal_s", "wall_over_ideal", "floor_over_ideal",
                              "wall_over_floor", "peak_concurrency", "mean_queue_wait_s"),
        ("makespan", "c16_10ms"): ("wall_over_ideal", "wall_over_floor"),
        ("makespan", "c64_50ms"): ("wall_over_ideal", "wall_over_floor"),
        ("makespan", "c256_50ms"): ("wall_over_ideal", "wall_over_floor"),
        ("shapes", "parallel"): ("wall_over_ideal", "wall_over_floor"),
        ("shapes", "pipeline"): ("wall_over_ideal", "wall_over_floor"),
        ("shapes", "nested"): ("wall_over_ideal", "wall_over_floor"),
        ("shapes", "chain"): ("wall_over_ideal", "wall_over_floor", "floor_s"),
    },
    "overhead": {
        "parallel": ("cpu_per_agent_us", "fixed_cpu_ms", "split_us", "split_groups_us"),
        "chain": ("cpu_per_agent_us", "fixed_cpu_ms", "split_us", "split_groups_us",
                  "floor_us", "cpu_over_floor"),
        ("chain", "floor_us"): ("trio_hop", "commit", "js_step"),
    },
    "warm": {
        "": ("agents", "cpu_per_agent_us", "cpu_per_agent_us_spread", "floor_cpu_per_agent_us",
             "cpu_over_floor", "cpu_over_floor_spread", "first_run_cpu_per_agent_us",
             "zero_latency"),
        "zero_latency": ("cpu_per_agent_us", "cpu_per_agent_us_spread",
                         "floor_cpu_per_agent_us", "cpu_over_floor", "cpu_over_floor_spread"),
    },
    "resume": {
        "": ("agents", "cpu_s", "wall_s", "cpu_s_spread", "floor_cpu_s", "cpu_over_floor",
             "fresh_cpu_s"),
    },
    "startup": {
        command: ("floor", "wall_ms", "cpu_ms", "wall_over_floor", "wall_over_floor_spread")
        for command in ("python -c pass", "jshost --help", "jshost validate samples/hello.js",
                        "python: trio, 1 task under a CapacityLimiter", "jshost run (1 agent)")
    },
    "validate": {"": ("target_s", "sizes", "command_size", "command_s")},
    "memory": {
        **{
            variant: ("peak_rss_mib", "over_bare_mib", "rss_over_bare")
            for variant in ("bare", "imported", "agents_1000", "results_50mb", "transcripts_50mb")
        },
        **{
            variant: ("peak_rss_mib", "over_bare_mib", "rss_over_bare", "python_end_mib",
                      "python_peak_mib")
            for variant in ("results_50mb", "transcripts_50mb")
        },
    },
    "live": {"": ("agents", "quiet_s", "live_s", "ratio")},
}  # fmt: skip


def _at(tree: dict[str, Any], path: str | tuple[str, ...]) -> Any:
    """The entry at ``path``: a key, a tuple of keys, or "" for the section itself."""
    for part in (path,) if isinstance(path, str) else path:
        if part:
            assert isinstance(tree, dict) and part in tree, f"missing {path!r}"
            tree = tree[part]
    return tree


def _numbers(value: Any, where: str = "") -> list[tuple[str, float]]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [(where, float(value))]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _numbers(v, f"{where}[{i}]")]
    raise AssertionError(f"{where}: unexpected {type(value).__name__} in the figures")


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSHOST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_every_section_runs_and_gives_its_figures(figures: dict[str, Any]) -> None:
    assert figures["size"] == "smoke"
    assert isinstance(figures["schema"], int)
    results = figures["results"]
    assert sorted(results) == sorted(SECTIONS)
    for section in SECTIONS:
        assert results[section], f"section {section} produced nothing"
        for path, keys in EXPECTED.get(section, {}).items():
            entry = _at(results[section], path)
            missing = [k for k in keys if k not in entry]
            assert not missing, f"{section}.{path}: missing {missing}"


@pytest.mark.slow
def test_every_figure_is_a_finite_number(figures: dict[str, Any]) -> None:
    numbers = _numbers(figures["results"])
    assert len(numbers) > 100
    bad = [(where, n) for where, n in numbers if not math.isfinite(n)]
    assert not bad, bad


@pytest.mark.slow
def test_the_new_rows_stand_beside_their_floors(figures: dict[str, Any]) -> None:
    results = figures["results"]
    run = results["startup"]["jshost run (1 agent)"]
    assert run["floor"] == "python: trio, 1 task under a CapacityLimiter"
    assert run["modules_imported"] > 0 and run["anthropic_imported"] is False
    assert results["startup"][run["floor"]]["wall_ms"] > 0
    warm = results["warm"]
    assert warm["cpu_per_agent_us"] > 0 and warm["floor_cpu_per_agent_us"] > 0
    spread = warm["cpu_per_agent_us_spread"]
    assert spread["min"] <= spread["median"] <= spread["max"]
    assert len(spread["all"]) == warm["repeats"]
    zero = warm["zero_latency"]
    assert zero["cpu_per_agent_us"] > 0 and zero["floor_cpu_per_agent_us"] > 0
    assert len(zero["cpu_per_agent_us_spread"]["all"]) == warm["repeats"]


@pytest.mark.slow
def test_the_report_prints_every_section(figures: dict[str, Any]) -> None:
    text = "\n".join(format_report(figures))
    for heading in ("1. Makespan", "2. Shapes", "3. Host overhead", "3b. Host CPU per agent",
                    "3c. Resume replay", "4. Start-up", "5. Validation speed", "6. Memory",
                    "7. Live view"):  # fmt: skip
        assert heading in text
    assert "jshost run (1 agent)" in text and "bare trio" in text
