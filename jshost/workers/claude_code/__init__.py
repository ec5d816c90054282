"""The ``claude-code`` worker: every ``agent()`` call is one Claude Code subagent.

Each agent is one ``claude_agent_sdk.query()``: the SDK runs the Claude Code program as a
subprocess and speaks its stream-json protocol. The agent gets Claude Code's own tools and
system prompt, with the workflow rules (``prompts.py``) appended; its permission rules, mode,
MCP servers, model, effort and working directory come from jshost (docs/claude-code-worker.md).

Importing this package imports nothing of the SDK (~0.6 s): ``program`` finds the program
without it, and ``ClaudeCodeWorker`` (``worker``) is imported on first use.

How an agent runs:

- **Attempts.** A program that dies, a stream that stalls (``stallMs``, default 180 s) or
  breaks, a retryable API error, or a "success" without the structured output a schema asked
  for costs an attempt; up to 6 attempts (the reference's ladder), then the agent fails with
  the last reason (and the program's last stderr lines). A 4xx API error fails at once.
- **Schemas** go to the program as its JSON-schema output format; a root that is not an
  object is wrapped as ``{"value": …}`` (the API refuses other tool input roots), and the
  value the program returns is validated again here, off the run loop.
- **Permissions.** A call the rules neither allow nor deny reaches ``can_use_tool``: the
  run's asker (the interactive prompt) answers; with none, the call is denied.
- **Usage** streams from the program's partial messages (live counts) and is taken from its
  final result; the program's own dollar figure goes into the transcript as a note.
- **Cancellation** kills the program and everything it started at once (``transport``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .worker import ClaudeCodeWorker

__all__ = ["ClaudeCodeWorker"]


def __getattr__(name: str) -> Any:
    if name == "ClaudeCodeWorker":
        from .worker import ClaudeCodeWorker

        return ClaudeCodeWorker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
