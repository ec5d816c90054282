"""The SDK's client with our retry timing, and the one place where what the SDK raises becomes
a ``WorkerError`` (``anthropic`` exceptions stay in this module)."""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, final

import anthropic
import trio

from ...errors import RetryableWorkerError, WorkerError
from ..base import Usage


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
