"""Stops and timeouts land whatever the script does (issue 15, class 3), through the real CLI.

Each script first finishes one agent, then never yields to the host on its own: it spins in
one synchronous step, chains microtasks for ever, or loops over requests the host answers at
once. SIGINT, SIGTERM and ``--timeout`` must each end the process within a few seconds (the
bound is generous for a loaded 2-core machine; before the fix these ran 30–50 s or until
SIGKILL), with the run saved as stopped (a signal) or failed (the timeout), never left
"interrupted", and the finished agent's result kept.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from procs import committed, jshost

HEAD = """export const meta = { name: 'no-yield', description: 'never yields to the host' }
const first = await agent('item-1 first', { label: 'first' })
"""
LOOPS = {
    # One synchronous step that never ends: only its 30 s CPU slice would stop it.
    "spin": "while (true) {}\n",
    # One drain of the job queue that never ends: each job is short.
    "microtasks": "while (true) { await null }\n",
    # Requests the host answers at once: the run loop never reaches a trio checkpoint.
    "workflow-misses": (
        "let n = 0\nwhile (true) { try { await workflow('nope' + n) } catch (e) { n++ } }\n"
    ),
    # Another at-once answer: a rejected agent() call (the cap is reached at once).
    "agent-cap": "while (true) { try { await agent('x') } catch (e) {} }\n",
}
# From the signal (or the deadline) to the process's exit. The fix lands in about 1 s;
# the old behaviour took 30 s or more.
BOUND = 5.0


def _start(tmp_path: Path, loop: str, *extra: str):
    flow = tmp_path / "flow.js"
    flow.write_text(HEAD + LOOPS[loop], encoding="utf-8")
    home = tmp_path / "home"
    proc = jshost(
        home,
        "run",
        str(flow),
        "--yes",
        "--json",
        "--sim-latency",
        "0.01",
        "--max-agents",
        "1",
        *extra,
    )
    db = home / "jshost.db"
    end = time.monotonic() + 60
    while not (db.exists() and committed(db) == {1}):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the first agent never finished"
        time.sleep(0.01)
    return proc, db


def _run_row(db: Path) -> tuple[str, str]:
    con = sqlite3.connect(db)
    try:
        (status,) = con.execute("SELECT status FROM runs").fetchone()
        (agent,) = con.execute("SELECT status FROM agents WHERE idx = 1").fetchone()
    finally:
        con.close()
    return status, agent


def _finish(proc) -> tuple[float, int, str, str]:
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return time.monotonic() - t0, proc.returncode, out, err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_signal_stops_a_script_that_never_yields(tmp_path, loop, sig):
    proc, db = _start(tmp_path, loop)
    time.sleep(0.5)  # well inside the loop
    proc.send_signal(sig)
    took, code, out, err = _finish(proc)
    assert "Traceback" not in err, err
    assert took < BOUND, f"{loop}: the run went on for {took:.1f} s after {sig.name}"
    assert code == 130, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "stopped"
    assert _run_row(db) == ("stopped", "done")
    assert committed(db) == {1}  # the finished agent's result is kept


@pytest.mark.slow
@pytest.mark.parametrize("loop", list(LOOPS))
def test_timeout_ends_a_script_that_never_yields(tmp_path, loop):
    started = time.monotonic()
    proc, db = _start(tmp_path, loop, "--timeout", "2")
    waited = time.monotonic() - started  # the run's clock started before the agent finished
    took, code, out, err = _finish(proc)
    assert "Traceback" not in err, err
    assert took < max(0.0, 2 - waited) + BOUND, f"{loop}: ran {took:.1f} s past the agent"
    assert code == 1, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "failed"
    assert "wall-clock timeout of 2 s" in summary["error"]
    assert _run_row(db) == ("failed", "done")
    assert committed(db) == {1}
