"""Processes that shed a Bash call's process group *and* its environment marker
(``env -i setsid …``): jshost is a child subreaper while tools run, so they are handed to it
and killed after the call; what jshost owns (MCP servers, the claude-code program, other
agents' running calls) is spared. Real commands, in a temporary workspace."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import trio
from tool_kit import call, make_workspace

from jshost.tools import Workspace, prctl
from jshost.tools.builtin import BashTool
from jshost.tools.reaper import REAPER

pytestmark = pytest.mark.skipif(
    prctl.child_subreaper() is None, reason="PR_SET_CHILD_SUBREAPER is Linux's"
)

BASH = BashTool()
HERE = Path(__file__).resolve().parent.parent

#: a daemon with an empty environment in a session of its own, whose parent exits at once
#: (the command waits for its pid: ``setsid`` may fork and return before the daemon starts)
ESCAPE = "env -i setsid sh -c 'sleep 300 & echo $! >> {file}'; until [ -s {file} ]; do :; done"


def state(pid: int) -> str | None:
    """The process's state letter; None once it is gone and reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    return state(pid) not in (None, "Z")


def pids_in(path: Path, count: int = 1, timeout: float = 10) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            found = path.read_text().split()
            if len(found) >= count:
                return [int(p) for p in found]
        time.sleep(0.01)
    raise AssertionError(f"no {count} pids in {path}")


@pytest.fixture
def ws(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    yield workspace
    # a failing test must not leave its sleepers behind for the rest of the suite
    for pidfile in workspace.root.glob("*.pids"):
        for pid in (int(p) for p in pidfile.read_text().split()):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_daemon_with_an_environment_of_its_own_is_killed_after_the_call(ws: Workspace):
    started = time.monotonic()
    out = call(BASH, {"command": ESCAPE.format(file="a.pids") + "; echo started"}, ws)
    took = time.monotonic() - started
    assert out.content == "started\n[exit code 0]"
    (daemon,) = pids_in(ws.root / "a.pids")
    # killed, and reaped: not even a zombie is left
    assert state(daemon) is None
    # killed before reading the output, which the daemon held open: no 2 s drain
    assert took < 1.5, took
    # the flag is jshost's only while tools run
    assert prctl.child_subreaper() is False
    assert REAPER.owned() == {}


def test_a_daemon_of_a_cancelled_call_is_killed(ws: Workspace):
    async def main() -> None:
        with trio.move_on_after(0.5):
            await BASH.run({"command": ESCAPE.format(file="a.pids") + "; sleep 60"}, ws)

    started = time.monotonic()
    trio.run(main)
    assert time.monotonic() - started < 1.5
    (daemon,) = pids_in(ws.root / "a.pids")
    assert state(daemon) is None


def test_a_daemon_that_forks_again_is_killed_to_the_last_generation(ws: Workspace):
    # each generation leaves its parent behind: every one of them is handed to jshost
    command = (
        "env -i setsid sh -c '"
        '(sh -c "sleep 300 & echo \\$! >> deep.pids; sleep 300" & echo $! >> deep.pids) ; '
        "sleep 300 & echo $! >> deep.pids'; "
        "until [ -e deep.pids ] && [ $(wc -l < deep.pids) -ge 3 ]; do :; done"
    )
    out = call(BASH, {"command": command}, ws)
    assert out.content == "(no output)\n[exit code 0]"
    pids = pids_in(ws.root / "deep.pids", 3)
    assert [state(p) for p in pids] == [None, None, None]


def test_processes_jshost_owns_are_spared(ws: Workspace, tmp_path: Path):
    """While one agent's call sheds a daemon, an MCP server, a program jshost started (as a
    worker starts the claude-code program) and another agent's running call — with the
    processes it backgrounded — go on; the sweep takes only the daemon."""
    from jshost.tools.mcp_config import McpServerConfig
    from jshost.tools.mcp_servers import McpHub

    server = McpServerConfig(
        name="logs",
        command=sys.executable,
        args=(str(HERE / "mcp_log_server.py"),),
        env={"LOG_FILE": str(tmp_path / "app.log")},
    )
    (tmp_path / "app.log").write_text("09:00 ok\n")
    other = (
        # backgrounded in its group, and in a session of its own (keeping the marker)
        "(sleep 300 & echo $! >> b.pids); setsid sh -c 'sleep 300 & echo $! >> b.pids'; "
        "echo $$ >> b.pids; while [ ! -e a.done ]; do sleep 0.02; done; "
        "for p in $(cat b.pids); do kill -0 $p || echo lost $p; done; echo B done"
    )
    seen: dict[str, object] = {}

    async def main() -> None:
        REAPER.hold()  # as the run's toolbox does
        try:
            async with McpHub([server], cwd=ws.root) as hub, trio.open_nursery() as nursery:
                mcp_pid = json.loads((await hub.call("logs", "where", {})).content)["pid"]
                # a worker's program, in its own session, with an orphan in that session
                with REAPER.spawning() as record:
                    program = await trio.lowlevel.open_process(
                        ["sh", "-c", "(sleep 300 & echo $! > p.pids); sleep 300"],
                        cwd=ws.root,
                        start_new_session=True,
                    )
                    record(program.pid)
                (program_orphan,) = await trio.to_thread.run_sync(pids_in, ws.root / "p.pids")

                async def b() -> None:
                    seen["b"] = await BASH.run({"command": other}, ws)

                nursery.start_soon(b)
                pids_b = await trio.to_thread.run_sync(pids_in, ws.root / "b.pids", 3)
                out = await BASH.run({"command": ESCAPE.format(file="a.pids")}, ws)
                assert not out.is_error
                (daemon,) = pids_in(ws.root / "a.pids")
                seen["daemon"] = state(daemon)
                seen["spared"] = [alive(p) for p in [mcp_pid, program.pid, program_orphan, *pids_b]]
                (ws.root / "a.done").write_text("")
                # the MCP server still answers
                seen["mcp"] = (await hub.call("logs", "grep_log", {"pattern": "ok"})).content
                program.kill()
                await program.wait()
                REAPER.forget(program.pid)
            seen["b_left"] = [state(p) for p in pids_b]
        finally:
            await REAPER.release()
        # the program's leftovers once it is gone: swept when the run let go of the flag
        seen["program_left"] = state(program_orphan)

    trio.run(main)
    assert seen["daemon"] is None
    assert seen["spared"] == [True] * len(seen["spared"])  # type: ignore[arg-type]
    assert seen["mcp"] == "09:00 ok\n"
    b_out = seen["b"]
    assert b_out.content == "B done\n[exit code 0]", b_out  # type: ignore[attr-defined]
    # once B's call ended, what it backgrounded went with it
    assert seen["b_left"] == [None, None, None]
    assert seen["program_left"] is None
    assert prctl.child_subreaper() is False


def test_a_helper_started_before_the_flag_is_left_to_its_owner(ws: Workspace):
    """A program embedding jshost may have started a helper in a session of its own: a
    sweep takes only what can be an orphan of a tool."""
    import subprocess

    helper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        time.sleep(0.02)  # a clock tick apart (start times count in 1/100 s)
        call(BASH, {"command": ESCAPE.format(file="a.pids")}, ws)
        (daemon,) = pids_in(ws.root / "a.pids")
        assert state(daemon) is None
        assert alive(helper.pid)
    finally:
        helper.kill()
        helper.wait()


def test_where_jshost_cannot_be_a_subreaper_the_marker_still_finds_a_daemon(ws, monkeypatch):
    # (macOS, or a seccomp policy that refuses prctl: the environment marker is the fallback)
    monkeypatch.setattr(prctl, "set_child_subreaper", lambda on: False)
    command = "setsid sh -c 'sleep 300 & echo $! >> m.pids'; until [ -s m.pids ]; do :; done"
    out = call(BASH, {"command": command}, ws)
    assert out.content == "(no output)\n[exit code 0]"
    assert not REAPER.active
    (daemon,) = pids_in(ws.root / "m.pids")
    end = time.monotonic() + 2
    while alive(daemon) and time.monotonic() < end:  # init reaps it
        time.sleep(0.01)
    assert not alive(daemon)
