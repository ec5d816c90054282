"""Agent types: Claude Code's agent files discovered, parsed with bounds, resolved by the engine
for ``agent(prompt, {agentType})`` with the reference's messages (§3.1), listed by
``jshost agents``.

Every test works in temporary directories with a temporary home: the user's own ~/.claude is
never read.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from conftest import script_source

from jshost._api import parse, prepare
from jshost.agent_types import (
    BUILTIN_TYPES,
    MAX_AGENT_FILE_BYTES,
    WORKFLOW_SUBAGENT,
    AgentType,
    AgentTypeDenied,
    AgentTypeNotFound,
    AgentTypes,
    denial_from_rules,
    discover_agent_types,
    system_prompt_for,
    workflow_note,
)
from jshost.cli import cli
from jshost.engine import NO_ARGS, Engine, Limits
from jshost.script import parse_script
from jshost.settings import ModelPolicy
from jshost.workers.sim import SimWorker

BUILTIN_NAMES = ["Explore", "general-purpose"]


def not_found(name: str, available: list[str]) -> str:
    return (
        f"agent({{agentType}}): agent type '{name}' not found. "
        f"Available agents: {', '.join(available)}"
    )


def agent_file(
    directory: Path, stem: str, front: str, body: str = "You are a careful agent."
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.md"
    path.write_text(f"---\n{front.strip()}\n---\n{body}\n", encoding="utf-8")
    return path


def simple(name: str, description: str = "does things", extra: str = "") -> str:
    return f"name: {name}\ndescription: {description}\n{extra}"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    return h


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "sub" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def found(types: AgentTypes) -> dict[str, AgentType]:
    return {t.name: t for t in types}


def reasons(types: AgentTypes) -> dict[str, str]:
    return {s.path.name: s.reason for s in types.skipped}


# -- discovery ------------------------------------------------------------------------------------


def test_closest_directory_wins_and_farther_ones_still_count(repo, home):
    agent_file(repo / ".claude" / "agents", "a", simple("shared", "from the root"))
    agent_file(repo / ".claude" / "agents", "b", simple("root-only"))
    agent_file(repo / "sub" / ".claude" / "agents", "a", simple("shared", "from sub"))
    types = discover_agent_types(repo / "sub" / "deep", home=home)
    by = found(types)
    assert by["shared"].description == "from sub"
    assert by["shared"].source == str(repo / "sub" / ".claude" / "agents" / "a.md")
    assert by["shared"].scope == "project"
    assert "root-only" in by
    assert types.names() == sorted(["shared", "root-only", *BUILTIN_NAMES])


def test_project_beats_user_and_user_types_are_found(repo, home):
    agent_file(home / ".claude" / "agents", "x", simple("both", "the user's"))
    agent_file(home / ".claude" / "agents", "y", simple("mine", "only the user's"))
    agent_file(repo / ".claude" / "agents", "x", simple("both", "the project's"))
    by = found(discover_agent_types(repo, home=home))
    assert by["both"].description == "the project's"
    assert (by["mine"].scope, by["mine"].description) == ("user", "only the user's")


def test_a_file_beats_a_built_in_of_its_name(repo, home):
    agent_file(repo / ".claude" / "agents", "e", simple("Explore", "my own explorer"))
    by = found(discover_agent_types(repo, home=home))
    assert by["Explore"].description == "my own explorer"
    assert by["Explore"].scope == "project"
    assert by["general-purpose"].source == "built-in"


def test_outside_a_repository_only_the_workspace_itself_is_read(tmp_path, home):
    agent_file(tmp_path / ".claude" / "agents", "p", simple("parent"))
    ws = tmp_path / "ws"
    agent_file(ws / ".claude" / "agents", "w", simple("here"))
    names = discover_agent_types(ws, home=home).names()
    assert "here" in names and "parent" not in names


def test_a_repository_beyond_the_workspace_root_is_not_read(repo, home):
    # The chain stops at the repository root: a .claude above it is not the project's.
    agent_file(repo.parent / ".claude" / "agents", "o", simple("outside"))
    assert "outside" not in discover_agent_types(repo / "sub", home=home).names()


def test_claude_config_dir_replaces_the_user_directory(tmp_path, home, monkeypatch):
    config = tmp_path / "config"
    agent_file(config / "agents", "c", simple("configured"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    by = found(discover_agent_types(tmp_path / "nowhere-special"))
    assert by["configured"].scope == "user"


def test_workspace_at_home_reads_its_agents_once_as_the_users(home):
    agent_file(home / ".claude" / "agents", "u", simple("solo"))
    types = discover_agent_types(home, home=home)
    assert found(types)["solo"].scope == "user"
    assert not types.skipped


# -- the file format ------------------------------------------------------------------------------


def test_every_field_is_read(repo, home):
    agent_file(
        repo / ".claude" / "agents",
        "full",
        "name: reviewer\ndescription: Reviews diffs\ntools: Read, Grep, Bash(git log, git diff)\n"
        "disallowedTools: [Edit, Write]\nmodel: haiku\npermissionMode: acceptEdits\n"
        "color: blue\nskills: [x]",
        body="\nYou review code.\n\nBe terse.\n",
    )
    t = found(discover_agent_types(repo, home=home))["reviewer"]
    assert t == AgentType(
        name="reviewer",
        description="Reviews diffs",
        tools=("Read", "Grep", "Bash(git log, git diff)"),
        disallowed_tools=("Edit", "Write"),
        model="haiku",
        permission_mode="acceptEdits",
        system_prompt="You review code.\n\nBe terse.",
        source=str(repo / ".claude" / "agents" / "full.md"),
        scope="project",
    )


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ("tools: Read, Grep,Glob", ("Read", "Grep", "Glob")),
        ("tools: [Read, Grep]", ("Read", "Grep")),
        ("tools:\n  - Read\n  - Bash(git status)", ("Read", "Bash(git status)")),
        ("tools: Read, Read", ("Read",)),
        ("tools: '*'", None),
        ("tools: [Read, '*']", None),
        ("", None),  # no tools key: every tool
        ("tools:", None),  # a null value: every tool
        ("tools: ''", ()),
        ("tools: []", ()),
    ],
)
def test_tools_forms(repo, home, tools, expected):
    agent_file(repo / ".claude" / "agents", "t", simple("t", extra=tools))
    types = discover_agent_types(repo, home=home)
    assert not types.skipped, types.skipped
    assert found(types)["t"].tools == expected


def test_model_inherit_means_the_runs_model(repo, home):
    agent_file(repo / ".claude" / "agents", "m", simple("m", extra="model: inherit"))
    assert found(discover_agent_types(repo, home=home))["m"].model is None


def test_a_description_with_colons_reads_as_claude_code_reads_it(repo, home):
    # Plain YAML refuses `: ` inside a value; Claude Code's own agent files are full of them.
    text = "Use this agent when: a review is due. Examples: <example>Context: a PR</example>"
    agent_file(repo / ".claude" / "agents", "c", f"name: colons\ndescription: {text}")
    assert found(discover_agent_types(repo, home=home))["colons"].description == text


BAD = [
    ("nofront", None, "no frontmatter: the file must start with a --- line"),
    ("unclosed", "---\nname: x\ndescription: y\n", "the frontmatter's opening --- has no closing"),
    ("noname", "description: no name here", "no 'name' in the frontmatter"),
    ("nodesc", "name: nodesc", "no 'description' in the frontmatter"),
    ("intname", "name: 42\ndescription: d", "'name' must be a non-empty string"),
    ("spaced", "name: two words\ndescription: d", "'name' contains spaces"),
    ("listdesc", "name: ld\ndescription: [a, b]", "'description' must be a string"),
    ("notmap", "- just\n- a list", "frontmatter is not a mapping"),
    ("badyaml", "name: y\ndescription: d\n\tmodel: x", "line 4:1: frontmatter is not valid YAML"),
    ("badtools", "name: bt\ndescription: d\ntools: [Read, {a: 1}]", "'tools' must be"),
    ("numtools", "name: nt\ndescription: d\ntools: 3", "'tools' must be"),
    ("badmode", "name: bm\ndescription: d\npermissionMode: bypassPermissions", "permissionMode"),
    ("badmodel", "name: bo\ndescription: d\nmodel: [opus]", "'model' must be"),
]


@pytest.mark.parametrize(("stem", "front", "reason"), BAD, ids=[b[0] for b in BAD])
def test_unusable_files_are_skipped_with_the_reason(repo, home, stem, front, reason):
    d = repo / ".claude" / "agents"
    d.mkdir(parents=True)
    path = d / f"{stem}.md"
    if front is None:
        path.write_text("# just markdown\n", encoding="utf-8")
    elif front.startswith("---"):
        path.write_text(front, encoding="utf-8")
    else:
        path.write_text(f"---\n{front}\n---\nbody\n", encoding="utf-8")
    agent_file(d, "good", simple("good"))  # one bad file spoils nothing else
    types = discover_agent_types(repo, home=home)
    assert reason in reasons(types)[f"{stem}.md"]
    assert "good" in types.names()
    # The file name is never a fallback name (Claude Code requires `name`).
    assert stem not in types.names()


def test_a_huge_file_is_refused_unread(repo, home):
    d = repo / ".claude" / "agents"
    agent_file(d, "big", simple("big"), body="x" * MAX_AGENT_FILE_BYTES)
    agent_file(d, "fits", simple("fits"), body="x" * (MAX_AGENT_FILE_BYTES - 200))
    types = discover_agent_types(repo, home=home)
    assert reasons(types) == {"big.md": "larger than 256 KiB"}
    assert "fits" in types.names()


def test_a_huge_frontmatter_is_refused(repo, home):
    padding = "\n".join(f"k{i}: {'v' * 60}" for i in range(1200))
    agent_file(repo / ".claude" / "agents", "f", simple("f", extra=padding))
    assert "frontmatter is longer than" in reasons(discover_agent_types(repo, home=home))["f.md"]


def test_an_alias_bomb_and_deep_nesting_are_cheap(repo, home):
    bomb = "name: bomb\ndescription: d\na: &a [x, x, x, x, x, x, x, x, x]\n" + "\n".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    agent_file(repo / ".claude" / "agents", "bomb", bomb + "\ntools: [*i]")
    deep = repo / ".claude" / "agents" / "deep.md"
    deep.write_text("---\nname: deep\ndescription: d\nx: " + "[" * 20000 + "\n---\n")
    started = time.monotonic()
    types = discover_agent_types(repo, home=home)
    assert time.monotonic() - started < 5
    assert "'tools' must be" in reasons(types)["bomb.md"]
    assert "deep.md" in reasons(types)


def test_a_fifo_is_not_opened(repo, home):
    d = repo / ".claude" / "agents"
    d.mkdir(parents=True)
    os.mkfifo(d / "pipe.md")
    assert reasons(discover_agent_types(repo, home=home)) == {"pipe.md": "not a regular file"}


# -- the registry, the messages and the denial seam -----------------------------------------------


def test_get_unknown_lists_the_available_types_in_the_references_words():
    types = AgentTypes([*BUILTIN_TYPES, AgentType("zeta", "z"), AgentType("alpha", "a")])
    with pytest.raises(AgentTypeNotFound) as info:
        types.get("nope")
    assert str(info.value) == not_found("nope", ["Explore", "alpha", "general-purpose", "zeta"])


def test_a_denied_type_names_the_rule_and_its_source():
    types = AgentTypes([*BUILTIN_TYPES, AgentType("risky", "r")])
    denial = denial_from_rules([("Agent(risky)", "/p/.claude/settings.json")])
    with pytest.raises(AgentTypeDenied) as info:
        types.get("risky", denial=denial)
    assert str(info.value) == (
        "agent({agentType}): 'risky' is denied by permission rule 'Agent(risky)' from "
        "/p/.claude/settings.json."
    )
    # Denied types are left out of the list an unknown name shows (permission-filtered).
    with pytest.raises(AgentTypeNotFound) as info:
        types.get("nope", denial=denial)
    assert str(info.value) == not_found("nope", BUILTIN_NAMES)
    assert types.get("Explore", denial=denial).name == "Explore"


def test_denial_from_rules_reads_agent_and_task_rules_only():
    denial = denial_from_rules(
        [("Bash(rm:*)", "a"), ("Agent", "b"), ("Task(old)", "c"), ("Agent( spaced )", "d")]
    )
    assert denial("old") == ("Agent(old)", "c")
    assert denial("spaced") == ("Agent(spaced)", "d")
    assert denial("anything") is None  # a bare Agent rule is about the tool, not types


def test_system_prompt_is_the_body_then_the_workflow_note():
    t = AgentType("r", "d", system_prompt="You review.")
    assert system_prompt_for(t, structured=False, default="D") == (
        "You review.\n\n" + workflow_note(structured=False)
    )
    assert system_prompt_for(t, structured=True, default="D").endswith(
        workflow_note(structured=True)
    )
    assert "StructuredOutput" in workflow_note(structured=True)
    assert "verbatim" not in workflow_note(structured=False)  # our words, not the reference's
    assert system_prompt_for(None, structured=False, default="D") == "D"
    assert system_prompt_for(WORKFLOW_SUBAGENT, structured=True, default="S") == "S"


# -- the engine: agent({agentType}) on the real sandbox and the sim worker ------------------------


def run_engine(body: str, types, denial=None, worker: SimWorker | None = None):
    worker = worker or SimWorker(latency=0.001)
    script = parse_script(script_source(body), path="test.js")
    engine = Engine(
        script,
        worker=worker,
        limits=Limits(),
        agent_types=types,
        agent_type_denial=denial,
    )
    return trio.run(engine.run), worker


REVIEWER = AgentType("reviewer", "reviews", tools=("Read",), system_prompt="You review.")


def test_unknown_type_rejects_catchably_with_the_references_message():
    outcome, worker = run_engine(
        "return await agent('x', { agentType: 'nope' }).catch(e => [e.name, e.message])",
        AgentTypes([*BUILTIN_TYPES, REVIEWER]),
    )
    assert outcome.status == "completed", outcome.error
    available = ["Explore", "general-purpose", "reviewer"]
    assert outcome.result == ["Error", not_found("nope", available)]
    # Refused before it became an agent: no index, nothing ran.
    assert outcome.agents == [] and worker.calls == 0


def test_unknown_type_uncaught_fails_the_run():
    outcome, _ = run_engine("return await agent('x', { agentType: 'nope' })", AgentTypes())
    assert outcome.status == "failed"
    assert not_found("nope", BUILTIN_NAMES) in str(outcome.error)


def test_inside_parallel_an_unknown_type_is_a_null_slot_with_a_failure_line():
    outcome, _ = run_engine(
        "return await parallel([() => agent('x', { agentType: 'nope' }), () => agent('y')])",
        AgentTypes(),
    )
    assert outcome.status == "completed", outcome.error
    assert outcome.result[0] is None and outcome.result[1].startswith("[sim sim] y")
    assert outcome.failures == [f"parallel[0] failed: {not_found('nope', BUILTIN_NAMES)}"]


def test_a_known_type_reaches_the_worker_and_no_type_sends_none():
    outcome, worker = run_engine(
        "return [await agent('a', { agentType: 'reviewer' }), await agent('b'),"
        " await agent('c', { agentType: 'Explore' })]",
        AgentTypes([*BUILTIN_TYPES, REVIEWER]),
    )
    assert outcome.status == "completed", outcome.error
    assert worker.agent_definitions == {1: REVIEWER, 3: BUILTIN_TYPES[1]}


def test_a_type_denied_by_a_rule_rejects_with_the_references_message():
    denial = denial_from_rules([("Agent(reviewer)", "--disallowed-tools")])
    outcome, worker = run_engine(
        "return await agent('x', { agentType: 'reviewer' }).catch(e => e.message)",
        AgentTypes([*BUILTIN_TYPES, REVIEWER]),
        denial,
    )
    assert outcome.result == (
        "agent({agentType}): 'reviewer' is denied by permission rule 'Agent(reviewer)' from "
        "--disallowed-tools."
    )
    assert worker.calls == 0


def test_the_denial_seam_is_any_callable():
    asked: list[str] = []

    def denial(name: str):
        asked.append(name)
        return ("Agent(reviewer)", "policy") if name == "reviewer" else None

    outcome, _ = run_engine(
        "return await agent('x', { agentType: 'reviewer' }).catch(e => e.message)",
        AgentTypes([*BUILTIN_TYPES, REVIEWER]),
        denial,
    )
    assert outcome.result.endswith("from policy.")
    assert asked == ["reviewer"]


def test_types_are_discovered_once_per_run_in_a_worker_thread():
    calls: list[bool] = []

    def discover() -> AgentTypes:
        calls.append(trio.lowlevel.in_trio_run())
        return AgentTypes([*BUILTIN_TYPES, REVIEWER])

    outcome, _ = run_engine(
        "return await parallel(Array.from({ length: 5 }, (_, i) =>"
        " () => agent('p' + i, { agentType: i % 2 ? 'reviewer' : 'nope' })))",
        discover,
    )
    assert outcome.status == "completed", outcome.error
    assert calls == [False]
    assert len(outcome.failures) == 3


def test_a_run_without_agent_types_never_discovers():
    def discover() -> AgentTypes:
        raise AssertionError("discovered for nothing")

    outcome, _ = run_engine("return await agent('x')", discover)
    assert outcome.status == "completed", outcome.error


def test_the_pipeline_discovers_from_the_workspace_and_home(repo, home):
    agent_file(repo / ".claude" / "agents", "r", simple("repo-agent", "from the repo"))
    agent_file(home / ".claude" / "agents", "u", simple("user-agent", "from home"))
    workflow = parse(
        script_source(
            "return [await agent('a', { agentType: 'repo-agent' }),"
            " await agent('b', { agentType: 'user-agent' }),"
            " await agent('c', { agentType: 'ghost' }).catch(e => e.message)]"
        )
    )
    worker = SimWorker(latency=0.001)
    prepared = prepare(workflow, worker=worker, limits=Limits(), args=NO_ARGS)
    prepared.workspace = repo / "sub"
    prepared.home = home
    outcome = trio.run(prepared.serve, prepared.engine())
    assert outcome.status == "completed", outcome.error
    assert worker.agent_definitions[1].description == "from the repo"
    assert worker.agent_definitions[2].scope == "user"
    assert outcome.result[2] == not_found(
        "ghost", ["Explore", "general-purpose", "repo-agent", "user-agent"]
    )


# -- jshost agents --------------------------------------------------------------------------------


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def test_agents_lists_name_description_tools_source_and_skipped(repo, home):
    path = agent_file(
        repo / ".claude" / "agents",
        "rev",
        simple("reviewer", "Reviews diffs", "tools: Read, Grep\nmodel: haiku"),
    )
    (repo / ".claude" / "agents" / "broken.md").write_text("---\nname: b\n---\n")
    result = invoke("agents", "--workspace", str(repo))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    at = lines.index(f"reviewer  (project) {path}")
    assert lines[at + 1 : at + 4] == ["  Reviews diffs", "  tools: Read, Grep", "  model: haiku"]
    assert "general-purpose  (built-in) built-in" in lines
    assert "  tools: all the run offers" in lines
    assert result.stderr.strip() == (
        f"skipped {repo / '.claude' / 'agents' / 'broken.md'} (project): no 'description' in "
        "the frontmatter (required, as in Claude Code)"
    )


def test_agents_json_has_stable_keys(repo, home):
    agent_file(repo / ".claude" / "agents", "rev", simple("reviewer", "r", "disallowedTools: Bash"))
    (repo / ".claude" / "agents" / "broken.md").write_text("nothing\n")
    result = invoke("agents", "--json", "--workspace", str(repo))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"agents", "skipped"}
    first = data["agents"][0]
    assert first == {
        "name": "reviewer",
        "description": "r",
        "tools": None,
        "disallowedTools": ["Bash"],
        "model": None,
        "permissionMode": None,
        "scope": "project",
        "source": str(repo / ".claude" / "agents" / "rev.md"),
        "deniedBy": None,
    }
    assert [a["name"] for a in data["agents"][1:]] == ["general-purpose", "Explore"]
    assert data["agents"][2]["tools"] == ["Read", "Grep", "Glob"]
    assert data["skipped"] == [
        {
            "path": str(repo / ".claude" / "agents" / "broken.md"),
            "scope": "project",
            "reason": "no frontmatter: the file must start with a --- line",
        }
    ]


def test_agents_defaults_to_the_current_directory(repo, home, monkeypatch):
    agent_file(repo / ".claude" / "agents", "h", simple("here"))
    monkeypatch.chdir(repo / "sub" / "deep")
    assert "here  (project)" in invoke("agents").stdout


def test_escape_sequences_in_an_agent_file_are_shown_inert(repo, home):
    agent_file(
        repo / ".claude" / "agents",
        "evil",
        'name: evil\ndescription: "red \\e[31mtext\\e]0;owned\\a \\u202Egnp.exe\\nnext"\n'
        'tools: "Read\\e[2J"\nmodel: "m\\x9b"',
    )
    result = invoke("agents", "--workspace", str(repo))
    assert result.exit_code == 0
    out = result.stdout
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in out
    assert "  red ⟨U+001B⟩[31mtext⟨U+001B⟩]0;owned⟨U+0007⟩ ⟨U+202E⟩gnp.exe next" in out
    assert "  tools: Read⟨U+001B⟩[2J" in out
    data = json.loads(invoke("agents", "--json", "--workspace", str(repo)).stdout)
    # JSON keeps the value exact (escaped), for programs
    assert data["agents"][0]["description"].startswith("red \x1b[31m")


def test_agents_refuses_a_missing_workspace(tmp_path):
    result = invoke("agents", "--workspace", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_model_precedence_environment_script_type_run():
    # Reference §6.4: CLAUDE_CODE_SUBAGENT_MODEL > opts.model > the definition's model > the run's.
    typed = AgentType("fast", "f", model="haiku")
    types = AgentTypes([*BUILTIN_TYPES, typed])
    body = (
        "return [await agent('a', { agentType: 'fast' }),"
        " await agent('b', { agentType: 'fast', model: 'opus' }),"
        " await agent('c', { agentType: 'Explore' }), await agent('d')]"
    )
    outcome, _ = run_engine(body, types)
    assert [r.split("]")[0] for r in outcome.result] == [
        "[sim haiku",
        "[sim opus",
        "[sim sim",
        "[sim sim",
    ]
    worker = SimWorker(latency=0.001)
    script = parse_script(script_source(body), path="test.js")
    forced = Engine(
        script,
        worker=worker,
        agent_types=types,
        model_policy=ModelPolicy(force=True),
    )
    outcome = trio.run(forced.run)
    # FORCE ignores the script's model, not the agent type's
    assert [r.split("]")[0] for r in outcome.result][:2] == ["[sim haiku", "[sim haiku"]
    env = Engine(
        script, worker=worker, agent_types=types, model_policy=ModelPolicy(subagent_model="x")
    )
    assert {r.split("]")[0] for r in trio.run(env.run).result} == {"[sim x"}


def test_a_dont_ask_type_is_found_and_its_agents_are_never_asked(repo, home):
    # Found as a new user: --permission-mode dontAsk works, but a type asking for it was
    # skipped as "not one jshost implements".
    from jshost.permissions import Policy

    agent_file(
        repo / ".claude" / "agents", "quiet", simple("quiet", extra="permissionMode: dontAsk")
    )
    types = discover_agent_types(repo, home=home)
    assert found(types)["quiet"].permission_mode == "dontAsk"
    policy = Policy.from_settings(None).for_agent(mode="dontAsk")
    from jshost.tools.base import Workspace

    decision = policy.decide(
        "Bash", {"command": "make"}, kind="exec", command="make", workspace=Workspace(root=repo)
    )
    assert decision.behavior == "deny" and "dontAsk" in decision.reason


def test_agents_says_which_types_a_settings_rule_denies(repo, home):
    # Found as a new user: a type denied by Agent(<name>) in .claude/settings.json was listed
    # like any other, and a run then threw for it.
    agent_file(repo / ".claude" / "agents", "rev", simple("reviewer"))
    rules = {"permissions": {"deny": ["Agent(reviewer)"]}}
    (repo / ".claude" / "settings.json").write_text(json.dumps(rules))
    data = json.loads(invoke("agents", "--json", "--workspace", str(repo)).stdout)
    where = f"{repo / '.claude' / 'settings.json'} permissions.deny[0]"
    assert data["agents"][0]["deniedBy"] == f"Agent(reviewer) ({where})"
    assert data["agents"][1]["deniedBy"] is None
    text = invoke("agents", "--workspace", str(repo)).stdout
    assert f"  denied by Agent(reviewer) ({where}): agent({{agentType: 'reviewer'}}) throws" in text
