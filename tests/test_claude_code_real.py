"""The claude-code worker with the REAL Claude Code program (the one bundled in claude-agent-sdk),
against tests/messages_server.py, inside a network namespace that has only loopback.

The run itself is tests/claude_code_real.py, started under ``unshare -n``; the program gets
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` and a temporary home and config directory. Where
namespaces cannot be made (not root, no user namespaces) the test is skipped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jshost.workers.claude_code.program import find_program

HERE = Path(__file__).parent


def _why_not() -> str | None:
    program, problem = find_program({})
    if program is None or "_bundled" not in str(program):
        return f"no bundled Claude Code program ({problem or program})"
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace: {probe.stderr.strip() or probe.returncode}"
    return None


@pytest.mark.slow
def test_the_real_program_answers_uses_tools_and_stops_at_once():
    why = _why_not()
    if why is not None:
        print(f"skipped: {why}")
        pytest.skip(why)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env["JSHOST_HOME"] = str(HERE / "nonexistent-home")  # defaults only: no user config
    done = subprocess.run(
        ["unshare", "-n", sys.executable, str(HERE / "claude_code_real.py")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    # nothing but loopback existed, and only the Messages endpoint was asked
    assert seen["interfaces"] == ["lo"]
    assert seen["paths"] == ["/v1/messages?beta=true"]
    # a text answer, with the program's usage and its own cost figure
    assert seen["text"]["value"] == "four"
    assert seen["text"]["usage"] == [30, 7, 0, 0]
    assert seen["text"]["model"] == "claude-sonnet-5-5"
    assert seen["text"]["cost"] and seen["text"]["cost"][0] > 0
    # Claude Code's own system prompt, with the workflow rules appended; no Agent/Workflow tool
    assert "verbatim, as a string" in seen["request"]["system"]
    assert "Bash" in seen["request"]["tools"] and "Read" in seen["request"]["tools"]
    assert not {"Agent", "Workflow", "AskUserQuestion"} & set(seen["request"]["tools"])
    # an array root went to the API wrapped as an object, and came back unwrapped
    assert seen["schema"]["value"] == [1, 2, 3]
    assert seen["schema"]["input_schema"]["properties"]["value"]["type"] == "array"
    # the program read a real file in the workspace; the call was reported
    assert seen["tool"]["value"] == "tangerine"
    assert seen["tool"]["reported"] == [["Read", "ok"]]
    assert "tangerine" in seen["tool"]["results"][0]
    # a read outside the workspace was put to the run's asker, allowed once, and ran
    ask = seen["ask"]
    assert ask["value"] == "plum"
    assert [a[0] for a in ask["asked"]] == ["Read"]
    assert "outside" in ask["asked"][0][1]
    assert ask["reported"] == [["Read", "waiting"], ["Read", "ok"]]
    assert "plum" in ask["results"][0]
    # a command outside the agent's bashCommandClamp was refused by our hook, not run
    assert seen["clamp"]["reported"] == [["Bash", "denied"]]
    assert "limited to Bash(git *)" in seen["clamp"]["results"][0]
    # cancelled while its Bash command ran: back within a second, nothing left running
    cancel = seen["cancel"]
    assert cancel["sleepers"], "the Bash command never started"
    assert cancel["seconds"] < 1.0
    assert cancel["left"] == []
    # no session transcript, no live-session entry, no shell snapshot left in the config dir
    assert not [f for f in seen["files"] if f.startswith(("projects/", "sessions/", "shell-"))]
