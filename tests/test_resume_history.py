"""A run's history across sessions, through the real CLI: resume keeps what was stored, the
totals add up every session, and `runs` shows the counts of runs that have not ended.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from jshost.cli import cli


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, body: str, name: str = "history") -> str:
    path = tmp_path / "flow.js"
    path.write_text(
        f"export const meta = {{ name: '{name}', description: 'history' }}\n{body}\n",
        encoding="utf-8",
    )
    return str(path)


def run_json(*args: str) -> dict:
    result = invoke(*args, "--json", "--sim-latency", "0")
    return json.loads(result.stdout.splitlines()[-1])


def stored(run_id: str) -> dict:
    return json.loads(invoke("inspect", run_id, "--json").stdout)


FAILS = "const a = await agent('first')\nthrow new Error('v1 fails with n=' + args.n)"
FIXED = "const a = await agent('first')\nconst b = await agent('second')\nreturn { n: args.n }"


def test_run_resume_without_args_keeps_the_stored_args_caps_and_model(tmp_path):
    path = write(tmp_path, FAILS)
    first = run_json(
        "run", path, "--yes", "--args", '{"n": 7}', "--concurrency", "3", "--max-agents", "50",
        "--model", "haiku",
    )  # fmt: skip
    assert first["status"] == "failed"
    run_id = first["run_id"]
    write(tmp_path, FIXED)  # the user fixes the script and resumes with it
    again = run_json("run", path, "--resume", run_id, "--yes")
    assert again["status"] == "completed", again
    assert again["result"] == {"n": 7}
    assert again["agents"]["cached"] == 1
    row = stored(run_id)
    assert row["args"] == {"n": 7}
    assert row["caps"]["concurrency"] == 3 and row["caps"]["max_agents"] == 50
    assert row["model"] == "haiku"
    # A later `jshost resume` still has them.
    third = run_json("resume", run_id, "--yes")
    assert third["result"] == {"n": 7}
    # Given again, they replace the stored ones.
    fourth = run_json("run", path, "--resume", run_id, "--yes", "--args", '{"n": 8}')
    assert fourth["result"] == {"n": 8}
    assert stored(run_id)["args"] == {"n": 8}


def test_resume_with_a_renamed_script_warns_or_asks(tmp_path):
    path = write(tmp_path, FAILS)
    run_id = run_json("run", path, "--yes", "--args", '{"n": 1}')["run_id"]
    write(tmp_path, FIXED, name="renamed")
    # Without --yes and without a terminal to ask on: not resumed, and the run keeps its name.
    refused = invoke("run", path, "--resume", run_id)
    assert refused.exit_code == 2
    assert "'history'" in refused.stderr and "'renamed'" in refused.stderr
    assert "renames the run" in refused.stderr
    assert stored(run_id)["name"] == "history"
    assert stored(run_id)["sessions"] == 1
    # Under --yes it goes ahead, and says so.
    result = invoke("run", path, "--resume", run_id, "--yes", "--sim-latency", "0")
    assert result.exit_code == 0, result.stderr
    assert f"warning: run {run_id} is named 'history'" in result.stderr
    assert stored(run_id)["name"] == "renamed"


def test_totals_add_up_every_session(tmp_path):
    path = write(tmp_path, FAILS)
    first = run_json("run", path, "--yes", "--args", '{"n": 1}')
    run_id = first["run_id"]
    write(tmp_path, FIXED)
    second = run_json("run", path, "--resume", run_id, "--yes")
    assert second["agents"]["cached"] == 1 and second["agents"]["done"] == 1
    # A completed run resumed replays everything: this session costs nothing.
    third = run_json("resume", run_id, "--yes")
    assert third["tokens"]["input"] == 0 and third["agents"]["cached"] == 2
    paid_in = first["tokens"]["input"] + second["tokens"]["input"]
    paid_out = first["tokens"]["output"] + second["tokens"]["output"]
    assert paid_in > 0 and paid_out > 0
    [listed] = json.loads(invoke("runs", "--json").stdout)
    assert listed["sessions"] == 3
    assert listed["totals"]["agents_started"] == 2
    assert listed["totals"]["tokens"]["input"] == paid_in
    assert listed["totals"]["tokens"]["output"] == paid_out
    assert listed["tokens"]["input"] == 0  # this session's part
    table = invoke("runs").stdout.splitlines()[1]
    assert f"{paid_in:,}/{paid_out:,} (last 0/0)" in table
    assert "2 (last 0)" in table
    shown = invoke("inspect", run_id).stdout
    assert f"all 3 sessions: 2 agents started · tokens {paid_in:,} in / {paid_out:,} out" in shown


def test_runs_shows_counts_of_running_and_interrupted_runs(tmp_path):
    body = "for (let i = 0; i < 3; i++) await agent('step ' + i)\nawait agent('[[sim:hang]] h')"
    path = write(tmp_path, body)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jshost", "run", path, "--yes", "--sim-latency", "0.01"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            runs = json.loads(invoke("runs", "--json").stdout)
            if runs and runs[0]["agents"]["done"] == 3 and runs[0]["agents"]["total"] == 4:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.1)
        [running] = runs
        assert running["status"] == "running"
        assert running["agents"]["total"] == 4
        assert running["tokens"]["input"] > 0 and running["tokens"]["output"] > 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    [gone] = json.loads(invoke("runs", "--json").stdout)
    assert gone["status"] == "interrupted"
    assert gone["agents"]["done"] == 3
    assert gone["tokens"]["output"] == running["tokens"]["output"] > 0
    row = invoke("runs").stdout.splitlines()[1].split()
    assert row[2] == "interrupted"
    assert row[3] == "4"  # the three done and the one that was running
    assert row[4] == f"{gone['tokens']['input']:,}/{gone['tokens']['output']:,}"


def _on_terminal(args: list[str], cwd: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run jshost on a pseudo-terminal, answering each prompt; (exit code, what it drew)."""
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "jshost", *args], env)
        finally:
            os._exit(127)
    seen = b""
    deadline = time.monotonic() + 30
    todo = list(answers)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        text = seen.decode("utf-8", "replace")
        if todo and todo[0][0] in text:
            text_seen, keys = todo.pop(0)
            seen = seen.replace(text_seen.encode(), b"<answered>", 1)
            os.write(fd, keys.encode())
    while True:  # the terminal closes a moment before the process can be reaped
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline + 10:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"still running: {seen.decode('utf-8', 'replace')}")
        time.sleep(0.05)
    os.close(fd)
    assert not todo, f"never asked {todo}: {seen.decode('utf-8', 'replace')}"
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_resume_with_a_renamed_script_asks_on_a_terminal(tmp_path):
    path = write(tmp_path, FAILS)
    run_id = run_json("run", path, "--yes", "--args", '{"n": 1}')["run_id"]
    write(tmp_path, FIXED, name="renamed")
    args = ["run", path, "--resume", run_id, "--sim-latency", "0", "--no-interactive"]
    code, drawn = _on_terminal(args, tmp_path, [("Resume it?", "n\r")])
    assert code == 2, drawn
    assert "renames the run" in drawn and "not run" in drawn
    assert stored(run_id)["name"] == "history"
    code, drawn = _on_terminal(args, tmp_path, [("Resume it?", "y\r"), ("Yes, run it", "1\r")])
    assert code == 0, drawn
    assert stored(run_id)["name"] == "renamed"
