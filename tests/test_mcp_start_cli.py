"""An MCP server that cannot start, through the real command line: one line naming the server,
the reason and the file that defines it; exit 2 (a bad configuration: nothing ran); never a
traceback — on the plain view, with --json, and in the interactive view on a terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_interactive import Terminal

from jshost.store import Store

META = "export const meta = { name: 'mcp', description: 'a server that cannot start' }\n"


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A script and a config whose server prints two lines to stderr and exits 3."""
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "store"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-mcp")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # never reached
    script = tmp_path / "flow.js"
    script.write_text(META + "return await agent('hi')\n")
    config = tmp_path / "servers.json"
    server = "import sys; print('starting', file=sys.stderr); sys.exit('no module named logs')"
    config.write_text(
        json.dumps({"mcpServers": {"logs": {"command": sys.executable, "args": ["-c", server]}}})
    )
    return script, config


HEADLINE = "jshost: MCP server logs failed to start: it stopped before listing its tools: "


@pytest.mark.parametrize("view", [["--no-live", "--no-interactive"], ["--json"]])
def test_a_server_that_exits_is_one_line_and_exit_2(place, view):
    import subprocess

    script, config = place
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jshost",
            "run",
            str(script),
            "--yes",
            "--worker",
            "anthropic",
            "--mcp-config",
            str(config),
            *view,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    first, *rest = done.stderr.splitlines()
    assert first == f"{HEADLINE}no module named logs ({sys.executable}, from {config})"
    assert rest == ["  stderr: starting", "  stderr: no module named logs"]
    with Store(reading=True) as store:
        (run,) = store.list_runs()
    assert run.status == "failed"


def test_the_interactive_view_closes_and_says_why(place):
    script, config = place
    term = Terminal(
        "run",
        str(script),
        "--yes",
        "--worker",
        "anthropic",
        "--mcp-config",
        str(config),
        cwd=script.parent,
    )
    assert term.finish() == 2
    assert f"{HEADLINE}no module named logs" in " ".join(term.text.split())
    assert "Traceback" not in term.text
    with Store(reading=True) as store:
        (run,) = store.list_runs()
    assert run.status == "failed" and "MCP server logs failed to start" in run.error["message"]
