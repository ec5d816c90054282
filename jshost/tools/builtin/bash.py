"""``Bash``: one shell command in the workspace, with a timeout, in a process group of its own.

The command runs as ``bash -c COMMAND`` (``/bin/sh -c`` where there is no bash) with the
workspace root as its working directory, stdin on ``/dev/null`` and no terminal (a new
session: nothing can open ``/dev/tty`` or wait for a key). Its environment is this process's
without the model service's credentials (``jshost.config.CREDENTIAL_VARS``: a command the
model runs could print them into its transcript, which is stored), plus
:attr:`Workspace.env`. stdout and stderr share one pipe, so the model sees them interleaved
in the order they were written. Each call is a fresh shell: ``cd`` and ``export`` do not
carry over.

When the command ends, times out, or the call is cancelled, the whole process group is killed
(:mod:`._proc`): a background job it started does not outlive it, nor does one that left the
group (``setsid``, a daemon), with the environment it inherited (the marker) or without it
(jshost is its subreaper: :mod:`jshost.tools.reaper`). Output is kept as its first
and last 15,000 bytes, with a note saying how much of the middle was dropped.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

import trio

from ..base import Tool, ToolInputError, ToolKind, ToolOutput, ToolSpec, Workspace
from . import _args
from ._caps import BASH_MAX_BYTES, HeadTail
from ._proc import run_in_group, tool_env

__all__ = ["DEFAULT_TIMEOUT_MS", "MAX_COMMAND_CHARS", "MAX_TIMEOUT_MS", "BashTool"]

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
MAX_COMMAND_CHARS = 100_000

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "The shell command to run."},
        "timeout": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TIMEOUT_MS,
            "description": f"Milliseconds before the command is killed (default "
            f"{DEFAULT_TIMEOUT_MS:,}, at most {MAX_TIMEOUT_MS:,}).",
        },
        "description": {
            "type": "string",
            "description": "A few words saying what the command does, shown to the user.",
        },
    },
    "required": ["command"],
    "additionalProperties": False,
}

_DESCRIPTION = (
    "Run a shell command (bash) in the workspace root and get its combined stdout and stderr "
    "and its exit code. Each call starts a fresh shell with no terminal and no input; "
    "interactive programs and background jobs do not work (the command's process group is "
    f"killed when it exits). Output over {BASH_MAX_BYTES:,} bytes keeps its start and end. "
    "Prefer Read, Grep and Glob for looking at files."
)


def _shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def _headline(tool_input: dict[str, Any]) -> str:
    described = tool_input.get("description")
    if isinstance(described, str) and described.strip():
        text = described.strip()
    else:
        text = str(tool_input.get("command", "")).strip()
    text = text.splitlines()[0] if text else ""
    return text if len(text) <= 80 else text[:79] + "…"


class BashTool(Tool):
    """``Bash {command, timeout?, description?}``."""

    spec: ClassVar[ToolSpec] = ToolSpec("Bash", _DESCRIPTION, _SCHEMA)
    kind: ClassVar[ToolKind] = "exec"

    def command(self, tool_input: dict[str, Any]) -> str | None:
        command = tool_input.get("command") if isinstance(tool_input, dict) else None
        return command if isinstance(command, str) else None

    def targets(self, tool_input: dict[str, Any], workspace: Workspace) -> list[Path]:
        _args.check_fields("Bash", tool_input, _SCHEMA)
        return []

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        _args.check_fields("Bash", tool_input, _SCHEMA)
        command = _args.text(tool_input, "command")
        if not command or not command.strip():
            raise ToolInputError("command must be a non-empty shell command")
        if len(command) > MAX_COMMAND_CHARS:
            raise ToolInputError(f"command is too long ({len(command):,} characters)")
        if "\0" in command:
            raise ToolInputError("command contains a NUL character")
        timeout_ms = _args.integer(
            tool_input, "timeout", default=DEFAULT_TIMEOUT_MS, low=1, high=MAX_TIMEOUT_MS
        )
        _args.text(tool_input, "description")
        assert timeout_ms is not None
        output = HeadTail(BASH_MAX_BYTES)
        env = tool_env()
        env.update(workspace.env)
        started = time.monotonic()
        status: int | None = None
        try:
            with trio.move_on_after(timeout_ms / 1000) as scope:
                status = await run_in_group(
                    [_shell(), "-c", command],
                    cwd=workspace.root,
                    env=env,
                    on_stdout=output.feed,
                    # what leaves the process group (`setsid`, a daemon) is found by this
                    marker=secrets.token_hex(8),
                )
        except OSError as exc:  # no shell, or the workspace directory is gone
            return ToolOutput(
                f"cannot start the command: {exc.strerror or exc}",
                is_error=True,
                summary=f"Bash: {_headline(tool_input)} (did not start)",
            )
        elapsed = time.monotonic() - started
        text, cut = output.text()
        text = text.rstrip("\n")
        head = _headline(tool_input)
        if scope.cancelled_caught:
            note = (
                f"[timed out after {timeout_ms / 1000:g} s: the command and every process it "
                "started were killed]"
            )
            return ToolOutput(
                f"{text}\n{note}" if text else note,
                is_error=True,
                summary=f"Bash: {head} (timed out after {timeout_ms / 1000:g} s)",
                truncated=cut,
            )
        code = status if status is not None else -1
        ending = f"[killed by signal {-code}]" if code < 0 else f"[exit code {code}]"
        body = text if text else "(no output)"
        return ToolOutput(
            f"{body}\n{ending}",
            is_error=code != 0,
            summary=f"Bash: {head} (exit {code}, {elapsed:.1f} s)",
            truncated=cut,
        )
