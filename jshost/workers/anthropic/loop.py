"""The tool-use loop: an agent with tools talks to the model until it ends its turn.

Each turn is one request (with the worker's stall/retry ladder, per request: a stalled
request is sent again, the tools it led to are never run twice). The reply's ``tool_use``
blocks all run at once, in a trio nursery, through :meth:`AgentTools.call` (schema check,
permission rules, a person when the rules say ask); one user message then carries every
``tool_result`` in the order of the calls. ``pause_turn`` sends the conversation again as it
stands. The loop ends when the model ends its turn:

- a plain agent's answer is the text of its last reply;
- a schema agent has ``StructuredOutput`` among its tools and must call it: a reply without any
  tool call is nudged once, then rejects, and invalid input counts toward the retry cap, as
  without tools (reference §6.3). A turn that calls ``StructuredOutput`` next to other tools
  runs every call of the turn (the model asked for them together, and may count on what they
  do); a valid ``StructuredOutput`` then ends the agent with that value.

``max_turns`` requests at most (``--max-turns``): reaching it fails the agent. Cancellation
(Ctrl-C, skip, restart, ``--timeout``) cancels the nursery, so running tools stop (Bash kills
its process group).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import trio

from ...agent_types import system_prompt_for
from ...errors import WorkerError
from ...schemas import structured_output_cap_message
from ...tools.base import ToolOutput
from ..base import AgentRejectedError, AgentRequest, narrate
from ..prompts import (
    NUDGE,
    PLAIN_SYSTEM,
    SCHEMA_SYSTEM,
    TOOL_DESCRIPTION,
    TOOLS_NOTE,
)
from .models import TOOL, _Plan

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...records import ToolUse
    from ...tools.toolbox import AgentTools, Toolbox
    from . import AnthropicWorker
    from .client import _Tally

__all__ = ["agent_tools", "converse_with_tools", "system_prompt", "tool_params"]

_EPHEMERAL = {"type": "ephemeral"}
_CUT_OFF = (
    "This call was cut off at max_tokens before its input was complete, so it did not run: "
    "make the input shorter"
)


def agent_tools(
    toolbox: Toolbox, request: AgentRequest, *, report: Callable[[ToolUse], None]
) -> AgentTools:
    """The tools of the agent ``request`` asks for, from the run's toolbox."""
    return toolbox.for_agent(
        index=request.index,
        label=request.label,
        disallowed_tools=request.disallowed_tools,
        bash_command_clamp=request.bash_command_clamp,
        agent_definition=request.agent_definition,
        cwd=getattr(request, "cwd", None),
        report=report,
    )


def system_prompt(request: AgentRequest, *, schema: bool, tools: bool = True) -> str:
    """The system prompt of an agent with tools: ours, or its agent type's with the workflow
    NOTE (reference §6.1), then what we tell every agent about its tools."""
    default = SCHEMA_SYSTEM if schema else PLAIN_SYSTEM
    base = system_prompt_for(request.agent_definition, structured=schema, default=default)
    return base + "\n" + TOOLS_NOTE if tools else base


def tool_params(plan: _Plan, tools: AgentTools) -> list[dict[str, Any]]:
    """The ``tools`` of every request: StructuredOutput first (schema agents), then the
    agent's tools; the last carries the cache breakpoint that ends the shared prefix."""
    params: list[dict[str, Any]] = []
    if plan.tool_schema is not None:
        params.append(
            {"name": TOOL, "description": TOOL_DESCRIPTION, "input_schema": plan.tool_schema}
        )
    params += [spec.to_api() for spec in tools.specs]
    if params:
        params[-1] = {**params[-1], "cache_control": _EPHEMERAL}
    return params


async def converse_with_tools(
    worker: AnthropicWorker,
    request: AgentRequest,
    plan: _Plan,
    tally: _Tally,
    tools: AgentTools,
    *,
    max_turns: int,
) -> tuple[Any, int]:
    """Run one agent's conversation to its end; its value and the most attempts a request took."""
    schema = plan.tool_schema is not None
    system = system_prompt(request, schema=schema, tools=bool(tools.specs))
    params = tool_params(plan, tools)
    messages: list[dict[str, Any]] = [{"role": "user", "content": request.prompt}]
    attempts = 1
    failures = 0
    nudged = False
    last_problem = ""
    for _turn in range(max_turns):
        sent = _with_breakpoint(messages)
        reply, n = await worker._attempts(
            request,
            tally,
            lambda sent=sent: worker._send(
                plan, sent, tally, forced=False, system=system, tools=params
            ),
        )
        attempts = max(attempts, n)
        texts = [b.text for b in reply.content if b.type == "text"]
        for text in texts:
            tools.text(text)
        messages.append({"role": "assistant", "content": [_block(b) for b in reply.content]})
        if reply.stop_reason == "pause_turn":
            continue  # the API paused a long turn: send it back as it stands to go on
        calls = [b for b in reply.content if b.type == "tool_use"]
        if not calls:
            if not schema:
                if reply.stop_reason == "max_tokens":
                    narrate(
                        request,
                        f"[{request.label}] the reply was cut off at max_tokens "
                        f"({worker.config.max_tokens}; see docs/anthropic-worker.md)",
                    )
                return "".join(texts), attempts
            if nudged:
                tools.note("ended without calling StructuredOutput after the nudge")
                raise AgentRejectedError(
                    "agent({schema}): subagent completed without calling StructuredOutput "
                    "(after in-conversation nudge)"
                )
            nudged = True
            tools.note("nudged: the reply had no StructuredOutput call")
            messages.append({"role": "user", "content": NUDGE})
            continue
        cut = reply.stop_reason == "max_tokens"
        outputs, value = await _run_turn(worker, plan, tools, calls, cut=cut, schema=schema)
        if value is not _NONE:
            return value, attempts
        for call, output in zip(calls, outputs, strict=True):
            if schema and call.name == TOOL:
                failures += 1
                last_problem = _text(output.content)
        if schema and failures >= worker.structured_output_cap:
            raise AgentRejectedError(
                structured_output_cap_message(last_problem, worker.structured_output_cap)
            )
        results = [out.to_api(call.id) for call, out in zip(calls, outputs, strict=True)]
        messages.append({"role": "user", "content": results})
    tools.note(f"stopped: the turn limit ({max_turns}) was reached")
    raise WorkerError(
        f"the agent used its {max_turns} turns without finishing (raise the limit with --max-turns)"
    )


_NONE: Any = object()


async def _run_turn(
    worker: AnthropicWorker,
    plan: _Plan,
    tools: AgentTools,
    calls: list[Any],
    *,
    cut: bool,
    schema: bool,
) -> tuple[list[ToolOutput], Any]:
    """Run every call of a turn at once; the outputs in call order, and the schema agent's
    value when a StructuredOutput call was valid (else ``_NONE``)."""
    outputs: list[ToolOutput | None] = [None] * len(calls)
    values: list[Any] = [_NONE] * len(calls)

    async def one(i: int, call: Any) -> None:
        if cut and i == len(calls) - 1:
            outputs[i] = ToolOutput(_CUT_OFF, is_error=True, summary="cut off at max_tokens")
            tools.tool_result(call.id, outputs[i])  # type: ignore[arg-type]
            return
        if schema and call.name == TOOL:
            # Off the run loop: a model's answer is untrusted input.
            value, problems = await trio.to_thread.run_sync(
                worker._check, plan, call.input, abandon_on_cancel=True
            )
            if problems:
                text = "Output does not match required schema: " + "; ".join(problems)
                outputs[i] = ToolOutput(text, is_error=True, summary="invalid StructuredOutput")
            else:
                values[i] = value
                outputs[i] = ToolOutput("Structured output accepted.", summary="result delivered")
            tools.tool_result(call.id, outputs[i])  # type: ignore[arg-type]
            return
        outputs[i] = await tools.call(call.id, call.name, call.input)

    for call in calls:
        tools.tool_use(call.id, call.name, call.input)
    async with trio.open_nursery() as nursery:
        for i, call in enumerate(calls):
            nursery.start_soon(one, i, call)
    value = next((v for v in values if v is not _NONE), _NONE)
    return [o for o in outputs if o is not None], value


def _with_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with a cache breakpoint on its last block, so that each turn reads the
    turns before it from the prompt cache (tools, system and this one: 3 of the 4 allowed)."""
    last = messages[-1]
    if len(messages) < 2 or last["role"] != "user":
        # After pause_turn the conversation ends with the model's own turn, whose last block
        # may be one that takes no breakpoint (thinking): that request goes without one.
        return messages
    content = last["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    content = [*content[:-1], {**content[-1], "cache_control": _EPHEMERAL}]
    return [*messages[:-1], {**last, "content": content}]


def _block(block: Any) -> dict[str, Any]:
    """A reply's content block as the next request sends it back (thinking blocks included,
    with their signatures, as the API requires)."""
    return block.model_dump(exclude_none=True)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content)
