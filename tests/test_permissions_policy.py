"""Policy.decide: deny, then ask, then allow, first match wins; modes; path anchors; layers."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jshost.permissions import (
    Policy,
    PolicyError,
    RuleError,
    parse_cli_rules,
    parse_rule,
    unanswered,
)
from jshost.tools.base import Tool, ToolSpec, Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x")
    (root / ".env").write_text("SECRET=1")
    return Workspace(root.resolve())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    return h.resolve()


def rules(*texts: str, source: str = "--allowed-tools"):
    return [parse_rule(t, source) for t in texts]


def read(policy: Policy, path: Path, ws: Workspace, tool: str = "Read"):
    return policy.decide(tool, {"file_path": str(path)}, kind="read", paths=[path], workspace=ws)


def edit(policy: Policy, path: Path, ws: Workspace, tool: str = "Edit"):
    return policy.decide(tool, {"file_path": str(path)}, kind="edit", paths=[path], workspace=ws)


def bash(policy: Policy, command: str, ws: Workspace):
    return policy.decide("Bash", {"command": command}, kind="exec", command=command, workspace=ws)


# ---- order: deny, then ask, then allow; first match wins ------------------------------------


def test_deny_beats_ask_beats_allow(ws, home):
    policy = Policy(
        allow=rules("Bash"),
        ask=rules("Bash(git push *)", source="s.json"),
        deny=rules("Bash(git push --force *)", source="--disallowed-tools"),
        home=home,
    )
    d = bash(policy, "git push --force origin main", ws)
    assert (d.behavior, d.rule, d.source) == (
        "deny",
        "Bash(git push --force *)",
        "--disallowed-tools",
    )
    assert "Bash(git push --force *)" in d.reason and "--disallowed-tools" in d.reason
    d = bash(policy, "git push origin main", ws)
    assert (d.behavior, d.rule, d.source) == ("ask", "Bash(git push *)", "s.json")
    d = bash(policy, "git status", ws)
    assert (d.behavior, d.rule) == ("allow", "Bash")


def test_first_matching_rule_is_named(ws, home):
    policy = Policy(
        deny=[*rules("Bash(rm *)", source="--disallowed-tools"), *rules("Bash", source="user")],
        home=home,
    )
    assert bash(policy, "rm x", ws).source == "--disallowed-tools"
    assert bash(policy, "ls", ws).source == "user"


def test_an_ask_rule_asks_even_for_reads_inside(ws, home):
    policy = Policy(ask=rules("Read(./.env)"), home=home)
    assert read(policy, ws.root / ".env", ws).behavior == "ask"
    assert read(policy, ws.root / "src" / "a.py", ws).behavior == "allow"


def test_unanswered_turns_ask_into_a_denial_that_says_how_to_allow(ws, home):
    d = unanswered(bash(Policy(home=home), "git log -3", ws))
    assert d.behavior == "deny"
    assert d.suggestion == "Bash(git log *)"
    assert "nobody can answer" in d.reason and "Bash(git log *)" in d.reason
    allowed = read(Policy(home=home), ws.root / "src" / "a.py", ws)
    assert unanswered(allowed) is allowed


# ---- modes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "read_in", "read_out", "edit_in", "edit_out", "bash_", "mcp"),
    [
        ("default", "allow", "ask", "ask", "ask", "ask", "ask"),
        ("acceptEdits", "allow", "ask", "allow", "ask", "ask", "ask"),
        ("plan", "allow", "ask", "deny", "deny", "deny", "deny"),
        ("dontAsk", "allow", "deny", "deny", "deny", "deny", "deny"),
    ],
)
def test_mode_defaults(ws, home, mode, read_in, read_out, edit_in, edit_out, bash_, mcp):
    policy = Policy(mode=mode, home=home)
    inside, outside = ws.root / "src" / "a.py", Path("/etc/hostname")
    assert read(policy, inside, ws).behavior == read_in
    assert read(policy, inside, ws, tool="Grep").behavior == read_in
    assert read(policy, outside, ws).behavior == read_out
    assert edit(policy, inside, ws).behavior == edit_in
    assert edit(policy, inside, ws, tool="Write").behavior == edit_in
    assert edit(policy, outside, ws).behavior == edit_out
    assert bash(policy, "ls", ws).behavior == bash_
    assert policy.decide("mcp__logs__tail", {}, kind="mcp", workspace=ws).behavior == mcp


def test_plan_mode_denies_edits_even_with_an_allow_rule(ws, home):
    policy = Policy(allow=rules("Edit", "Bash(ls *)"), mode="plan", home=home)
    d = edit(policy, ws.root / "src" / "a.py", ws)
    assert d.behavior == "deny" and "plan mode" in d.reason
    assert bash(policy, "ls", ws).behavior == "deny"


def test_dont_ask_denies_what_an_ask_rule_matches(ws, home):
    policy = Policy(ask=rules("Read(./src/**)"), mode="dontAsk", home=home)
    d = read(policy, ws.root / "src" / "a.py", ws)
    assert d.behavior == "deny" and "dontAsk" in d.reason


@pytest.mark.parametrize("mode", ["bypassPermissions", "auto", "yolo", "Default"])
def test_refused_and_unknown_modes(mode, home):
    with pytest.raises(PolicyError, match="--permission-mode") as info:
        Policy(mode=mode, home=home)
    if mode == "bypassPermissions":
        assert "not offered by jshost" in str(info.value)


def test_structured_output_is_on_unless_denied(ws, home):
    policy = Policy(mode="plan", home=home)
    assert policy.decide("StructuredOutput", {}, kind="read", workspace=ws).behavior == "allow"
    denied = Policy(deny=rules("StructuredOutput"), home=home)
    assert denied.decide("StructuredOutput", {}, kind="read", workspace=ws).behavior == "deny"


# ---- path rules ----------------------------------------------------------------------------


def test_path_anchors(ws, home, tmp_path):
    project = tmp_path / "checkout"
    (project / "docs").mkdir(parents=True)
    agent_ws = Workspace(ws.root, project_root=project.resolve())
    cases = [
        ("Read(./src/**)", ws.root / "src" / "a.py", True),
        ("Read(./src/**)", ws.root / "lib" / "src" / "a.py", False),
        ("Read(src/**)", ws.root / "src" / "a.py", True),
        ("Read(*.py)", ws.root / "src" / "a.py", True),  # no slash: any depth, as gitignore
        ("Read(./*.py)", ws.root / "src" / "a.py", False),
        ("Read(.env)", ws.root / "sub" / ".env", True),
        ("Read(./.env)", ws.root / "sub" / ".env", False),
        ("Read(/docs/**)", project.resolve() / "docs" / "x.md", True),
        ("Read(/docs/**)", ws.root / "docs" / "x.md", False),
        ("Read(//etc/hostname)", Path("/etc/hostname"), True),
        ("Read(//etc)", Path("/etc/ssh/sshd_config"), True),
        ("Read(//etc/hostname)", Path("/etc/passwd"), False),
        ("Read(~/.ssh/**)", home / ".ssh" / "id_rsa", True),
        ("Read(~/.ssh/**)", ws.root / ".ssh" / "id_rsa", False),
        ("Read(../sibling/**)", ws.root.parent / "sibling" / "f", True),
        ("Read(./)", ws.root, True),
        ("Read(./**)", ws.root / "deep" / "er" / "f", True),
    ]
    for text, path, expected in cases:
        policy = Policy(allow=rules(text), home=home)
        d = policy.decide("Read", {}, kind="read", paths=[path], workspace=agent_ws)
        got = d.behavior == "allow" and d.rule == text
        assert got is expected, (text, path)


def test_read_rules_govern_grep_and_glob_and_edit_rules_write(ws, home):
    policy = Policy(deny=rules("Read(./.env)", "Edit(./src/**)"), mode="acceptEdits", home=home)
    for tool in ("Read", "Grep", "Glob"):
        assert read(policy, ws.root / ".env", ws, tool=tool).behavior == "deny"
    for tool in ("Edit", "Write"):
        assert edit(policy, ws.root / "src" / "a.py", ws, tool=tool).behavior == "deny"
    assert edit(policy, ws.root / "b.py", ws, tool="Write").behavior == "allow"


def test_write_rules_govern_write_only(ws, home):
    policy = Policy(allow=rules("Write(./out/**)"), home=home)
    assert edit(policy, ws.root / "out" / "r.txt", ws, tool="Write").behavior == "allow"
    assert edit(policy, ws.root / "out" / "r.txt", ws, tool="Edit").behavior == "ask"


def test_allow_needs_every_path_deny_any(ws, home):
    policy = Policy(allow=rules("Read(//etc/hostname)"), deny=rules("Read(./.env)"), home=home)
    both = [Path("/etc/hostname"), Path("/etc/passwd")]
    d = policy.decide("Read", {}, kind="read", paths=both, workspace=ws)
    assert d.behavior == "ask" and d.suggestion == "Read(//etc/passwd)"
    mixed = [ws.root / "src" / "a.py", ws.root / ".env"]
    assert policy.decide("Grep", {}, kind="read", paths=mixed, workspace=ws).behavior == "deny"


def test_a_directory_matches_a_rule_for_its_contents(ws, home):
    policy = Policy(allow=rules("Read(//etc/**)"), home=home)
    assert read(policy, Path("/etc"), ws, tool="Grep").behavior == "allow"


def test_symlink_resolved_paths_are_checked_where_they_point(ws, home, tmp_path):
    # The tool resolves links before asking; a link inside that points outside asks.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    link = ws.root / "link"
    os.symlink(outside, link)
    resolved = (link / "secret").resolve()
    policy = Policy(home=home)
    assert read(policy, resolved, ws).behavior == "ask"
    assert read(policy, resolved, ws).suggestion == f"Read(/{resolved})"
    policy = Policy(deny=rules(f"Read(/{outside.resolve()}/**)"), allow=rules("Read"), home=home)
    assert read(policy, resolved, ws).behavior == "deny"


def test_extra_dirs_are_readable_and_editable_in_accept_edits(ws, home, tmp_path):
    extra = (tmp_path / "extra").resolve()
    extra.mkdir()
    policy = Policy(extra_dirs=[extra], mode="acceptEdits", home=home)
    assert read(policy, extra / "f", ws).behavior == "allow"
    assert edit(policy, extra / "f", ws).behavior == "allow"
    assert (
        read(Policy(home=home), extra / "f", Workspace(ws.root, extra_dirs=(extra,))).behavior
        == "allow"
    )


def test_read_outside_suggests_an_absolute_rule(ws, home):
    d = read(Policy(home=home), Path("/etc/hostname"), ws)
    assert (d.behavior, d.suggestion) == ("ask", "Read(//etc/hostname)")
    assert "outside the workspace" in d.reason
    d = edit(Policy(home=home), ws.root / "src" / "a.py", ws)
    assert d.suggestion == "Edit(./src/a.py)"


# ---- other rule kinds ------------------------------------------------------------------------


def test_mcp_rules(ws, home):
    policy = Policy(allow=rules("mcp__logs"), deny=rules("mcp__logs__drop"), home=home)
    assert policy.decide("mcp__logs__tail", {}, kind="mcp", workspace=ws).behavior == "allow"
    assert policy.decide("mcp__logs__drop", {}, kind="mcp", workspace=ws).behavior == "deny"
    d = policy.decide("mcp__db__query", {}, kind="mcp", workspace=ws)
    assert (d.behavior, d.suggestion) == ("ask", "mcp__db__query")


def test_agent_rules_and_agent_type_denial(ws, home):
    policy = Policy(deny=rules("Agent(reviewer)", source=".claude/settings.json"), home=home)
    d = policy.agent_type_denial("reviewer")
    assert d is not None and d.behavior == "deny"
    assert d.reason == (
        "agent({agentType}): 'reviewer' is denied by permission rule 'Agent(reviewer)' from "
        ".claude/settings.json."
    )
    assert policy.agent_type_denial("writer") is None
    assert Policy(deny=rules("Task"), home=home).agent_type_denial("x").rule == "Task"
    assert (
        policy.decide("Agent", {"subagent_type": "reviewer"}, kind="exec", workspace=ws).behavior
        == "deny"
    )


def test_webfetch_domain_rules(ws, home):
    policy = Policy(allow=rules("WebFetch(domain:example.com)"), home=home)
    ok = policy.decide("WebFetch", {"url": "https://docs.example.com/x"}, kind="read", workspace=ws)
    assert ok.behavior == "allow"
    no = policy.decide("WebFetch", {"url": "https://example.org/"}, kind="read", workspace=ws)
    assert no.behavior != "allow"


# ---- the agent layer ---------------------------------------------------------------------------


def test_for_agent_disallowed_is_unioned(ws, home):
    base = Policy(allow=rules("Bash"), deny=rules("Bash(rm *)"), home=home)
    agent = base.for_agent(disallowed=["Edit", "Bash(curl *)"])
    assert bash(agent, "curl x", ws).behavior == "deny"
    assert bash(agent, "rm x", ws).behavior == "deny"
    assert bash(agent, "ls", ws).behavior == "allow"
    assert edit(agent, ws.root / "a", ws).behavior == "deny"
    # the session policy is unchanged
    assert bash(base, "curl x", ws).behavior == "allow"
    grandchild = agent.for_agent(disallowed=["Grep"])
    assert bash(grandchild, "curl x", ws).behavior == "deny"


def test_for_agent_clamp(ws, home):
    agent = Policy(allow=rules("Bash"), home=home).for_agent(clamp=["Bash(git log)", "Bash(wc:*)"])
    assert bash(agent, "git log --oneline", ws).behavior == "allow"
    assert bash(agent, "git log | wc -l", ws).behavior == "allow"
    d = bash(agent, "git push", ws)
    assert d.behavior == "deny" and "bashCommandClamp" in d.reason
    assert bash(agent, "git log; rm -rf x", ws).behavior == "deny"
    # a clamp is a limit, not a permission
    unallowed = Policy(home=home).for_agent(clamp=["Bash(git log)"])
    assert bash(unallowed, "git log", ws).behavior == "ask"
    # two layers: both hold
    both = agent.for_agent(clamp=["Bash(wc *)"])
    assert bash(both, "git log", ws).behavior == "deny"
    assert bash(both, "wc -l f", ws).behavior == "allow"
    with pytest.raises(RuleError, match="not a Bash"):
        Policy(home=home).for_agent(clamp=["Read(./x)"])


def test_for_agent_tools_and_mode(ws, home):
    agent = Policy(allow=rules("Bash"), home=home).for_agent(tools=["Read", "Grep", "Bash(git *)"])
    assert read(agent, ws.root / "src" / "a.py", ws).behavior == "allow"
    assert bash(agent, "git status", ws).behavior == "allow"
    d = bash(agent, "ls", ws)
    assert d.behavior == "deny" and "agent type's tools" in d.reason
    assert edit(agent, ws.root / "a", ws).behavior == "deny"
    assert read(agent, ws.root / "src", ws, tool="Glob").behavior == "deny"  # names, not families
    assert agent.decide("StructuredOutput", {}, kind="read", workspace=ws).behavior == "allow"
    mcp = Policy(allow=rules("mcp__logs"), home=home).for_agent(tools=["mcp__logs"])
    assert mcp.decide("mcp__logs__tail", {}, kind="mcp", workspace=ws).behavior == "allow"
    assert (
        Policy(home=home)
        .for_agent(tools=["*"])
        .decide("Bash", {}, kind="exec", command="ls", workspace=ws)
        .behavior
        == "ask"
    )
    edits = Policy(home=home).for_agent(mode="acceptEdits")
    assert edit(edits, ws.root / "a", ws).behavior == "allow"
    with pytest.raises(PolicyError, match="not offered"):
        Policy(home=home).for_agent(mode="bypassPermissions")


def test_allow_for_run_is_shared_and_thread_safe(ws, home):
    base = Policy(home=home)
    agents = [base.for_agent(disallowed=["Edit"]) for _ in range(4)]
    threads = [
        threading.Thread(target=lambda i=i: agents[i % 4].allow_for_run(f"Bash(cmd{i} *)"))
        for i in range(40)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(40):
        assert bash(base, f"cmd{i} x", ws).behavior == "allow"
        assert bash(agents[0], f"cmd{i}", ws).behavior == "allow"
    assert len([line for line in base.describe() if line.startswith("allowed:")]) == 1


def test_describe(ws, home):
    policy = Policy(
        allow=parse_cli_rules(["Bash(git log:*) Read(./src/**)"], "--allowed-tools"),
        ask=rules("Bash(git push *)", source=".claude/settings.json"),
        deny=rules("Read(./.env)", source="--disallowed-tools"),
        mode="acceptEdits",
        home=home,
    )
    lines = policy.describe(ws)
    assert lines[0].startswith("permission mode: acceptEdits (")
    assert f"workspace: {ws.root}" in lines
    assert "allowed: Bash(git log:*) (--allowed-tools), Read(./src/**) (--allowed-tools)" in lines
    assert "ask first: Bash(git push *) (.claude/settings.json)" in lines
    assert "denied: Read(./.env) (--disallowed-tools)" in lines


class _Lister(Tool):
    spec = ToolSpec("Glob", "lists files", {"type": "object"})
    kind = "read"

    async def run(self, tool_input, workspace):  # pragma: no cover - never run here
        raise AssertionError


def test_decide_takes_a_tool_and_guesses_kinds_from_names(ws, home):
    policy = Policy(home=home)
    inside = ws.root / "src" / "a.py"
    assert policy.decide(_Lister(), {}, paths=[inside], workspace=ws).behavior == "allow"
    assert policy.decide("Read", {}, paths=[inside], workspace=ws).behavior == "allow"
    assert policy.decide("Write", {}, paths=[inside], workspace=ws).behavior == "ask"
    assert policy.decide("Mystery", {}, workspace=ws).behavior == "ask"
    assert policy.decide("Read", {}, kind="weird", paths=[inside], workspace=ws).behavior == "ask"
    assert Policy(mode="plan", home=home).decide("Mystery", {}, workspace=ws).behavior == "deny"


def test_walk_filter_hides_what_read_rules_deny_or_ask(ws, home):
    assert Policy(allow=rules("Read"), home=home).walk_filter("Grep", ws) is None
    policy = Policy(deny=rules("Read(./.env)"), ask=rules("Read(./src/secret/**)"), home=home)
    hidden = policy.walk_filter("Grep", ws)
    assert hidden is not None
    assert hidden(ws.root / ".env")
    assert hidden(ws.root / "src" / "secret" / "k.pem")
    assert not hidden(ws.root / "src" / "a.py")
    layered = Policy(home=home).for_agent(disallowed=["Read(*.key)"]).walk_filter("Glob", ws)
    assert layered is not None and layered(ws.root / "deep" / "x.key")
    assert Policy(deny=rules("Edit(./x)"), home=home).walk_filter("Grep", ws) is None


def test_workflow_agents_never_get_the_orchestration_tools(ws, home):
    base = Policy(allow=rules("Agent", "Workflow", "SendUserMessage"), home=home)
    agent = base.for_agent(disallowed=["Edit"]).for_agent(disallowed=["Grep"])
    for tool in ("Agent", "Workflow", "SendUserMessage"):
        d = agent.decide(tool, {}, kind="exec", workspace=ws)
        assert (d.behavior, d.source) == ("deny", "workflow agents' defaults")
        assert base.decide(tool, {}, kind="exec", workspace=ws).behavior == "allow"
    (denied,) = [line for line in agent.describe() if line.startswith("denied:")]
    assert denied.count("Agent (workflow agents' defaults)") == 1
    bare = base.for_agent(defaults=False)
    assert bare.decide("Agent", {}, kind="exec", workspace=ws).behavior == "allow"


def test_paths_are_normalised_before_matching(ws, home):
    policy = Policy(allow=rules("Read(//tmp/nowhere/src/**)"), home=home)
    sneaky = Path("/tmp/nowhere/src/../../../etc/passwd")
    assert read(policy, sneaky, ws).behavior == "ask"
    assert read(policy, sneaky, ws).suggestion == "Read(//etc/passwd)"
    # a relative path is the workspace's
    assert read(Policy(home=home), Path("src/a.py"), ws).behavior == "allow"
    assert read(Policy(home=home), Path("../x"), ws).behavior == "ask"
