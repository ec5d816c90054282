"""The claude-code worker against a fake ``claude`` program (tests/fake_claude.py).

The SDK and the worker are real; only the program is a fake, speaking the real stream-json
protocol (its frames are checked against frames recorded from the real program). The real
program itself runs in tests/test_claude_code_real.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from jshost.errors import WorkerError
from jshost.testing import check_worker
from jshost.workers.base import AgentRejectedError, AgentRequest, progress_callback, tool_callback
from jshost.workers.claude_code import ClaudeCodeWorker

# The worker silences this SDK warning (allow rules deciding first is what jshost wants) with a
# process-wide filter, which pytest resets per test; tests/test_claude_code_cli.py checks that
# a real run prints nothing of it.
pytestmark = pytest.mark.filterwarnings("ignore::claude_agent_sdk.CanUseToolShadowedWarning")

HERE = Path(__file__).parent
FAKE = HERE / "fake_claude.py"
FIXTURES = HERE / "fixtures" / "claude_code"


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    env = {"FAKE_CLAUDE_STATE": str(state), "FAKE_CLAUDE_ARGV": str(tmp_path / "argv.jsonl")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def worker(tmp_path: Path, **kw: Any) -> ClaudeCodeWorker:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("workspace", tmp_path)
    return ClaudeCodeWorker(cli_path=FAKE, **kw)


def directive(**script: Any) -> str:
    return f"[[fake {json.dumps(script)}]]"


def run(w: ClaudeCodeWorker, prompt: str, **kw: Any) -> Any:
    kw.setdefault("label", "a")
    return trio.run(w.run, AgentRequest(index=kw.pop("index", 0), prompt=prompt, **kw))


def argvs(env: dict[str, str]) -> list[list[str]]:
    return [json.loads(line) for line in Path(env["FAKE_CLAUDE_ARGV"]).read_text().splitlines()]


def flag(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
        if arg == name:
            return argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
    return None


# -- the fake speaks the real protocol ---------------------------------------------------------


def _kind(frame: dict[str, Any]) -> str:
    kind = frame["type"]
    if kind == "system":
        return f"system/{frame['subtype']}"
    if kind == "stream_event":
        return f"stream_event/{frame['event']['type']}"
    if kind == "control_request":
        return f"control_request/{frame['request']['subtype']}"
    return kind


def _shape(frame: dict[str, Any]) -> dict[str, Any]:
    """The keys that matter of a frame: its own, and those of its message/event/request."""
    shape: dict[str, Any] = {"": sorted(frame)}
    for inner in ("message", "event", "request", "response"):
        if isinstance(frame.get(inner), dict):
            shape[inner] = sorted(frame[inner])
    return shape


def _fake_frames(case: str, tmp_path: Path) -> list[dict[str, Any]]:
    scripts = {
        "text": {},
        "tool": {"tool": ["Read", {"file_path": "/tmp/rec/work/notes.txt"}, "1\thello"]},
        "ask": {"tool": ["Read", {"file_path": "/etc/hostname"}, "1\tvm"], "ask": True},
        "schema": {},
        "error": {"api_error": 400},
        "hook": {"tool": ["Bash", {"command": "echo hi"}, "hi"], "text": "denied"},
    }
    argv = ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]
    if case == "schema":
        argv.append(
            '--json-schema={"type": "object", "properties": {"answer": {"type": "string"}}}'
        )
    hooks = {"PreToolUse": [{"matcher": "Bash", "hookCallbackIds": ["hook_0"]}]}
    deny = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "outside the clamp",
        }
    }
    lines = [
        {
            "type": "control_request",
            "request_id": "req_1",
            "request": {"subtype": "initialize", "hooks": hooks if case == "hook" else None},
        },
        {
            "type": "user",
            "session_id": "",
            "message": {"role": "user", "content": directive(**scripts[case])},
            "parent_tool_use_id": None,
        },
        {
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": "x",
                "response": deny if case == "hook" else {"behavior": "allow"},
            },
        },
    ]
    stdin = "".join(json.dumps(x) + "\n" for x in lines)
    done = subprocess.run(
        [sys.executable, str(FAKE), *argv], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


#: frames the real program sends that the fake does not (they change nothing the worker does)
NOT_FAKED = {"system/session_state_changed"}  # the fake sends running/idle but not requires_action


@pytest.mark.parametrize("case", ["text", "tool", "ask", "schema", "error", "hook"])
def test_fake_frames_have_the_real_keys(case, tmp_path):
    real = [
        json.loads(line) for line in (FIXTURES / f"{case}.stdout.jsonl").read_text().splitlines()
    ]
    fake = _fake_frames(case, tmp_path)
    real_shapes: dict[str, dict[str, Any]] = {}
    for frame in real:
        real_shapes.setdefault(_kind(frame), _shape(frame))
    fake_kinds = {_kind(f) for f in fake}
    missing = set(real_shapes) - fake_kinds
    assert not missing, f"the fake never sends {missing}"
    for frame in fake:
        kind = _kind(frame)
        assert kind in real_shapes, f"the real program never sends {kind} in the {case} case"
        want = real_shapes[kind]
        got = _shape(frame)
        if kind == "assistant" and frame["message"]["model"] == "<synthetic>":
            want = {**want, "message": got["message"]}  # an error's message is the program's own
        assert got == want, f"{kind}: fake {got} != real {want}"


def test_the_fixtures_were_recorded_from_the_real_program():
    init = next(
        json.loads(line)
        for line in (FIXTURES / "text.stdout.jsonl").read_text().splitlines()
        if '"init"' in line
    )
    assert init["claude_code_version"].startswith("2.1.")
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY"


# -- answers -------------------------------------------------------------------------------------


def test_a_text_agent_gets_the_answer_usage_cost_and_the_flags_it_needs(tmp_path, fake_env):
    w = worker(tmp_path, model="opus", allowed_tools=["Read", "Bash(git log *)"])
    result = run(
        w, "say hi " + directive(text="hi there", usage=[40, 9], cost=0.0125), effort="high"
    )
    assert result.value == "hi there"
    assert result.usage.input_tokens == 40 and result.usage.output_tokens == 9
    assert result.model == "claude-opus-5-5" and result.attempts == 1
    assert {"kind": "text", "text": "hi there"} in result.transcript
    cost = [e for e in result.transcript if e.get("cost_usd") is not None]
    assert cost and cost[0]["cost_usd"] == 0.0125
    (argv,) = argvs(fake_env)
    assert flag(argv, "--model") == "claude-opus-5-5"
    assert flag(argv, "--effort") == "high"
    assert flag(argv, "--permission-mode") == "default"
    assert flag(argv, "--setting-sources") == ""  # no settings files unless asked for
    assert flag(argv, "--allowedTools") == "Read,Bash(git log *)"
    assert flag(argv, "--disallowedTools") == "Agent,Workflow,AskUserQuestion"
    assert "--no-session-persistence" in argv and "--strict-mcp-config" in argv
    assert "--include-partial-messages" in argv
    assert "verbatim, as a string" in flag(argv, "--append-system-prompt")


def test_a_schema_answer_is_the_structured_output_validated_again(tmp_path, fake_env):
    w = worker(tmp_path)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    result = run(w, directive(output={"n": 4}), schema=schema)
    assert result.value == {"n": 4}
    (argv,) = argvs(fake_env)
    assert json.loads(flag(argv, "--json-schema")) == schema
    assert "StructuredOutput tool exactly once" in flag(argv, "--append-system-prompt")


def test_a_non_object_root_is_wrapped_for_the_program_and_unwrapped(tmp_path, fake_env):
    w = worker(tmp_path)
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2}
    result = run(w, "two numbers", schema=schema)
    assert result.value == [4, 4]
    (argv,) = argvs(fake_env)
    sent = json.loads(flag(argv, "--json-schema"))
    assert sent["type"] == "object" and sent["properties"]["value"] == schema


def test_an_output_our_validation_refuses_costs_attempts_then_fails(tmp_path, fake_env):
    w = worker(tmp_path, attempts=2)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with pytest.raises(WorkerError) as caught:
        run(w, directive(output={"n": "four"}), schema=schema)
    assert "does not match the schema: $.n: 'four' is not of type 'integer'" in str(caught.value)
    assert caught.value.attempts == 2 and len(argvs(fake_env)) == 2


def test_success_without_structured_output_is_a_failed_attempt_then_a_rejection(tmp_path, fake_env):
    w = worker(tmp_path, attempts=3)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with pytest.raises(AgentRejectedError, match="without calling StructuredOutput"):
        run(w, directive(no_output=True), schema=schema)
    assert len(argvs(fake_env)) == 3


def test_the_programs_structured_output_cap_rejects_with_the_references_message(tmp_path, fake_env):
    w = worker(tmp_path, structured_output_cap=3)
    with pytest.raises(AgentRejectedError, match=r"StructuredOutput retry cap \(3\) exceeded"):
        run(w, directive(structured_retries=True), schema={"type": "object"})
    assert len(argvs(fake_env)) == 1


# -- tools, permissions, usage -----------------------------------------------------------------


def test_tool_calls_are_reported_and_transcribed(tmp_path, fake_env):
    seen = []

    async def main() -> Any:
        tool_callback.set(seen.append)
        w = worker(tmp_path)
        script = directive(tool=["Bash", {"command": "git log -1"}, "abc123 first"], text="done")
        return await w.run(AgentRequest(index=0, prompt=script, label="a"))

    result = trio.run(main)
    assert result.value == "done"
    assert [(u.tool, u.status, u.summary) for u in seen] == [("Bash", "ok", "Bash git log -1")]
    kinds = [e["kind"] for e in result.transcript]
    assert kinds[:3] == ["tool_use", "tool_result", "text"]
    assert result.transcript[1]["content"] == "abc123 first"


class Asker:
    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[Any] = []

    async def ask(self, request: Any) -> str:
        self.asked.append(request)
        return self.answer


ASK = directive(tool=["Read", {"file_path": "/etc/hostname"}, "1\tvm"], ask=True, text="done")


@pytest.mark.parametrize("answer", ["once", "run", "deny"])
def test_an_ask_reaches_the_runs_asker(tmp_path, fake_env, answer):
    asker = Asker(answer)
    seen = []

    async def main() -> Any:
        tool_callback.set(seen.append)
        w = worker(tmp_path, asker=asker)
        first = await w.run(AgentRequest(index=0, prompt=ASK, label="a"))
        await w.run(AgentRequest(index=1, prompt="again", label="b"))
        return first

    result = trio.run(main)
    (request,) = asker.asked
    assert (request.tool, request.label, request.paths) == ("Read", "a", ("/etc/hostname",))
    assert request.decision.behavior == "ask" and request.decision.suggestion == "Read(//etc/**)"
    assert "outside allowed working directories" in request.decision.reason
    assert [u.status for u in seen] == ["waiting", "denied" if answer == "deny" else "ok"]
    entry = next(e for e in result.transcript if e["kind"] == "permission")
    assert entry["answer"] == answer and entry["rule"] == "Read(//etc/**)"
    later = flag(argvs(fake_env)[1], "--allowedTools")
    assert later == ("Read(//etc/**)" if answer == "run" else None)


def test_without_an_asker_an_ask_is_denied(tmp_path, fake_env):
    seen = []

    async def main() -> Any:
        tool_callback.set(seen.append)
        return await worker(tmp_path).run(AgentRequest(index=0, prompt=ASK, label="a"))

    result = trio.run(main)
    assert [u.status for u in seen] == ["denied"]
    denial = next(e for e in result.transcript if e["kind"] == "tool_result")
    assert denial["is_error"] and "nobody to ask" in denial["content"]


def test_live_usage_rises_and_never_passes_the_final_count(tmp_path, fake_env):
    reports = []

    async def main() -> Any:
        progress_callback.set(reports.append)
        script = directive(tool=["Read", {"file_path": "/a"}, "x"], usage=[50, 10], text="ok")
        return await worker(tmp_path).run(AgentRequest(index=0, prompt=script, label="a"))

    result = trio.run(main)
    totals = [u.input_tokens + u.output_tokens for u in reports]
    assert len(reports) >= 4 and totals == sorted(totals)
    assert reports[-1] == result.usage
    assert result.usage.input_tokens == 100 and result.usage.output_tokens == 20


def test_check_worker_passes(tmp_path, fake_env):
    check = check_worker(
        lambda: worker(tmp_path), slow_prompt=directive(sleep=20), cancel_after=1.0
    )
    assert check.concurrent == 4 and check.schema_checked and check.cancel_seconds < 1.0


# -- failures ----------------------------------------------------------------------------------


def test_a_4xx_api_error_fails_at_once_with_the_programs_text(tmp_path, fake_env):
    with pytest.raises(WorkerError, match="API Error: 400 scripted") as caught:
        run(worker(tmp_path), directive(api_error=400))
    assert caught.value.attempts == 1 and len(argvs(fake_env)) == 1


def test_an_overloaded_api_is_retried(tmp_path, fake_env):
    with pytest.raises(WorkerError, match=r"529 scripted \(gave up after 2 attempts\)"):
        run(worker(tmp_path, attempts=2), directive(api_error=529))
    assert len(argvs(fake_env)) == 2


def test_a_program_that_dies_mid_stream_is_retried(tmp_path, fake_env):
    logs = []
    script = directive(die=3, die_times=1, stderr=["segfault in the fake"], text="second time")
    result = run(worker(tmp_path), script, log=logs.append)
    assert result.value == "second time" and result.attempts == 2
    assert "exit code 3" in logs[0] and "segfault in the fake" in logs[0]
    note = next(e for e in result.transcript if e["kind"] == "note")
    assert note["text"].startswith("attempt 1 failed: the Claude Code program stopped")


def test_a_program_that_always_dies_fails_with_its_last_stderr_lines(tmp_path, fake_env):
    script = directive(die=7, stderr=["first line", "the real reason"])
    with pytest.raises(WorkerError) as caught:
        run(worker(tmp_path, attempts=3), script)
    text = str(caught.value)
    assert "exit code 7" in text and "the real reason" in text and "gave up after 3" in text
    assert caught.value.usage.input_tokens == 90  # each attempt's streamed message is counted


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find orphans")
def test_cancellation_kills_the_program_and_its_children_within_a_second(tmp_path, fake_env):
    pidfile = tmp_path / "child.pid"
    found: dict[str, float | int] = {}

    async def main() -> None:
        w = worker(tmp_path)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    w.run,
                    AgentRequest(
                        index=0, prompt=directive(child=str(pidfile), sleep=60), label="a"
                    ),
                )
                while not pidfile.exists() or not pidfile.read_text():
                    await trio.sleep(0.01)
                child = int(pidfile.read_text())
                found["child"] = child
                found["program"] = int(
                    Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1]
                )
                found["at"] = time.monotonic()
                scope.cancel()
        found["took"] = time.monotonic() - found["at"]

    trio.run(main)
    assert found["took"] < 1.0, found
    for _ in range(50):  # the child's parent is gone: init reaps it a moment later
        if not _alive(int(found["child"])) and not _alive(int(found["program"])):
            break
        time.sleep(0.01)
    assert not _alive(int(found["program"])), "the program outlived the cancellation"
    assert not _alive(int(found["child"])), "the program's child outlived the cancellation"


def test_a_stalled_program_is_abandoned_and_retried(tmp_path, fake_env):
    with pytest.raises(WorkerError, match=r"stalled .*gave up after 2 attempts"):
        run(worker(tmp_path, attempts=2), directive(sleep=30), stall_ms=300)


def test_a_tool_at_work_is_not_a_stall(tmp_path, fake_env):
    # The fake sends the tool call, then stays silent for 3 s before its result: longer than
    # stallMs, but a running tool has a timeout of its own.
    script = directive(tool=["Bash", {"command": "make"}, "built"], tool_sleep=3.0, text="built it")
    result = run(worker(tmp_path, attempts=1), script, stall_ms=1500)
    assert result.value == "built it"


def test_bash_command_clamp_denies_commands_outside_it(tmp_path, fake_env):
    seen = []

    async def main(command: str) -> Any:
        tool_callback.set(seen.append)
        script = directive(tool=["Bash", {"command": command}, "ran"], text="done")
        request = AgentRequest(
            index=0, prompt=script, label="a", bash_command_clamp=("Bash(git log *)",)
        )
        return await worker(tmp_path, allowed_tools=["Bash"]).run(request)

    inside = trio.run(main, "git log -3 && git log --stat")
    outside = trio.run(main, "git log -1; rm -rf build")
    assert [u.status for u in seen] == ["ok", "denied"]
    assert next(e for e in inside.transcript if e["kind"] == "tool_result")["content"] == "ran"
    denial = next(e for e in outside.transcript if e["kind"] == "tool_result")
    assert denial["is_error"] and "limited to Bash(git log *)" in denial["content"]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("Bash(", "unbalanced parenthesis"),
        ("Read(a)x", "text after the closing ')'"),
        ("Bash(git log), Read", "text after the closing ')'"),
        # jshost's parser takes it; the program's flag must not carry a line break
        ("Bash(git log\nrm -rf /)", "control characters are not allowed"),
    ],
)
def test_a_rule_the_program_would_misread_is_refused_before_anything_runs(tmp_path, rule, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        worker(tmp_path, allowed_tools=[rule])


def test_mcp_and_wildcard_rules_pass_through(tmp_path, fake_env):
    w = worker(tmp_path, allowed_tools=["mcp__logs__*", "Bash(npm run *)"])
    run(w, "x")
    (argv,) = argvs(fake_env)
    assert flag(argv, "--allowedTools") == "mcp__logs__*,Bash(npm run *)"


@pytest.mark.parametrize("mode", ["bypassPermissions", "auto", "yolo"])
def test_modes_jshost_does_not_offer_are_refused(tmp_path, mode):
    with pytest.raises(ValueError, match="is not one of default, acceptEdits, plan, dontAsk"):
        worker(tmp_path, permission_mode=mode)


def test_an_agent_type_is_passed_with_its_definition_and_mode(tmp_path, fake_env):
    from jshost.agent_types import AgentType

    kind = AgentType(
        name="reviewer",
        description="reviews diffs",
        tools=("Read", "Grep"),
        disallowed_tools=("Bash",),
        permission_mode="plan",
        system_prompt="You review.",
    )
    request = AgentRequest(
        index=0, prompt="review", label="r", agent_type="reviewer", agent_definition=kind
    )
    trio.run(worker(tmp_path).run, request)
    (argv,) = argvs(fake_env)
    assert flag(argv, "--agent") == "reviewer"
    assert flag(argv, "--permission-mode") == "plan"


def test_the_agent_works_in_its_own_directory_else_the_workspace(tmp_path, fake_env):
    (tmp_path / "ws").mkdir()
    (tmp_path / "wt").mkdir()
    w = worker(tmp_path, workspace=tmp_path / "ws")
    run(w, "in the workspace")
    run(w, "in a worktree", cwd=tmp_path / "wt")
    first, second = argvs(fake_env)
    assert flag(first, "--fake-cwd") == str(tmp_path / "ws")
    assert flag(second, "--fake-cwd") == str(tmp_path / "wt")


def test_a_key_the_program_prints_never_reaches_the_failure_line(tmp_path, fake_env):
    script = directive(die=1, stderr=["auth failed for key sk-ant-secret-123456"])
    w = worker(tmp_path, attempts=1, env={"ANTHROPIC_API_KEY": "sk-ant-secret-123456"})
    with pytest.raises(WorkerError) as caught:
        run(w, script)
    assert "sk-ant-secret" not in str(caught.value)
    assert "auth failed for key <redacted>" in str(caught.value)


def test_the_runs_policy_from_flags_and_settings_files_reaches_the_program(tmp_path, fake_env):
    from jshost.permissions import Policy, load_settings

    ws, home = tmp_path / "ws", tmp_path / "home"
    (ws / ".claude").mkdir(parents=True)
    (home / ".claude").mkdir(parents=True)
    (ws / ".claude" / "settings.json").write_text(
        json.dumps(
            {
                "permissions": {
                    "allow": ["Bash(npm test)"],
                    "ask": ["Edit(./src/**)"],
                    "deny": ["Read(./.env)"],
                    "additionalDirectories": [str(tmp_path)],
                }
            }
        )
    )
    policy = Policy.from_settings(
        load_settings(ws, home),
        allowed=["Read"],
        disallowed=["Bash(rm *)"],
        mode="acceptEdits",
        home=home,
    )
    asker = Asker("once")
    w = worker(tmp_path)
    w.apply_policy(policy, workspace=ws, asker=asker, max_turns=7)
    run(w, "x")
    (argv,) = argvs(fake_env)
    assert flag(argv, "--allowedTools") == "Read,Bash(npm test)"
    assert (
        flag(argv, "--disallowedTools") == "Agent,Workflow,AskUserQuestion,Bash(rm *),Read(./.env)"
    )
    assert json.loads(flag(argv, "--settings")) == {"permissions": {"ask": ["Edit(./src/**)"]}}
    assert flag(argv, "--add-dir") == str(tmp_path)
    assert flag(argv, "--permission-mode") == "acceptEdits"
    assert flag(argv, "--max-turns") == "7"
    assert flag(argv, "--fake-cwd") == str(ws)


def test_only_the_approved_mcp_servers_reach_the_program(tmp_path, fake_env):
    from dataclasses import dataclass, field

    @dataclass
    class Server:  # the shape of jshost.tools.mcp_config.McpServerConfig
        name: str
        type: str = "stdio"
        command: str = ""
        args: tuple[str, ...] = ()
        env: dict[str, str] = field(default_factory=dict)
        url: str = ""
        headers: dict[str, str] = field(default_factory=dict)

    servers = [
        Server("logs", command="python3", args=("-m", "logs_server"), env={"LEVEL": "info"}),
        Server("docs", type="http", url="http://127.0.0.1:9/mcp", headers={"x": "y"}),
    ]
    run(worker(tmp_path, mcp_servers=servers), "x")
    (argv,) = argvs(fake_env)
    assert "--strict-mcp-config" in argv
    assert json.loads(flag(argv, "--mcp-config")) == {
        "mcpServers": {
            "logs": {
                "type": "stdio",
                "command": "python3",
                "args": ["-m", "logs_server"],
                "env": {"LEVEL": "info"},
            },
            "docs": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"x": "y"}},
        }
    }


def test_without_approved_servers_the_program_gets_no_mcp_config(tmp_path, fake_env):
    run(worker(tmp_path), "x")
    (argv,) = argvs(fake_env)
    assert "--strict-mcp-config" in argv and flag(argv, "--mcp-config") is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find orphans")
def test_an_orphan_sweep_spares_the_program(tmp_path, fake_env):
    """While the worker is open jshost is a child subreaper: another agent's Bash call that
    sheds a daemon makes a sweep, which must not touch the program (jshost's own)."""
    from jshost.tools import Workspace, prctl
    from jshost.tools.builtin import BashTool
    from jshost.tools.reaper import REAPER

    ws = tmp_path / "ws"
    ws.mkdir()
    escape = "env -i setsid sh -c 'sleep 300 & echo $! > d.pid'; until [ -s d.pid ]; do :; done"
    seen: dict[str, Any] = {}

    def state(pid: int) -> str | None:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return None

    async def main() -> None:
        w = worker(tmp_path)
        async with w, trio.open_nursery() as nursery:
            seen["subreaper"] = prctl.child_subreaper()
            request = AgentRequest(index=0, prompt=directive(sleep=1.5, text="fine"), label="a")

            async def agent() -> None:
                seen["result"] = await w.run(request)

            nursery.start_soon(agent)
            with trio.fail_after(10):
                while not REAPER.owned():
                    await trio.sleep(0.01)
            (program,) = REAPER.owned()
            out = await BashTool().run({"command": escape}, Workspace(ws))
            seen["bash"] = out.content
            seen["daemon"] = state(int((ws / "d.pid").read_text()))
            seen["program"] = state(program)
        seen["owned_after"] = REAPER.owned()

    try:
        trio.run(main)
    finally:
        daemon = ws / "d.pid"
        if daemon.exists() and state(int(daemon.read_text())) not in (None, "Z"):
            os.kill(int(daemon.read_text()), 9)
    assert seen["subreaper"] is True
    assert seen["bash"] == "(no output)\n[exit code 0]"
    assert seen["daemon"] is None
    assert seen["program"] not in (None, "Z")
    assert seen["result"].value == "fine"
    assert seen["owned_after"] == {}


def test_no_connection_gives_up_after_a_few_tries_while_nothing_has_answered(tmp_path, fake_env):
    """The program retries a refused connection for ~3 minutes (10 tries); while nothing in
    the run has answered, jshost stops it after ``unconnected_tries`` and the next agents
    fail at once."""
    w = worker(tmp_path)
    logged: list[str] = []
    slow = directive(unreachable=True, retries=10, retry_sleep=0.5)  # 5 s of the program's own
    started = time.monotonic()
    with pytest.raises(WorkerError) as err:
        run(w, slow, log=logged.append)
    took = time.monotonic() - started
    assert str(err.value).startswith("cannot reach the API: no connection in 4 tries")
    assert took < 4.5, took
    assert logged == [
        "[a] the API did not answer (no connection); jshost gives up after 4 tries while "
        "nothing in the run has answered"
    ]
    with pytest.raises(WorkerError, match="not tried again: nothing has answered"):
        run(w, "again")
    assert len(argvs(fake_env)) == 1


def test_once_the_api_has_answered_the_programs_own_retries_run_their_course(tmp_path, fake_env):
    """A connection lost mid-run may come back: the program keeps its full patience then."""
    w = worker(tmp_path)
    assert run(w, "first").value == "echo: first"
    logged: list[str] = []
    with pytest.raises(WorkerError) as err:
        run(w, directive(unreachable=True, retries=6), log=logged.append)
    assert str(err.value).startswith("cannot reach the API: API Error: Connection refused")
    assert logged == [
        "[a] the API did not answer (no connection); Claude Code retries it up to 6 times first"
    ]
