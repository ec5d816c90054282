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
- **Effort** becomes ``output_config.effort`` (and adaptive thinking for plain agents) on
  models whose capabilities, read once per run from the Models API, include it; see
  ``docs/anthropic-worker.md``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, final

import anthropic
import trio
from jsonschema import Draft202012Validator

from ...config import Config, load_config
from ...errors import RetryableWorkerError, WorkerError
from ...schemas import STRUCTURED_OUTPUT_CAP, schema_problem, structured_output_cap_message
from ..base import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker, report_usage
from ..prompts import _TOOL_DESCRIPTION, NUDGE, PLAIN_SYSTEM, SCHEMA_SYSTEM
from .stagger import PrefixStagger, current_ticket, prefix_key, stagger_ms

__all__ = ["AnthropicWorker", "RetryPolicy"]

TOOL = "StructuredOutput"
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
_MAX_PROBLEMS = 20
_EPHEMERAL = {"type": "ephemeral"}
_MAX_PROBLEM_CHARS = 300


@final
@dataclass(frozen=True)
class RetryPolicy:
    """When the worker retries, and how long it waits.

    Args:
        max_retries (int): retries of one request by the SDK (408, 409, 429, 5xx, 529 and
            connection errors).
        backoff (float): seconds before the first retry, doubled for each next one, less up
            to 25 % jitter.
        max_backoff (float): the longest backoff.
        retry_after_cap (float): the longest wait a server's ``retry-after`` may impose.
        attempts (int): attempts of one agent when attempts stall or break (reference: 6).
        stall (float): seconds without progress after which an attempt is abandoned, for
            agents that set no ``stallMs``.
        refused_retries (int): quick retries of a request whose connection was refused
            (nothing listens there: waiting the whole backoff ladder rarely helps).
    """

    max_retries: int = 8
    backoff: float = 0.5
    max_backoff: float = 8.0
    retry_after_cap: float = 60.0
    attempts: int = 6
    stall: float = 180.0
    refused_retries: int = 2

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.refused_retries < 0:
            raise ValueError("max_retries and refused_retries must be non-negative")
        if self.backoff < 0 or self.max_backoff < 0 or self.retry_after_cap < 0:
            raise ValueError("backoff, max_backoff and retry_after_cap must be non-negative")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.stall <= 0:
            raise ValueError("stall must be positive")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first) without a hint."""
        base = min(self.backoff * 2.0 ** min(retry, 32), self.max_backoff)
        return base * (1 - 0.25 * random.random())


class _Watchdog:
    """The no-progress limit of one attempt: a cancel scope whose deadline moves on progress."""

    def __init__(self, stall: float) -> None:
        self.stall = stall
        self.scope = trio.CancelScope(deadline=trio.current_time() + stall)

    def progress(self, wait: float = 0.0) -> None:
        """Something happened; ``wait`` seconds of planned waiting are not a stall either."""
        self.scope.deadline = max(self.scope.deadline, trio.current_time() + wait + self.stall)


# The attempt running in the current trio task. The SDK computes retry delays deep inside
# one call; a context variable lets that code find the attempt's watchdog without plumbing.
_WATCHDOG: contextvars.ContextVar[_Watchdog | None] = contextvars.ContextVar(
    "jshost_anthropic_watchdog", default=None
)


class _Client(anthropic.AsyncAnthropic):
    """The SDK's async client with our retry timing.

    The SDK waits as long as a ``retry-after`` header says (up to 49 days), which would let a
    single response park an agent's slot; this caps the wait, takes the backoff from the
    policy (tests make it tiny) and tells the attempt's watchdog that waiting is not stalling.
    """

    def __init__(self, *, policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        policy = policy or RetryPolicy()
        kwargs.setdefault("max_retries", policy.max_retries)
        super().__init__(**kwargs)
        self._policy = policy

    def _should_retry_exception(self, err: BaseException) -> tuple[bool, Any]:
        # A refused connection is retried by the worker, briefly (see _Refused); the SDK's
        # ladder would spend half a minute on each request against a closed port.
        if _refused(err):
            return False, None
        return super()._should_retry_exception(err)  # type: ignore[misc]

    def _calculate_retry_timeout(
        self, remaining_retries: int, options: Any, response_headers: Any = None
    ) -> float:
        policy = self._policy
        hint = self._parse_retry_after_header(response_headers)
        if hint is not None and hint > 0:
            delay = min(hint, policy.retry_after_cap)
        else:
            delay = policy.delay(options.get_max_retries(self.max_retries) - remaining_retries)
        watchdog = _WATCHDOG.get()
        if watchdog is not None:
            watchdog.progress(delay)
        return delay


@dataclass(frozen=True)
class _Caps:
    """What a model accepts, from the Models API."""

    efforts: tuple[str, ...] = ()  # supported effort levels, lowest first
    adaptive_thinking: bool = False
    known: bool = False  # False: the capabilities could not be read


def _caps_of(info: Any) -> _Caps:
    caps = getattr(info, "capabilities", None)
    try:
        effort = caps.effort
        efforts = tuple(
            level
            for level in EFFORT_LEVELS
            if effort.supported and getattr(getattr(effort, level, None), "supported", False)
        )
        thinking = caps.thinking
        adaptive = bool(thinking.supported and thinking.types.adaptive.supported)
    except AttributeError:  # no capabilities (an older API, a gateway): assume none
        return _Caps(known=caps is not None)
    return _Caps(efforts=efforts, adaptive_thinking=adaptive, known=True)


def effort_level(effort: Any) -> str | None:
    """The effort level a script's ``effort`` names (``med`` = ``medium``), or None.

    Numbers are accepted by the reference but have no Messages API equivalent: None.
    """
    if not isinstance(effort, str):
        return None
    level = effort.strip().lower()
    level = "medium" if level == "med" else level
    return level if level in EFFORT_LEVELS else None


def _fit_level(level: str, supported: tuple[str, ...]) -> str | None:
    """``level`` if supported, else the highest supported level below it, else the lowest."""
    if not supported:
        return None
    rank = EFFORT_LEVELS.index(level)
    below = [x for x in supported if EFFORT_LEVELS.index(x) <= rank]
    return below[-1] if below else supported[0]


def tool_schema(schema: dict[str, Any] | bool) -> tuple[dict[str, Any], bool]:
    """The ``StructuredOutput`` input schema for ``schema``, and whether it was wrapped.

    A tool's input must be an object: any other root becomes ``{"value": <schema>}``.
    """
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema, False
    inner = {} if schema is True else dict(schema)  # type: ignore[arg-type]
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
        "additionalProperties": False,
    }
    # "#/$defs/x" resolves from the document root, so definitions move to the new root.
    for key in ("$defs", "definitions"):
        if key in inner:
            wrapper[key] = inner.pop(key)
    return wrapper, True


@dataclass
class _Plan:
    """How one agent's requests are made."""

    model: str
    schema: Any = None
    tool_schema: dict[str, Any] | None = None
    wrapped: bool = False
    validator: Draft202012Validator | None = None
    effort: str | None = None
    thinking: bool = False


class _Meter:
    """Usage and model of one streamed response, as far as it got."""

    def __init__(self) -> None:
        self.responded = False  # the API answered with headers; set by the caller
        self.started = False
        self.model = ""
        self.tokens = [0, 0, 0, 0]

    def see(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.started = True
            self.model = getattr(event.message, "model", "") or ""
            self._take(event.message.usage, always=True)
        elif kind == "message_delta":
            # message_delta counts are running totals, so they replace, not add.
            self._take(event.usage, always=False)

    def _take(self, usage: Any, *, always: bool) -> None:
        names = (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
        for i, name in enumerate(names):
            value = getattr(usage, name, None)
            if isinstance(value, int):
                self.tokens[i] = value
            elif always:
                self.tokens[i] = 0

    @property
    def usage(self) -> Usage:
        return Usage(*self.tokens)


class _Tally:
    """What one agent has used so far, over all its requests and attempts."""

    def __init__(self, model: str) -> None:
        self.usage = Usage()
        self.model = model
        self.attempts = 0

    def add(self, meter: _Meter) -> None:
        self.usage = self.usage + meter.usage
        self.model = meter.model or self.model


def _refused(err: BaseException) -> bool:
    """Whether a connection error's causes include a refused connection (nothing listens)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or len(seen) > 100:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return True
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend((e.__cause__, e.__context__))
    return False


class _Refused(WorkerError):
    """The API's address refused the connection: no answer at all."""


class _ToolChoiceRefused(WorkerError):
    """Raised when the API refuses a forced ``tool_choice`` (some models think by default)."""


def _api_error_text(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        kind = error.get("type") or "error"
        text = f"{kind}: {error['message']}"
    else:
        text = exc.message
    return text if exc.status_code == 200 else f"{exc.status_code} {text}"


def _error_type(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("type")) if isinstance(error, dict) else ""


# Errors an event in the middle of a stream may report that another attempt may not meet.
_RETRYABLE_STREAM_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


@contextlib.contextmanager
def _translate(base_url: str, meter: _Meter) -> Iterator[None]:
    """Turn what the SDK raises into our ``WorkerError``s (``anthropic`` stays in this module).

    ``meter.responded`` tells a connection that failed from a response that broke off.
    """
    try:
        yield
    except anthropic.APIStatusError as exc:
        text = _api_error_text(exc)
        if exc.status_code == 200:  # an error event in the middle of a stream
            if _error_type(exc) in _RETRYABLE_STREAM_ERRORS:
                raise RetryableWorkerError(f"the response broke off: {text}") from exc
            raise WorkerError(text) from exc
        if exc.status_code == 400 and "tool_choice" in text:
            raise _ToolChoiceRefused(text) from exc
        if exc.status_code == 401:
            raise WorkerError(f"{text} (check ANTHROPIC_API_KEY)") from exc
        raise WorkerError(text) from exc
    except anthropic.APITimeoutError as exc:
        raise WorkerError("the request timed out, also when retried") from exc
    except anthropic.APIConnectionError as exc:
        cause = exc.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        if meter.responded:
            # Newer SDKs wrap a body that breaks off mid-stream in APIConnectionError too; the
            # API answered, so another attempt may succeed. Before an answer the SDK has
            # already retried the connection itself.
            raise RetryableWorkerError(f"the response broke off or was malformed{detail}") from exc
        if _refused(exc):
            raise _Refused(f"cannot reach the API at {base_url}: connection refused") from exc
        raise WorkerError(f"cannot reach the API at {base_url}{detail}") from exc
    except anthropic.AnthropicError as exc:
        raise WorkerError(f"{type(exc).__name__}: {exc}") from exc
    except WorkerError:
        raise
    except Exception as exc:
        # Anything else comes from reading the body: a connection dropped mid-stream
        # (httpx errors are not wrapped there), bad JSON in an event, events out of order.
        raise RetryableWorkerError(
            f"the response broke off or was malformed: {type(exc).__name__}: {exc}"
        ) from exc


def _tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": True}


def _clip(text: str, limit: int = _MAX_PROBLEM_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        self._noted: set[str] = set()
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
        if model in (None, "inherit"):
            return self.default_model
        try:
            return self.config.resolve_model(model)
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
            model = (
                self.default_model
                if request.model in (None, "inherit")
                else self.config.resolve_model(request.model)
            )
        except ValueError as exc:
            raise AgentRejectedError(str(exc), name="TypeError") from None
        tally = _Tally(model)
        ticket = None
        try:
            plan = await self._plan(request, model)
            ticket = await self._wait_for_prefix(request, plan)
            token = current_ticket.set(ticket)
            try:
                value, attempts = await self._attempts(request, plan, tally)
            finally:
                current_ticket.reset(token)
        except WorkerError as exc:
            exc.usage, exc.model, exc.attempts = tally.usage, tally.model, tally.attempts
            if isinstance(exc, _Refused):
                self._unreached += 1
            raise
        finally:
            if ticket is not None:
                ticket.finished()
        return AgentResult(value=value, usage=tally.usage, model=tally.model, attempts=attempts)

    async def _wait_for_prefix(self, request: AgentRequest, plan: _Plan) -> Any:
        """The prompt-cache stagger (reference §6.7): a same-prefix sibling's response first."""
        if self._stagger.cap_ms <= 0:
            return None
        key = prefix_key(
            model=plan.model,
            effort=plan.effort,
            agent_type=request.agent_type,
            tool_names=[TOOL] if plan.tool_schema is not None else [],
            schema=plan.tool_schema,
            cwd=os.getcwd(),
        )

        def held(ms: int) -> None:
            self._log(
                request,
                f"workflow agent [{request.label}] held {ms}ms for a same-prefix sibling's "
                "first response (prompt-cache warm-up)",
            )

        return await self._stagger.enter(key, log=held)

    async def _attempts(self, request: AgentRequest, plan: _Plan, tally: _Tally) -> tuple[Any, int]:
        """The reference's ladder: a stalled or broken attempt starts again, 6 attempts at most."""
        stall_ms = request.stall_ms or round(self.policy.stall * 1000)
        n = self.policy.attempts
        reasons: list[str] = []
        for attempt in range(1, n + 1):
            tally.attempts = attempt
            watchdog = _Watchdog(stall_ms / 1000)
            token = _WATCHDOG.set(watchdog)
            reason = "stalled"
            try:
                with watchdog.scope:
                    try:
                        return await self._converse(request, plan, tally), attempt
                    except RetryableWorkerError as exc:
                        reason = str(exc)
            finally:
                _WATCHDOG.reset(token)
            reasons.append(reason)
            if attempt == n:
                break
            if reason == "stalled":
                self._log(
                    request,
                    f'[stall] agent "{request.label}" stalled (no progress) after '
                    f"{stall_ms / 1000:g}s — retrying ({attempt}/{n - 1})",
                )
            else:
                self._log(
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
                self._log(
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
                self._note(
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
        errors = sorted(plan.validator.iter_errors(value), key=lambda e: e.json_path)
        problems = [_clip(f"{prefix}{e.json_path[1:]}: {e.message}") for e in errors]
        if len(problems) > _MAX_PROBLEMS:
            problems = [*problems[:_MAX_PROBLEMS], f"… and {len(problems) - _MAX_PROBLEMS} more"]
        return value, problems

    async def _send(
        self, plan: _Plan, messages: list[dict[str, Any]], tally: _Tally, *, forced: bool
    ) -> Any:
        """One request, tried again briefly while its connection is refused."""
        for retry in range(self.policy.refused_retries + 1):
            if self._unreachable is not None:
                raise _Refused(self._unreachable)
            try:
                reply = await self._send_once(plan, messages, tally, forced=forced)
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
        self, plan: _Plan, messages: list[dict[str, Any]], tally: _Tally, *, forced: bool
    ) -> Any:
        """One streamed request; every event counts as progress for the attempt's watchdog."""
        # Cache breakpoints after the tools and after the system prompt: the prefix every
        # agent of a fan-out shares is written once and read by the rest.
        system = SCHEMA_SYSTEM if plan.tool_schema is not None else PLAIN_SYSTEM
        params: dict[str, Any] = {
            "model": plan.model,
            "max_tokens": self.config.max_tokens,
            "system": [{"type": "text", "text": system, "cache_control": _EPHEMERAL}],
            "messages": messages,
        }
        if plan.tool_schema is not None:
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
            self._note(
                request,
                model,
                f"[{request.label}] effort {level!r} is not applied to {model}: {why}",
            )
            return plan
        if plan.effort != level:
            self._note(
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

    @staticmethod
    def _log(request: AgentRequest, line: str) -> None:
        if request.log is not None:
            request.log(line)

    def _note(self, request: AgentRequest, key: str, line: str) -> None:
        """Log ``line`` once per run and ``key``."""
        if key not in self._noted:
            self._noted.add(key)
            self._log(request, line)


def _block(block: Any) -> dict[str, Any]:
    """A reply's content block as the next request sends it back (thinking blocks included,
    with their signatures, as the API requires)."""
    return block.model_dump(exclude_none=True)
