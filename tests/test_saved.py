"""Saved workflows: save, discovery, list, run by name, workflow('name') nesting.

Each test works in a temporary git repository with a temporary home directory, so the user's
own ~/.claude is never read or written.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click.testing
import pytest
from click.testing import CliRunner

from jshost.cli import cli
from jshost.library import SaveError, TargetExists, discover, find_workflow, save_target, slug


def flow(name: str, description: str = "a saved flow", body: str = "return 'ok'", extra="") -> str:
    return (
        f"export const meta = {{ name: {json.dumps(name)}, description: {json.dumps(description)}"
        f"{extra} }}\n{body}\n"
    )


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with a nested working directory, and an empty home."""
    root = tmp_path / "repo"
    (root / "src" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(root / "src" / "deep")
    return root


def invoke(*args: str, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def saved_only(workflows: list) -> list:
    """The workflows found on disk, without the ones bundled with jshost."""
    return [wf for wf in workflows if wf.scope != "bundled"]


def saved_only_json(workflows: list) -> list:
    return [wf for wf in workflows if wf["scope"] != "bundled"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- slug and targets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Nginx 502 Debug", "nginx-502-debug"), ("  a__b  ", "a-b"), ("日本", "workflow"), ("x", "x")],
)
def test_slug(name, expected):
    assert slug(name) == expected


def test_project_target_is_the_repository_roots_when_none_exists(repo):
    assert save_target("My Flow", user=False) == repo / ".claude" / "workflows" / "my-flow.js"


def test_project_target_is_the_closest_existing_workflows_dir(repo):
    (repo / "src" / ".claude" / "workflows").mkdir(parents=True)
    assert save_target("f", user=False) == repo / "src" / ".claude" / "workflows" / "f.js"


def test_user_target_respects_claude_config_dir(repo, tmp_path, monkeypatch):
    assert save_target("f", user=True) == Path.home() / ".claude" / "workflows" / "f.js"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert save_target("f", user=True) == tmp_path / "cfg" / "workflows" / "f.js"


# -- jshost save ----------------------------------------------------------------------------------


def test_save_to_the_project_and_run_by_name(repo, tmp_path):
    script = write(tmp_path / "flow.js", flow("Greeter", body="return await agent('hi')"))
    result = invoke("save", str(script))
    assert result.exit_code == 0, result.output
    target = repo / ".claude" / "workflows" / "greeter.js"
    assert target.read_text() == script.read_text()
    assert f"saved 'Greeter' to {target}" in result.output
    run = invoke("run", "Greeter", "--yes", "--sim-latency", "0")
    assert run.exit_code == 0, run.output
    assert run.stdout.startswith("[sim sim] hi")
    assert invoke("run", "greeter", "--yes", "--sim-latency", "0").exit_code == 0  # file stem


def test_save_user(repo, tmp_path):
    script = write(tmp_path / "flow.js", flow("Mine"))
    assert invoke("save", str(script), "--user").exit_code == 0
    assert (Path.home() / ".claude" / "workflows" / "mine.js").exists()
    (wf,) = saved_only(discover()[0])
    assert (wf.name, wf.scope) == ("Mine", "user")


def test_save_refuses_an_invalid_script_with_its_diagnostics(repo, tmp_path):
    script = write(tmp_path / "bad.js", "export const meta = { name: 'x' }\nreturn 1\n")
    result = invoke("save", str(script))
    assert result.exit_code == 2  # as `run` refuses it
    assert "bad.js:1:" in result.output and "not saved" in result.output
    assert not (repo / ".claude").exists()


def test_overwrite_asks_and_force_overwrites(repo, tmp_path):
    script = write(tmp_path / "flow.js", flow("Twice"))
    assert invoke("save", str(script)).exit_code == 0
    write(script, flow("Twice", description="second version"))
    target = repo / ".claude" / "workflows" / "twice.js"
    refused = invoke("save", str(script))  # no terminal: no question, a clear refusal
    assert refused.exit_code == 1
    assert f"{target} exists; pass --force to overwrite it" in refused.output
    assert "second version" not in target.read_text()
    assert invoke("save", str(script), "--force").exit_code == 0
    assert "second version" in target.read_text()


def test_overwrite_question_on_a_terminal(repo, tmp_path, monkeypatch):
    script = write(tmp_path / "flow.js", flow("Asked"))
    assert invoke("save", str(script)).exit_code == 0
    write(script, flow("Asked", description="new"))
    # CliRunner installs its own sys.stdin during invoke(): patch the class of that stream.
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    no = CliRunner().invoke(cli, ["save", str(script)], input="n\n")
    assert no.exit_code == 1 and "Overwrite it?" in no.output
    target = repo / ".claude" / "workflows" / "asked.js"
    assert "new" not in target.read_text()


def test_save_via_function_raises_target_exists(repo):
    from jshost.library import save_workflow

    save_workflow(flow("F"), "F")
    with pytest.raises(TargetExists):
        save_workflow(flow("F"), "F")


@pytest.mark.parametrize("link", [".claude", ".claude/workflows", ".claude/workflows/l.js"])
def test_save_refuses_to_write_through_a_symlink(repo, tmp_path, link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    place = repo / link
    place.parent.mkdir(parents=True, exist_ok=True)
    place.symlink_to(elsewhere / "target", target_is_directory=not link.endswith(".js"))
    if not link.endswith(".js"):
        (elsewhere / "target").mkdir()
        if link == ".claude":
            (elsewhere / "target" / "workflows").mkdir()
    script = write(tmp_path / "flow.js", flow("L"))
    result = invoke("save", str(script), "--force")
    assert result.exit_code == 1
    assert "refusing to write through the symbolic link" in result.output
    assert list(elsewhere.rglob("*.js")) == []


def test_user_save_refuses_a_symlinked_target(repo, tmp_path):
    from jshost.library import save_workflow

    target = Path.home() / ".claude" / "workflows" / "u.js"
    target.parent.mkdir(parents=True)
    target.symlink_to(tmp_path / "victim.js")
    with pytest.raises(SaveError, match="symbolic link"):
        save_workflow(flow("U"), "U", user=True, force=True)
    assert not (tmp_path / "victim.js").exists()


def test_save_is_atomic_no_temporary_files_left(repo, tmp_path):
    script = write(tmp_path / "flow.js", flow("Atomic"))
    invoke("save", str(script))
    invoke("save", str(script), "--force")
    assert [p.name for p in (repo / ".claude" / "workflows").iterdir()] == ["atomic.js"]


# -- discovery and jshost list --------------------------------------------------------------------


def test_closest_wins_and_project_beats_user(repo):
    write(repo / ".claude" / "workflows" / "a.js", flow("Same", description="root"))
    write(repo / "src" / ".claude" / "workflows" / "a.js", flow("Same", description="closer"))
    write(repo / "src" / ".claude" / "commands" / "c.js", flow("Cmd", description="command"))
    write(Path.home() / ".claude" / "workflows" / "u.js", flow("Same", description="user"))
    write(Path.home() / ".claude" / "workflows" / "v.js", flow("UserOnly", description="user"))
    workflows, skipped = discover()
    by_name = {wf.name: wf for wf in workflows}
    assert by_name["Same"].meta.description == "closer"
    assert by_name["Same"].scope == "project"
    assert by_name["Cmd"].meta.description == "command"
    assert by_name["UserOnly"].scope == "user"
    assert skipped == []


def test_outside_a_repository_only_the_current_directory_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / ".claude" / "workflows" / "up.js", flow("Up"))
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    write(tmp_path / "here" / ".claude" / "workflows" / "h.js", flow("Here"))
    assert [wf.name for wf in saved_only(discover()[0])] == ["Here"]


def test_bad_files_are_skipped_with_reasons_not_fatal(repo):
    d = repo / ".claude" / "workflows"
    write(d / "good.js", flow("Good"))
    write(d / "nometa.js", "return 1\n")
    write(d / "big.js", flow("Big", body="// " + "x" * 600_000))
    write(d / "typed.ts", flow("Typed"))
    (d / "latin1.js").write_bytes(b"export const meta = { name: '\xe9', description: 'd' }\n")
    write(d / "notes.md", "# not a workflow")
    (d / "dir.js").mkdir()
    workflows, skipped = discover()
    assert [wf.name for wf in saved_only(workflows)] == ["Good"]
    reasons = {s.path.name: s.reason for s in skipped}
    # Anything in workflows/ that is not a workflow is listed, as the README says.
    assert set(reasons) == {"nometa.js", "big.js", "typed.ts", "latin1.js", "notes.md", "dir.js"}
    assert reasons["notes.md"] == "only .js files are workflows, not .md files"
    assert reasons["dir.js"] == "only .js files are workflows, not directories"
    assert reasons["big.js"] == "Script exceeds 524288 bytes"
    assert reasons["latin1.js"] == "not UTF-8 text"
    assert "only .js" in reasons["typed.ts"]
    assert "meta" in reasons["nometa.js"]


def test_the_size_rule_is_run_s_characters_not_bytes(repo, tmp_path):
    """Reference §2: at most 524,288 characters, in the reference's words, for list and run."""
    d = repo / ".claude" / "workflows"
    head = flow("Wide", body="return 'ok'\n// ")
    fits = write(d / "wide.js", head + "é" * (524_288 - len(head)))  # ~1 MB of UTF-8
    over = write(d / "over.js", head.replace("Wide", "Over") + "é" * (524_289 - len(head)))
    workflows, skipped = discover()
    assert [wf.name for wf in saved_only(workflows)] == ["Wide"]
    assert [(s.path.name, s.reason) for s in skipped] == [
        ("over.js", "Script exceeds 524288 bytes")
    ]
    ok = CliRunner().invoke(cli, ["run", str(fits), "--yes", "--worker", "sim", "-q"])
    assert ok.exit_code == 0, ok.output
    refused = CliRunner().invoke(cli, ["run", str(over), "--yes", "--worker", "sim", "-q"])
    assert refused.exit_code == 2
    assert "Script exceeds 524288 bytes" in refused.stderr


def test_list_shows_name_description_when_to_use_phases_scope_and_path(repo):
    write(
        repo / ".claude" / "workflows" / "s.js",
        flow(
            "Scan",
            description="scan things",
            extra=", whenToUse: 'when things need scanning', "
            "phases: [{title: 'Find'}, {title: 'Report', detail: 'write it up'}]",
        ),
    )
    write(repo / ".claude" / "workflows" / "bad.js", "nope(\n")
    result = invoke("list")
    assert result.exit_code == 0
    path = repo / ".claude" / "workflows" / "s.js"
    assert result.stdout.splitlines()[:4] == [
        f"Scan  (project) {path}",
        "  scan things",
        "  when to use: when things need scanning",
        "  phases: Find → Report",
    ]
    assert result.stdout.splitlines()[4].startswith("code-review  (bundled) ")
    assert f"skipped {repo / '.claude' / 'workflows' / 'bad.js'} (project):" in result.stderr
    data = json.loads(invoke("list", "--json").stdout)
    (wf,) = [w for w in data["workflows"] if w["scope"] != "bundled"]
    assert wf["name"] == "Scan" and wf["scope"] == "project" and wf["path"] == str(path)
    assert wf["phases"][1] == {"title": "Report", "detail": "write it up", "model": None}
    assert data["skipped"][0]["path"].endswith("bad.js")


def test_list_with_nothing_saved(repo):
    result = invoke("list")
    assert result.exit_code == 0
    assert result.stdout.startswith("no saved workflows here")
    data = json.loads(invoke("list", "--json").stdout)
    assert saved_only_json(data["workflows"]) == [] and data["skipped"] == []


# -- run NAME and workflow('name') ----------------------------------------------------------------


def test_unknown_name_lists_the_saved_ones(repo):
    write(repo / ".claude" / "workflows" / "a.js", flow("Alpha"))
    write(Path.home() / ".claude" / "workflows" / "b.js", flow("Beta"))
    result = invoke("run", "Gamma", "--yes")
    assert result.exit_code == 2
    assert "no such file or saved workflow: 'Gamma'. Saved workflows: Alpha, Beta" in result.output


def test_find_workflow_prefers_the_meta_name(repo):
    write(repo / ".claude" / "workflows" / "other.js", flow("real-name"))
    assert find_workflow("real-name").path.name == "other.js"
    assert find_workflow("other").name == "real-name"
    assert find_workflow("missing") is None


def test_nested_saved_workflow_shares_the_agent_cap(repo, tmp_path):
    write(
        repo / ".claude" / "workflows" / "child.js",
        flow(
            "child",
            body="phase('ignored')\n"
            "return await parallel(args.xs.map(x => () => agent('child ' + x)))",
        ),
    )
    parent = write(
        tmp_path / "parent.js",
        flow(
            "parent",
            body="const mine = await agent('parent one')\n"
            "const kids = await workflow('child', {xs: [1, 2, 3]})\n"
            "let capped = null\n"
            "try { await agent('one too many') } catch (e) { capped = e.name }\n"
            "return {kids, capped}",
        ),
    )
    result = invoke(
        "run", str(parent), "--yes", "--json", "--max-agents", "4", "--sim-latency", "0"
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    summary = events[-1]
    assert len(summary["result"]["kids"]) == 3
    assert summary["result"]["capped"] == "WorkflowAgentCapError"  # the child's 3 counted
    assert summary["agents"]["total"] == 4
    phases = {e["phase"] for e in events if e["event"] == "agent_done"}
    assert phases == {None, "▸ child"}


def test_workflow_with_an_unknown_name_is_catchable_and_lists_names(repo, tmp_path):
    write(repo / ".claude" / "workflows" / "a.js", flow("Alpha"))
    parent = write(
        tmp_path / "p.js",
        flow("p", body="try { await workflow('nope') } catch (e) { return e.message }"),
    )
    result = invoke("run", str(parent), "--yes", "--quiet")
    assert result.exit_code == 0
    # the bundled workflows are listed too, as the reference lists its own
    assert result.stdout.strip() == (
        "workflow('nope'): no workflow with that name. Available: Alpha, code-review, deep-research"
    )


def test_run_by_name_from_a_subprocess(repo, tmp_path):
    write(repo / ".claude" / "workflows" / "sub.js", flow("sub", body="return 41 + 1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.run(
        [os.sys.executable, "-m", "jshost", "run", "sub", "--yes", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo / "src" / "deep",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "42\n"
