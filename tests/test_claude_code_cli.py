"""``--worker claude-code`` from the command line: a sample workflow end to end against the fake
program (tests/fake_claude.py), and the one-line refusals when the extra or program is missing."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_claude import flag
from procs import finish, jshost

FAKE = Path(__file__).parent / "fake_claude.py"

SAMPLE = """\
export const meta = { name: "cc-sample", description: "a fan-out and a schema" };
phase("ask");
const [a, b] = await parallel([
  () => agent("say one", { label: "one" }),
  () => agent("say two [[fake {\\"text\\": \\"TWO\\", \\"cost\\": 0.5}]]", {
    label: "two",
    model: "haiku",
  }),
]);
phase("count");
const n = await agent("count", {
  label: "count",
  schema: { type: "array", items: { type: "integer" }, minItems: 3 },
});
return { a, b, n };
"""


def test_a_sample_workflow_runs_on_the_claude_code_worker(tmp_path):
    script = tmp_path / "sample.js"
    script.write_text(SAMPLE)
    argv_log = tmp_path / "argv.jsonl"
    env = {"JSHOST_CLAUDE_PATH": str(FAKE), "FAKE_CLAUDE_ARGV": str(argv_log)}
    proc = jshost(
        tmp_path, "run", str(script), "--worker", "claude-code", "--yes", "--json", env=env
    )
    code, out, err = finish(proc)
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["result"] == {"a": "echo: say one", "b": "TWO", "n": [4, 4, 4]}
    assert summary["cost_usd_reported"] == 0.5 + 2 * 0.00013
    assert set(summary["cost_usd_estimate"]) == {"claude-sonnet-5-5", "claude-haiku-5-5"}
    runs = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert len(runs) == 3 and all("--no-session-persistence" in argv for argv in runs)
    # the text summary puts the program's figure beside the list-price estimate
    proc = jshost(tmp_path, "run", str(script), "--worker", "claude-code", "--yes", env=env)
    code, out, err = finish(proc)
    assert code == 0, err
    lines = err.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("cost (estimate"))
    assert lines[at + 1] == "cost reported by Claude Code: $0.500"


def _refused(tmp_path: Path, env: dict[str, str], *prefix: str) -> str:
    script = tmp_path / "one.js"
    script.write_text(
        'export const meta = {name: "one", description: "d"};\nreturn await agent("x");\n'
    )
    proc = jshost(
        tmp_path, *prefix, "run", str(script), "--worker", "claude-code", "--yes", env=env
    )
    code, out, err = finish(proc)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs.db").exists() or "agent" not in out
    return err.strip()


def test_a_missing_program_is_one_line_and_exit_2(tmp_path):
    err = _refused(tmp_path, {"JSHOST_CLAUDE_PATH": str(tmp_path / "no-such-claude")})
    missing = str(tmp_path / "no-such-claude")
    assert err == f"jshost: JSHOST_CLAUDE_PATH={missing!r} is not an executable file"


def test_a_missing_extra_is_one_line_and_exit_2(tmp_path):
    # The package made unimportable, as where the extra was never installed.
    hide = "import sys; sys.modules['claude_agent_sdk'] = None; from jshost.cli import main; main()"
    script = tmp_path / "one.js"
    script.write_text(
        'export const meta = {name: "one", description: "d"};\nreturn await agent("x");\n'
    )
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env["JSHOST_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", hide, "run", str(script), "--worker", "claude-code", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "jshost: the claude-code worker needs the claude-agent-sdk package: "
        "pip install 'jshost[claude-code]'"
    )
    listed = subprocess.run(
        [sys.executable, "-c", hide, "workers"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (
        "claude-code  (jshost) not ready: the claude-code worker needs the claude-agent-sdk"
        in listed.stdout
    )


def test_a_bad_settings_source_is_one_line_and_exit_2(tmp_path):
    err = _refused(
        tmp_path, {"JSHOST_CLAUDE_PATH": str(FAKE), "JSHOST_CLAUDE_SETTING_SOURCES": "user,team"}
    )
    assert err == (
        "jshost: JSHOST_CLAUDE_SETTING_SOURCES: 'team' is not a settings source "
        "(user, project, local)"
    )


def test_setting_sources_reach_the_program(tmp_path):
    script = tmp_path / "one.js"
    script.write_text(
        'export const meta = {name: "one", description: "d"};\nreturn await agent("x");\n'
    )
    argv_log = tmp_path / "argv.jsonl"
    env = {
        "JSHOST_CLAUDE_PATH": str(FAKE),
        "FAKE_CLAUDE_ARGV": str(argv_log),
        "JSHOST_CLAUDE_SETTING_SOURCES": "user, project",
    }
    code, _, err = finish(
        jshost(tmp_path, "run", str(script), "--worker", "claude-code", "--yes", env=env)
    )
    assert code == 0, err
    (argv,) = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert "--setting-sources=user,project" in argv
    assert "Claude Code settings: user,project" in err


WORKTREES = """\
export const meta = { name: "cc-worktrees", description: "two agents edit one file" };
const fake = (who) => `[[fake {"write": {"notes.txt": "${who} was here\\\\n"}, "text": "${who}"}]]`;
const edits = await parallel(["a", "b"].map((who) => () =>
  agent(`edit as ${who} ${fake(who)}`, { label: who, isolation: "worktree" })));
return edits;
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_worktree_agents_on_claude_code_each_edit_their_own_checkout(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    (repo / "notes.txt").write_text("original\n")
    _git(repo, "add", "notes.txt")
    _git(repo, "commit", "-qm", "start")
    script = repo / "edit.js"
    script.write_text(WORKTREES)
    env = {"JSHOST_CLAUDE_PATH": str(FAKE)}
    proc = jshost(
        tmp_path / "home",
        "run",
        str(script),
        "--worker",
        "claude-code",
        "--yes",
        "--json",
        env=env,
        cwd=repo,
    )
    code, out, err = finish(proc)
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["result"] == ["a", "b"]
    kept = {k["agent"]: Path(k["path"]) for k in summary["kept_worktrees"]}
    assert len(kept) == 2
    texts = sorted((path / "notes.txt").read_text() for path in kept.values())
    assert texts == ["a was here\n", "b was here\n"]
    assert (repo / "notes.txt").read_text() == "original\n"  # the main checkout saw neither
    assert _git(repo, "status", "--porcelain") == "?? edit.js\n"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find orphans")
def test_ctrl_c_stops_the_run_and_leaves_no_program_or_child_behind(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = tmp_path / "slow.js"
    fake = f'[[fake {{"child": "{pidfile}", "sleep": 60}}]]'
    script.write_text(
        'export const meta = {name: "slow", description: "d"};\n'
        f"return await agent({json.dumps('wait ' + fake)});\n"
    )
    proc = jshost(
        tmp_path,
        "run",
        str(script),
        "--worker",
        "claude-code",
        "--yes",
        env={"JSHOST_CLAUDE_PATH": str(FAKE)},
    )
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    child = int(pidfile.read_text())
    program = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=30)
    took = time.monotonic() - sent
    print(f"ctrl-c to exit: {took:.2f} s")
    assert code == 130, err
    assert took < 3.0, took  # the program is gone within ~0.5 s; the rest is jshost's exit
    for _ in range(100):
        if not _alive(child) and not _alive(program):
            break
        time.sleep(0.02)
    assert not _alive(program) and not _alive(child)


def test_the_sdks_shadowing_warning_is_not_printed(tmp_path):
    # An allow rule for a whole tool makes the SDK warn that can_use_tool is not asked for it;
    # that is what jshost wants, and a warning on the terminal would only confuse.
    code = (
        "import trio; from jshost.workers.claude_code import ClaudeCodeWorker; "
        "from jshost.workers.base import AgentRequest; "
        f"w = ClaudeCodeWorker(cli_path={str(FAKE)!r}, allowed_tools=['Read']); "
        "print(trio.run(w.run, AgentRequest(index=0, prompt='hi', label='a')).value)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hi\n"
    assert done.stderr == ""


def test_the_command_lines_rules_mode_and_mcp_servers_reach_the_program(tmp_path):
    # The pipeline builds the claude-code worker a toolbox like the anthropic worker's: the
    # same flags and settings files decide, and the program gets them as its own flags.
    script = tmp_path / "one.js"
    script.write_text(
        'export const meta = {name: "one", description: "d"};\nreturn await agent("x");\n'
    )
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(
        json.dumps({"permissions": {"deny": ["Read(./secrets/**)"]}})
    )
    mcp = tmp_path / "servers.json"
    mcp.write_text(
        json.dumps({"mcpServers": {"logs": {"command": sys.executable, "args": ["-c", "pass"]}}})
    )
    argv_log = tmp_path / "argv.jsonl"
    env = {"JSHOST_CLAUDE_PATH": str(FAKE), "FAKE_CLAUDE_ARGV": str(argv_log)}
    code, _, err = finish(
        jshost(
            tmp_path,
            *("run", str(script), "--worker", "claude-code", "--yes"),
            *("--allowed-tools", "Bash(git log:*)", "--permission-mode", "acceptEdits"),
            *("--mcp-config", str(mcp), "--workspace", str(tmp_path)),
            env=env,
        )
    )
    assert code == 0, err
    (argv,) = [json.loads(line) for line in argv_log.read_text().splitlines()]
    flat = "\n".join(argv)
    assert "Bash(git log:*)" in flat
    assert "Read(./secrets/**)" in flat
    assert "--permission-mode=acceptEdits" in argv or "acceptEdits" in flat
    config = argv[argv.index("--mcp-config") + 1]
    assert '"logs"' in config
    # jshost started no server of its own: the program starts the approved ones
    assert "MCP server" not in err


NO_API = """\
export const meta = { name: "no-api", description: "agents the API never answers" };
const first = await agent("one [[fake {\\"%(how)s\\": true}]]", { label: "one" });
const second = await agent("two [[fake {\\"%(how)s\\": true}]]", { label: "two" });
return [first, second];
"""


@pytest.mark.parametrize("how", ["no_login", "unreachable"])
def test_no_credentials_or_no_api_fail_at_once_with_a_clear_line(tmp_path, how):
    # Found as a new user: without a login each agent was tried 6 times ("success: Not logged
    # in · Please run /login"), and a refused connection, which the program itself retries
    # for minutes, was tried 6 times more per agent.
    script = tmp_path / "no-api.js"
    script.write_text(NO_API % {"how": how})
    argv_log = tmp_path / "argv.jsonl"
    env = {"JSHOST_CLAUDE_PATH": str(FAKE), "FAKE_CLAUDE_ARGV": str(argv_log)}
    proc = jshost(
        tmp_path, "run", str(script), "--worker", "claude-code", "--yes", "--no-live", env=env
    )
    code, _out, err = finish(proc)
    assert code == 0, err  # the script got null twice and returned
    runs = argv_log.read_text().splitlines()
    assert "success:" not in err and "retrying" not in err
    if how == "no_login":
        assert len(runs) == 2  # one attempt per agent: a login does not appear on a retry
        assert "Not logged in · Please run /login — the Claude Code program has no cred" in err
        assert "set ANTHROPIC_API_KEY, or log in once with Claude Code" in err
    else:
        assert len(runs) == 1  # the second agent is not sent to a closed door again
        assert "the API did not answer (no connection); jshost gives up after 4 tries" in err
        assert "[one] failed: cannot reach the API: API Error: Connection refused" in err
        assert "[two] failed: cannot reach the API" in err and "not tried again" in err


def test_no_tools_gives_the_program_no_tools(tmp_path):
    # Found as a new user: --no-tools changed nothing on this worker (the program kept all
    # its tools, and the rules given beside it were dropped).
    script = tmp_path / "one.js"
    script.write_text(
        'export const meta = {name: "one", description: "d"};\nreturn await agent("x");\n'
    )
    argv_log = tmp_path / "argv.jsonl"
    env = {"JSHOST_CLAUDE_PATH": str(FAKE), "FAKE_CLAUDE_ARGV": str(argv_log)}
    for flags in (["--no-tools"], []):
        proc = jshost(
            tmp_path, "run", str(script), "--worker", "claude-code", "--yes", *flags, env=env
        )
        code, _out, err = finish(proc)
        assert code == 0, err
    off, on = (json.loads(line) for line in argv_log.read_text().splitlines())
    # (--tools= or --tools '': claude-agent-sdk releases write it either way)
    assert flag(off, "--tools") == ""
    assert flag(on, "--tools") is None
