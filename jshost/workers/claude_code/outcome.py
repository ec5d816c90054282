"""What the claude-code worker makes of an agent's request and of the program's result:
the plan (model, effort, schema wrapping), the value's check, a failed result's error, and the
agent type and permission suggestion in the program's terms. No SDK import."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from ...config import CREDENTIAL_VARS
from ...errors import RetryableWorkerError, WorkerError
from ...schemas import structured_output_cap_message
from ...text import clip
from ..answers import schema_problems
from ..base import AgentRejectedError, AgentRequest

__all__ = [
    "EFFORT_LEVELS",
    "NOT_LOGGED_IN_HINT",
    "Plan",
    "UnreachableError",
    "agent_definition",
    "check_output",
    "effort",
    "result_error",
    "retry_line",
    "suggested_rule",
    "unconnected_error",
]

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


def effort(effort: Any) -> str | None:
    if not isinstance(effort, str):
        return None
    level = effort.strip().lower()
    level = "medium" if level == "med" else level
    return level if level in EFFORT_LEVELS else None


@dataclasses.dataclass
class Plan:
    model: str
    effort: str | None = None
    schema: Any = None
    tool_schema: dict[str, Any] | None = None
    wrapped: bool = False
    validator: Draft202012Validator | None = None


def check_output(plan: Plan, output: Any) -> tuple[Any, list[str]]:
    """The value in the program's structured output, and what is wrong with it."""
    assert plan.validator is not None
    if plan.wrapped:
        if not isinstance(output, dict) or "value" not in output:
            return None, ["$: the wrapped output has no 'value'"]
        value, prefix = output["value"], "$.value"
    else:
        value, prefix = output, "$"
    return value, schema_problems(plan.validator, value, prefix)


NOT_LOGGED_IN_HINT = (
    "the Claude Code program has no credentials: set ANTHROPIC_API_KEY, or log in once with "
    "Claude Code (`claude`, then /login)"
)


class UnreachableError(WorkerError):
    """The program could not reach the API, after its own retries: trying again is no use."""


def result_error(result: Any, cap: int, api_error: str | None = None) -> WorkerError:
    """The failure a result with ``is_error`` means (``api_error``: the program's name for
    why its last reply failed, from the assistant message, when it said)."""
    subtype = str(result.subtype or "")
    errors = [str(e) for e in (result.errors or []) if e]
    text = clip(str(result.result or "; ".join(errors) or subtype), 300)
    if subtype == "error_max_structured_output_retries":
        return AgentRejectedError(structured_output_cap_message(text, cap))
    if subtype == "error_max_turns":
        return WorkerError(f"the agent used all its turns ({text})")
    status = result.api_error_status
    if isinstance(status, int):
        hint = " (check ANTHROPIC_API_KEY or the Claude Code login)" if status in (401, 403) else ""
        if 400 <= status < 500 and status not in (408, 409, 429):
            return WorkerError(f"{text}{hint}")
        return RetryableWorkerError(text)
    # No HTTP status: the request never got an answer. Without credentials the program
    # does not even try; a connection that fails has already been retried by the program
    # itself (10 times, minutes): another attempt would only wait as long again.
    if api_error in ("authentication_failed", "billing_error"):
        return WorkerError(f"{text} — {NOT_LOGGED_IN_HINT}")
    if text.startswith("API Error:") and getattr(result, "terminal_reason", None) == "api_error":
        return UnreachableError(f"cannot reach the API: {text}")
    # A failed result reports the subtype "success" (the session ended normally): no prefix.
    prefix = "" if subtype in ("", "success") else f"{subtype}: "
    return RetryableWorkerError(f"{prefix}{text}")


def retry_line(label: str, data: dict[str, Any], give_up: int | None = None) -> str:
    """The log line for the program's first ``api_retry`` frame: it retries a failing API
    for minutes before the agent fails, and says nothing else meanwhile. ``give_up``: the
    tries after which jshost stops a program that gets no connection (nothing in the run
    has answered yet)."""
    status = data.get("error_status")
    if not status and give_up:
        return (
            f"[{label}] the API did not answer (no connection); jshost gives up after "
            f"{give_up} tries while nothing in the run has answered"
        )
    why = f"status {status}" if status else "no connection"
    most = data.get("max_retries")
    times = f"up to {most} times" if isinstance(most, int) else "several times"
    return f"[{label}] the API did not answer ({why}); Claude Code retries it {times} first"


def unconnected_error(tries: int) -> UnreachableError:
    """An attempt stopped after ``tries`` connection failures while nothing had answered."""
    return UnreachableError(
        f"cannot reach the API: no connection in {tries} tries (Claude Code would go on "
        "for about 3 minutes; jshost stops waiting while nothing in the run has answered)"
    )


def suggested_rule(suggestions: Sequence[Any]) -> str | None:
    """The first ``Tool(content)`` rule among the program's permission suggestions."""
    for update in suggestions:
        for rule in getattr(update, "rules", None) or []:
            tool = getattr(rule, "tool_name", None)
            if not tool:
                continue
            content = getattr(rule, "rule_content", None)
            return f"{tool}({content})" if content else str(tool)
    return None


def agent_definition(request: AgentRequest, permission_mode: Any = ...) -> dict[str, Any] | None:
    """The agent type jshost found for this agent (``AgentRequest.agent_definition``), as the
    program's own definition, so it runs without the program reading settings files. Its model
    is not passed: the engine already put it into ``request.model``, with the reference's
    precedence, and ``--model`` carries that. ``permission_mode``, when given, is the mode the
    type may have (a project's type may not widen the run's: ``mode_for_type``)."""
    found = request.agent_definition
    name = request.agent_type
    if found is None or not name:
        return None
    tools = getattr(found, "tools", None)
    denied = getattr(found, "disallowed_tools", None)
    return {
        name: _definition(
            description=str(getattr(found, "description", "") or name),
            prompt=str(getattr(found, "system_prompt", "") or ""),
            tools=list(tools) if tools else None,
            disallowedTools=list(denied) if denied else None,
            permissionMode=(
                getattr(found, "permission_mode", None)
                if permission_mode is ...
                else permission_mode
            ),
        )
    }


def _definition(**fields: Any) -> Any:
    # The SDK's dataclass, imported here so that this module imports no SDK at load time.
    from claude_agent_sdk import AgentDefinition

    return AgentDefinition(**fields)


def _stderr_tail(lines: Iterable[str], env: Mapping[str, str], n: int = 5) -> str:
    tail = [line.strip() for line in lines if line.strip()][-n:]
    values = (env.get(k) or os.environ.get(k, "") for k in CREDENTIAL_VARS)
    secrets = [v for v in values if len(v) >= 8]
    for secret in secrets:
        tail = [line.replace(secret, "<redacted>") for line in tail]
    return (" — last stderr: " + " | ".join(clip(x, 200) for x in tail)) if tail else ""
