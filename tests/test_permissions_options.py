"""agent(prompt, {disallowedTools, bashCommandClamp}) through the real sandbox and engine.

The options reach the worker as ``AgentRequest.disallowed_tools`` / ``.bash_command_clamp``;
mistakes reject agent() (catchably) with "refusing the spawn" messages; both options are in
the cache key (the reference's 7-field form) and keys of calls without them are unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from conftest import arun, run_once, script_source

from jshost.agent_types import BUILTIN_TYPES, AgentType, AgentTypes
from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.journal import KEY_OPTIONS, cache_key, canonical_options
from jshost.permissions.call_options import (
    MAX_OPTION_RULE_CHARS,
    MAX_OPTION_RULES,
    CallOptionError,
    check_call_options,
)
from jshost.script import parse_script
from jshost.script.validate import validate_source
from jshost.workers.base import AgentRequest, AgentResult, Worker
from jshost.workers.sim import SimWorker

ROOT = Path(__file__).resolve().parent.parent


class Recording(Worker):
    """The sim worker, keeping every request it was given."""

    name = "recording"

    def __init__(self) -> None:
        self.inner = SimWorker(latency=0.001)
        self.requests: list[AgentRequest] = []

    async def run(self, request: AgentRequest) -> AgentResult:
        self.requests.append(request)
        return await self.inner.run(request)


def go(body: str) -> tuple[object, Recording]:
    worker = Recording()
    outcome = trio.run(lambda: arun(body, worker=worker))
    assert outcome.status == "completed", (outcome.status, outcome.error)
    return outcome.result, worker


def test_options_reach_the_worker():
    _, worker = go(
        """
        await agent('a', {disallowedTools: ['Edit', 'Bash(rm:*)', 'mcp__logs'],
                          bashCommandClamp: ['Bash(git log)', 'Bash(wc:*)']});
        await agent('b');
        return 1;
        """
    )
    first, second = worker.requests
    assert first.disallowed_tools == ("Edit", "Bash(rm:*)", "mcp__logs")
    assert first.bash_command_clamp == ("Bash(git log)", "Bash(wc:*)")
    assert (second.disallowed_tools, second.bash_command_clamp) == ((), ())


def test_null_and_undefined_mean_not_given_and_empty_arrays_are_kept():
    _, worker = go(
        """
        await agent('a', {disallowedTools: null, bashCommandClamp: undefined});
        await agent('b', {disallowedTools: []});
        return 1;
        """
    )
    assert [(r.disallowed_tools, r.bash_command_clamp) for r in worker.requests] == [
        ((), ()),
        ((), ()),
    ]


R = " — refusing the spawn."
DT, BC = "agent({disallowedTools})", "agent({bashCommandClamp})"
N, C = MAX_OPTION_RULES, MAX_OPTION_RULE_CHARS
UNCLOSED = "is not a permission rule: unbalanced parenthesis: '(' is never closed"
NOT_CLAMP = "is not a Bash(<prefix>) rule, e.g. Bash(git log)"
REFUSALS = [
    ("{disallowedTools: 'Edit'}", "TypeError", f"{DT} must be an array of strings, got string{R}"),
    (
        "{disallowedTools: {0: 'Edit', length: 1}}",
        "TypeError",
        f"{DT} must be an array of strings, got object{R}",
    ),
    ("{disallowedTools: ['Edit', 3]}", "TypeError", f"{DT}[1] must be a string, got number{R}"),
    ("{disallowedTools: [null]}", "TypeError", f"{DT}[0] must be a string, got null{R}"),
    ("{bashCommandClamp: [['Bash(ls)']]}", "TypeError", f"{BC}[0] must be a string, got array{R}"),
    (
        f"{{disallowedTools: Array({N + 1}).fill('Edit')}}",
        "RangeError",
        f"{DT} has {N + 1} entries; at most {N}{R}",
    ),
    (
        f"{{bashCommandClamp: ['Bash(' + 'x'.repeat({C}) + ')']}}",
        "RangeError",
        f"{BC}[0] is {C + 6} characters long; at most {C}{R}",
    ),
    ("{disallowedTools: ['Bash(git log']}", "TypeError", f"{DT}[0] 'Bash(git log' {UNCLOSED}{R}"),
    (
        "{disallowedTools: ['read']}",
        "TypeError",
        f"{DT}[0] 'read' is not a permission rule: unknown tool 'read'; did you mean Read?{R}",
    ),
    ("{bashCommandClamp: ['Read(./x)']}", "TypeError", f"{BC}[0] 'Read(./x)' {NOT_CLAMP}{R}"),
    ("{bashCommandClamp: ['Bash']}", "TypeError", f"{BC}[0] 'Bash' {NOT_CLAMP}{R}"),
    ("{bashCommandClamp: ['Bash(ls']}", "TypeError", f"{BC}[0] 'Bash(ls' {UNCLOSED}{R}"),
    (
        "{disallowedTools: ['StructuredOutput'], schema: {type: 'object'}}",
        "Error",
        "agent() schema mode needs the StructuredOutput tool, but the spawn's merged "
        "disallowedTools deny it — refusing the spawn",
    ),
]


@pytest.mark.parametrize(("opts", "name", "message"), REFUSALS)
def test_bad_options_reject_agent_catchably(opts, name, message):
    result, worker = go(
        f"""
        try {{
          await agent('x', {opts});
          return 'spawned';
        }} catch (e) {{
          return [e.name, e.message];
        }}
        """
    )
    assert worker.requests == []
    got_name, got_message = result
    assert got_name == name
    assert got_message.startswith(message), got_message


def test_structured_output_may_be_denied_without_a_schema():
    _, worker = go("await agent('x', {disallowedTools: ['StructuredOutput']}); return 1;")
    assert worker.requests[0].disallowed_tools == ("StructuredOutput",)


def test_a_refused_spawn_inside_parallel_is_null_with_a_failure_line():
    worker = Recording()
    outcome = trio.run(
        lambda: arun(
            "return await parallel([() => agent('a', {disallowedTools: 7}), () => agent('b')]);",
            worker=worker,
        )
    )
    assert outcome.status == "completed"
    assert outcome.result[0] is None and outcome.result[1]
    assert any("refusing the spawn" in line for line in outcome.failures)


def test_the_runtime_and_the_host_agree_on_the_bounds():
    source = (ROOT / "runtime.js").read_text()
    assert re.search(rf"const MAX_OPTION_RULES = {MAX_OPTION_RULES};", source)
    assert re.search(rf"const MAX_OPTION_RULE_CHARS = {MAX_OPTION_RULE_CHARS};", source)


def test_a_planted_array_tojson_does_not_change_what_crosses():
    _, worker = go(
        """
        Array.prototype.toJSON = function () { return ['Read']; };
        await agent('x', {disallowedTools: ['Edit']});
        return 1;
        """
    )
    assert worker.requests[0].disallowed_tools == ("Edit",)


def test_the_host_checks_again():
    # The runtime is not trusted to have checked: the engine parses every rule itself.
    with pytest.raises(CallOptionError, match="not a permission rule"):
        check_call_options(["Bash(x"], None)
    with pytest.raises(CallOptionError, match="must be an array"):
        check_call_options("Edit", None)
    assert check_call_options(["Task(x)", "Edit"], ["Bash(git:*)"]) == (
        ("Task(x)", "Edit"),
        ("Bash(git:*)",),
    )


# ---- the cache key ---------------------------------------------------------------------------

# Keys computed by jshost before these options existed (KEY_OPTIONS with 5 fields): runs
# stored then must resume from their cache.
OLD_KEY_1 = "v2:8e9e03c688d3916c07bd6b52c1e52402c6eefac265a07203d81bbd477839be7c"
OLD_KEY_2 = "v2:e000a8c0c7a547d9fa3b6901bc67ea4d6b590c03f32fd24259d8827b15c91310"


def test_keys_without_the_new_options_are_unchanged():
    assert KEY_OPTIONS[-2:] == ("disallowedTools", "bashCommandClamp") and len(KEY_OPTIONS) == 7
    k1 = cache_key("", "count the files", {"label": "x", "model": "haiku", "effort": "low"})
    k2 = cache_key(k1, "summarise", {}, {"type": "object", "properties": {"n": {"type": "number"}}})
    assert (k1, k2) == (OLD_KEY_1, OLD_KEY_2)


def test_the_new_options_are_in_the_key_as_the_reference_writes_them():
    opts = {"model": "haiku", "disallowedTools": ["Edit"], "bashCommandClamp": ["Bash(git log)"]}
    assert canonical_options(opts) == (
        '{"bashCommandClamp":["Bash(git log)"],"disallowedTools":["Edit"],"model":"haiku"}'
    )
    plain = cache_key("", "p", {})
    assert cache_key("", "p", {"disallowedTools": []}) != plain
    assert cache_key("", "p", {"disallowedTools": ["Edit"]}) != cache_key(
        "", "p", {"disallowedTools": ["Write"]}
    )
    assert cache_key("", "p", {"bashCommandClamp": ["Bash(ls)"]}) != plain


def test_resume_hits_the_cache_for_the_same_options_and_reruns_for_changed(tmp_path):
    db = tmp_path / "runs.db"
    same = """
        const a = await agent('first', {disallowedTools: ['Edit']});
        const b = await agent('second', {bashCommandClamp: ['Bash(git log)']});
        return [a, b];
    """
    run_id, outcome = run_once(db, same)
    assert outcome.status == "completed"
    keys = [a.key for a in outcome.agents]
    _, again = run_once(db, same, replay_from=run_id)
    assert [a.status for a in again.agents] == ["cached", "cached"]
    assert [a.key for a in again.agents] == keys
    changed = same.replace("'Bash(git log)'", "'Bash(git status)'")
    _, third = run_once(db, changed, replay_from=run_id)
    assert [a.status for a in third.agents] == ["cached", "done"]


def test_an_old_run_without_options_resumes_from_its_cache(tmp_path):
    db = tmp_path / "runs.db"
    body = "return [await agent('count the files', {model: 'haiku', effort: 'low', label: 'x'})];"
    run_id, outcome = run_once(db, body)
    assert outcome.agents[0].key == OLD_KEY_1
    _, again = run_once(db, body, replay_from=run_id)
    assert again.agents[0].status == "cached"


# ---- jshost validate --------------------------------------------------------------------------

VMETA = "export const meta = { name: 'v', description: 'a validate test' }\n"


def diagnostics(body: str) -> list[tuple[int | None, int | None, str, str]]:
    report = validate_source(VMETA + body, path="t.js")
    return [(d.line, d.col, d.code, d.message) for d in report.diagnostics]


def test_validate_knows_the_options():
    body = (
        "await agent('x', { disallowedTools: ['Edit', 'Bash(rm:*)', 'mcp__logs__*'],\n"
        "  bashCommandClamp: ['Bash(git log)', `Bash(wc:*)`] })\n"
        "const rules = ['Edit']\n"
        "await agent('y', { disallowedTools: rules, bashCommandClamp: [rules[0]] })\n"
    )
    assert diagnostics(body) == []


def test_validate_warns_on_bad_literal_values():
    body = (
        "await agent('x', { disallowedTools: 'Edit' })\n"
        "await agent('x', { bashCommandClamp: [3] })\n"
        "await agent('x', { disallowedTools: ['Edit', 'Bash(git log'] })\n"
        "await agent('x', { bashCommandClamp: ['Read(./x)'] })\n"
        "await agent('x', { disalowedTools: ['Edit'] })\n"
    )
    found = diagnostics(body)
    assert [(line, col, code) for line, col, code, _ in found] == [
        (2, 37, "E503"),
        (3, 39, "E503"),
        (4, 46, "E508"),
        (5, 39, "E508"),
        (6, 20, "W502"),
    ]
    messages = [m for *_, m in found]
    assert messages[0] == "agent({disallowedTools}) must be an array of strings, not a string"
    assert messages[2] == (
        "agent({disallowedTools})[1] 'Bash(git log' is not a permission rule: unbalanced "
        "parenthesis: '(' is never closed — refusing the spawn."
    )
    assert "did you mean 'disallowedTools'?" in messages[4]


def test_validate_cli_passes_a_script_with_the_options(tmp_path):
    path = tmp_path / "flow.js"
    path.write_text(VMETA + "await agent('x', { disallowedTools: ['Edit'] })\n")
    result = CliRunner().invoke(cli, ["validate", "--strict", str(path)])
    assert result.exit_code == 0, result.output
    path.write_text(VMETA + "await agent('x', { bashCommandClamp: ['Edit'] })\n")
    result = CliRunner().invoke(cli, ["validate", "--strict", str(path)])
    assert result.exit_code == 1
    assert "E508" in result.output and "Bash(<prefix>)" in result.output


def test_a_schema_agent_whose_type_denies_structured_output_is_refused():
    mute = AgentType("mute", "answers in prose only", disallowed_tools=("StructuredOutput",))
    body = """
        const a = await agent('x', {agentType: 'mute', schema: {type: 'object'}})
          .catch(e => [e.name, e.message]);
        const b = await agent('y', {agentType: 'mute'});
        return [a, typeof b];
    """
    worker = Recording()
    script = parse_script(script_source(body), path="test.js")
    engine = Engine(
        script, worker=worker, limits=Limits(), agent_types=AgentTypes([*BUILTIN_TYPES, mute])
    )
    outcome = trio.run(engine.run)
    assert outcome.status == "completed", outcome.error
    (name, message), kind = outcome.result
    assert name == "Error"
    assert message.startswith(
        "agent() schema mode needs the StructuredOutput tool, but the spawn's merged "
        "disallowedTools deny it — refusing the spawn"
    )
    assert kind == "string" and [r.prompt for r in worker.requests] == ["y"]


@pytest.mark.parametrize(
    ("tools", "disallowed", "message"),
    [
        (
            ("Read", "grep"),
            (),
            "agent({agentType}): agent type 'odd' (/p/.claude/agents/odd.md) has tools entry "
            "'grep' that is not a permission rule: unknown tool 'grep'; did you mean Grep? — "
            "refusing the spawn.",
        ),
        (
            None,
            ("Bash(rm",),
            "agent({agentType}): agent type 'odd' (/p/.claude/agents/odd.md) has "
            "disallowedTools entry 'Bash(rm' that is not a permission rule: unbalanced "
            "parenthesis: '(' is never closed — refusing the spawn.",
        ),
    ],
)
def test_an_agent_type_with_a_malformed_rule_is_refused_naming_its_file(tools, disallowed, message):
    odd = AgentType(
        "odd", "d", tools=tools, disallowed_tools=disallowed, source="/p/.claude/agents/odd.md"
    )
    fine = AgentType("fine", "d", tools=("*",), disallowed_tools=("Bash(rm:*)", "mcp__x"))
    worker = Recording()
    body = """
        const a = await agent('x', {agentType: 'odd'}).catch(e => e.message);
        const b = await agent('y', {agentType: 'fine'});
        return [a, typeof b];
    """
    script = parse_script(script_source(body), path="test.js")
    types = AgentTypes([*BUILTIN_TYPES, odd, fine])
    outcome = trio.run(Engine(script, worker=worker, limits=Limits(), agent_types=types).run)
    assert outcome.status == "completed", outcome.error
    assert outcome.result == [message, "string"]
    assert [r.prompt for r in worker.requests] == ["y"]
