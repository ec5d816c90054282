"""A jshost worker for any OpenAI-compatible ``/v1/chat/completions`` endpoint.

Settings (the environment, or the ``jshost run`` options):

- ``OPENAI_COMPAT_BASE_URL`` (or ``--base-url``): the API root, e.g. ``http://127.0.0.1:8080/v1``;
- ``OPENAI_COMPAT_API_KEY``: the bearer key (jshost looks it up and hands it over);
- ``OPENAI_COMPAT_MODEL`` (or ``--model``): the model for every agent. A script's own model
  names (``sonnet``, ``claude-…``) mean Claude models and are ignored; any other name a script
  gives an agent is sent as is.

Schema answers ask for ``response_format: json_schema`` (and say so in a system message, for
servers that ignore it); a server that refuses ``response_format`` is asked again with the
instruction alone. jshost checks the answer (``jshost.workers.answers.check_answer``); a wrong
one gets a repair turn, up to jshost's retry cap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2 as httpx
import trio

from jshost.errors import UsageError, WorkerError
from jshost.workers import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker
from jshost.workers.answers import (
    STRUCTURED_OUTPUT_CAP,
    check_answer,
    structured_output_cap_message,
)
from jshost.workers.base import report_usage
from jshost.workers.registry import WorkerSettings

__all__ = ["OpenAICompatWorker", "make_worker"]

_CLAUDE_NAMES = frozenset({"inherit", "sonnet", "opus", "haiku", "fable"})
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_SCHEMA_SYSTEM = (
    "Answer with one JSON value only, no prose and no Markdown, that validates against this "
    "JSON Schema:\n{schema}"
)


class OpenAICompatWorker(Worker):
    """Any OpenAI-compatible /v1/chat/completions endpoint (OPENAI_COMPAT_BASE_URL)."""

    name = "openai-compat"
    supports_schema = True
    needs_key = True
    key_env_var = "OPENAI_COMPAT_API_KEY"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        structured_output_cap: int = STRUCTURED_OUTPUT_CAP,
        retries: int = 2,
        timeout: float = 600.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.structured_output_cap = structured_output_cap
        self.retries = retries
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=10.0),
        )
        self._response_format = True  # until the server refuses it
        self._closed = False

    def describe(self) -> str:
        return f"openai-compat worker ({self.model} at {self.base_url})"

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.aclose()

    def _model_for(self, request: AgentRequest) -> str:
        asked = request.model
        if not asked or asked in _CLAUDE_NAMES or asked.startswith("claude"):
            return self.model
        return asked

    async def run(self, request: AgentRequest) -> AgentResult:
        model = self._model_for(request)
        messages: list[dict[str, Any]] = []
        if request.schema is not None:
            schema_text = json.dumps(request.schema, ensure_ascii=False)
            messages.append(
                {"role": "system", "content": _SCHEMA_SYSTEM.format(schema=schema_text)}
            )
        messages.append({"role": "user", "content": request.prompt})
        usage = Usage()
        failures, attempts = 0, 0
        while True:
            attempts += 1
            text, used = await self._complete(model, messages, request.schema)
            usage += used
            report_usage(usage)
            if request.schema is None:
                return AgentResult(text, usage=usage, model=model, attempts=attempts)
            # Off the run loop: the answer is untrusted and may be large.
            value, problems = await trio.to_thread.run_sync(
                check_answer, request.schema, text, abandon_on_cancel=True
            )
            if not problems:
                return AgentResult(value, usage=usage, model=model, attempts=attempts)
            failures += 1
            last = "Output does not match required schema: " + "; ".join(problems)
            if failures >= self.structured_output_cap:
                raise AgentRejectedError(
                    structured_output_cap_message(last, self.structured_output_cap)
                )
            messages += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": f"{last}. Answer again with valid JSON only."},
            ]

    async def _complete(
        self, model: str, messages: list[dict[str, Any]], schema: Any
    ) -> tuple[str, Usage]:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if schema is not None and self._response_format:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "result", "schema": schema, "strict": False},
            }
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.post("/chat/completions", json=body)
            except httpx.TransportError as exc:
                if attempt < self.retries:
                    await trio.sleep(0.5 * 2**attempt)
                    continue
                raise WorkerError(f"cannot reach {self.base_url}: {exc}") from None
            if response.status_code == 400 and "response_format" in body:
                # Not every compatible server knows response_format: the instruction stays.
                self._response_format = False
                body.pop("response_format")
                continue
            if response.status_code in _RETRY_STATUS and attempt < self.retries:
                await trio.sleep(0.5 * 2**attempt)
                continue
            if response.status_code != 200:
                raise WorkerError(
                    f"{self.base_url}: HTTP {response.status_code}: {_error(response)}"
                )
            return _answer(response)
        raise WorkerError(f"{self.base_url}: no answer after {self.retries + 1} tries")


def _error(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    return str(message)[:300]


def _answer(response: httpx.Response) -> tuple[str, Usage]:
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise WorkerError("the server's reply is not a chat completion") from None
    if not isinstance(text, str):
        raise WorkerError("the server's reply has no text content")
    raw = data.get("usage") if isinstance(data, dict) else None
    raw = raw if isinstance(raw, dict) else {}
    prompt = _count(raw.get("prompt_tokens"))
    details = raw.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    usage = Usage(
        input_tokens=max(0, prompt - cached),
        output_tokens=_count(raw.get("completion_tokens")),
        cache_read_input_tokens=min(cached, prompt),
    )
    return text, usage


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def make_worker(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    """The ``jshost.workers`` entry point: build the worker from the run's settings."""
    base_url = settings.base_url or env.get("OPENAI_COMPAT_BASE_URL", "").strip()
    if not base_url:
        raise UsageError("openai-compat: set OPENAI_COMPAT_BASE_URL or pass --base-url")
    model = settings.model or env.get("OPENAI_COMPAT_MODEL", "").strip()
    if not model:
        raise UsageError("openai-compat: set OPENAI_COMPAT_MODEL or pass --model")
    assert settings.key, "jshost resolves the key (needs_key) before calling the factory"
    from jshost.settings import structured_output_retries

    return OpenAICompatWorker(
        base_url=base_url,
        api_key=settings.key,
        model=model,
        structured_output_cap=structured_output_retries(env),
    )


#: where jshost reads needs_key, key_env_var and the description without building a worker
make_worker.worker_class = OpenAICompatWorker  # type: ignore[attr-defined]
