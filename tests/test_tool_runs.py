"""Tools through the whole pipeline: the ``run``/``resume`` options (click's real CLI), the
Python API's ``ToolOptions``, resume with tools, and ``examples/repo-question.js`` answering
from real files, with the loopback Messages server playing the model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from messages_server import MessagesServer, Reply, result_text, tool_results

import jshost
from jshost.cli import cli
from jshost.config import Config
from jshost.store import Store
from jshost.workers.anthropic import AnthropicWorker, RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-ant-test-tools"
FAST = RetryPolicy(backoff=0.001, max_backoff=0.004, retry_after_cap=0.05, stall=10.0)
META = "export const meta = { name: 'tools', description: 'agents that act' }\n"


def write(where: Path, body: str) -> str:
    path = where / "flow.js"
    path.write_text(META + body + "\n", encoding="utf-8")
    return str(path)


def invoke(args: list[str], env: dict[str, str]) -> Any:
    result = CliRunner().invoke(cli, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"ANTHROPIC_API_KEY": KEY, "HOME": str(home)}


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--allowed-tools", "Bash(git log"], "--allowed-tools"),
        (["--disallowed-tools", "Read,bash"], "unknown tool 'bash'; did you mean Bash?"),
        (["--permission-mode", "yolo"], "--permission-mode: unknown permission mode"),
        (["--max-turns", "0"], "--max-turns must be at least 1"),
        (["--max-turns", "many"], "--max-turns must be a whole number"),
        (["--workspace", "/no/such/dir"], "--workspace: no such directory"),
    ],
)
def test_a_bad_tool_option_is_one_line_and_exit_2(tmp_path, env, flags, message):
    with MessagesServer() as server:
        path = write(tmp_path, "return await agent('hi')")
        result = invoke(["run", path, "--yes", "--base-url", server.url, *flags], env)
        assert server.posts == []  # nothing ran
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jshost: "), lines
    assert message in lines[0]
    if flags[0].endswith("-tools"):
        bad = flags[1].split(",")[-1]
        assert bad in lines[0]  # names the rule, as written
    assert "Traceback" not in result.output


def test_a_bad_rule_is_an_error_on_a_worker_without_tools_too(tmp_path):
    # The sim runs no tools, but a typo in a rule is still a typo: say so, run nothing.
    path = write(tmp_path, "return await agent('hi')")
    result = invoke(
        ["run", path, "--yes", "--worker", "sim", "--allowed-tools", "Bash(git log"], {}
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        "jshost: --allowed-tools 'Bash(git log': unbalanced parenthesis: '(' is never closed"
    ]


def test_tools_are_on_by_default_and_off_with_no_tools(tmp_path, env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "return await agent('hi')")
    with MessagesServer() as server:
        on = invoke(["run", path, "--yes", "--base-url", server.url], env)
        off = invoke(["run", path, "--yes", "--base-url", server.url, "--no-tools"], env)
        with_tools, without = server.posts
    assert on.exit_code == 0 and off.exit_code == 0, on.stderr + off.stderr
    assert {"Read", "Grep", "Glob"} <= {t["name"] for t in with_tools["tools"]}
    assert "tools" not in without


def test_cli_rules_and_workspace_reach_the_agents(tmp_path, env):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.txt").write_text("payload-123\n")
    path = write(tmp_path, "return await agent('show me')")
    turns = [
        Reply(calls=[("Bash", {"command": "cat data.txt"}), ("Bash", {"command": "ls"})]),
        None,
    ]

    def model(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            return turns[0]
        return Reply(text=" | ".join(result_text(b) for b in tool_results(body)))

    with MessagesServer(model) as server:
        args = ["run", path, "--yes", "--json", "--base-url", server.url, "--workspace", str(ws)]
        result = invoke([*args, "--allowed-tools", "Bash(cat:*)", "--max-turns", "5"], env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    first, second = summary["result"].split(" | ")
    assert first.splitlines()[0] == "payload-123"  # ran in the workspace, allowed by the rule
    assert "denied" in second and "Bash(ls" in second  # no rule for ls: the one that would
    # --json shows every call, and the store keeps the agent's transcript for inspect
    events = [json.loads(line) for line in result.stdout.splitlines()[:-1]]
    calls = [e for e in events if e["event"] == "agent_tool"]
    assert sorted((e["input"]["command"], e["status"]) for e in calls) == [
        ("cat data.txt", "ok"),
        ("ls", "denied"),
    ]
    assert [e["rule"] for e in calls if e["status"] == "ok"] == ["Bash(cat:*)"]
    run_id = summary["run_id"]
    shown = invoke(["inspect", run_id, "--agent", "1"], env)
    assert shown.exit_code == 0, shown.output
    assert "cat data.txt" in shown.stdout and "payload-123" in shown.stdout


# -- resume ----------------------------------------------------------------------------------


def test_resume_with_tools_reuses_finished_agents(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("from a\n")
    (ws / "b.txt").write_text("from b\n")
    body = (
        "const a = await agent('read a')\n"
        "const b = await agent('read b')\n"
        "if (b === null) throw new Error('b failed')\n"
        "return [a, b]"
    )
    path = write(tmp_path, body)
    broken = {"on": True}

    def model(req: dict[str, Any]) -> Reply:
        prompt = req["messages"][0]["content"]
        name = "a.txt" if prompt == "read a" else "b.txt"
        if len(req["messages"]) == 1:
            if name == "b.txt" and broken["on"]:
                return Reply(status=400, error_type="invalid_request_error")
            return Reply(calls=[("Read", {"file_path": str(ws / name)})])
        return Reply(text=result_text(tool_results(req)[0]).split("\t", 1)[-1].strip())

    options = jshost.ToolOptions(workspace=ws, home=tmp_path)
    with MessagesServer(model) as server, Store(tmp_path / "runs.db") as store:

        def worker() -> AnthropicWorker:
            return AnthropicWorker(api_key=KEY, base_url=server.url, policy=FAST, config=Config())

        first = jshost.run(path, worker=worker(), store=store, tools=options)
        assert first.status == "failed" and "b failed" in str(first.error)
        asked = len(server.posts)
        broken["on"] = False
        again = jshost.resume(first.run_id, store=store, worker=worker(), tools=options)
        resumed = [p["messages"][0]["content"] for p in server.posts[asked:]]
    assert again.status == "completed" and again.result == ["from a", "from b"]
    assert "read a" not in resumed  # cached: not asked again, its tools not run again
    assert again.agents["cached"] == 1


# -- the README's example --------------------------------------------------------------------


def _copy_repository_files(dest: Path) -> None:
    """This repository's own files, copied: tests run tools only in temporary directories."""
    for rel in ("jshost/journal.py", "jshost/engine", "docs"):
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_the_repo_question_example_answers_from_the_files(tmp_path, env):
    ws = tmp_path / "repo"
    _copy_repository_files(ws)
    # What the scripted model looks for: the line that defines the cache key.
    needle = "def cache_key("

    def model(body: dict[str, Any]) -> Reply:
        prompt = body["messages"][0]["content"]
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if "Findings from the repository" in prompt:  # the last agent: answer from the quotes
            return Reply(text="Answer: " + prompt.split("\n- ", 1)[1].split("\n")[0])
        area = prompt.split("Search only under `", 1)[1].split("`", 1)[0]
        if turn == 0:
            grep = {
                "pattern": r"def cache_key\(",
                "path": str(ws / area),
                "output_mode": "content",
                "-n": True,
            }
            return Reply(calls=[("Grep", grep)])
        (block,) = tool_results(body)
        text = result_text(block)
        if turn == 1:
            hits = [line for line in text.splitlines() if needle in line]
            if not hits:
                return Reply(calls=[("StructuredOutput", {"findings": []})])
            file_part = hits[0].split(":", 1)[0]
            found = Path(file_part) if Path(file_part).is_absolute() else ws / area / file_part
            return Reply(calls=[("Read", {"file_path": str(found)})])
        lines = [line for line in text.splitlines() if needle in line]
        number, quote = lines[0].split("\t", 1)
        read = json.dumps(body["messages"][-2]["content"][-1]["input"])
        rel = str(Path(json.loads(read)["file_path"]).relative_to(ws))
        finding = {"path": rel, "line": int(number.strip()), "quote": quote, "why": "defines it"}
        return Reply(calls=[("StructuredOutput", {"findings": [finding]})])

    args = {"question": "Where is the cache key computed?", "areas": ["jshost", "docs"]}
    example = str(ROOT / "examples" / "repo-question.js")
    with MessagesServer(model) as server:
        result = invoke(
            [
                "run",
                example,
                "--yes",
                "--json",
                "--base-url",
                server.url,
                "--workspace",
                str(ws),
                "--args",
                json.dumps(args),
            ],
            env,
        )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    findings = summary["result"]["findings"]
    assert [f["area"] for f in findings] == ["jshost"]  # docs has no such line
    (finding,) = findings
    source = (ws / finding["path"]).read_text().splitlines()
    assert source[finding["line"] - 1] == finding["quote"]  # the quote is the file's own line
    assert finding["path"] == "jshost/journal.py"
    assert summary["result"]["answer"].startswith("Answer: jshost/journal.py:")


# -- MCP servers -----------------------------------------------------------------------------

SERVER = Path(__file__).resolve().parent / "mcp_log_server.py"


def _mcp_file(tmp_path: Path, log: Path, **env: str) -> Path:
    config = {
        "mcpServers": {
            "logs": {
                "command": sys.executable,
                "args": [str(SERVER)],
                "env": {"LOG_FILE": str(log), **env},
            }
        }
    }
    path = tmp_path / "servers.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.slow
def test_an_mcp_tool_serves_agents_under_the_rules(tmp_path, env):
    ws = tmp_path / "ws"
    ws.mkdir()
    log = tmp_path / "app.log"
    log.write_text("ok 1\nERROR upstream timed out\nok 2\n")
    path = write(tmp_path, "return [await agent('grep the log'), await agent('grep again')]")
    offered: list[list[str]] = []

    def model(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            offered.append([t["name"] for t in body["tools"]])
            return Reply(calls=[("mcp__logs__grep_log", {"pattern": "ERROR"})])
        (block,) = tool_results(body)
        return Reply(text=("denied: " if block.get("is_error") else "") + result_text(block))

    config = str(_mcp_file(tmp_path, log))
    with MessagesServer(model) as server:
        base = ["run", path, "--yes", "--json", "--base-url", server.url, "--workspace", str(ws)]
        allowed = invoke([*base, "--mcp-config", config, "--allowed-tools", "mcp__logs"], env)
        unruled = invoke([*base, "--mcp-config", config], env)
    assert allowed.exit_code == 0, allowed.stderr
    results = json.loads(allowed.stdout.splitlines()[-1])["result"]
    assert results == ["ERROR upstream timed out\n"] * 2  # one server, shared by both agents
    assert "mcp__logs__grep_log" in offered[0]
    denied = json.loads(unruled.stdout.splitlines()[-1])["result"]
    assert denied[0].startswith("denied: ") and "mcp__logs" in denied[0]


def test_an_mcp_server_that_does_not_start_is_one_line_naming_it(tmp_path, env):
    log = tmp_path / "app.log"
    log.write_text("")
    config = str(_mcp_file(tmp_path, log, MCP_TEST_MODE="exit"))
    path = write(tmp_path, "return await agent('hi')")
    with MessagesServer() as server:
        result = invoke(
            ["run", path, "--yes", "--base-url", server.url, "--mcp-config", config], env
        )
        assert server.posts == []
    assert result.exit_code == 2, result.output  # a bad configuration: nothing ran
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "jshost: MCP server logs failed to start: it stopped before listing its tools: "
        f"log server: cannot open the log: permission denied ({sys.executable}, from {config})"
    ), lines
    assert "Traceback" not in result.output


def test_a_project_mcp_file_not_approved_is_left_out_with_a_warning(tmp_path, env, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    log = tmp_path / "app.log"
    log.write_text("x\n")
    shutil.copy(_mcp_file(tmp_path, log), ws / ".mcp.json")
    monkeypatch.chdir(ws)
    path = write(tmp_path, "return await agent('hi')")
    with MessagesServer() as server:
        result = invoke(["run", path, "--yes", "--base-url", server.url], env)
        (body,) = server.posts
    assert result.exit_code == 0, result.stderr
    assert "MCP servers logs from" in result.stderr and "were left out" in result.stderr
    assert not any(t["name"].startswith("mcp__") for t in body["tools"])


# -- stopping a run mid-command --------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_pid(path: Path, proc: subprocess.Popen) -> int:
    end = time.monotonic() + 30
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < end, "the command never started"
        time.sleep(0.01)
    return int(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "timeout"])
def test_stopping_a_run_kills_running_commands(tmp_path, env, how):
    ws = tmp_path / "ws"
    ws.mkdir()
    pidfile = ws / "sleep.pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    path = write(tmp_path, "return await agent('wait')")
    model = lambda body: Reply(calls=[("Bash", {"command": command})])  # noqa: E731
    with MessagesServer(model) as server:
        full = dict(os.environ, **env, ANTHROPIC_BASE_URL=server.url)
        full["JSHOST_HOME"] = str(tmp_path / "jshost-home")
        args = ["run", path, "--yes", "--workspace", str(ws), "--allowed-tools", "Bash"]
        if how == "timeout":
            args += ["--timeout", "3"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "jshost", *args],
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            pid = _wait_for_pid(pidfile, proc)
            sent = time.monotonic()
            if how == "ctrl-c":
                proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in err, err
    assert proc.returncode == (130 if how == "ctrl-c" else 1), err
    if how == "ctrl-c":
        assert took < 3, took  # the command did not hold the stop up
    end = time.monotonic() + 2
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.02)
    assert not _alive(pid), f"the command's child {pid} outlived the run"


# -- a call's own options --------------------------------------------------------------------


def test_disallowed_tools_and_bash_command_clamp_of_one_agent_call(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    body = (
        "const a = await agent('no bash', { disallowedTools: ['Bash'] })\n"
        "const b = await agent('clamped', { bashCommandClamp: ['Bash(echo:*)'] })\n"
        "return [a, b]"
    )
    path = write(tmp_path, body)
    offered: dict[str, list[str]] = {}

    def model(req: dict[str, Any]) -> Reply:
        prompt = req["messages"][0]["content"]
        if len(req["messages"]) == 1:
            offered[prompt] = [t["name"] for t in req["tools"]]
            if prompt == "clamped":
                return Reply(calls=[("Bash", {"command": "echo in"}), ("Bash", {"command": "ls"})])
            return Reply(text="nothing to run")
        return Reply(text=" | ".join(result_text(b) for b in tool_results(req)))

    options = jshost.ToolOptions(workspace=ws, home=tmp_path, allowed_tools=["Bash"])
    with MessagesServer(model) as server:
        worker = AnthropicWorker(api_key=KEY, base_url=server.url, policy=FAST, config=Config())
        result = jshost.run(path, worker=worker, tools=options)
    assert result.ok, result.error
    assert "Bash" not in offered["no bash"] and "Read" in offered["no bash"]
    assert "Bash" in offered["clamped"]
    ran, refused = result.result[1].split(" | ")
    assert ran.splitlines()[0] == "in"
    assert "denied" in refused and "bashCommandClamp" in refused, refused


def test_resume_takes_the_tool_options_and_checks_them(tmp_path, env):
    path = write(tmp_path, "const a = await agent('one')\nthrow new Error('stop here')")
    with MessagesServer() as server:
        first = invoke(["run", path, "--yes", "--json", "--base-url", server.url], env)
        run_id = json.loads(first.stdout.splitlines()[-1])["run_id"]
        bad = invoke(["resume", run_id, "--yes", "--allowed-tools", "Read(x"], env)
        asked = len(server.posts)
        good = invoke(
            ["resume", run_id, "--yes", "--json", "--base-url", server.url, "--no-tools"], env
        )
        assert len(server.posts) == asked  # the cached agent did not run again
    assert first.exit_code == 1
    assert bad.exit_code == 2 and bad.stderr.strip().splitlines() == [
        "jshost: --allowed-tools 'Read(x': unbalanced parenthesis: '(' is never closed"
    ]
    assert good.exit_code == 1 and '"agent_cached"' in good.stdout


def test_prepare_gives_the_worker_the_toolbox_with_the_views_asker(tmp_path):
    from jshost import _api
    from jshost.engine import NO_ARGS, Limits

    class Person:
        async def ask(self, request: Any) -> str:
            return "deny"

    person = Person()
    workflow = jshost.parse(META + "return 1\n", name="flow.js")
    worker = AnthropicWorker(api_key=KEY, base_url="http://127.0.0.1:9", config=Config())
    options = jshost.ToolOptions(workspace=tmp_path, home=tmp_path, max_turns=7)
    kw = {"worker": worker, "limits": Limits(), "args": NO_ARGS}
    prepared = _api.prepare(workflow, tools=options, asker=person, **kw)
    assert prepared.toolbox is not None and worker.toolbox is prepared.toolbox
    assert prepared.toolbox.asker is person and prepared.toolbox.max_turns == 7
    assert prepared.workspace == tmp_path.resolve()  # agent types and worktrees start here
    off = _api.prepare(workflow, tools=jshost.ToolOptions(enabled=False), **kw)
    assert off.toolbox is None and worker.toolbox is None  # a worker used again keeps none
    assert off.workspace is None
    there = _api.prepare(
        workflow, tools=jshost.ToolOptions(enabled=False, workspace=tmp_path), **kw
    )
    assert there.workspace == tmp_path.resolve()


def test_an_mcp_server_that_does_not_start_leaves_a_failed_run_not_an_interrupted_one(
    tmp_path, env, monkeypatch
):
    # Found as a new user: the run was left "interrupted" (as if jshost had crashed).
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "store"))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"x": {"command": str(tmp_path / "nope")}}}))
    path = write(tmp_path, "return await agent('hi')")
    env = {**env, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}  # never reached
    result = invoke(["run", path, "--yes", "--mcp-config", str(config)], env)
    # a configuration that names a server that cannot run: exit 2, as any bad configuration
    assert result.exit_code == 2
    assert result.stderr == (
        f"jshost: MCP server x failed to start: command not found: {tmp_path / 'nope'} "
        f"(from {config})\n"
    )
    with Store() as store:
        (run,) = store.list_runs()
        assert run.status == "failed"
        assert "MCP server x failed to start" in run.error["message"]
