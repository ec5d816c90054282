"""The ``anthropic`` worker: every ``agent()`` call becomes a Messages API conversation.

Importing this module imports the ``anthropic`` SDK, which takes about a second, so nothing
imports it unless the anthropic worker is chosen (see ``registry``).

How an agent runs:

- **Plain agents** send one request; ``agent()`` resolves to the reply's text.
- **Schema agents** get a ``StructuredOutput`` tool whose input schema is the caller's (a root
  that is not an object is wrapped as ``{"value": …}`` and unwrapped again), forced with
  ``tool_choice``. Its input is validated here against the caller's schema (JSON Schema
  Draft 2020-12; formats are not asserted, as in the reference). An invalid input goes back to
  the model as an error tool result listing the problems; the fifth failed call rejects
  ``agent()`` with the reference's retry-cap message.
- **Progress and stalls.** Requests stream, so progress is visible: an attempt that sees no
  event for ``stallMs`` (default 180 s) is abandoned and started again, up to 6 attempts (the
  reference's ladder). When every attempt stalled, ``agent()`` rejects with the reference's
  message. A broken or malformed response also costs an attempt.
- **Request retries** are the SDK's: 408, 409, 429, 5xx, 529 and connection errors, with
  exponential backoff. A server's ``retry-after`` is honoured up to ``retry_after_cap`` (the
  SDK alone would wait as long as it is told). Waiting for a retry counts as progress.
- **Terminal failures** (a 400, retries used up, a refusal) resolve ``agent()`` to null with
  the failure line ``[label] failed: <reason>``.
- **Cancellation** (Ctrl-C, budget stop, run timeout) is trio cancellation: it closes the HTTP
  connection of every request in flight at once.
- **Tools.** When the run has a toolbox (``jshost/tools/toolbox.py``), every agent gets the
  tools its options and agent type leave it, and runs the tool-use loop of ``loop``: tool calls
  run concurrently under the permission rules until the model ends its turn, with
  ``StructuredOutput`` among the tools of a schema agent (``tool_choice`` auto), at most
  ``max_turns`` requests; the stall ladder applies to each request.
- **Effort** becomes ``output_config.effort`` (and adaptive thinking for plain agents) on
  models whose capabilities, read once per run from the Models API, include it; see
  ``docs/anthropic-worker.md``.

The package: this module runs agents (plan, attempts, the conversation); ``client`` holds the
SDK client, its retry timing and the one translation of SDK errors; ``models`` what models
accept (effort, capabilities, the StructuredOutput schema); ``stagger`` the prompt-cache stagger;
``loop`` the tool-use loop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, final

import anthropic
import trio
from jsonschema import Draft202012Validator

from ...config import Config, load_config
from ...errors import RetryableWorkerError, WorkerError
from ...schemas import STRUCTURED_OUTPUT_CAP, schema_problem, structured_output_cap_message
from ..answers import schema_problems
from ..base import (
    AgentRejectedError,
    AgentRequest,
    AgentResult,
    OnceNotes,
    Worker,
    narrate,
    report_tool,
    report_transcript,
    report_usage,
)
from ..prompts import _TOOL_DESCRIPTION, NUDGE, PLAIN_SYSTEM, SCHEMA_SYSTEM
from .client import (
    _WATCHDOG,
    RetryPolicy,
    _Client,
    _Meter,
    _Refused,
    _Tally,
    _ToolChoiceRefused,
    _translate,
    _Watchdog,
)
from .models import (
    EFFORT_LEVELS,
    TOOL,
    _Caps,
    _caps_of,
    _fit_level,
    _Plan,
    effort_level,
    tool_schema,
)
from .stagger import PrefixStagger, current_ticket, prefix_key, stagger_ms

if TYPE_CHECKING:
    from ...tools.toolbox import AgentTools

__all__ = ["EFFORT_LEVELS", "AnthropicWorker", "RetryPolicy", "effort_level", "tool_schema"]

_EPHEMERAL = {"type": "ephemeral"}


def _tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": True}


@final
class AnthropicWorker(Worker):
    """Runs agents on the Anthropic Messages API through the official SDK's async client.

    One client (one connection pool) serves the whole run; :meth:`aclose` closes it.

    Args:
        api_key (str): the API key. It is handed to the SDK and kept nowhere else.
        base_url (str | None): the API's base URL, for gateways and proxies (no ``/v1``).
        config (Config | None): model aliases and limits; read from the config file and the
            environment when None.
        model (str | None): the run's model (alias or id) for agents that name none;
            the config's default model when None.
        policy (RetryPolicy | None): retry timing; built from ``config`` when None.
        structured_output_cap (int): failed StructuredOutput calls before ``agent({schema})``
            rejects (``MAX_STRUCTURED_OUTPUT_RETRIES`` on the command line).
        stagger (int | None): the prompt-cache stagger cap in ms (0: off); from
            ``CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS`` (default 5000) when None.
    """

    name = "anthropic"
    supports_schema = True
    supports_tools = True
    needs_key = True
    key_env_var = "ANTHROPIC_API_KEY"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        config: Config | None = None,
        model: str | None = None,
        policy: RetryPolicy | None = None,
        structured_output_cap: int = STRUCTURED_OUTPUT_CAP,
        stagger: int | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be a non-empty string")
        if structured_output_cap < 1:
            raise ValueError("structured_output_cap must be at least 1")
        self.structured_output_cap = structured_output_cap
        self.config = config if config is not None else load_config()
        # Validated now, so that a typo in --model is a usage error and not 1000 failures.
        self.default_model = self.config.resolve_model(model)
        self.policy = policy or RetryPolicy(
            max_retries=self.config.max_retries, retry_after_cap=self.config.retry_after_cap
        )
        self.base_url = base_url
        client_args: dict[str, Any] = {"api_key": api_key, "policy": self.policy}
        if base_url:
            client_args["base_url"] = base_url
        self._client = _Client(**client_args)
        self._caps: dict[str, _Caps] = {}
        self._caps_locks: dict[str, trio.Lock] = {}
        self._auto_choice: set[str] = set()  # models that refused a forced tool_choice
        self._notes = OnceNotes()
        # One waiting room per worker, and a worker serves one run.
        self._stagger = PrefixStagger(stagger_ms() if stagger is None else max(0, stagger))
        # Set once every attempt to connect was refused and nothing ever answered: later
        # agents fail at once with this reason instead of knocking on a closed door again.
        self._unreachable: str | None = None
        self._answered = False
        self._unreached = 0  # agents that failed without an answer from the API

    def problem(self) -> str | None:
        if self._unreachable is None:
            return None
        n = self._unreached
        return f"{self._unreachable}: {n:,} agent{'' if n == 1 else 's'} failed without an answer"

    def describe(self) -> str:
        where = f", {self.base_url}" if self.base_url else ""
        return f"anthropic worker (default model {self.default_model}{where})"

    async def aclose(self) -> None:
        await self._client.close()

    def model_name(self, model: str | None) -> str | None:
        try:
            return self.config.agent_model(model, self.default_model)
        except ValueError:
            return model  # run() rejects the agent, with the reason

    # -- one agent ---------------------------------------------------------------------------

    async def run(self, request: AgentRequest) -> AgentResult:
        if request.schema is not None and (problem := schema_problem(request.schema)):
            raise AgentRejectedError(problem, name="TypeError")
        if self._unreachable is not None:
            self._unreached += 1
            raise WorkerError(f"{self._unreachable} (not tried again: it refused every attempt)")
        try:
            model = self.config.agent_model(request.model, self.default_model)
        except ValueError as exc:
            raise AgentRejectedError(str(exc), name="TypeError") from None
        tally = _Tally(model)
        ticket = None
        tools = None
        if self.toolbox is not None:
            from .loop import agent_tools

            tools = agent_tools(self.toolbox, request, report=report_tool)
            report_transcript(tools.transcript)  # kept if the agent is stopped or skipped
        try:
            plan = await self._plan(request, model)
            ticket = await self._wait_for_prefix(request, plan, tools)
            token = current_ticket.set(ticket)
            try:
                if tools is None:
                    value, attempts = await self._attempts(
                        request, tally, lambda: self._converse(request, plan, tally)
                    )
                else:
                    from .loop import converse_with_tools

                    assert self.toolbox is not None
                    value, attempts = await converse_with_tools(
                        self, request, plan, tally, tools, max_turns=self.toolbox.max_turns
                    )
            finally:
                current_ticket.reset(token)
        except WorkerError as exc:
            exc.usage, exc.model, exc.attempts = tally.usage, tally.model, tally.attempts
            if tools is not None:
                exc.transcript = tuple(tools.transcript)
            if isinstance(exc, _Refused):
                self._unreached += 1
            raise
        finally:
            if ticket is not None:
                ticket.finished()
        return AgentResult(
            value=value,
            usage=tally.usage,
            model=tally.model,
            attempts=attempts,
            transcript=() if tools is None else tuple(tools.transcript),
        )

    async def _wait_for_prefix(
        self, request: AgentRequest, plan: _Plan, tools: AgentTools | None
    ) -> Any:
        """The prompt-cache stagger (reference §6.7): a same-prefix sibling's response first."""
        if self._stagger.cap_ms <= 0:
            return None
        names = [TOOL] if plan.tool_schema is not None else []
        cwd = os.getcwd()
        if tools is not None:
            names += tools.names
            cwd = str(tools.workspace.root)
        key = prefix_key(
            model=plan.model,
            effort=plan.effort,
            agent_type=request.agent_type,
            tool_names=names,
            schema=plan.tool_schema,
            cwd=cwd,
        )

        def held(ms: int) -> None:
            narrate(
                request,
                f"workflow agent [{request.label}] held {ms}ms for a same-prefix sibling's "
                "first response (prompt-cache warm-up)",
            )

        return await self._stagger.enter(key, log=held)

    async def _attempts(
        self, request: AgentRequest, tally: _Tally, once: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, int]:
        """The reference's ladder: a stalled or broken attempt of ``once`` (a whole
        conversation, or one request of the tool loop) starts again, 6 attempts at most."""
        stall_ms = request.stall_ms or round(self.policy.stall * 1000)
        n = self.policy.attempts
        reasons: list[str] = []
        for attempt in range(1, n + 1):
            tally.attempts = max(tally.attempts, attempt)
            watchdog = _Watchdog(stall_ms / 1000)
            token = _WATCHDOG.set(watchdog)
            reason = "stalled"
            try:
                with watchdog.scope:
                    try:
                        return await once(), attempt
                    except RetryableWorkerError as exc:
                        reason = str(exc)
            finally:
                _WATCHDOG.reset(token)
            reasons.append(reason)
            if attempt == n:
                break
            if reason == "stalled":
                narrate(
                    request,
                    f'[stall] agent "{request.label}" stalled (no progress) after '
                    f"{stall_ms / 1000:g}s — retrying ({attempt}/{n - 1})",
                )
            else:
                narrate(
                    request,
                    f'[retry] agent "{request.label}": {reason} — retrying ({attempt}/{n - 1})',
                )
                await trio.sleep(self.policy.delay(attempt - 1))
        if all(r == "stalled" for r in reasons):
            raise AgentRejectedError(
                f"agent stalled on all {n} attempts (no progress for {stall_ms}ms each)"
            )
        raise WorkerError(f"{reasons[-1]} (gave up after {n} attempts)")

    async def _converse(self, request: AgentRequest, plan: _Plan, tally: _Tally) -> Any:
        """One attempt: the whole conversation of one agent."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": request.prompt}]
        if plan.schema is None:
            reply = await self._send(plan, messages, tally, forced=False)
            if reply.stop_reason == "max_tokens":
                narrate(
                    request,
                    f"[{request.label}] the reply was cut off at max_tokens "
                    f"({self.config.max_tokens}; see docs/anthropic-worker.md)",
                )
            return "".join(b.text for b in reply.content if b.type == "text")

        failures = 0
        nudged = False
        while True:
            forced = plan.model not in self._auto_choice
            try:
                reply = await self._send(plan, messages, tally, forced=forced)
            except _ToolChoiceRefused as exc:
                if not forced:
                    raise
                # The model thinks by default, and thinking excludes a forced tool choice:
                # ask instead (the system prompt and a nudge do the rest) for this model.
                self._auto_choice.add(plan.model)
                self._notes.note(
                    request,
                    plan.model,
                    f"[{request.label}] {plan.model} refused a "
                    f"forced tool_choice ({exc}); asking for StructuredOutput instead",
                )
                continue
            calls = [b for b in reply.content if b.type == "tool_use"]
            turn = {"role": "assistant", "content": [_block(b) for b in reply.content]}
            if not calls:
                if nudged:
                    raise AgentRejectedError(
                        "agent({schema}): subagent completed without calling StructuredOutput "
                        "(after in-conversation nudge)"
                    )
                nudged = True
                messages += [turn, {"role": "user", "content": NUDGE}]
                continue
            results = []
            last = ""
            for call in calls:
                if call.name != TOOL:
                    last = f"there is no tool named {call.name!r}; call {TOOL}"
                else:
                    # Off the run loop: a model's answer is untrusted input.
                    value, problems = await trio.to_thread.run_sync(
                        self._check, plan, call.input, abandon_on_cancel=True
                    )
                    if not problems:
                        return value
                    last = "Output does not match required schema: " + "; ".join(problems)
                    if reply.stop_reason == "max_tokens":
                        last += " (the output was cut off at max_tokens: make it shorter)"
                failures += 1
                results.append(_tool_result(call.id, last))
            if failures >= self.structured_output_cap:
                raise AgentRejectedError(
                    structured_output_cap_message(last, self.structured_output_cap)
                )
            messages += [turn, {"role": "user", "content": results}]

    def _check(self, plan: _Plan, tool_input: Any) -> tuple[Any, list[str]]:
        """The value in a StructuredOutput input, and what is wrong with it (nothing: valid)."""
        assert plan.validator is not None
        if plan.wrapped:
            if not isinstance(tool_input, dict) or "value" not in tool_input:
                return None, ["$: 'value' is a required property (put the result in \"value\")"]
            extra = sorted(k for k in tool_input if k != "value")
            if extra:
                return None, [f"$: additional properties are not allowed ({', '.join(extra)})"]
            value, prefix = tool_input["value"], "$.value"
        else:
            value, prefix = tool_input, "$"
        return value, schema_problems(plan.validator, value, prefix)

    async def _send(
        self,
        plan: _Plan,
        messages: list[dict[str, Any]],
        tally: _Tally,
        *,
        forced: bool,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> Any:
        """One request, tried again briefly while its connection is refused."""
        for retry in range(self.policy.refused_retries + 1):
            if self._unreachable is not None:
                raise _Refused(self._unreachable)
            try:
                reply = await self._send_once(
                    plan, messages, tally, forced=forced, system=system, tools=tools
                )
            except _Refused as exc:
                if retry == self.policy.refused_retries:
                    if not self._answered:
                        self._unreachable = str(exc)
                    raise
                await trio.sleep(self.policy.delay(retry))
            except WorkerError as exc:
                if not isinstance(exc.__cause__, anthropic.APIConnectionError):
                    self._answered = True  # an error status or a broken body: the API is there
                raise
            else:
                self._answered = True
                return reply
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self,
        plan: _Plan,
        messages: list[dict[str, Any]],
        tally: _Tally,
        *,
        forced: bool,
        system: str | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> Any:
        """One streamed request; every event counts as progress for the attempt's watchdog.

        ``tools`` (with ``system``) are the tool loop's: offered with ``tool_choice`` auto,
        parallel calls allowed. Without them a schema agent gets StructuredOutput alone.
        """
        # Cache breakpoints after the tools and after the system prompt: the prefix every
        # agent of a fan-out shares is written once and read by the rest.
        if system is None:
            system = SCHEMA_SYSTEM if plan.tool_schema is not None else PLAIN_SYSTEM
        params: dict[str, Any] = {
            "model": plan.model,
            "max_tokens": self.config.max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": _EPHEMERAL}],
            "messages": messages,
        }
        if tools:
            params["tools"] = tools
            params["tool_choice"] = {"type": "auto"}
        elif plan.tool_schema is not None:
            choice = {"type": "tool", "name": TOOL} if forced else {"type": "auto"}
            params["tools"] = [
                {
                    "name": TOOL,
                    "description": _TOOL_DESCRIPTION,
                    "input_schema": plan.tool_schema,
                    "cache_control": _EPHEMERAL,
                }
            ]
            params["tool_choice"] = {**choice, "disable_parallel_tool_use": True}
        if plan.effort:
            params["output_config"] = {"effort": plan.effort}
        if plan.thinking:
            params["thinking"] = {"type": "adaptive"}
        watchdog = _WATCHDOG.get()
        meter = _Meter()
        # Made outside _translate: a parameter this SDK version does not know is our bug to
        # report, not a broken response to retry.
        manager = self._client.messages.stream(**params)
        try:
            with _translate(str(self._client.base_url), meter):
                async with manager as stream:
                    meter.responded = True
                    ticket = current_ticket.get()
                    async for event in stream:
                        if watchdog is not None:
                            watchdog.progress()
                        meter.see(event)
                        if ticket is not None and meter.started:
                            ticket.started()  # the prefix is cached: same-prefix agents go
                            ticket = None
                    if not meter.started:
                        kind = stream.response.headers.get("content-type", "none")
                        raise RetryableWorkerError(
                            f"the API sent no message (content type {kind}, expected a stream)"
                        )
                    reply = await stream.get_final_message()
        finally:
            tally.add(meter)  # what a broken response cost is counted too
            report_usage(tally.usage)  # for live views, while the agent runs
        if reply.stop_reason is None:
            raise RetryableWorkerError("the response ended before the message was complete")
        if reply.stop_reason == "refusal":
            raise WorkerError("the model declined the task (stop reason: refusal)")
        return reply

    # -- planning ----------------------------------------------------------------------------

    async def _plan(self, request: AgentRequest, model: str) -> _Plan:
        plan = _Plan(model=model)
        if request.schema is not None:
            plan.schema = request.schema
            plan.tool_schema, plan.wrapped = tool_schema(request.schema)
            plan.validator = Draft202012Validator(request.schema)
        level = effort_level(request.effort)
        if level is None:
            return plan
        caps = await self._capabilities(model)
        plan.effort = _fit_level(level, caps.efforts)
        if plan.effort is None:
            why = "cannot read its capabilities" if not caps.known else "it takes no effort"
            self._notes.note(
                request,
                model,
                f"[{request.label}] effort {level!r} is not applied to {model}: {why}",
            )
            return plan
        if plan.effort != level:
            self._notes.note(
                request,
                f"{model}/{level}",
                f"[{request.label}] effort {level!r} is "
                f"not offered by {model}; using {plan.effort!r}",
            )
        # Thinking and a forced tool choice exclude each other: only plain agents think.
        plan.thinking = caps.adaptive_thinking and request.schema is None
        return plan

    async def _capabilities(self, model: str) -> _Caps:
        """The model's capabilities, read once per run (one request even under a burst)."""
        lock = self._caps_locks.setdefault(model, trio.Lock())
        async with lock:
            if model not in self._caps:
                caps = _Caps()
                # A gateway without the Models API: no effort, no harm.
                with (
                    trio.move_on_after(self.policy.stall),
                    contextlib.suppress(anthropic.AnthropicError),
                ):
                    caps = _caps_of(await self._client.models.retrieve(model))
                self._caps[model] = caps
        return self._caps[model]

    # -- narration ---------------------------------------------------------------------------


def _block(block: Any) -> dict[str, Any]:
    """A reply's content block as the next request sends it back (thinking blocks included,
    with their signatures, as the API requires)."""
    return block.model_dump(exclude_none=True)
