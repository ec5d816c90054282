#!/usr/bin/env python3
"""A fake ``claude`` program for tests: it speaks Claude Code's stream-json protocol.

The SDK runs it as its ``cli_path``. It answers the ``initialize`` control request, reads the
user message and plays a scripted agent: stream events (with ``--include-partial-messages``),
assistant and user messages, a ``can_use_tool`` control request, the final ``result``, and the
``session_state_changed`` frames. Every frame carries the keys the real program's frames carry
(tests/fixtures/claude_code/*.stdout.jsonl, recorded from Claude Code 2.1.337;
tests/test_claude_code.py::test_fake_frames_have_the_real_keys keeps them in step).

What it does comes from a directive in the prompt, ``[[fake {json}]]`` (default: answer
``echo: <prompt>``). Keys:

- ``text``: the answer's text; ``usage``: ``[input, output]`` tokens; ``cost``: dollars.
- ``output``: the structured output to give when a schema is asked for (default: a value
  made up from the schema); ``no_output``: report success without it.
- ``tool``: ``[name, input, result text]`` — a tool call and its result before the answer
  (``tool_sleep`` seconds apart);
  ``ask``: ask ``can_use_tool`` about that call first (denied: the result is an error).
- PreToolUse hooks the SDK registered in ``initialize`` are called for the tool call
  (``hook_callback``); a hook's deny makes the result an error, as the real program does.
- ``api_error``: an HTTP status: the answer is an API error result.
- ``no_login``: answer as the real program does without credentials; ``unreachable``: as it
  does when the API refused every connection (``retries`` ``api_retry`` frames first, 2 by
  default, ``retry_sleep`` seconds apart).
- ``die``: exit with this code mid-stream, after writing ``stderr`` lines;
  ``die_times``: die only on the first N runs for this prompt (state in ``$FAKE_CLAUDE_STATE``).
- ``sleep``: seconds to wait before answering; ``child``: start a ``sleep 600`` child first and
  write its pid to this file (to check nothing outlives a cancellation).
- ``max_turns``: end with ``error_max_turns``; ``structured_retries``: end with
  ``error_max_structured_output_retries``.

- ``write``: ``{relative path: text}`` — files to write in its working directory first (as an
  agent's Write tool would).

It appends its argv (one JSON line per run) to ``$FAKE_CLAUDE_ARGV`` when that is set, and its
working directory as the last item (``--fake-cwd=…``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

VERSION = "2.1.337"
SESSION = str(uuid.uuid4())
_DIRECTIVE = re.compile(r"\[\[fake (\{.*?\})\]\]", re.DOTALL)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def out(frame: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(frame) + "\n")
    sys.stdout.flush()


def read() -> dict[str, Any] | None:
    line = sys.stdin.readline()
    if not line:
        return None
    return json.loads(line)


def flag(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
    return None


def system(subtype: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "system",
        "subtype": subtype,
        **fields,
        "session_id": SESSION,
        "uuid": str(uuid.uuid4()),
        "written_at": now(),
    }


def state(name: str) -> dict[str, Any]:
    return system("session_state_changed", state=name, sdk_host_only=True)


def init(argv: list[str], cwd: str) -> dict[str, Any]:
    tools = [t for t in (flag(argv, "--tools") or "").split(",") if t]
    if flag(argv, "--json-schema"):
        tools.append("StructuredOutput")
    return system(
        "init",
        cwd=cwd,
        tools=tools,
        mcp_servers=[],
        model=flag(argv, "--model") or "claude-sonnet-5-5",
        permissionMode=flag(argv, "--permission-mode") or "default",
        slash_commands=[],
        terminal_slash_commands=[],
        apiKeySource="ANTHROPIC_API_KEY",
        claude_code_version=VERSION,
        output_style="default",
        agents=[],
        skills=[],
        plugins=[],
        analytics_disabled=True,
        product_feedback_disabled=True,
        capabilities=[],
        memory_paths={},
        additional_directories=[],
        original_cwd=cwd,
        fast_mode_state="off",
        fast_mode_disabled_reason="sdk_opt_in_required",
        per_turn_effort_active=False,
        sandbox_enabled=False,
        served_by_anthropic=False,
        ultrathink_available=False,
        ultrathink_typed_raises=False,
        view_mode="default",
        messaging_socket_path=None,
    )


def event(message_id: str, ev: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "stream_event",
        "event": ev,
        "session_id": SESSION,
        "parent_tool_use_id": None,
        "uuid": str(uuid.uuid4()),
        "api_message_id": message_id,
        **extra,
    }


def usage(n_in: int, n_out: int) -> dict[str, Any]:
    return {
        "input_tokens": n_in,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": n_out,
    }


class Player:
    def __init__(self, argv: list[str], partial: bool, model: str) -> None:
        self.argv = argv
        self.partial = partial
        self.model = model
        self.turns = 0
        self.n_in = 0
        self.n_out = 0

    def message(self, content: list[dict[str, Any]], n_in: int, n_out: int) -> None:
        """One assistant message: its stream events, then the assistant frame."""
        self.turns += 1
        self.n_in += n_in
        self.n_out += n_out
        mid = f"msg_fake_{self.turns:04d}"
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        if self.partial:
            start = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage(n_in, 1),
            }
            out(
                event(
                    mid,
                    {"type": "message_start", "message": start},
                    ttft_ms=5,
                    thinking_display="summarized",
                )
            )
            for i, block in enumerate(content):
                first = dict(block, text="") if block["type"] == "text" else dict(block, input={})
                out(event(mid, {"type": "content_block_start", "index": i, "content_block": first}))
                if block["type"] == "text":
                    delta = {"type": "text_delta", "text": block["text"]}
                else:
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                out(event(mid, {"type": "content_block_delta", "index": i, "delta": delta}))
        out(
            {
                "type": "assistant",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": content,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage(n_in, 1),
                    "context_management": None,
                },
                "parent_tool_use_id": None,
                "session_id": SESSION,
                "uuid": str(uuid.uuid4()),
                "timestamp": now(),
                "request_id": f"req_fake_{self.turns}",
            }
        )
        if self.partial:
            for i in range(len(content)):
                out(event(mid, {"type": "content_block_stop", "index": i}))
            delta = {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": usage(n_in, n_out),
            }
            out(event(mid, delta))
            out(event(mid, {"type": "message_stop"}))

    def tool_result(self, call_id: str, text: str, is_error: bool) -> None:
        out(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": call_id,
                            "type": "tool_result",
                            "content": text,
                            **({"is_error": True} if is_error else {}),
                        }
                    ],
                },
                "parent_tool_use_id": None,
                "session_id": SESSION,
                "uuid": str(uuid.uuid4()),
                "timestamp": now(),
                "tool_use_result": text if is_error else {"type": "text", "text": text},
                "tool_result_meta": {},
            }
        )

    def result(self, **fields: Any) -> dict[str, Any]:
        frame = {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "api_error_status": None,
            "duration_ms": 10,
            "duration_api_ms": 5,
            "num_turns": self.turns,
            "result": "",
            "stop_reason": "end_turn",
            "session_id": SESSION,
            "total_cost_usd": 0.0,
            "usage": usage(self.n_in, self.n_out),
            "modelUsage": {},
            "permission_denials": [],
            "terminal_reason": "completed",
            "fast_mode_state": "off",
            "fast_mode_disabled_reason": "sdk_opt_in_required",
            "subagent_stats": {},
            "safety_stops": 0,
            "uuid": str(uuid.uuid4()),
            "begun_message_ids": [],
            "queued_turn_count": 0,
            "result_index": 0,
            "model_usage_since_last_result": {},
            "first_content_frame_ms": 5,
            "time_to_request_ms": 1,
            "ttft_ms": 5,
            "ttft_stream_ms": 5,
            "written_at": now(),
        }
        if fields.get("is_error") and fields.get("api_error_status"):
            # A failed request has no timings to the first content.
            for key in (
                "first_content_frame_ms",
                "time_to_request_ms",
                "ttft_ms",
                "ttft_stream_ms",
            ):
                del frame[key]
        frame.update(fields)
        return frame


def made_up(schema: Any) -> Any:
    """A small value that validates against the simple schemas tests use."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: made_up(props[k]) for k in schema.get("required", list(props))}
    if kind == "array":
        n = schema.get("minItems", 1)
        return [made_up(schema.get("items", {"type": "string"})) for _ in range(n)]
    if kind in ("integer", "number"):
        return schema.get("minimum", 4)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "fake"


def times_seen(key: str) -> int:
    """How often this prompt was run before (state in $FAKE_CLAUDE_STATE)."""
    where = os.environ.get("FAKE_CLAUDE_STATE")
    if not where:
        return 0
    path = Path(where) / hashlib.sha256(key.encode()).hexdigest()[:16]
    n = int(path.read_text()) if path.exists() else 0
    path.write_text(str(n + 1))
    return n


def main() -> int:
    argv = sys.argv[1:]
    if os.environ.get("FAKE_CLAUDE_ARGV"):
        with open(os.environ["FAKE_CLAUDE_ARGV"], "a") as f:
            f.write(json.dumps([*argv, f"--fake-cwd={os.getcwd()}"]) + "\n")
    request = read()
    if request is None or request.get("type") != "control_request":
        print("fake claude: expected the initialize control request", file=sys.stderr)
        return 1
    hooks = (request.get("request") or {}).get("hooks") or {}
    response = {"commands": [], "models": [], "account": {}, "pid": os.getpid()}
    out(
        {
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": request["request_id"],
                "response": response,
                "pending_permission_requests": [],
                "pending_user_dialog_requests": [],
            },
        }
    )
    user = read()
    if user is None:
        return 0
    prompt = user["message"]["content"]
    prompt = prompt if isinstance(prompt, str) else json.dumps(prompt)
    m = _DIRECTIVE.search(prompt)
    script: dict[str, Any] = json.loads(m.group(1)) if m else {}
    model = flag(argv, "--model") or "claude-sonnet-5-5"
    player = Player(argv, "--include-partial-messages" in argv, model)
    out(state("running"))
    out(init(argv, os.getcwd()))
    out(system("status", status="requesting"))

    for name, text in (script.get("write") or {}).items():
        target = Path(name)
        if target.is_absolute() or ".." in target.parts:
            print("fake claude: writes stay in the working directory", file=sys.stderr)
            return 2
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if script.get("child"):
        child = subprocess.Popen(["sleep", "600"])
        Path(script["child"]).write_text(str(child.pid))
    if script.get("sleep"):
        time.sleep(float(script["sleep"]))
    n_in, n_out = script.get("usage", [30, 7])

    if "die" in script and times_seen(prompt) < script.get("die_times", 1_000_000):
        player.message([{"type": "text", "text": "starting"}], n_in, n_out)
        for line in script.get("stderr", ["fake claude: something broke"]):
            print(line, file=sys.stderr, flush=True)
        return int(script["die"])

    if script.get("no_login") or script.get("unreachable"):
        # As the real program (2.1.337) answers with no credentials, or when every retry of
        # a refused connection failed: a synthetic assistant message with an ``error``, and a
        # "success" result with is_error and no HTTP status.
        if script.get("no_login"):
            text, error, api_error = (
                "Not logged in · Please run /login",
                "authentication_failed",
                "no_credential",
            )
        else:
            text = (
                "API Error: Connection refused — a firewall or proxy may be blocking it "
                "(ECONNREFUSED)"
            )
            error, api_error = "server_error", "connection_failed"
            tries = int(script.get("retries", 2))
            for attempt in range(1, tries + 1):
                out(
                    system(
                        "api_retry",
                        attempt=attempt,
                        max_retries=tries,
                        retry_delay_ms=10,
                        error_status=None,
                        error="unknown",
                    )
                )
                time.sleep(float(script.get("retry_sleep", 0)))
        out(
            {
                "type": "assistant",
                "message": {
                    "diagnostics": None,
                    "id": str(uuid.uuid4()),
                    "container": None,
                    "model": "<synthetic>",
                    "role": "assistant",
                    "stop_details": None,
                    "stop_reason": "stop_sequence",
                    "stop_sequence": "",
                    "type": "message",
                    "usage": usage(0, 0),
                    "content": [{"type": "text", "text": text}],
                    "context_management": None,
                },
                "parent_tool_use_id": None,
                "session_id": SESSION,
                "uuid": str(uuid.uuid4()),
                "timestamp": now(),
                "error": error,
                "is_api_error_message": True,
                "api_error": api_error,
            }
        )
        out(
            player.result(
                is_error=True,
                result=text,
                terminal_reason="api_error",
                stop_reason="stop_sequence",
                api_error=api_error,
                duration_api_ms=0,
            )
        )
        out(state("idle"))
        while read() is not None:
            pass
        return 0

    if "api_error" in script:
        status = int(script["api_error"])
        text = f"API Error: {status} scripted"
        player.turns += 1
        out(
            {
                "type": "assistant",
                "message": {
                    "id": str(uuid.uuid4()),
                    "type": "message",
                    "role": "assistant",
                    "model": "<synthetic>",
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "stop_sequence",
                    "stop_sequence": "",
                    "usage": usage(0, 0),
                    "context_management": None,
                    "container": None,
                    "diagnostics": None,
                    "stop_details": None,
                },
                "parent_tool_use_id": None,
                "session_id": SESSION,
                "uuid": str(uuid.uuid4()),
                "timestamp": now(),
                "request_id": None,
                "error": "unknown",
                "api_error_status": status,
                "api_error_type": "invalid_request_error",
                "is_api_error_message": True,
            }
        )
        out(
            player.result(
                is_error=True,
                api_error_status=status,
                api_error_type="invalid_request_error",
                result=text,
                terminal_reason="api_error",
                stop_reason="stop_sequence",
            )
        )
        out(state("idle"))
        while read() is not None:
            pass
        return 0

    hook_denied = False
    if "tool" in script:
        name, tool_input, result_text = script["tool"]
        call_id = "toolu_fake_0001"
        player.message(
            [{"type": "tool_use", "id": call_id, "name": name, "input": tool_input}], n_in, n_out
        )
        hooked = [
            m
            for m in (hooks.get("PreToolUse") or [])
            if m.get("matcher") in (None, name) or name in str(m.get("matcher")).split("|")
        ]
        for matcher in hooked:
            for callback_id in matcher.get("hookCallbackIds", []):
                out(
                    {
                        "type": "control_request",
                        "request_id": str(uuid.uuid4()),
                        "flush": True,
                        "request": {
                            "subtype": "hook_callback",
                            "callback_id": callback_id,
                            "input": {
                                "session_id": SESSION,
                                "transcript_path": "",
                                "cwd": os.getcwd(),
                                "permission_mode": flag(argv, "--permission-mode") or "default",
                                "hook_event_name": "PreToolUse",
                                "tool_name": name,
                                "tool_input": tool_input,
                                "tool_use_id": call_id,
                                "effort": {"level": "medium"},
                                "prompt_id": str(uuid.uuid4()),
                            },
                            "tool_use_id": call_id,
                        },
                    }
                )
                answer = (read() or {}).get("response", {}).get("response") or {}
                said = answer.get("hookSpecificOutput") or {}
                if said.get("permissionDecision") == "deny":
                    reason = said.get("permissionDecisionReason", "")
                    player.tool_result(call_id, f"PreToolUse:{name} hook error: {reason}", True)
                    script = {**script, "ask": False}
                    hook_denied = True
        denied = False
        if hook_denied:
            pass
        elif script.get("ask"):
            rid = str(uuid.uuid4())
            out(
                {
                    "type": "control_request",
                    "request_id": rid,
                    "request": {
                        "subtype": "can_use_tool",
                        "tool_name": name,
                        "display_name": name,
                        "input": tool_input,
                        "description": name,
                        "permission_suggestions": [
                            {
                                "type": "addRules",
                                "rules": [{"toolName": name, "ruleContent": "//etc/**"}],
                                "behavior": "allow",
                                "destination": "session",
                            }
                        ],
                        "decision_reason": "Path is outside allowed working directories",
                        "decision_reason_type": "workingDir",
                        "tool_use_id": call_id,
                    },
                }
            )
            answer = read()
            inner = (answer or {}).get("response", {}).get("response", {})
            denied = inner.get("behavior") != "allow"
            if denied:
                result_text = inner.get("message", "denied")
        time.sleep(float(script.get("tool_sleep", 0)))
        if not hook_denied:
            player.tool_result(call_id, result_text, denied)

    schema_text = flag(argv, "--json-schema")
    fields: dict[str, Any] = {}
    if script.get("max_turns"):
        fields = {"subtype": "error_max_turns", "is_error": True, "errors": ["Reached max turns"]}
    elif script.get("structured_retries"):
        fields = {
            "subtype": "error_max_structured_output_retries",
            "is_error": True,
            "errors": ["Output does not match required schema: root: must be object"],
        }
    elif schema_text is not None:
        if script.get("no_output"):
            player.message([{"type": "text", "text": "here it is in words"}], n_in, n_out)
        else:
            value = script["output"] if "output" in script else made_up(json.loads(schema_text))
            call_id = "toolu_fake_so"
            player.message(
                [{"type": "tool_use", "id": call_id, "name": "StructuredOutput", "input": value}],
                n_in,
                n_out,
            )
            player.tool_result(call_id, "Structured output provided successfully", False)
            fields = {"structured_output": value, "stop_reason": "tool_use"}
    else:
        text = script.get("text", "echo: " + _DIRECTIVE.sub("", prompt).strip())
        player.message([{"type": "text", "text": text}], n_in, n_out)
        fields = {"result": text}
    out(player.result(total_cost_usd=script.get("cost", 0.00013), **fields))
    out(state("idle"))
    # The SDK closes stdin when it has the result; the real program exits then.
    while read() is not None:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
