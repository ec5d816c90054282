"""The workflows bundled with jshost (deep-research, code-review): listed, run by name on the
sim worker, shipped inside the package, and shadowed by a project or user workflow of the
same name (reference §8.3: bundled workflows; project beats personal)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jshost.cli import cli
from jshost.library import BUNDLED_DIR, discover, find_workflow
from jshost.script.validate import validate_file

BUNDLED = ("deep-research", "code-review")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository as the working directory, and an empty home."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(root)
    return root


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def run_json(*args: str) -> tuple[int, dict]:
    result = invoke("run", *args, "--worker", "sim", "--yes", "--json", "--sim-latency", "0.001")
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_workflows_are_clean_and_document_their_args(name):
    report = validate_file(BUNDLED_DIR / f"{name}.js")
    assert report.errors == report.warnings == 0, [str(d) for d in report.diagnostics]
    assert report.meta is not None and report.meta.name == name
    assert "args:" in report.meta.description  # how to call it, where `list` shows it
    assert report.meta.when_to_use and len(report.meta.phases) >= 3


def test_list_shows_the_bundled_workflows(repo):
    data = json.loads(invoke("list", "--json").stdout)
    scopes = {wf["name"]: wf["scope"] for wf in data["workflows"]}
    assert scopes == {"deep-research": "bundled", "code-review": "bundled"}
    text = invoke("list").stdout
    assert "deep-research  (bundled)" in text and "code-review  (bundled)" in text


def test_deep_research_runs_by_name_on_sim(repo):
    args = json.dumps({"question": "Why do nginx upstreams return 502?", "angles": 3})
    status, summary = run_json("deep-research", "--args", args)
    assert (status, summary["status"], summary["workflow"]) == (0, "completed", "deep-research")
    result = summary["result"]
    assert result["question"] == "Why do nginx upstreams return 502?"
    assert "Why do nginx upstreams return 502?" in result["report"]  # the prompt reached it
    assert 1 <= len(result["angles"]) <= 3
    # plan + one agent per angle + cross-check + report
    assert summary["agents"]["done"] == 3 + len(result["angles"])
    assert summary["agents"]["failed"] == 0


def test_deep_research_takes_the_question_as_a_bare_string(repo):
    status, summary = run_json("deep-research", "--args", '"what is a cache key"')
    assert (status, summary["result"]["question"]) == (0, "what is a cache key")


def test_deep_research_without_a_question_says_how_to_call_it(repo):
    status, summary = run_json("deep-research")
    assert status == 1 and summary["status"] == "failed"
    assert 'deep-research needs a question: --args \'{"question"' in summary["error"]
    assert summary["agents"]["total"] == 0  # nothing spent


def test_code_review_runs_by_name_on_sim(repo):
    args = json.dumps({"target": "src/parser.py", "focus": ["correctness", "security"]})
    status, summary = run_json("code-review", "--args", args)
    assert (status, summary["status"]) == (0, "completed")
    result = summary["result"]
    assert result["target"] == "src/parser.py"
    assert isinstance(result["verdict"], str) and "src/parser.py" in result["verdict"]
    severities = [f["severity"] for f in result["findings"]]
    rank = {"critical": 0, "major": 1, "minor": 2}
    assert severities == sorted(severities, key=rank.__getitem__)
    assert all(f["focus"] in ("correctness", "security") for f in result["findings"])


def test_code_review_refuses_an_unknown_focus(repo):
    args = json.dumps({"target": "x.py", "focus": ["style"]})
    status, summary = run_json("code-review", "--args", args)
    assert status == 1 and "unknown focus style; known: correctness" in summary["error"]


def test_a_project_workflow_of_the_same_name_wins(repo):
    folder = repo / ".claude" / "workflows"
    folder.mkdir(parents=True)
    (folder / "deep-research.js").write_text(
        "export const meta = { name: 'deep-research', description: 'ours' }\nreturn 'project'\n"
    )
    assert find_workflow("deep-research").scope == "project"
    status, summary = run_json("deep-research")
    assert (status, summary["result"]) == (0, "project")
    names = [(wf.name, wf.scope) for wf in discover()[0]]
    assert names.count(("deep-research", "project")) == 1
    assert ("deep-research", "bundled") not in names


def test_a_user_workflow_of_the_same_name_wins(repo, tmp_path):
    folder = Path.home() / ".claude" / "workflows"
    folder.mkdir(parents=True)
    (folder / "review.js").write_text(
        "export const meta = { name: 'code-review', description: 'mine' }\nreturn 'user'\n"
    )
    status, summary = run_json("code-review")
    assert (status, summary["result"]) == (0, "user")


def test_a_script_can_nest_a_bundled_workflow(repo):
    script = repo / "outer.js"
    script.write_text(
        "export const meta = { name: 'outer', description: 'nests deep-research' }\n"
        "const r = await workflow('deep-research', { question: 'q?', angles: 2 })\n"
        "return r.question\n"
    )
    status, summary = run_json(str(script))
    assert (status, summary["result"]) == (0, "q?")


def test_bundled_workflows_are_in_the_wheel(tmp_path):
    # Build the wheel as an installer would, offline: hatchling (the declared backend) is in
    # the test extra, so no build isolation and no download is needed.
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp_path), str(root)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("jshost-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in BUNDLED:
        assert f"jshost/workflows/{name}.js" in names
