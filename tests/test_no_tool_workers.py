"""Tool options on a worker whose agents run no tools (the sim, ``--no-tools``): found as a new
user of issues 19 and 20 — they were silently ignored, ``--mcp-config`` naming a missing file
included, and an ``Agent(<type>)`` deny rule did not deny the type. Real CLI, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import jshost
from jshost.cli import cli

TYPES = """export const meta = { name: 'types', description: 'agent types' }
const out = []
for (const t of ['reviewer', 'Explore']) {
  try {
    out.push(await agent(`review as ${t}`, { agentType: t }))
  } catch (e) {
    out.push(e.message)
  }
}
return out
"""
AGENT = """---
name: reviewer
description: Reviews code.
tools: Read, Grep
---
You review code.
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    (work / ".claude" / "agents").mkdir(parents=True)
    (work / ".claude" / "agents" / "reviewer.md").write_text(AGENT)
    (work / "types.js").write_text(TYPES)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "store"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(work)
    return work


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args, "--yes", "--sim-latency", "0"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("where", ["flag", "settings"])
@pytest.mark.parametrize("worker", [["--worker", "sim"], ["--no-tools"]])
def test_an_agent_rule_denies_the_type_whatever_the_worker(project, where, worker):
    flags = ["--disallowed-tools", "Agent(reviewer)"] if where == "flag" else []
    if where == "settings":
        rules = {"permissions": {"deny": ["Agent(reviewer)"]}}
        (project / ".claude" / "settings.json").write_text(json.dumps(rules))
    code, out, err = run("types.js", *worker, *flags, "--json")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    denied, explored = summary["result"]
    assert denied.startswith("agent({agentType}): 'reviewer' is denied by permission rule")
    assert explored.startswith("[sim")


def test_a_missing_mcp_config_file_is_an_error_on_the_sim_too(project):
    code, out, err = run("types.js", "--worker", "sim", "--mcp-config", "no-such.json")
    assert code == 2 and out == ""
    assert err.strip().endswith("no-such.json: no such MCP config file"), err


def test_tool_flags_on_the_sim_say_they_change_nothing(project):
    code, _, err = run("types.js", "--allowed-tools", "Bash(git log:*)", "--max-turns", "3")
    assert code == 0, err
    assert "using the offline sim worker (no API key configured; its agents run no tools)" in err
    assert (
        "jshost: note: the sim worker runs no tools, so --allowed-tools, --max-turns change "
        "nothing in this run" in err
    )
    code, _, err = run("types.js", "--permission-mode", "plan")
    assert "the sim worker runs no tools, so --permission-mode changes nothing" in err
    code, _, err = run("types.js")
    assert "jshost: note:" not in err  # nothing given, nothing to say


def test_the_python_api_checks_rules_for_a_worker_without_tools(project):
    workflow = jshost.load(str(project / "types.js"))
    with pytest.raises(jshost.UsageError, match="unknown tool 'bash'; did you mean Bash"):
        jshost.run(workflow, worker="sim", tools=jshost.ToolOptions(allowed_tools=["bash"]))
    denied = jshost.ToolOptions(disallowed_tools=["Agent(reviewer)"])
    result = jshost.run(workflow, worker="sim", tools=denied)
    assert "is denied by permission rule 'Agent(reviewer)'" in result.result[0]


def test_help_says_what_resume_does_not_keep_and_which_workers_use_tools():
    def text(*args: str) -> str:
        return " ".join(CliRunner().invoke(cli, [*args, "--help"]).output.split())

    resume = text("resume")
    assert "tool rules, mode and MCP servers are not stored: give them again" in resume
    run_help = text("run")
    assert "(anthropic; claude-code: the program's own). The sim runs none." in run_help
