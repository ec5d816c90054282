"""What a run's agents may use, and the one path every tool call takes.

A :class:`Toolbox` is made once per run by the pipeline (``jshost/_api.py``): the built-in
tools, the MCP servers' tools, the permission policy, who answers an ``ask`` (the interactive
view's :class:`~jshost.permissions.Asker`, or nobody) and the :class:`Workspace`. A worker
that supports tools opens it for the run's length (MCP servers start then) and asks it for an
:class:`AgentTools` per agent.

:meth:`AgentTools.call` is the only way a model's ``tool_use`` reaches a tool: the input is
checked against the tool's schema, the paths it touches are resolved (symlinks followed) and
the command it runs is read, the policy decides (deny, then ask, then allow), a person is asked
when the policy says so (nobody to ask: deny), and only then does the tool run. Every step is
reported (``report``, the engine's ``report_tool``) and written to the agent's transcript.

This module imports no worker: the worker hands ``report`` in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import trio
from jsonschema import Draft202012Validator

from ..permissions import mode_for_type, unanswered
from ..permissions.decision import Asker, Decision, PermissionRequest
from ..records import ToolUse
from . import DEFAULT_MAX_TURNS
from .base import Tool, ToolInputError, ToolOutput, ToolSpec, Workspace
from .builtin import allow_paths
from .reaper import REAPER

__all__ = [
    "DEFAULT_MAX_TURNS",
    "MAX_PARALLEL_CALLS",
    "TRANSCRIPT_RESULT_CHARS",
    "AgentTools",
    "McpHubLike",
    "PolicyLike",
    "Toolbox",
]

#: how much of a tool result the transcript keeps (the model gets the tool's own cap)
TRANSCRIPT_RESULT_CHARS = 2000
#: calls of one agent that run at once (Claude Code's default tool-use concurrency); the rest of
#: a turn's calls wait their turn, so a reply with thousands of calls cannot start thousands of
#: processes (a Grep is a ripgrep process, and Grep needs no rule)
MAX_PARALLEL_CALLS = 10
_MAX_INPUT_PROBLEMS = 10


class PolicyLike(Protocol):
    """What the loop needs of ``jshost.permissions.Policy``."""

    def decide(
        self,
        tool_name: str,
        tool_input: dict[str, Any],
        *,
        kind: str,
        paths: Sequence[Path],
        command: str | None,
        workspace: Workspace,
    ) -> Decision: ...

    def for_agent(
        self,
        disallowed: Sequence[str] = (),
        clamp: Sequence[str] = (),
        tools: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> PolicyLike: ...

    def allow_for_run(self, rule: str) -> Any: ...


class McpHubLike(Protocol):
    """What the toolbox needs of ``jshost.tools.mcp_servers.McpHub``: an async context
    manager whose tools exist while it is entered."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: object) -> Any: ...

    def tools(self) -> list[Tool]: ...


class Toolbox:
    """One run's tools, rules, asker and workspace.

    Args:
        tools: the built-in tools (``jshost.tools.builtin.builtin_tools()``).
        policy: the run's permission policy.
        workspace: where agents act (their working directory unless an agent has its own).
        asker: who answers calls that must ask; None: ``ask`` means deny.
        mcp: the MCP servers, entered by :meth:`open`; their tools join the built-in ones.
        max_turns: model requests an agent may make before it fails (``--max-turns``).
        home: the home directory whose ``~/.claude`` settings and agents apply (None: the
            user's own).
        notes: lines to tell the user (a project's MCP servers left out, and why).
    """

    def __init__(
        self,
        tools: Iterable[Tool],
        policy: PolicyLike,
        workspace: Workspace,
        *,
        asker: Asker | None = None,
        mcp: McpHubLike | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        home: Path | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.builtin = list(tools)
        self.policy = policy
        self.workspace = workspace
        self.asker = asker
        self.mcp = mcp
        self.max_turns = max_turns
        #: the user's home the settings were read from (None: the real one)
        self.home = home
        #: lines for the user about how the toolbox was made (MCP servers left out)
        self.notes = list(notes)
        self._mcp_tools: list[Tool] = []
        self._stack: contextlib.AsyncExitStack | None = None
        self._validators: dict[str, Draft202012Validator] = {}

    @property
    def tools(self) -> list[Tool]:
        """Every tool of the run: built-in first, then the MCP servers' (once opened)."""
        return [*self.builtin, *self._mcp_tools]

    async def open(self) -> None:
        """Start the MCP servers (once per run); their tools are offered from now on.

        From here to :meth:`close`, jshost is a child subreaper (:mod:`jshost.tools.reaper`):
        what a tool's processes leave behind is handed to it, and swept.
        """
        if self._stack is not None:
            return
        stack = contextlib.AsyncExitStack()
        REAPER.hold()
        stack.push_async_callback(REAPER.release)  # after the servers stop: the final sweep
        self._stack = stack
        if self.mcp is None:
            return
        try:
            await stack.enter_async_context(self.mcp)  # type: ignore[arg-type]
        except BaseException:
            self._stack = None
            await stack.aclose()
            raise
        self._mcp_tools = list(self.mcp.tools())

    async def close(self) -> None:
        """Stop the MCP servers, then kill what the run's tools left behind."""
        stack, self._stack = self._stack, None
        self._mcp_tools = []
        if stack is not None:
            await stack.aclose()

    def validator(self, tool: Tool) -> Draft202012Validator:
        found = self._validators.get(tool.name)
        if found is None:
            found = self._validators[tool.name] = Draft202012Validator(tool.spec.input_schema)
        return found

    def for_agent(
        self,
        *,
        index: int,
        label: str,
        disallowed_tools: Sequence[str] = (),
        bash_command_clamp: Sequence[str] = (),
        agent_definition: Any = None,
        cwd: str | Path | None = None,
        report: Callable[[ToolUse], None] | None = None,
    ) -> AgentTools:
        """The tools of one agent: the run's, less what its options and its type take away.

        ``agent_definition`` is the agent type's definition (``tools`` allowlist,
        ``disallowed_tools``, ``permission_mode``); ``cwd`` its own working directory (a
        worktree), which becomes its workspace root.
        """
        listed = getattr(agent_definition, "tools", None)
        allow = _names(listed)
        denied = [*disallowed_tools, *(getattr(agent_definition, "disallowed_tools", None) or ())]
        mode = mode_for_type(
            getattr(self.policy, "mode", "default"),
            getattr(agent_definition, "permission_mode", None),
            getattr(agent_definition, "scope", "project"),
        )
        policy = self.policy.for_agent(
            disallowed=tuple(denied),
            clamp=tuple(bash_command_clamp),
            tools=None if listed is None else tuple(listed),
            mode=mode,
        )
        workspace = self.workspace
        if cwd is not None and Path(cwd).resolve() != workspace.root:
            from ..worktree_paths import hidden_worktrees

            own = Path(cwd).resolve()
            workspace = dataclasses.replace(
                workspace,
                root=own,
                project_root=workspace.project_root or workspace.root,
                hidden=hidden_worktrees(own, workspace.root),
            )
        offered = [
            t
            for t in self.tools
            if _in_allowlist(t.name, allow) and not _denied_outright(policy, t, workspace)
        ]
        return AgentTools(
            self,
            policy=policy,
            workspace=workspace,
            tools=offered,
            index=index,
            label=label,
            report=report,
        )


class AgentTools:
    """One agent's tools: what the model is offered and the checked way to call them.

    ``transcript`` collects the agent's tool calls, results (cut short), permission decisions
    and notes, in order; the worker adds the model's text with :meth:`text`.
    """

    def __init__(
        self,
        toolbox: Toolbox,
        *,
        policy: PolicyLike,
        workspace: Workspace,
        tools: list[Tool],
        index: int,
        label: str,
        report: Callable[[ToolUse], None] | None,
    ) -> None:
        self.toolbox = toolbox
        self.policy = policy
        self.workspace = workspace
        self.by_name = {t.name: t for t in tools}
        self.index = index
        self.label = label
        self._report = report
        self.transcript: list[dict[str, Any]] = []
        self._announced: set[str] = set()
        self._slots = trio.CapacityLimiter(MAX_PARALLEL_CALLS)

    @property
    def specs(self) -> list[ToolSpec]:
        """The tools the model sees (tools every use of which is denied are left out)."""
        return [t.spec for t in self.by_name.values()]

    @property
    def names(self) -> list[str]:
        return list(self.by_name)

    def text(self, text: str) -> None:
        """The model's text, for the transcript."""
        if text:
            self.transcript.append({"kind": "text", "text": text})

    def note(self, text: str) -> None:
        self.transcript.append({"kind": "note", "text": text})

    def tool_use(self, tool_use_id: str, name: str, tool_input: Any) -> None:
        """A call the model made, for the transcript (once per id: the loop writes a turn's
        calls in their order before they run at once)."""
        if tool_use_id in self._announced:
            return
        self._announced.add(tool_use_id)
        self.transcript.append(
            {"kind": "tool_use", "id": tool_use_id, "tool": name, "input": tool_input}
        )

    def tool_result(self, tool_use_id: str, output: ToolOutput) -> None:
        self.transcript.append(
            {
                "kind": "tool_result",
                "id": tool_use_id,
                "content": _cut(_text_of(output.content), TRANSCRIPT_RESULT_CHARS),
                "is_error": output.is_error,
            }
        )

    def report(self, use: ToolUse) -> None:
        if self._report is not None:
            self._report(use)

    async def call(self, tool_use_id: str, name: str, tool_input: Any) -> ToolOutput:
        """Check, maybe ask, run and report one call; what goes back to the model.

        Never raises for a bad or denied call (the model gets an error result it can act on);
        trio cancellation stops a running tool.
        """
        self.tool_use(tool_use_id, name, tool_input)
        async with self._slots:
            started = time.monotonic()
            output, status, rule = await self._call(name, tool_input)
            elapsed = time.monotonic() - started
        self.tool_result(tool_use_id, output)
        summary = output.summary or _first_line(_text_of(output.content))
        self.report(
            ToolUse(
                tool=name,
                input=tool_input if isinstance(tool_input, dict) else {"input": tool_input},
                status=status,
                summary=summary,
                rule=rule,
                elapsed=elapsed,
            )
        )
        return output

    async def _call(self, name: str, tool_input: Any) -> tuple[ToolOutput, Any, str | None]:
        tool = self.by_name.get(name)
        if tool is None:
            offered = ", ".join(self.by_name) or "none"
            text = f"There is no tool named {name!r} here. Tools you may use: {offered}."
            return ToolOutput(text, is_error=True, summary=f"no tool {name}"), "error", None
        if not isinstance(tool_input, dict):
            text = f"{name}: the input must be a JSON object"
            return ToolOutput(text, is_error=True, summary=text), "error", None
        validator = self.toolbox.validator(tool)
        try:
            # Off the run loop: every part of a call is the model's, untrusted input (a path
            # may be a symlink into a slow mount, a command a megabyte of shell).
            problems, targets, command = await trio.to_thread.run_sync(
                _examine, tool, validator, tool_input, self.workspace, abandon_on_cancel=True
            )
        except ToolInputError as exc:
            text = f"{name}: {exc}"
            return ToolOutput(text, is_error=True, summary=_first_line(text)), "error", None
        if problems:
            text = f"{name}: the input does not match the tool's schema: " + "; ".join(problems)
            return ToolOutput(text, is_error=True, summary=f"{name}: bad input"), "error", None
        decision = await trio.to_thread.run_sync(
            lambda: self.policy.decide(
                tool.name,
                tool_input,
                kind=tool.kind,
                paths=targets,
                command=command,
                workspace=self.workspace,
            ),
            abandon_on_cancel=True,
        )
        if decision.behavior == "ask":
            decision = await self._ask(tool, tool_input, decision, targets)
        elif decision.behavior == "deny":
            self._permission(name, "deny", decision.rule, "")
        if decision.behavior != "allow":
            text = denial_text(name, command, targets, decision)
            return (
                ToolOutput(text, is_error=True, summary=f"denied: {_first_line(decision.reason)}"),
                "denied",
                decision.rule,
            )
        workspace = self.workspace
        if not all(workspace.contains(p) for p in targets):
            # A rule allowed a path outside the workspace: open just those to the tool, which
            # refuses anything outside its workspace on its own.
            workspace = allow_paths(workspace, targets)
        try:
            output = await tool.run(tool_input, workspace)
        except ToolInputError as exc:
            text = f"{name}: {exc}"
            return ToolOutput(text, is_error=True, summary=_first_line(text)), "error", None
        except Exception as exc:  # a tool's bug must not end the agent: the model is told
            text = f"{name} failed: {type(exc).__name__}: {exc}"
            return ToolOutput(text, is_error=True, summary=_first_line(text)), "error", None
        if name in _WALKERS and isinstance(output.content, str):
            output = await self._leave_out_denied(name, output)
        return output, ("error" if output.is_error else "ok"), decision.rule

    async def _leave_out_denied(self, name: str, output: ToolOutput) -> ToolOutput:
        """A directory search's output without the files a deny or ask ``Read`` rule covers
        (``Read(./.env)`` denies grepping ``.env`` too), as the policy's walk filter says."""
        walk_filter = getattr(self.policy, "walk_filter", None)
        hidden = walk_filter(name, self.workspace) if walk_filter is not None else None
        if hidden is None:
            return output
        text = str(output.content)
        kept, dropped = await trio.to_thread.run_sync(
            _drop_lines, text, hidden, abandon_on_cancel=True
        )
        if not dropped:
            return output
        note = f"[{dropped} line{'s' * (dropped != 1)} left out: files the permission rules deny]"
        return dataclasses.replace(output, content="\n".join([*kept, note]))

    async def _ask(
        self, tool: Tool, tool_input: dict[str, Any], decision: Decision, targets: list[Path]
    ) -> Decision:
        """A person's answer to a call the rules say to ask about; nobody: deny."""
        asker = self.toolbox.asker
        if asker is None:
            self._permission(tool.name, "deny", decision.rule, "nobody to ask")
            return unanswered(decision)
        self.report(
            ToolUse(tool=tool.name, input=tool_input, status="waiting", summary=decision.reason)
        )
        request = PermissionRequest(
            agent_index=self.index,
            label=self.label,
            tool=tool.name,
            tool_input=tool_input,
            decision=decision,
            paths=tuple(str(p) for p in targets),
        )
        answer = await asker.ask(request)
        self._permission(tool.name, "allow" if answer in ("once", "run") else "deny", None, answer)
        if answer == "run" and decision.suggestion:
            self.toolbox.policy.allow_for_run(decision.suggestion)
        if answer in ("once", "run"):
            rule = decision.suggestion if answer == "run" else None
            return dataclasses.replace(
                decision, behavior="allow", reason="allowed by the user", rule=rule
            )
        return dataclasses.replace(
            decision, behavior="deny", reason=f"the user denied it ({decision.reason})"
        )

    def _permission(self, tool: str, behavior: str, rule: str | None, answer: str) -> None:
        entry = {"kind": "permission", "tool": tool, "behavior": behavior}
        self.transcript.append({**entry, "rule": rule, "answer": answer})


def denial_text(name: str, command: str | None, targets: Sequence[Path], decision: Decision) -> str:
    """What the model (and the user) read about a denied call: the rule, or the missing one."""
    if command is not None:
        what = f"{name} with command {_cut(command, 200)!r}"
    elif targets:
        what = f"{name} on {_cut(', '.join(str(p) for p in targets[:3]), 300)}"
    else:
        what = name
    text = f"Permission to use {what} was denied: {decision.reason.rstrip('.')}."
    if decision.suggestion and decision.suggestion not in decision.reason:
        text += f" A rule that would allow it: {decision.suggestion}."
    return text + " Do not try to get around this; use what you are allowed to, or say so."


#: tools that walk directories: their output names files the call's targets do not
_WALKERS = frozenset({"Grep", "Glob"})
_LINE_PATH = re.compile(r"[:-](?=\d)")


def _drop_lines(text: str, hidden: Callable[[Path], bool]) -> tuple[list[str], int]:
    """``text``'s lines less those that name a hidden file: a line that is an absolute path,
    or starts with one followed by ``:N`` / ``-N`` (Grep's content and count lines)."""
    kept: list[str] = []
    dropped = 0
    for line in text.split("\n"):
        if line.startswith("/"):
            candidates = [line, *(line[: m.start()] for m in _LINE_PATH.finditer(line))]
            if any(hidden(Path(c)) for c in candidates if c):
                dropped += 1
                continue
        kept.append(line)
    return kept, dropped


def _examine(
    tool: Tool, validator: Draft202012Validator, tool_input: dict[str, Any], workspace: Workspace
) -> tuple[list[str], list[Path], str | None]:
    errors = sorted(validator.iter_errors(tool_input), key=lambda e: e.json_path)
    problems = [_cut(f"{e.json_path}: {e.message}", 200) for e in errors[:_MAX_INPUT_PROBLEMS]]
    if problems:
        return problems, [], None
    return [], tool.targets(tool_input, workspace), tool.command(tool_input)


def _denied_outright(policy: PolicyLike, tool: Tool, workspace: Workspace) -> bool:
    """Whether a rule denies every use of ``tool`` (a bare ``Bash`` in ``disallowedTools``):
    such a tool is not offered at all, as in Claude Code."""
    try:
        decision = policy.decide(
            tool.name, {}, kind=tool.kind, paths=[], command=None, workspace=workspace
        )
    except Exception:  # the probe is not a call: a policy that cannot judge it offers the tool
        return False
    rule = decision.rule or ""
    return decision.behavior == "deny" and bool(rule) and "(" not in rule


def _names(entries: Iterable[str] | None) -> list[str] | None:
    if entries is None:
        return None
    return [e.split("(", 1)[0].strip() for e in entries]


def _in_allowlist(name: str, allow: list[str] | None) -> bool:
    """An agent type's ``tools``: names, ``*``, ``mcp__server`` (all its tools) or
    ``mcp__server__*``; None: every tool."""
    if allow is None:
        return True
    for entry in allow:
        if entry in ("*", name):
            return True
        if entry.startswith("mcp__"):
            prefix = entry.removesuffix("*").removesuffix("__")
            if name.startswith(prefix + "__"):
                return True
    return False


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, dict):
                parts.append(f"[{block.get('type', 'block')}]")
        return "\n".join(parts)
    return str(content)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit:,} more characters]"


def _first_line(text: str) -> str:
    return _cut(text.strip().split("\n", 1)[0], 160)
