"""Once a run is stopping, no queued agent starts (reference §7.4), through the real CLI.

The scripts queue more agents than the concurrency allows, then keep the JS thread busy in a
synchronous loop: the engine cannot end the script's step early, so this is the window in
which a freed slot used to start the next queued agent although the run was stopping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

META = "export const meta = { name: 'stopping', description: 'stop starts nothing' }\n"

# One warm-up agent lets the first step end (so the queued agents reach the engine), then
# the script spins while the others run two at a time.
BUSY = """
const warm = agent('[[sim:latency=0.05]] warm', { label: 'warm' })
const all = parallel(Array.from({ length: 12 }, (_, i) =>
  () => agent(`[[sim:latency=0.3]] task ${i}`, { label: `t${i}` })))
await warm
let x = 0
for (let i = 0; i < args.spin; i++) x = (x + i) % 7
await all
return x
"""


def _script(tmp_path: Path) -> str:
    path = tmp_path / "busy.js"
    path.write_text(META + BUSY, encoding="utf-8")
    return str(path)


def _jshost(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "jshost", *args]


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.strip().splitlines()]


def _journal(run_id: str, cwd: Path) -> list[dict]:
    proc = subprocess.run(
        _jshost("inspect", run_id, "--journal", cwd=cwd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _check_nothing_started_after(events: list[dict], when: float, run_id: str, cwd: Path):
    started = [e for e in events if e["event"] == "agent_started"]
    late = [e for e in started if e["t"] > when]
    assert not late, f"agents started after the run began stopping (t={when}): {late}"
    queued = {e["agent"] for e in events if e["event"] == "agent_queued"}
    ran = {e["agent"] for e in started}
    never = queued - ran
    assert never, "the test needs agents still queued when the run stops"
    cancelled = {e["agent"] for e in events if e["event"] == "agent_cancelled"}
    assert never <= cancelled, f"queued agents not reported cancelled: {never - cancelled}"
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["agents"]["cancelled"] == len(cancelled)
    # The journal says 'started' only for agents that ran.
    journal = _journal(run_id, cwd)
    started_in_journal = {
        int(e["agentId"].rsplit("-", 1)[1]) for e in journal if e["type"] == "started"
    }
    assert started_in_journal == ran
    # …and the store keeps the never-started ones as cancelled, without tokens or attempts.
    proc = subprocess.run(
        _jshost("inspect", run_id, "--json", cwd=cwd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
    )
    stored = {a["index"]: a for a in json.loads(proc.stdout)["agents"]}
    for index in never:
        assert stored[index]["status"] == "cancelled"
        assert stored[index]["attempts"] == 0
        assert stored[index]["tokens"]["input"] == 0


def test_sigterm_starts_no_queued_agent_and_reports_them_cancelled(tmp_path):
    with tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            _jshost(
                "run",
                _script(tmp_path),
                "--yes",
                "--json",
                "--concurrency",
                "2",
                "--args",
                json.dumps({"spin": 8_000_000}),
                cwd=tmp_path,
            ),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
            env=dict(os.environ),
        )
        try:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                event = json.loads(line)
                if event["event"] == "agent_done" and event["label"] == "warm":
                    break
            time.sleep(0.2)  # the script is spinning now; two agents are running
            proc.send_signal(signal.SIGTERM)
            # read() takes what the line iterator buffered too (communicate() would not)
            rest = proc.stdout.read()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err_file.seek(0)
        assert proc.returncode == 130, err_file.read()
        events = _events("".join(lines) + rest)
        stopping = next(e["t"] for e in events if e["event"] == "stopping")
        run_id = events[0]["run_id"]
        _check_nothing_started_after(events, stopping, run_id, tmp_path)
        assert events[-1]["status"] == "stopped"


def test_timeout_starts_no_queued_agent_and_says_the_timeout_hit(tmp_path):
    proc = subprocess.run(
        _jshost(
            "run",
            _script(tmp_path),
            "--yes",
            "--json",
            "--concurrency",
            "2",
            "--timeout",
            "0.8",
            "--args",
            json.dumps({"spin": 30_000_000}),
            cwd=tmp_path,
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 1, proc.stderr
    events = _events(proc.stdout)
    run_id = events[0]["run_id"]
    # Event times count from the run's first event, a moment before the deadline was set.
    _check_nothing_started_after(events, 0.8 + 0.05, run_id, tmp_path)
    summary = events[-1]
    cancelled = [e["label"] for e in events if e["event"] == "agent_cancelled"]
    for label in cancelled:
        assert (
            f"[{label}] cancelled: the run's --timeout of 0.8 s was reached" in summary["failures"]
        )
    assert not any("the script ended before" in f for f in summary["failures"])
