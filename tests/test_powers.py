"""The confirmation's "what the agents may do" block: built from data, sanitised, 80 columns.

The block is checked on the real question drawn by ``jshost run`` on a pseudo-terminal of 80
columns, and, for the powers no worker on main offers yet (tools, rules, MCP servers), on
:func:`jshost.ui.confirm.ask` drawing into an 80-column console.
"""

from __future__ import annotations

import io

from rich.console import Console
from test_confirm import PROMPT, env, script, start  # noqa: F401 - fixtures

from jshost.script.validate import validate_source
from jshost.ui.confirm import Choice, ask
from jshost.ui.powers import AgentPowers, powers_lines

FULL = AgentPowers(
    tools=["Read", "Grep", "Glob", "Bash", "Edit", "Write", "mcp__github__search_issues"],
    worker="anthropic",
    mode="acceptEdits",
    workspace="/home/someone/projects/a-rather-long-directory-name/with/several/levels/deep",
    allowed=["Bash(git log:*)", "Bash(git diff:*)", "Read(./src/**)", "Bash(npm run test:*)"],
    denied=["Bash(rm *)", "Bash(curl:*)"],
    asked=["Bash(git push:*)"],
    mcp_servers=["github (12 tools)", "redis (3 tools)"],
    can_ask=True,
)


def test_the_block_lists_tools_mode_workspace_rules_and_mcp_servers_in_80_columns():
    lines = powers_lines(FULL)
    assert lines[0] == "What the agents may do:"
    text = "\n".join(lines)
    assert all(len(line) <= 78 for line in lines), text
    assert lines[1].startswith("  tools      Read, Grep, Glob, Bash, Edit, Write,")
    assert "  mode       acceptEdits: reads and edits inside the workspace;" in text
    assert "  workspace  /home/someone/projects/" in text
    assert "  deny       Bash(rm *), Bash(curl:*)" in text
    assert "  ask        Bash(git push:*)" in text
    assert "  MCP        github (12 tools), redis (3 tools)" in text
    assert "  questions  you are asked in the view" in text
    # a wrapped value goes on under its label's value, and a rule is never cut in two
    allow = lines.index(next(line for line in lines if line.startswith("  allow ")))
    assert lines[allow + 1] == " " * 13 + "Bash(npm run test:*)"
    assert "  workspace  /home/someone/projects/" in text


def test_nobody_to_ask_and_no_tools_say_so():
    calm = powers_lines(AgentPowers(tools=["Read"], can_ask=False))
    assert "  questions  a call that needs asking is denied (nobody to ask here)" in calm
    assert "  allow      (the mode's defaults only)" in calm
    assert powers_lines(AgentPowers(tools=None, worker="sim")) == [
        "What the agents may do:",
        "  tools      none: the sim worker's agents answer in text and touch nothing",
    ]


def test_every_value_is_sanitised():
    hostile = AgentPowers(
        tools=["Read\x1b[2J"],
        workspace="/tmp/\x1b]0;title\x07x",
        allowed=["Bash(\u202eevil)"],
        mcp_servers=["srv\nfake line"],
        extra=["from mcp: \x1b[31mred"],
    )
    text = "\n".join(powers_lines(hostile))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "fake line" in text and "\nfake line" not in text
    assert "⟨U+001B⟩" in text


def test_the_question_draws_the_block_under_the_run_rows():
    report = validate_source("export const meta = { name: 'x', description: 'y' }\nreturn 1\n")
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    choice = ask(
        report,
        run_rows=[("caps", "16 agents at once")],
        where="here",
        console=console,
        read_key=lambda prompt: "y",
        view=lambda: None,
        powers=powers_lines(FULL),
    )
    assert choice is Choice.RUN
    text = out.getvalue()
    assert text.index("caps: 16 agents at once") < text.index("What the agents may do:")
    assert text.index("What the agents may do:") < text.index("1. Yes, run it")
    assert all(len(line) <= 80 for line in text.splitlines())


def test_jshost_run_shows_what_the_agents_may_do_on_an_80_column_terminal(script, env):  # noqa: F811
    env["COLUMNS"] = "80"
    term = start(script, env)
    term.expect("What the agents may do:")
    term.expect("  tools      none: the sim worker's agents answer in text and touch nothing")
    term.expect(PROMPT)
    term.send("4\r")
    assert term.wait() == 2
    block = term.text[term.text.index("What the agents may do:") :].splitlines()[:3]
    assert all(len(line.rstrip()) <= 80 for line in block)
