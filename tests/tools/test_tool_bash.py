"""Bash: real commands in a temporary workspace; output caps, exit codes, no terminal, and a
timeout or a cancellation that leaves no process of the command's behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import trio
from tool_kit import call, make_workspace

from jshost.tools import ToolInputError, Workspace
from jshost.tools.builtin import BashTool
from jshost.tools.builtin._caps import BASH_MAX_BYTES

BASH = BashTool()


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path)
    yield workspace
    # a failing test must not leave its sleepers behind for the rest of the suite
    pidfile = workspace[0].root / "pids"
    if pidfile.exists():
        for pid in (int(p) for p in pidfile.read_text().split()):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for_pids(path: Path, count: int, timeout: float = 10) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            pids = path.read_text().split()
            if len(pids) >= count:
                return [int(p) for p in pids[:count]]
        time.sleep(0.01)
    raise AssertionError(f"the command did not write {count} pids to {path}")


def gone_soon(pids: list[int], timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


# a shell that starts a child (which starts a grandchild) and records all three pids
SPAWNER = (
    "echo $$ >> pids; sh -c 'sleep 300 & echo $! >> pids; sleep 300' & echo $! >> pids; sleep 300"
)


def test_output_exit_code_and_interleaving(ws):
    workspace, _ = ws
    out = call(BASH, {"command": "echo out; echo err >&2; echo again; exit 3"}, workspace)
    assert out.content == "out\nerr\nagain\n[exit code 3]" and out.is_error
    assert out.summary.startswith("Bash: echo out; echo err >&2; echo again; exit 3 (exit 3,")
    ok = call(BASH, {"command": "true", "description": "Nothing at all"}, workspace)
    assert ok.content == "(no output)\n[exit code 0]" and not ok.is_error
    assert ok.summary.startswith("Bash: Nothing at all (exit 0")


def test_runs_in_the_workspace_with_its_env_no_input_and_no_terminal(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    workspace = Workspace(workspace.root, env={"JSHOST_TEST_VALUE": "from-workspace"})
    out = call(
        BASH,
        {"command": "pwd; echo $JSHOST_TEST_VALUE; cat; tty; test -t 1 || echo no-tty-out; "
         "(echo hi > /dev/tty) 2>/dev/null || echo no-dev-tty"},
        workspace,
    )  # fmt: skip
    lines = out.content.splitlines()
    assert lines[0] == str(workspace.root) and lines[1] == "from-workspace"
    assert lines[2] == "not a tty" and lines[3:5] == ["no-tty-out", "no-dev-tty"]


def test_the_model_services_credentials_are_withheld_from_commands(ws, monkeypatch):
    # A command's output lands in the agent's transcript, which is stored: the API key the
    # run uses must never be one `env` away from it. Other variables pass through.
    workspace, _ = ws
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token-secret-value")
    monkeypatch.setenv("JSHOST_TEST_PASSTHROUGH", "kept")
    out = call(BASH, {"command": "env"}, workspace)
    assert "secret-value" not in out.content
    assert "JSHOST_TEST_PASSTHROUGH=kept" in out.content


def test_the_command_leads_its_own_process_group(ws):
    workspace, _ = ws
    out = call(BASH, {"command": "echo $$; cut -d' ' -f5,6 /proc/$$/stat"}, workspace)
    pid, ids = out.content.splitlines()[:2]
    pgrp, session = ids.split()
    assert pgrp == pid == session and int(pgrp) != os.getpgrp()


def test_huge_output_keeps_its_start_and_end(ws):
    workspace, _ = ws
    out = call(BASH, {"command": "seq 1 300000"}, workspace)
    lines = out.content.splitlines()
    assert lines[0] == "1" and lines[-2] == "300000" and lines[-1] == "[exit code 0]"
    assert out.truncated and any("output cut: 1,988,895 bytes in all" in x for x in lines)
    assert len(out.content.encode()) <= BASH_MAX_BYTES + 300
    out = call(
        BASH, {"command": "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo END"}, workspace
    )
    assert out.content.endswith("END\n[exit code 0]") and out.truncated
    assert len(out.content.encode()) <= BASH_MAX_BYTES + 300


def test_many_short_lines_are_cut_by_lines_too(ws):
    workspace, _ = ws
    out = call(BASH, {"command": "seq 1 3000"}, workspace)  # 13,893 bytes: under the byte cap
    lines = out.content.splitlines()
    assert lines[0] == "1" and lines[-2] == "3000" and out.truncated
    assert len(lines) <= 1003


def test_timeout_kills_the_whole_group(ws):
    workspace, _ = ws
    started = time.monotonic()
    out = call(BASH, {"command": "echo before; " + SPAWNER, "timeout": 1500}, workspace)
    assert time.monotonic() - started < 5
    assert out.is_error and out.content.startswith("before\n[timed out after 1.5 s")
    pids = wait_for_pids(workspace.root / "pids", 3)
    assert gone_soon(pids), [p for p in pids if alive(p)]


def test_cancellation_kills_the_whole_group_at_once(ws):
    workspace, _ = ws
    pidfile = workspace.root / "pids"
    cancelled_at: list[float] = []

    async def main() -> None:
        with trio.move_on_after(30) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(BASH.run, {"command": SPAWNER}, workspace)
                while not (pidfile.exists() and len(pidfile.read_text().split()) >= 3):
                    await trio.sleep(0.01)
                cancelled_at.append(time.monotonic())
                nursery.cancel_scope.cancel()
        assert not scope.cancelled_caught, "the command never started its children"

    trio.run(main)
    assert time.monotonic() - cancelled_at[0] < 1.5
    pids = wait_for_pids(pidfile, 3)
    assert gone_soon(pids, 1.0), [p for p in pids if alive(p)]


def test_a_background_job_does_not_outlive_its_command(ws):
    workspace, _ = ws
    started = time.monotonic()
    out = call(BASH, {"command": "sleep 300 & echo $! > pids; echo done"}, workspace)
    assert out.content == "done\n[exit code 0]" and time.monotonic() - started < 5
    assert gone_soon(wait_for_pids(workspace.root / "pids", 1))


def test_killed_by_a_signal_is_reported(ws):
    workspace, _ = ws
    out = call(BASH, {"command": "kill -9 $$"}, workspace)
    assert out.is_error and out.content.endswith("[killed by signal 9]")


def test_command_is_exposed_for_rules(ws):
    workspace, _ = ws
    assert BASH.command({"command": "git log -1"}) == "git log -1"
    assert BASH.targets({"command": "cat /etc/passwd"}, workspace) == []


@pytest.mark.parametrize(
    ("tool_input", "message"),
    [
        ({}, "needs 'command'"),
        ({"command": "  "}, "non-empty"),
        ({"command": "ls", "timeout": 600_001}, "at most 600,000"),
        ({"command": "ls", "timeout": 0}, "at least 1"),
        ({"command": "ls", "run_in_background": True}, "has no field 'run_in_background'"),
    ],
)
def test_unusable_input(ws, tool_input, message):
    workspace, _ = ws
    with pytest.raises(ToolInputError, match=message):
        call(BASH, tool_input, workspace)


def test_a_workspace_that_is_gone_is_one_error(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    workspace.root.rmdir()
    out = call(BASH, {"command": "echo hi"}, workspace)
    assert out.is_error and out.content.startswith("cannot start the command")
