"""The claude-code worker with the REAL Claude Code program, run inside a network namespace.

tests/test_claude_code_real.py starts this as ``unshare -n python tests/claude_code_real.py``:
the process has a network of its own with only loopback (brought up here), so the program can
reach 127.0.0.1 and nothing else. It runs a few agents against tests/messages_server.py and
prints one JSON object with what it saw, for the test to check.
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))
from messages_server import MessagesServer, Reply

from jshost.workers.base import AgentRequest, tool_callback
from jshost.workers.claude_code import ClaudeCodeWorker
from jshost.workers.claude_code.transport import session_members

MARKER = "31.4159"  # in the sleeping command line, to find it in /proc


def loopback_up() -> list[str]:
    """Bring ``lo`` up (a new namespace starts with it down); the interfaces there are."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifreq))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    return [name for _, name in socket.if_nameindex()]


def sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if MARKER.encode() in cmd and b"claude_code_real" not in cmd:
                found.append(int(entry.name))
    return found


async def main(out: dict[str, Any]) -> None:
    home = Path(tempfile.mkdtemp(prefix="cc-home-"))
    work = Path(tempfile.mkdtemp(prefix="cc-work-"))
    (work / "notes.txt").write_text("the secret word is tangerine\n")
    seen: list[Any] = []
    tool_callback.set(seen.append)
    with MessagesServer() as server:
        env = {
            "ANTHROPIC_API_KEY": "sk-test",
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }
        worker = ClaudeCodeWorker(
            base_url=server.url, workspace=work, env=env, allowed_tools=["Bash"], attempts=1
        )

        # 1. text
        server.enqueue(Reply(text="four", usage=(30, 7, 0, 0)))
        started = time.monotonic()
        result = await worker.run(AgentRequest(index=0, prompt="What is 2+2?", label="text"))
        out["text"] = {
            "value": result.value,
            "usage": list(result.usage.__dict__.values()),
            "model": result.model,
            "seconds": time.monotonic() - started,
            "cost": [e.get("cost_usd") for e in result.transcript if e.get("cost_usd")],
        }
        body = server.posts[-1]
        out["request"] = {
            "system": json.dumps(body.get("system"))[:20000],
            "tools": [t.get("name") for t in body.get("tools") or []],
            "model": body.get("model"),
        }

        # 2. a schema with an array root: wrapped for the program, unwrapped for the script
        server.enqueue(Reply(tool_input={"value": [1, 2, 3]}, tool_name="StructuredOutput"))
        schema = {"type": "array", "items": {"type": "integer"}}
        result = await worker.run(
            AgentRequest(index=1, prompt="three numbers", label="schema", schema=schema)
        )
        tool = next(t for t in server.posts[-1]["tools"] if t["name"] == "StructuredOutput")
        out["schema"] = {"value": result.value, "input_schema": tool["input_schema"]}

        # 3. a tool call the program runs itself, reported and transcribed
        server.enqueue(
            Reply(tool_input={"file_path": str(work / "notes.txt")}, tool_name="Read"),
            Reply(text="tangerine"),
        )
        result = await worker.run(AgentRequest(index=2, prompt="the word?", label="tool"))
        out["tool"] = {
            "value": result.value,
            "reported": [(u.tool, u.status) for u in seen],
            "results": [e["content"] for e in result.transcript if e["kind"] == "tool_result"],
        }

        # 4. a read outside the workspace: the program asks, the run's asker answers
        class Asker:
            def __init__(self) -> None:
                self.asked: list[Any] = []

            async def ask(self, request: Any) -> str:
                self.asked.append(request)
                return "once"

        worker.asker = asker = Asker()
        outside = home / "outside.txt"
        outside.write_text("plum\n")
        server.enqueue(
            Reply(tool_input={"file_path": str(outside)}, tool_name="Read"), Reply(text="plum")
        )
        seen.clear()
        result = await worker.run(AgentRequest(index=4, prompt="read it", label="ask"))
        out["ask"] = {
            "value": result.value,
            "asked": [(r.tool, r.decision.reason, r.decision.suggestion) for r in asker.asked],
            "reported": [(u.tool, u.status) for u in seen],
            "results": [e["content"] for e in result.transcript if e["kind"] == "tool_result"],
        }
        worker.asker = None

        # 5. bashCommandClamp: a PreToolUse hook of ours refuses a command outside it
        server.enqueue(Reply(tool_input={"command": "echo hi"}, tool_name="Bash"), Reply(text="no"))
        seen.clear()
        result = await worker.run(
            AgentRequest(
                index=5, prompt="say hi", label="clamp", bash_command_clamp=("Bash(git *)",)
            )
        )
        out["clamp"] = {
            "reported": [(u.tool, u.status) for u in seen],
            "results": [e["content"] for e in result.transcript if e["kind"] == "tool_result"],
        }

        # 6. cancelled while a Bash command runs: the program and the command are gone at once
        command = f"python3 -c 'import time; time.sleep({MARKER})'"
        server.enqueue(Reply(tool_input={"command": command}, tool_name="Bash"))
        found: dict[str, Any] = {}
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(worker.run, AgentRequest(index=3, prompt="wait", label="cancel"))
                deadline = time.monotonic() + 30
                while not sleepers() and time.monotonic() < deadline:
                    await trio.sleep(0.05)
                found["sleepers"] = sleepers()
                found["sid"] = [_sid(p) for p in found["sleepers"]]
                cancelled = time.monotonic()
                scope.cancel()
        found["seconds"] = time.monotonic() - cancelled
        await trio.sleep(0.2)
        found["left"] = sleepers()
        found["session_left"] = [p for sid in found["sid"] for p in session_members(sid)]
        out["cancel"] = found
        out["paths"] = sorted({r.path for r in server.requests})
        out["files"] = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


def _sid(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    return int(fields[3])


if __name__ == "__main__":
    result: dict[str, Any] = {"interfaces": loopback_up()}
    trio.run(main, result)
    print(json.dumps(result))
