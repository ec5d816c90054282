"""The claude-code worker itself: attempts, options, the permission callback, the schema check.

Imports the SDK (~0.6 s): only ``jshost.workers.claude_code.ClaudeCodeWorker`` reaches it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, final

import trio
from claude_agent_sdk import (
    CanUseToolShadowedWarning,
    ClaudeAgentOptions,
    ClaudeSDKError,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ProcessError,
    query,
)
from jsonschema import Draft202012Validator

from ...config import Config, load_config
from ...errors import RetryableWorkerError, WorkerError
from ...permissions.bash import split_command
from ...permissions.decision import Asker, Decision, PermissionRequest
from ...permissions.matching import clamp_pattern, parts_allowed
from ...permissions.policy import mode_for_type
from ...permissions.rules import parse_rule
from ...records import ToolUse, Usage
from ...schemas import STRUCTURED_OUTPUT_CAP, schema_problem
from ...text import clip
from ...tools.reaper import REAPER
from ..answers import tool_schema
from ..base import (
    AgentRejectedError,
    AgentRequest,
    AgentResult,
    OnceNotes,
    Worker,
    narrate,
    report_tool,
)
from ..prompts import PLAIN_SYSTEM, SCHEMA_SYSTEM
from .outcome import (
    EFFORT_LEVELS,
    Plan,
    UnreachableError,
    _stderr_tail,
    agent_definition,
    check_output,
    effort,
    result_error,
    retry_line,
    suggested_rule,
    unconnected_error,
)
from .program import find_program
from .rules import check_rules, from_policy, mcp_server_configs
from .stream import Attempt
from .transport import SessionTransport

# The SDK logs a program that dies as an error; with no logging set up, Python's last-resort
# handler would print it over the live view. The worker reports it (with stderr) instead;
# an application that configures logging still gets the SDK's records.
logging.getLogger("claude_agent_sdk").addHandler(logging.NullHandler())
# That allow rules decide before the callback is asked is what jshost wants: say nothing.
warnings.filterwarnings("ignore", category=CanUseToolShadowedWarning)

__all__ = ["EFFORT_LEVELS", "PERMISSION_MODES", "WORKFLOW_DENIED", "ClaudeCodeWorker"]

#: the modes jshost offers every worker; bypassPermissions and auto are refused (tools run with
#: the user's rights; jshost has no safety classifier), as for the anthropic worker's tools
PERMISSION_MODES = ("default", "acceptEdits", "plan", "dontAsk")
#: tools a workflow agent never gets (reference §6.1): no agents or workflows of its own, and
#: no questions to a user (nobody reads them: the script gets the answer)
WORKFLOW_DENIED = ("Agent", "Workflow", "AskUserQuestion")
_NO_OUTPUT = "the program reported success without structured output"


class _Watchdog:
    """The no-progress limit of one attempt: a cancel scope whose deadline moves on progress."""

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self.scope = trio.CancelScope(deadline=trio.current_time() + stall)
        self._held = 0

    def progress(self, *, busy: bool = False) -> None:
        if self._held:
            return
        self.scope.deadline = math.inf if busy else trio.current_time() + self.stall

    @contextlib.contextmanager
    def held(self) -> Any:
        """Waiting for a person is not a stall."""
        self._held += 1
        self.scope.deadline = math.inf
        try:
            yield
        finally:
            self._held -= 1
            self.progress()


@final
class ClaudeCodeWorker(Worker):
    """Runs each agent as a Claude Code subagent: the claude program, via claude-agent-sdk.

    Args:
        cli_path (str | Path | None): the program; found as ``program.find_program`` says
            when None.
        config (Config | None): model aliases; read from the config file when None.
        model (str | None): the run's model (alias or id) for agents that name none.
        base_url (str | None): the API's base URL for the program (``ANTHROPIC_BASE_URL``).
        workspace (str | Path | None): the agents' working directory (an agent's own ``cwd``,
            its worktree, wins); the current directory when None.
        allowed_tools, disallowed_tools (Sequence[str]): permission rules (``Read``,
            ``Bash(git log *)``), checked here and passed to the program.
        permission_mode (str): the program's permission mode (``default``: reads in the
            workspace are allowed, edits and commands ask); an agent type's own mode wins.
        setting_sources (Sequence[str]): Claude Code settings files the program reads
            (``user``, ``project``, ``local``); none by default.
        mcp_servers: the approved MCP servers (jshost's server configs, or the program's
            config dicts by name); the program loads these and no others
            (``--strict-mcp-config``).
        asker (Asker | None): answers calls the rules say to ask about; None: denied.
        env (Mapping[str, str] | None): extra environment for the program.
        structured_output_cap (int): failed StructuredOutput calls before ``agent({schema})``
            rejects (the program's ``MAX_STRUCTURED_OUTPUT_RETRIES``).
        attempts (int): attempts per agent; backoff (float): seconds before the 2nd, doubled.
        stall (float): seconds without a message before an attempt is abandoned.
        max_turns (int | None): the program's ``--max-turns``.
    """

    name = "claude-code"
    supports_schema = True
    # The pipeline builds it a toolbox: its policy, workspace, asker and approved MCP servers
    # reach the program's flags (the program runs its own tools).
    supports_tools = True
    #: ``--no-tools`` (set by the pipeline): the program gets no tools at all (``--tools=``)
    tools_off = False
    #: tries without a connection that end an attempt while nothing in the run has answered
    unconnected_tries = 4  # (the program's own go on ~3 min: docs/claude-code-worker.md)
    description = "Claude Code subagents (the claude program via claude-agent-sdk; ~200 MB each)"

    def __init__(
        self,
        *,
        cli_path: str | Path | None = None,
        config: Config | None = None,
        model: str | None = None,
        base_url: str | None = None,
        workspace: str | Path | None = None,
        allowed_tools: Sequence[str] = (),
        disallowed_tools: Sequence[str] = (),
        permission_mode: str = "default",
        setting_sources: Sequence[str] = (),
        mcp_servers: Mapping[str, dict[str, Any]] | Sequence[Any] | None = None,
        asker: Asker | None = None,
        env: Mapping[str, str] | None = None,
        structured_output_cap: int = STRUCTURED_OUTPUT_CAP,
        attempts: int = 6,
        backoff: float = 0.5,
        stall: float = 180.0,
        max_turns: int | None = None,
    ) -> None:
        if permission_mode not in PERMISSION_MODES:
            raise ValueError(
                f"permission mode {permission_mode!r} is not one of {', '.join(PERMISSION_MODES)}"
            )
        if structured_output_cap < 1 or attempts < 1 or stall <= 0:
            raise ValueError("structured_output_cap and attempts must be ≥ 1, stall > 0")
        bad = [s for s in setting_sources if s not in ("user", "project", "local")]
        if bad:
            raise ValueError(f"unknown settings source {bad[0]!r} (user, project, local)")
        program, problem = find_program(env or {}, str(cli_path) if cli_path else None)
        if program is None:
            raise ValueError(problem)
        self.cli_path = program
        self.config = config if config is not None else load_config()
        self.default_model = self.config.resolve_model(model)
        self.base_url = base_url
        self.workspace = Path(workspace).absolute() if workspace is not None else None
        self.allowed_tools = check_rules(allowed_tools, "allowed tools")
        self.disallowed_tools = check_rules(disallowed_tools, "disallowed tools")
        self.permission_mode = permission_mode
        self.setting_sources = list(dict.fromkeys(setting_sources))
        self.mcp_servers = mcp_server_configs(mcp_servers)
        self.asker = asker
        self.structured_output_cap = structured_output_cap
        self.attempts = attempts
        self.backoff = backoff
        self.stall = stall
        self.max_turns = max_turns
        self._env = {**(env or {}), "MAX_STRUCTURED_OUTPUT_RETRIES": str(structured_output_cap)}
        if base_url:
            self._env["ANTHROPIC_BASE_URL"] = base_url
        self.ask_rules: list[str] = []
        self.extra_dirs: list[str] = []
        self._run_rules: list[str] = []  # "allow for this run" answers
        self._toolbox_seen: Any = None
        self._notes = OnceNotes()
        # The program could not reach the API and nothing ever answered: its own retries take
        # minutes, so later agents fail at once with this reason.
        self._unreachable: str | None = None
        self._answered, self._unreached = False, 0

    def _give_up(self) -> int | None:
        return None if self._answered else self.unconnected_tries

    def problem(self) -> str | None:
        if self._unreachable is None:
            return None
        n = self._unreached
        return f"{self._unreachable}: {n:,} agent{'' if n == 1 else 's'} failed without an answer"

    def apply_policy(
        self,
        policy: Any,
        *,
        workspace: str | Path | None = None,
        asker: Asker | None = None,
        max_turns: int | None = None,
    ) -> None:
        """Take the run's permission policy (``jshost.permissions.Policy``: command-line rules,
        then the settings files', and the mode), as the anthropic worker's tools do; see
        ``rules.from_policy``.

        Raises:
            ValueError: a rule the program would misread, or a mode it is not given.
        """
        taken = from_policy(policy, PERMISSION_MODES)
        self.allowed_tools, self.disallowed_tools, self.ask_rules = taken.rules
        self.extra_dirs, self.permission_mode = taken.extra_dirs, taken.mode
        if workspace is not None:
            self.workspace = Path(workspace).absolute()
        if asker is not None:
            self.asker = asker
        if max_turns is not None:
            self.max_turns = max_turns

    def _take_toolbox(self) -> None:
        """The run's toolbox, where the pipeline sets one (``Worker.toolbox``): its policy,
        workspace, asker and turn cap. Its tools and MCP hub are not used: the program has
        its own."""
        toolbox = getattr(self, "toolbox", None)
        if toolbox is None or toolbox is self._toolbox_seen:
            return
        self._toolbox_seen = toolbox
        hub = getattr(toolbox, "mcp", None)
        if hub is not None and hasattr(hub, "configs"):
            # The approved servers: the program starts them itself, as Claude Code does.
            self.mcp_servers = mcp_server_configs(hub.configs)
        root = getattr(getattr(toolbox, "workspace", None), "root", None)
        self.apply_policy(
            toolbox.policy,
            workspace=root,
            asker=getattr(toolbox, "asker", None),
            max_turns=getattr(toolbox, "max_turns", None),
        )

    async def __aenter__(self) -> ClaudeCodeWorker:
        # Not the base class's (the program starts the approved MCP servers itself); it runs
        # tools, so jshost holds the reaper: what their commands shed is swept.
        REAPER.hold()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.aclose()
        finally:
            await REAPER.release()

    def describe(self) -> str:
        where = f", {self.base_url}" if self.base_url else ""
        sources = ",".join(self.setting_sources) or "none"
        model = self.default_model
        return f"claude-code worker (default model {model}{where}; Claude Code settings: {sources})"

    def model_name(self, model: str | None) -> str | None:
        try:
            return self.config.agent_model(model, self.default_model)
        except ValueError:
            return model

    # -- one agent ---------------------------------------------------------------------------

    async def run(self, request: AgentRequest) -> AgentResult:
        try:
            self._take_toolbox()
        except ValueError as exc:  # a rule the program would misread: no agent can run
            raise WorkerError(str(exc)) from None
        if request.schema is not None and (problem := schema_problem(request.schema)):
            raise AgentRejectedError(problem, name="TypeError")
        if self._unreachable is not None:
            self._unreached += 1
            raise WorkerError(f"{self._unreachable} (not tried again: nothing has answered)")
        try:
            model = self.config.agent_model(request.model, self.default_model)
        except ValueError as exc:
            raise AgentRejectedError(str(exc), name="TypeError") from None
        plan = Plan(model=model, effort=effort(request.effort))
        if request.effort is not None and plan.effort is None:
            self._notes.note(
                request,
                f"effort:{request.effort!r}",
                f"[{request.label}] effort "
                f"{request.effort!r} is not a Claude Code level ({', '.join(EFFORT_LEVELS)}): "
                "not applied",
            )
        if request.schema is not None:
            plan.schema = request.schema
            plan.tool_schema, plan.wrapped = tool_schema(request.schema)
            plan.validator = Draft202012Validator(request.schema)

        usage, transcript, model_used = Usage(), [], model
        reasons: list[str] = []
        for attempt in range(1, self.attempts + 1):
            state = Attempt(base=usage)
            state.on_retry = lambda data: narrate(
                request, retry_line(request.label, data, self._give_up())
            )
            try:
                value = await self._attempt(request, plan, state)
            except RetryableWorkerError as exc:
                reasons.append(str(exc))
            except WorkerError as exc:
                if isinstance(exc, UnreachableError) and not self._answered:
                    self._unreachable = str(exc)
                    self._unreached += 1
                usage, model_used = usage + state.usage, state.model or model_used
                exc.usage, exc.model, exc.attempts = usage, model_used, attempt
                exc.transcript = (*transcript, *state.transcript)
                raise
            else:
                usage, model_used = usage + state.usage, state.model or model_used
                transcript += state.transcript
                return AgentResult(
                    value=value,
                    usage=usage,
                    model=model_used,
                    attempts=attempt,
                    transcript=tuple(transcript),
                )
            usage, model_used = usage + state.usage, state.model or model_used
            transcript += state.transcript
            transcript.append({"kind": "note", "text": f"attempt {attempt} failed: {reasons[-1]}"})
            if attempt < self.attempts:
                narrate(
                    request,
                    f'[retry] agent "{request.label}": {reasons[-1]} — retrying '
                    f"({attempt}/{self.attempts - 1})",
                )
                await trio.sleep(min(self.backoff * 2 ** (attempt - 1), 8.0))
        if all(r.startswith(_NO_OUTPUT) for r in reasons):
            error: WorkerError = AgentRejectedError(
                "agent({schema}): subagent completed without calling StructuredOutput "
                f"(on all {self.attempts} attempts)"
            )
        else:
            error = WorkerError(f"{reasons[-1]} (gave up after {self.attempts} attempts)")
        error.usage, error.model, error.attempts = usage, model_used, self.attempts
        error.transcript = tuple(transcript)
        raise error

    def _options(self, request: AgentRequest, plan: Plan, state: Attempt) -> ClaudeAgentOptions:
        cwd = request.cwd or self.workspace or Path.cwd()
        extra: dict[str, str | None] = {"no-session-persistence": None}
        own = mode_for_type(
            self.permission_mode,
            getattr(request.agent_definition, "permission_mode", None),
            getattr(request.agent_definition, "scope", "project"),
        )
        mode = own if own in PERMISSION_MODES else self.permission_mode
        agents = None
        if request.agent_type:
            extra["agent"] = request.agent_type
            agents = agent_definition(request, permission_mode=own)
        disallowed = [
            *WORKFLOW_DENIED,
            *self.disallowed_tools,
            *check_rules(request.disallowed_tools, "disallowedTools"),
        ]
        return ClaudeAgentOptions(
            cli_path=str(self.cli_path),
            cwd=str(cwd),
            system_prompt={
                "type": "preset",
                "preset": "claude_code",
                "append": SCHEMA_SYSTEM if plan.schema is not None else PLAIN_SYSTEM,
            },
            model=plan.model,
            effort=plan.effort,  # type: ignore[arg-type]
            tools=[] if self.tools_off else None,
            allowed_tools=[*self.allowed_tools, *self._run_rules],
            disallowed_tools=list(dict.fromkeys(disallowed)),
            permission_mode=mode,  # type: ignore[arg-type]
            setting_sources=list(self.setting_sources),  # type: ignore[arg-type]
            mcp_servers=dict(self.mcp_servers),  # type: ignore[arg-type]
            strict_mcp_config=True,
            output_format=(
                {"type": "json_schema", "schema": plan.tool_schema}
                if plan.tool_schema is not None
                else None
            ),
            include_partial_messages=True,
            can_use_tool=self._asking(request, state),
            stderr=state.stderr.append,
            extra_args=extra,
            env=dict(self._env),
            max_turns=self.max_turns,
            add_dirs=list(self.extra_dirs),
            settings=(
                json.dumps({"permissions": {"ask": self.ask_rules}}) if self.ask_rules else None
            ),
            agents=agents,
            hooks=self._clamp(request, state),  # type: ignore[arg-type]
        )

    async def _attempt(self, request: AgentRequest, plan: Plan, state: Attempt) -> Any:
        """One run of the program; its value, or the reason it failed (a WorkerError)."""
        options = self._options(request, plan, state)
        # The transport needs the flag query() would add for a can_use_tool callback.
        transport = SessionTransport(
            prompt=request.prompt,
            options=dataclasses.replace(options, permission_prompt_tool_name="stdio"),
        )
        state.watchdog = watchdog = _Watchdog((request.stall_ms or self.stall * 1000) / 1000)
        failure: str | None = None
        with watchdog.scope:
            try:
                async with contextlib.aclosing(
                    query(prompt=request.prompt, options=options, transport=transport)
                ) as messages:
                    try:
                        async for message in messages:
                            state.see(message)
                            if state.unconnected >= (self._give_up() or 1 << 30):
                                raise unconnected_error(state.unconnected)
                            # A tool at work sends nothing until it is done, and has a timeout
                            # of its own (Bash: 2 min by default): that silence is no stall.
                            watchdog.progress(busy=state.tools_running)
                    except BaseException:
                        transport.stop()  # now, not after the SDK's grace periods
                        raise
            except ProcessError as exc:
                if state.result is None:
                    code = f" (exit code {exc.exit_code})" if exc.exit_code is not None else ""
                    failure = f"the Claude Code program stopped{code}"
            except ClaudeSDKError as exc:
                failure = f"the Claude Code program failed: {clip(str(exc), 300)}"
        if watchdog.scope.cancelled_caught:
            raise RetryableWorkerError(
                f"stalled (no message from the program for {watchdog.stall:g}s)"
            )
        if failure is None and state.result is None:
            failure = "the Claude Code program ended without a result"
        if failure is not None:
            raise RetryableWorkerError(failure + _stderr_tail(state.stderr, self._env))
        self._cost_note(state)
        return await self._value(plan, state)

    async def _value(self, plan: Plan, state: Attempt) -> Any:
        result = state.result
        if result.is_error:
            error = result_error(result, self.structured_output_cap, state.api_error)
            if not isinstance(error, UnreachableError):
                self._answered = True
            raise error
        self._answered = True
        if plan.schema is None:
            return result.result if isinstance(result.result, str) else ""
        output = result.structured_output
        if output is None:
            raise RetryableWorkerError(_NO_OUTPUT)
        value, problems = await trio.to_thread.run_sync(
            check_output, plan, output, abandon_on_cancel=True
        )
        if problems:
            raise RetryableWorkerError(
                "the program's structured output does not match the schema: " + "; ".join(problems)
            )
        return value

    # -- permissions -------------------------------------------------------------------------

    def _clamp(self, request: AgentRequest, state: Attempt) -> dict[str, Any] | None:
        """The agent's ``bashCommandClamp`` as a PreToolUse hook: the program has no such
        option, and a hook decides before its rules, so no allow rule can widen the clamp."""
        if not request.bash_command_clamp:
            return None
        rules = [parse_rule(text, "bashCommandClamp") for text in request.bash_command_clamp]
        patterns = [(clamp_pattern(rule), rule) for rule in rules]
        shown = ", ".join(rule.text for rule in rules)

        def inside(command: str) -> bool:
            return parts_allowed(patterns, split_command(command)) is not None

        async def hook(data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
            tool_input = data.get("tool_input") if isinstance(data, dict) else None
            command = tool_input.get("command") if isinstance(tool_input, dict) else None
            # The command is the model's: parsed off the run loop.
            if isinstance(command, str) and await trio.to_thread.run_sync(
                inside, command, abandon_on_cancel=True
            ):
                return {}
            state.denied(tool_use_id)
            reason = f"Bash is limited to {shown} for this agent (bashCommandClamp)"
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                }
            }

        return {"PreToolUse": [HookMatcher(matcher="Bash", hooks=[hook])]}

    def _asking(self, request: AgentRequest, state: Attempt) -> Any:
        async def can_use_tool(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
            suggestion = suggested_rule(getattr(context, "suggestions", None) or [])
            reason = getattr(context, "decision_reason", None) or f"no rule allows {tool}"
            asker = self.asker
            if asker is None:
                toolbox = getattr(self, "toolbox", None)  # the run's, once the pipeline sets one
                asker = getattr(toolbox, "asker", None)
            blocked = getattr(context, "blocked_path", None) or next(
                (
                    tool_input[k]
                    for k in ("file_path", "notebook_path", "path")
                    if isinstance(tool_input.get(k), str)
                ),
                None,
            )
            decision = Decision("ask", str(reason), source="claude-code", suggestion=suggestion)
            answer = "deny"
            if asker is not None:
                report_tool(ToolUse(tool, tool_input, "waiting", summary=f"asking: {reason}"))
                with state.watchdog.held():
                    answer = await asker.ask(
                        PermissionRequest(
                            request.index,
                            request.label,
                            tool,
                            tool_input,
                            decision,
                            (str(blocked),) if blocked else (),
                        )
                    )
            state.transcript.append(
                {
                    "kind": "permission",
                    "tool": tool,
                    "behavior": "ask",
                    "rule": suggestion,
                    "answer": answer,
                }
            )
            if answer == "once":
                return PermissionResultAllow(updated_input=tool_input)
            if answer == "run":
                if suggestion and suggestion not in self._run_rules:
                    self._run_rules.append(suggestion)  # later agents start with it
                return PermissionResultAllow(
                    updated_input=tool_input,
                    updated_permissions=list(getattr(context, "suggestions", None) or []),
                )
            state.denied(getattr(context, "tool_use_id", None))
            why = "denied by the user" if asker is not None else "nobody to ask (no asker)"
            return PermissionResultDeny(
                message=f"Permission to use {tool} was not given: {reason}; {why}."
            )

        return can_use_tool

    # -- narration ---------------------------------------------------------------------------

    def _cost_note(self, state: Attempt) -> None:
        cost = getattr(state.result, "total_cost_usd", None)
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            state.transcript.append(
                {
                    "kind": "note",
                    "text": f"Claude Code's own cost figure for this attempt: ${cost:.6f}",
                    "cost_usd": float(cost),
                }
            )
