"""McpHub against a real stdio MCP server (tests/mcp_log_server.py), under trio."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from jshost.tools.base import Workspace
from jshost.tools.mcp_config import McpServerConfig, load_mcp_configs
from jshost.tools.mcp_servers import McpHub, McpStartError, McpTool

SERVER = str(Path(__file__).with_name("mcp_log_server.py"))


def logs_server(tmp_path: Path, name: str = "logs", **env: str) -> McpServerConfig:
    log = tmp_path / "app.log"
    if not log.exists():
        log.write_text("09:00 ok start\n09:01 ERROR disk full\n09:02 ok\n09:03 ERROR db gone\n")
    return McpServerConfig(
        name=name,
        command=sys.executable,
        args=(SERVER,),
        env={"LOG_FILE": str(log), **env},
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose, but the client reaps its child: check anyway
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_start_list_call_and_close(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_FROM_PARENT", "do-not-pass")
    ws = tmp_path / "ws"
    ws.mkdir()

    async def main():
        async with McpHub([logs_server(tmp_path, EXTRA="given")], cwd=ws) as hub:
            tools = hub.tools()
            names = [t.name for t in tools]
            assert names == [
                "mcp__logs__grep_log",
                "mcp__logs__slow",
                "mcp__logs__block",
                "mcp__logs__fail",
                "mcp__logs__flood",
                "mcp__logs__picture",
                "mcp__logs__where",
                "mcp__logs__spawn",
                "mcp__logs__crash",
                "mcp__logs__token",
            ]
            grep = tools[0]
            assert isinstance(grep, McpTool) and grep.kind == "mcp"
            api = grep.spec.to_api()
            assert api["description"] == "Lines of the log that match a regular expression."
            assert api["input_schema"]["type"] == "object"
            assert api["input_schema"]["required"] == ["pattern"]

            out = await grep.run({"pattern": "ERROR"}, Workspace(root=ws))
            assert not out.is_error and not out.truncated
            assert out.content == "09:01 ERROR disk full\n09:03 ERROR db gone\n"
            assert out.summary == "logs/grep_log: 2 lines"

            where = json.loads((await hub.call("logs", "where", {})).content)
            # cwd is the workspace; the env is the config's plus a minimal safe set
            assert where["cwd"] == str(ws)
            assert where["env"]["EXTRA"] == "given"
            assert where["env"]["SECRET_FROM_PARENT"] is None
            return where["pid"]

    pid = trio.run(main)
    assert not alive(pid), "the server outlived the hub"


def test_closing_kills_what_a_server_left_behind(tmp_path):
    async def main():
        async with McpHub([logs_server(tmp_path)], cwd=tmp_path) as hub:
            helper = int((await hub.call("logs", "spawn", {})).content)
            assert alive(helper)
            return helper

    helper = trio.run(main)
    deadline = time.monotonic() + 2
    while alive(helper) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(helper), "the server's helper process outlived the hub"


def test_errors_images_bad_input_and_huge_output(tmp_path):
    async def main():
        async with McpHub([logs_server(tmp_path)], cwd=tmp_path, max_bytes=5000) as hub:
            failed = await hub.call("logs", "fail", {"message": "boom"})
            assert failed.is_error and "fail" in failed.content
            # bad arguments are the server's validation error, a result, not an exception
            bad = await hub.call("logs", "grep_log", {"pattern": 3})
            assert bad.is_error
            picture = await hub.call("logs", "picture", {})
            assert not picture.is_error
            assert picture.content == "[image (image/png, 40 bytes): not shown]"
            flood = await hub.call("logs", "flood", {"lines": 3000})
            assert flood.truncated
            body, note = flood.content.rsplit("\n[output cut:", 1)
            assert len(body.encode()) <= 5000 and body.endswith("\n")  # whole lines
            assert note.startswith(" 3000 lines, ")
            hub.max_lines = 10
            few = await hub.call("logs", "flood", {"lines": 11})
            assert few.content.count("\nline ") == 9 and "[output cut: 11 lines" in few.content
            exact = await hub.call("logs", "flood", {"lines": 10})
            assert not exact.truncated and "output cut" not in exact.content

    trio.run(main)


def test_timeout_and_cancel_leave_the_client_usable(tmp_path):
    pids = tmp_path / "slow.pids"

    async def main():
        server = logs_server(tmp_path, SLOW_PID_FILE=str(pids))
        async with McpHub([server], cwd=tmp_path, call_timeout=0.5) as hub:
            start = time.monotonic()
            out = await hub.call("logs", "slow", {"seconds": 30})
            assert time.monotonic() - start < 2
            assert out.is_error and out.content == "MCP tool logs/slow timed out after 0.5 s"

            hub.call_timeout = 30
            with trio.move_on_after(0.3) as scope:
                await hub.call("logs", "slow", {"seconds": 30})
            assert scope.cancelled_caught

            # both left the client usable, and calls run side by side
            results = []

            async def grep():
                results.append(await hub.call("logs", "grep_log", {"pattern": "ok"}))

            async with trio.open_nursery() as nursery:
                for _ in range(8):
                    nursery.start_soon(grep)
            assert [r.content for r in results] == ["09:00 ok start\n09:02 ok\n"] * 8
            return int(pids.read_text().split()[0])

    start = time.monotonic()
    pid = trio.run(main)
    assert not alive(pid)
    assert time.monotonic() - start < 15


def test_cancelling_the_run_stops_a_busy_server_at_once(tmp_path):
    pids = tmp_path / "block.pids"

    async def main():
        server = logs_server(tmp_path, SLOW_PID_FILE=str(pids))
        with trio.CancelScope() as run:
            async with McpHub([server], cwd=tmp_path) as hub, trio.open_nursery() as nursery:
                nursery.start_soon(hub.call, "logs", "block", {"seconds": 30})
                while not pids.exists():
                    await trio.sleep(0.02)
                await trio.sleep(0.1)
                cancelled_at.append(time.monotonic())
                run.cancel()  # as Ctrl-C or --timeout would
                await trio.sleep_forever()

    cancelled_at: list[float] = []
    trio.run(main)
    # the server ignores its closed stdin (it is blocked): without the reaper, the client's
    # grace period (2 s, then SIGTERM) would hold the cancellation
    took = time.monotonic() - cancelled_at[0]
    assert took < 1.5, took
    assert not alive(int(pids.read_text().split()[0]))


def test_cancelling_a_start_stops_the_server_at_once(tmp_path):
    pids = tmp_path / "hang.pids"

    async def main():
        hang = logs_server(tmp_path, name="stuck", MCP_TEST_MODE="hang", SLOW_PID_FILE=str(pids))
        with trio.move_on_after(1.0):
            async with McpHub([hang], cwd=tmp_path):
                raise AssertionError("it started")

    start = time.monotonic()
    trio.run(main)
    assert time.monotonic() - start < 2.0
    assert not alive(int(pids.read_text().split()[0]))


def test_a_server_that_exits_at_once_is_a_start_error_with_its_stderr(tmp_path):
    async def main():
        good = logs_server(tmp_path)
        bad = logs_server(tmp_path, name="broken", MCP_TEST_MODE="exit")
        async with McpHub([good, bad], cwd=tmp_path):
            raise AssertionError("the hub started")

    with pytest.raises(McpStartError) as err:
        trio.run(main)
    assert err.value.server == "broken"
    text = str(err.value)
    assert text.startswith("MCP server broken failed to start: ")
    assert "stderr: log server: cannot open the log: permission denied" in text


def test_a_missing_command_is_a_start_error(tmp_path):
    async def main():
        missing = McpServerConfig("nope", command=str(tmp_path / "no-such"))
        async with McpHub([missing], cwd=tmp_path):
            pass

    with pytest.raises(McpStartError, match=r"^MCP server nope failed to start: command not found"):
        trio.run(main)


@pytest.mark.slow
def test_a_server_that_never_answers_times_out_and_is_killed(tmp_path):
    async def main():
        hang = logs_server(tmp_path, name="stuck", MCP_TEST_MODE="hang")
        async with McpHub([hang], cwd=tmp_path, start_timeout=1):
            pass

    start = time.monotonic()
    with pytest.raises(McpStartError) as err:
        trio.run(main)
    assert "MCP server stuck did not start and list its tools within 1 s" in str(err.value)
    assert "stderr: log server: waiting forever" in str(err.value)
    assert time.monotonic() - start < 8


def test_a_server_that_dies_mid_run_fails_its_calls_not_the_run(tmp_path):
    async def main():
        async with McpHub([logs_server(tmp_path)], cwd=tmp_path) as hub:
            pid = json.loads((await hub.call("logs", "where", {})).content)["pid"]
            crashed = await hub.call("logs", "crash", {})
            assert crashed.is_error
            later = await hub.call("logs", "grep_log", {"pattern": "ok"})
            assert later.is_error
            assert "crashed on purpose" in later.content
            return pid

    assert not alive(trio.run(main))


def test_a_chatty_stderr_does_not_block_the_server_and_only_its_tail_is_kept(tmp_path):
    async def main():
        async with McpHub([logs_server(tmp_path, MCP_TEST_MODE="chatty")], cwd=tmp_path) as hub:
            assert not (await hub.call("logs", "grep_log", {"pattern": "ok"})).is_error
            await hub.call("logs", "crash", {})
            later = await hub.call("logs", "grep_log", {"pattern": "ok"})
            assert later.is_error
            stderr = [line for line in later.content.splitlines() if line.startswith("stderr:")]
            assert 0 < len(stderr) <= 8
            assert stderr[-1] == "stderr: log server: crashed on purpose"

    trio.run(main)


def test_unusable_tools_are_left_out_with_a_note(tmp_path):
    long_name = "x" * 60

    async def main():
        async with McpHub([], cwd=tmp_path) as none:
            assert none.tools() == [] and none.notes == []
        async with McpHub([logs_server(tmp_path, name=long_name)], cwd=tmp_path) as hub:
            assert hub.tools() == []
            assert len(hub.notes) == 10
            assert hub.notes[0].startswith(f"MCP tool {long_name}/grep_log left out: its name")

    trio.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["http", "sse"])
def url_server(request, tmp_path):
    """The test server over HTTP on 127.0.0.1: (type, url)."""
    kind = request.param
    port = free_port()
    log = tmp_path / "app.log"
    log.write_text("09:00 ok start\n09:01 ERROR disk full\n")
    env = {**os.environ, "MCP_TEST_TRANSPORT": kind, "MCP_TEST_PORT": str(port)}
    env["LOG_FILE"] = str(log)
    proc = subprocess.Popen(
        [sys.executable, SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no server"
                time.sleep(0.05)
        path = "/sse" if kind == "sse" else "/mcp"
        yield kind, f"http://127.0.0.1:{port}{path}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_http_and_sse_servers_with_headers(tmp_path, url_server):
    kind, url = url_server
    cfg = {"mcpServers": {"web": {"type": kind, "url": url, "headers": {"X-Token": "${TOK}"}}}}
    (tmp_path / ".mcp.json").write_text(json.dumps(cfg))
    configs = load_mcp_configs(tmp_path, environ={"TOK": "s3cret"})

    async def main():
        async with McpHub(configs.servers(), cwd=tmp_path, call_timeout=0.5) as hub:
            assert "mcp__web__grep_log" in [t.name for t in hub.tools()]
            grep = await hub.call("web", "grep_log", {"pattern": "ERROR"})
            assert grep.content == "09:01 ERROR disk full\n"
            assert (await hub.call("web", "token", {})).content == "s3cret"
            slow = await hub.call("web", "slow", {"seconds": 30})
            assert slow.is_error and "timed out" in slow.content
            assert not (await hub.call("web", "grep_log", {"pattern": "ok"})).is_error

    trio.run(main)


def test_an_http_server_that_is_not_there_is_a_start_error(tmp_path):
    web = McpServerConfig("web", type="http", url=f"http://127.0.0.1:{free_port()}/mcp")

    async def main():
        async with McpHub([web], cwd=tmp_path, start_timeout=10):
            pass

    with pytest.raises(McpStartError, match=r"^MCP server web failed to start: .*\(http http://"):
        trio.run(main)


def test_hub_from_a_project_file(tmp_path):
    (tmp_path / "app.log").write_text("one\ntwo\n")
    cfg = {
        "mcpServers": {
            "my logs": {
                "command": "${PY}",
                "args": [SERVER],
                "env": {"LOG_FILE": "${WS}/app.log"},
            }
        }
    }
    (tmp_path / ".mcp.json").write_text(json.dumps(cfg))
    configs = load_mcp_configs(tmp_path, environ={"PY": sys.executable, "WS": str(tmp_path)})

    async def main():
        async with McpHub(configs.servers(), cwd=tmp_path) as hub:
            grep = next(t for t in hub.tools() if t.name == "mcp__my_logs__grep_log")
            return (await grep.run({"pattern": "tw"}, Workspace(root=tmp_path))).content

    assert trio.run(main) == "two\n"
