"""A project's .mcp.json starts nothing until the user approves it, through the real CLI.

``--yes`` and a run without a terminal leave its servers out with one line; the confirmation
on a pseudo-terminal lists them and approves them for the run, or for good per sha256 ("don't
ask again"); an edit asks again. The scripts start no agent: what is checked is the decision,
made before anything runs (the toolbox that starts the approved servers is tested with the
agent loop). The anthropic worker is used because the sim worker's agents use no tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_confirm import Terminal

from jshost.cli import cli
from jshost.store import Store
from jshost.tools.mcp_config import approval_key, load_config_file

SCRIPT = "export const meta = { name: 'mcpcheck', description: 'no agents' }\nreturn 'done'\n"
WORKER = ["--worker", "anthropic", "--base-url", "http://127.0.0.1:9"]
SERVER = str(Path(__file__).with_name("mcp_log_server.py"))
# a real server, so that once the toolbox starts approved servers these runs still succeed
CONFIG = {
    "mcpServers": {
        "logs": {
            "command": sys.executable,
            "args": [SERVER, "--dir", "${LOGS:-/var/log}"],
            "env": {"LOG_FILE": "${LOGS:-/var/log}/app.log"},
        }
    }
}


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "flow.js").write_text(SCRIPT)
    (root / ".mcp.json").write_text(json.dumps(CONFIG))
    monkeypatch.chdir(root)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    return root


def run_yes(*extra: str):
    result = CliRunner().invoke(cli, ["run", "flow.js", "--yes", "--quiet", *WORKER, *extra])
    assert "Traceback" not in result.output
    return result


def left_out_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "were left out" in line]


def test_yes_leaves_an_unapproved_project_file_out_with_one_line(ws):
    result = run_yes()
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "done"
    [line] = left_out_lines(result.stderr)
    origin = str((ws / ".mcp.json").resolve())
    assert line == (
        f"jshost: MCP servers logs from {origin} were left out: it is not approved. Approve it "
        f'by running without --yes on a terminal and choosing "don\'t ask again", or name it '
        f"with --mcp-config {origin}"
    )


def test_an_approved_file_runs_and_a_changed_one_is_left_out_again(ws):
    with Store() as store:
        store.approve(approval_key(load_config_file(ws / ".mcp.json")), "0" * 64, "other")
        file = load_config_file(ws / ".mcp.json", project=True)
        store.approve(approval_key(file), file.sha256, "MCP servers: logs")
    assert left_out_lines(run_yes().stderr) == []

    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"logs": {"command": "evil"}}}))
    [line] = left_out_lines(run_yes().stderr)
    assert "were left out: it changed since it was approved" in line


def test_no_tools_and_a_worker_without_tools_ignore_mcp(ws):
    from jshost.cli.mcp_approval import mcp_for_run
    from jshost.workers.registry import WorkerSettings, make_worker

    worker = make_worker("sim", WorkerSettings())
    assert mcp_for_run({"tools_on": False}, worker) is None
    found = mcp_for_run({}, worker)
    if getattr(worker, "supports_tools", True):
        assert found is not None and [f.origin for f in found.pending] == [
            str((ws / ".mcp.json").resolve())
        ]
    else:
        assert found is None


def test_a_bad_project_file_stops_the_run_with_its_place(ws):
    (ws / ".mcp.json").write_text('{"mcpServers": {\n  "logs": {"command": }\n}}')
    result = run_yes()
    assert result.exit_code == 2
    origin = (ws / ".mcp.json").resolve()
    assert f"jshost: {origin}:2:23: not valid JSON: Expecting value" in result.stderr
    (ws / ".mcp.json").write_text('{"mcpServers": {"logs": {"type": "ws", "url": "x"}}}')
    result = run_yes()
    assert result.exit_code == 2
    assert f'{origin}: server "logs": unknown "type" "ws"' in result.stderr


# ---- on a terminal -------------------------------------------------------------------------


@pytest.fixture
def env(ws) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JSHOST_RAISE_ERRORS", None)
    env.update(
        COLUMNS="160",
        LINES="60",
        TERM="xterm-256color",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    return env


def start(ws: Path, env: dict[str, str]) -> Terminal:
    return Terminal(["run", "flow.js", "--no-interactive", *WORKER], cwd=ws, env=env)


def piped(ws: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jshost", "run", "flow.js", *WORKER],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_confirmation_lists_the_servers_and_yes_approves_them_for_this_run(ws, env):
    term = start(ws, env)
    term.expect(f"mcp: {(ws / '.mcp.json').resolve()} (needs your approval)")
    term.expect(f"server: logs: {sys.executable} {SERVER} --dir /var/log  (env: LOG_FILE)")
    term.expect("Choose 1-4")
    term.send("1")
    term.expect("done")
    assert term.wait() == 0
    assert "were left out" not in term.text
    # for this run only
    with Store() as store:
        file = load_config_file(ws / ".mcp.json", project=True)
        assert not store.is_approved(approval_key(file), file.sha256)


def test_dont_ask_again_remembers_the_file_until_it_changes(ws, env):
    term = start(ws, env)
    term.expect("(needs your approval)")
    term.expect("Choose 1-4")
    term.send("2")
    term.expect("done")
    assert term.wait() == 0
    with Store() as store:
        file = load_config_file(ws / ".mcp.json", project=True)
        assert store.is_approved(approval_key(file), file.sha256)

    # script and servers approved: no question, not even a terminal needed, nothing left out
    quiet = piped(ws, env)
    assert quiet.returncode == 0, quiet.stderr
    assert "were left out" not in quiet.stderr

    # the file changes: the script is still approved, so without a terminal it runs, but the
    # servers are left out; on a terminal the question comes back for them
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"logs": {"command": "other"}}}))
    lapsed = piped(ws, env)
    assert lapsed.returncode == 0, lapsed.stderr
    assert "were left out: it changed since it was approved" in lapsed.stderr
    again = start(ws, env)
    again.expect("(changed since you approved it: needs your approval)")
    again.expect("server: logs: other")
    again.expect("Choose 1-4")
    again.send("n")
    assert again.wait() == 2
