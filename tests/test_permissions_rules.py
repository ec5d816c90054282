"""The rule grammar (reference agents-and-tools §3.3): every form, every malformed one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jshost.permissions import RuleError, parse_rule, split_rules
from jshost.permissions.rules import MAX_RULE_CHARS


@pytest.mark.parametrize(
    ("text", "tool", "specifier", "kind"),
    [
        ("Bash", "Bash", None, "plain"),
        ("Bash(npm run build)", "Bash", "npm run build", "bash"),
        ("Bash(npm run *)", "Bash", "npm run *", "bash"),
        ("Bash(npm*)", "Bash", "npm*", "bash"),
        ("Bash(git * main)", "Bash", "git * main", "bash"),
        ("Bash(* --version)", "Bash", "* --version", "bash"),
        # the legacy prefix form is the word-boundary form
        ("Bash(npm:*)", "Bash", "npm *", "bash"),
        ("Bash(git log:*)", "Bash", "git log *", "bash"),
        ("Bash(python -c 'print(1)')", "Bash", "python -c 'print(1)'", "bash"),
        ("  Read  ", "Read", None, "plain"),
        ("Read(./src/**)", "Read", "./src/**", "path"),
        ("Read(src/**)", "Read", "src/**", "path"),
        ("Read(/docs/**)", "Read", "/docs/**", "path"),
        ("Read(//etc/hostname)", "Read", "//etc/hostname", "path"),
        ("Read(~/.ssh/**)", "Read", "~/.ssh/**", "path"),
        ("Edit(./src/*.py)", "Edit", "./src/*.py", "path"),
        ("Write(./out/**)", "Write", "./out/**", "path"),
        ("Glob(./src/**)", "Glob", "./src/**", "path"),
        ("Grep", "Grep", None, "plain"),
        ("WebFetch(domain:example.com)", "WebFetch", "example.com", "domain"),
        ("WebSearch", "WebSearch", None, "plain"),
        ("Agent(reviewer)", "Agent", "reviewer", "name"),
        ("Task(reviewer)", "Agent", "reviewer", "name"),
        ("Task", "Agent", None, "plain"),
        ("StructuredOutput", "StructuredOutput", None, "plain"),
        ("Skill(release)", "Skill", "release", "name"),
        ("FutureTool", "FutureTool", None, "plain"),
        ("FutureTool(x y)", "FutureTool", "x y", "name"),
    ],
)
def test_rule_forms(text, tool, specifier, kind):
    rule = parse_rule(text, "--allowed-tools")
    assert (rule.tool, rule.specifier, rule.kind) == (tool, specifier, kind)
    assert rule.text == text.strip()
    assert rule.source == "--allowed-tools"


@pytest.mark.parametrize(
    ("text", "server", "tool", "covers", "not_covers"),
    [
        ("mcp__logs", "logs", None, ["mcp__logs__tail", "mcp__logs__grep"], ["mcp__logsx__a"]),
        ("mcp__logs__*", "logs", None, ["mcp__logs__tail"], ["mcp__other__tail"]),
        ("mcp__logs__tail", "logs", "tail", ["mcp__logs__tail"], ["mcp__logs__grep"]),
        ("mcp__my-server__do_it", "my-server", "do_it", ["mcp__my-server__do_it"], []),
    ],
)
def test_mcp_rules(text, server, tool, covers, not_covers):
    rule = parse_rule(text, "s")
    assert (rule.kind, rule.server, rule.mcp_tool) == ("mcp", server, tool)
    assert all(rule.covers_tool(n) for n in covers)
    assert not any(rule.covers_tool(n) for n in not_covers)


def test_read_and_edit_rules_cover_their_families():
    read, edit, write = (parse_rule(t, "s") for t in ("Read(./x)", "Edit", "Write(./y)"))
    assert [read.covers_tool(n) for n in ("Read", "Grep", "Glob", "Edit")] == [
        True,
        True,
        True,
        False,
    ]
    assert [edit.covers_tool(n) for n in ("Edit", "Write", "Read")] == [True, True, False]
    assert [write.covers_tool(n) for n in ("Write", "Edit")] == [True, False]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Bash(git log", "unbalanced parenthesis: '(' is never closed"),
        ("Bash(git log))", "unbalanced parenthesis: ')' without '('"),
        ("Bash)", "')' without '('"),
        ("Bash(a) b", "text after the closing ')'"),
        ("Bash()", "an empty specifier"),
        ("Read(  )", "an empty specifier"),
        ("(ls)", "no tool name before '('"),
        ("", "an empty rule"),
        ("   ", "an empty rule"),
        ("Bash git", "is not a tool name"),
        ("9Bash", "is not a tool name"),
        ("Ba$h", "is not a tool name"),
        ("read", "did you mean Read?"),
        ("bash(ls)", "did you mean Bash?"),
        ("task", "did you mean Task?"),
        ("mcp__", "is not an MCP rule"),
        ("mcp____x", "is not an MCP rule"),
        ("mcp__s__", "is not an MCP rule"),
        ("mcp__s__t(x)", "MCP rules take no specifier"),
        ("WebSearch(x)", "WebSearch takes no specifier"),
        ("StructuredOutput(x)", "takes no specifier"),
        ("WebFetch(example.com)", "domain:<host>"),
        ("WebFetch(domain:)", "domain:<host>"),
        ("Bash(:*)", "':*' needs a command before it"),
        ("Bash(" + "x" * MAX_RULE_CHARS + ")", "at most"),
    ],
)
def test_malformed_rules_name_the_rule_and_its_source(text, problem):
    with pytest.raises(RuleError) as info:
        parse_rule(text, "--allowed-tools")
    message = str(info.value)
    assert message.startswith("--allowed-tools ")
    assert problem in message
    if text.strip():
        assert repr(text.strip()[:20])[1:-1][:10] in message


def test_rule_error_is_a_value_error_and_rejects_non_strings():
    assert issubclass(RuleError, ValueError)
    with pytest.raises(RuleError, match="a rule must be a string, got int"):
        parse_rule(3, "agent() disallowedTools")  # type: ignore[arg-type]


def test_rule_text_in_messages_is_printable():
    with pytest.raises(RuleError) as info:
        parse_rule("Bash(\x1b[2J", "s")
    assert "\x1b" not in str(info.value)


@pytest.mark.parametrize(
    ("value", "texts"),
    [
        ("Bash(git log:*) Edit", ["Bash(git log:*)", "Edit"]),
        ("Bash(git log:*),Edit, Read(./src/**)", ["Bash(git log:*)", "Edit", "Read(./src/**)"]),
        ("  Read  ", ["Read"]),
        ("Bash(a, b) Bash(c d)", ["Bash(a, b)", "Bash(c d)"]),
        ("Bash(python -c 'f(1)')", ["Bash(python -c 'f(1)')"]),
        ("", []),
    ],
)
def test_split_rules(value, texts):
    assert [r.text for r in split_rules(value, "--allowed-tools")] == texts


@pytest.mark.parametrize("value", ["Bash(git log", "Bash(a)) Edit", "Read Bash(x"])
def test_split_rules_unbalanced(value):
    with pytest.raises(RuleError, match=r"--allowed-tools '.*': unbalanced parenthesis"):
        split_rules(value, "--allowed-tools")


_RULE_CHARS = st.sampled_from([*"()*:,/ ~.-_$`;|&\\\"'\n\tabcRBmp", "mcp__", "Bash", "("])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_RULE_CHARS, max_size=30).map("".join)))
def test_parse_rule_never_crashes(text):
    for parse in (lambda t: [parse_rule(t, "fuzz")], lambda t: split_rules(t, "fuzz")):
        try:
            rules = parse(text)
        except RuleError as exc:
            assert str(exc).startswith("fuzz")
        else:
            for rule in rules:
                assert rule.tool and rule.text
                assert rule.covers_tool(rule.tool) or rule.kind == "mcp"
