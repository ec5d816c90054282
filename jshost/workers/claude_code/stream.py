"""What one attempt of an agent saw in the program's messages: usage, tool calls, transcript.

Plain bookkeeping over the SDK's message types (read by attribute, so this module imports no
SDK): the worker feeds every message to :meth:`Attempt.see` and reads the outcome.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from ...records import ToolUse, Usage
from ...text import clip
from ..base import report_tool, report_transcript, report_usage

__all__ = ["RESULT_CHARS", "Attempt", "usage_of"]

#: how much of a tool result the transcript keeps
RESULT_CHARS = 2000
_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
#: the tool Claude Code adds for a schema: its call is the answer, not a tool use to report
STRUCTURED_TOOL = "StructuredOutput"


def usage_of(raw: Any) -> Usage:
    """A Messages API usage dict as jshost's ``Usage`` (missing counts are 0)."""
    if not isinstance(raw, dict):
        return Usage()
    values = [raw.get(k) for k in _USAGE_KEYS]
    return Usage(*(v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in values))


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return "" if content is None else str(content)


def _summary(tool: str, tool_input: dict[str, Any]) -> str:
    for key in ("command", "file_path", "pattern", "path", "url"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return clip(f"{tool} {value}", 200)
    return tool


class Attempt:
    """One run of the program for one agent."""

    def __init__(self, base: Usage | None = None) -> None:
        self.base = base or Usage()  # what earlier attempts of the agent cost
        self.watchdog: Any = None  # the attempt's stall watchdog (set by the worker)
        self.transcript: list[dict[str, Any]] = []
        report_transcript(self.transcript)  # this attempt's, kept if the agent is stopped
        self.done = Usage()  # messages finished in this attempt
        self.current = Usage()  # the message being streamed
        self.model = ""
        self.result: Any = None  # the ResultMessage
        self.stderr: deque[str] = deque(maxlen=20)
        self._calls: dict[str, tuple[str, dict[str, Any], float]] = {}
        self._denied: set[str] = set()
        #: the program's own name for why its last reply failed (an assistant message's
        #: ``error``: ``authentication_failed``, ``server_error``, …), else None
        self.api_error: str | None = None
        #: called with the program's first ``api_retry`` frame of the attempt (its data): the
        #: program retries a failing API on its own, for minutes, and says nothing else meanwhile
        self.on_retry: Any = None
        self.retries = 0
        #: the program's retries of a request that got no response at all (no connection)
        self.unconnected = 0

    @property
    def usage(self) -> Usage:
        """What this attempt has cost so far (the result's count once it came)."""
        if self.result is not None and isinstance(getattr(self.result, "usage", None), dict):
            return usage_of(self.result.usage)
        return self.done + self.current

    @property
    def tools_running(self) -> bool:
        """Whether a tool call has started and not yet come back."""
        return any(name != STRUCTURED_TOOL for name, _, _ in self._calls.values())

    def denied(self, tool_use_id: str | None) -> None:
        """The permission callback refused this call."""
        if tool_use_id:
            self._denied.add(tool_use_id)

    def see(self, message: Any) -> None:
        kind = type(message).__name__
        if kind == "StreamEvent":
            self._event(message.event)
        elif kind == "AssistantMessage":
            self._assistant(message)
        elif kind == "UserMessage":
            self._user(message)
        elif kind == "SystemMessage" and message.subtype == "api_retry":
            data = message.data if isinstance(message.data, dict) else {}
            self.retries += 1
            self.unconnected += data.get("error_status") is None
            if self.retries == 1 and self.on_retry is not None:
                self.on_retry(data)
        elif kind == "SystemMessage" and message.subtype == "permission_denied":
            data = message.data if isinstance(message.data, dict) else {}
            if isinstance(data.get("tool_use_id"), str):
                self._denied.add(data["tool_use_id"])
        elif kind == "ResultMessage":
            self.result = message
            for denial in getattr(message, "permission_denials", None) or []:
                if isinstance(denial, dict) and isinstance(denial.get("tool_use_id"), str):
                    self._denied.add(denial["tool_use_id"])

    def _event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.model = str(message.get("model") or self.model)
            self.current = usage_of(message.get("usage"))
        elif kind == "message_delta":
            # message_delta counts are running totals of the message: they replace.
            delta = usage_of(event.get("usage"))
            self.current = Usage(
                max(delta.input_tokens, self.current.input_tokens),
                delta.output_tokens,
                max(delta.cache_creation_input_tokens, self.current.cache_creation_input_tokens),
                max(delta.cache_read_input_tokens, self.current.cache_read_input_tokens),
            )
        elif kind == "message_stop":
            self.done, self.current = self.done + self.current, Usage()
        else:
            return
        report_usage(self.base + self.done + self.current)

    def _assistant(self, message: Any) -> None:
        if message.model and message.model != "<synthetic>":
            self.model = message.model
        if getattr(message, "error", None):
            self.api_error = str(message.error)
        for block in message.content or []:
            name = type(block).__name__
            if name == "TextBlock" and block.text:
                self.transcript.append({"kind": "text", "text": block.text})
            elif name == "ToolUseBlock":
                tool_input = block.input if isinstance(block.input, dict) else {}
                self.transcript.append(
                    {"kind": "tool_use", "id": block.id, "tool": block.name, "input": tool_input}
                )
                self._calls[block.id] = (block.name, tool_input, time.monotonic())

    def _user(self, message: Any) -> None:
        content = message.content if isinstance(message.content, list) else []
        for block in content:
            if type(block).__name__ != "ToolResultBlock":
                continue
            text = _result_text(block.content)
            is_error = bool(block.is_error)
            self.transcript.append(
                {
                    "kind": "tool_result",
                    "id": block.tool_use_id,
                    "content": clip(text, RESULT_CHARS),
                    "is_error": is_error,
                }
            )
            call = self._calls.pop(block.tool_use_id, None)
            if call is None or call[0] == STRUCTURED_TOOL:
                continue
            tool, tool_input, started = call
            # The program's own denials say so in the result text ("Permission to use Bash
            # has been denied…") and in permission_denials, which come only with the result.
            denied = block.tool_use_id in self._denied or (
                is_error and text.startswith("Permission to use ")
            )
            status = "denied" if denied else "error" if is_error else "ok"
            summary = _summary(tool, tool_input)
            if status != "ok":
                first = text.strip().splitlines()[0] if text.strip() else summary
                summary = f"{status}: {clip(first, 200)}"
            report_tool(
                ToolUse(
                    tool=tool,
                    input=tool_input,
                    status=status,
                    summary=summary,
                    elapsed=time.monotonic() - started,
                )
            )
