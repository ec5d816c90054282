"""The ``sim`` worker: offline, deterministic answers for tests, samples and benchmarks.

Text answers are derived from the prompt; schema answers are generated to validate against
the schema. Latency and token usage are simulated. Failures can be injected from a script by
markers in the prompt, so the same knobs work from tests, samples and the command line:

- ``[[sim:fail]]`` / ``[[sim:fail=reason]]`` — terminal failure: ``agent()`` resolves to null
- ``[[sim:throw]]`` / ``[[sim:throw=reason]]`` — ``agent()`` rejects
- ``[[sim:latency=2.5]]`` — this agent takes 2.5 s
- ``[[sim:tokens=1200]]`` — this agent reports 1200 output tokens
- ``[[sim:hang]]`` — this agent never finishes (until cancelled)
- ``[[sim:write=PATH:TEXT]]`` — as it starts, this agent writes TEXT to the file PATH (relative,
  inside its working directory: its worktree under ``isolation: 'worktree'``, else the
  process's directory); may be given more than once
- ``[[sim:read=PATH]]`` — this agent's text answer is the content of PATH (read as it ends,
  after its latency), or ``[sim] PATH: no such file``
- ``[[sim:tool=Read src/app.py]]`` — this agent reports a tool call (repeatable, in order), for
  trying out how tool calls are shown, stored and asked about. The sim runs no tool: it reports
  the call (``ToolUse``) and puts it in the agent's transcript, as a worker with tools does.
  ``NAME ARG`` sets the tool's main input (``command`` for Bash, ``file_path`` for Read, Write
  and Edit, ``pattern`` for Grep and Glob, else ``input``); ``=> error`` or ``=> denied`` after
  it says how the call went (default ``ok``); ``=> ask`` asks the run's asker (the interactive
  view's permission prompt) and goes on as it answers; with no asker, ``ask`` means deny.

``write`` and ``read`` let tests show offline that isolated agents never see each other's files.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import trio

from ..._lazy import lazy_pattern
from ...errors import WorkerError
from ...records import ToolUse
from ..base import (
    AgentRejectedError,
    AgentRequest,
    AgentResult,
    Usage,
    Worker,
    report_tool,
    report_transcript,
    report_usage,
)

if TYPE_CHECKING:  # a scripted tool call needs the rest: a plain sim run never imports it
    from ...agent_types import AgentType
    from ...permissions.decision import Asker

__all__ = ["SimWorker"]

# Compiled for the first prompt that has a marker (a plain prompt is not searched).
_MARKER = lazy_pattern(r"\[\[sim:(?P<key>[a-z]+)(?:=(?P<value>[^\]]*))?\]\]")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _append_line(path: str, line: str) -> None:
    # One write(2) with O_APPEND: whole lines, even from processes killed mid-run.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def _agent_file(request: AgentRequest, name: str) -> Path:
    """``name`` inside the agent's working directory; WorkerError for a path leading out."""
    base = (request.cwd or Path.cwd()).resolve()
    rel = Path(name)
    if not name or rel.is_absolute() or ".." in rel.parts:
        raise WorkerError(f"sim: a file marker needs a relative path inside {base}, not {name!r}")
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise WorkerError(f"sim: {name!r} leads outside {base}")
    return path


def _write_files(request: AgentRequest, writes: list[str]) -> None:
    for spec in writes:
        name, _, text = spec.partition(":")
        path = _agent_file(request, name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise WorkerError(f"sim: cannot write {name}: {exc.strerror}") from None


def _read_file(request: AgentRequest, name: str) -> str:
    path = _agent_file(request, name)
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"[sim] {name}: no such file"
    except OSError as exc:
        raise WorkerError(f"sim: cannot read {name}: {exc.strerror}") from None


#: the input key the sim puts a scripted call's argument under, per tool
_MAIN_INPUT = {
    "Bash": "command",
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "Grep": "pattern",
    "Glob": "pattern",
}


def _scripted_call(value: str) -> tuple[str, dict[str, Any], str]:
    """``Bash rm -rf build => denied`` → ("Bash", {"command": "rm -rf build"}, "denied")."""
    call, _, outcome = value.partition("=>")
    outcome = outcome.strip() or "ok"
    if outcome not in ("ok", "error", "denied", "ask"):
        outcome = "error"
    name, _, arg = call.strip().partition(" ")
    name = name or "Tool"
    return name, {_MAIN_INPUT.get(name, "input"): arg.strip()}, outcome


def _tokens(text: str) -> int:
    # Roughly four characters a token, as for English text.
    return max(1, math.ceil(len(text) / 4))


@final
class SimWorker(Worker):
    """Deterministic offline worker.

    Args:
        latency (float): seconds each agent takes (before jitter).
        jitter (float): 0..1, spread latency by up to ±jitter×latency, fixed per prompt.
        fail (Callable[[AgentRequest], str | None] | None): test hook; return a reason to make
            that agent fail terminally.
        exec_log (str | None): append one line per execution (``index<TAB>label``) to this
            file, so tests in other processes can count what really ran (env
            ``JSHOST_SIM_EXEC_LOG`` on the command line).
        structured_output_cap (int): the retry cap a schema the sim cannot satisfy is reported
            against (``MAX_STRUCTURED_OUTPUT_RETRIES`` on the command line).
        asker (Asker | None): who answers a scripted ``=> ask`` tool call (the interactive
            view's prompt); None: nobody, so ``ask`` means deny. May be set after construction.
    """

    name = "sim"
    supports_schema = True

    def __init__(
        self,
        *,
        latency: float = 0.05,
        jitter: float = 0.0,
        fail: Callable[[AgentRequest], str | None] | None = None,
        exec_log: str | None = None,
        structured_output_cap: int = 5,
        asker: Asker | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must be non-negative")
        if not 0 <= jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        self.latency = latency
        self.jitter = jitter
        self._fail = fail
        self._exec_log = exec_log
        self.structured_output_cap = structured_output_cap
        self.asker = asker
        self.calls = 0
        #: the agent type each agent (by index) arrived with, when it had one: the sim honours
        #: no type, it keeps them so tests can see what the engine resolved
        self.agent_definitions: dict[int, AgentType] = {}

    def describe(self) -> str:
        return f"sim worker (offline, {self.latency:g} s simulated latency)"

    def model_name(self, model: str | None) -> str | None:
        return model or "sim"

    async def run(self, request: AgentRequest) -> AgentResult:
        self.calls += 1
        if request.agent_definition is not None:
            self.agent_definitions[request.index] = request.agent_definition
        if self._exec_log:
            _append_line(self._exec_log, f"{request.index}\t{request.label}")
        # One pass over the prompt, none for a prompt without markers (most of them).
        found = list(_MARKER.finditer(request.prompt)) if "[[sim:" in request.prompt else []
        markers = {m.group("key"): m.group("value") for m in found}
        digest = _digest(f"{request.model}\0{request.prompt}")
        delay = self.latency
        if "latency" in markers:
            try:
                delay = max(0.0, float(markers["latency"] or 0))
            except ValueError:
                delay = self.latency
        elif self.jitter and delay:
            spread = int(digest[:8], 16) / 0xFFFFFFFF * 2 - 1
            delay = max(0.0, delay * (1 + self.jitter * spread))
        report_usage(Usage(input_tokens=_tokens(request.prompt) + 12))
        writes = [m.group("value") or "" for m in found if m.group("key") == "write"]
        if writes:
            await trio.to_thread.run_sync(_write_files, request, writes)
        calls = [_scripted_call(m.group("value") or "") for m in found if m.group("key") == "tool"]
        transcript: list[dict[str, Any]] = []
        report_transcript(transcript)  # kept if the agent is stopped, skipped or restarted
        for n, call in enumerate(calls):
            await self._scripted_tool(request, n, *call, transcript, delay / (len(calls) + 1))
        if calls:
            delay /= len(calls) + 1
        if "hang" in markers:
            await trio.sleep_forever()
        if delay:
            await trio.sleep(delay)
        else:
            await trio.lowlevel.checkpoint()
        failure: WorkerError | None = None
        if "throw" in markers:
            failure = AgentRejectedError(markers["throw"] or "sim: injected rejection")
        elif "fail" in markers:
            failure = WorkerError(markers["fail"] or "sim: injected failure")
        elif self._fail is not None and (reason := self._fail(request)):
            failure = WorkerError(reason)
        if failure is not None:
            failure.transcript = tuple(transcript)
            raise failure

        model = request.model or "sim"
        if request.schema is not None:
            from ...schemas import structured_output_cap_message
            from .instances import SchemaUnsatisfiable, generate_instance

            try:
                # Off the run loop: building a value is bounded, but can take a while, and
                # the loop must go on seeing stops, timeouts and other agents meanwhile.
                value: Any = await trio.to_thread.run_sync(
                    generate_instance, request.schema, request.prompt, abandon_on_cancel=True
                )
            except SchemaUnsatisfiable as exc:
                raise AgentRejectedError(
                    structured_output_cap_message(str(exc), self.structured_output_cap)
                ) from None
            out_text = repr(value)
        elif "read" in markers:
            value = await trio.to_thread.run_sync(_read_file, request, markers["read"] or "")
            out_text = value
        else:
            first = " ".join(request.prompt.split())
            if len(first) > 120:
                first = first[:119] + "…"
            value = f"[sim {model}] {first} (#{digest[:8]})"
            out_text = value
        output = _tokens(out_text)
        if "tokens" in markers:
            with contextlib.suppress(ValueError):
                output = max(0, int(markers["tokens"] or 0))
        usage = Usage(input_tokens=_tokens(request.prompt) + 12, output_tokens=output)
        if transcript:
            transcript.append({"kind": "text", "text": out_text})
        return AgentResult(
            value=value, usage=usage, model=model, attempts=1, transcript=tuple(transcript)
        )

    async def _scripted_tool(
        self,
        request: AgentRequest,
        n: int,
        tool: str,
        tool_input: dict[str, Any],
        outcome: str,
        transcript: list[dict[str, Any]],
        delay: float,
    ) -> None:
        """Report one ``[[sim:tool=…]]`` call as a worker with tools would (nothing runs)."""
        from ...permissions.decision import Decision, PermissionRequest
        from ...transcripts import call_text, rule_text

        call_id = f"sim_{request.index}_{n + 1}"
        transcript.append({"kind": "tool_use", "id": call_id, "tool": tool, "input": tool_input})
        started = trio.current_time()
        status = outcome
        rule = rule_text(tool, tool_input)
        if outcome == "ask":
            decision = Decision(
                "ask", f"sim: {rule} needs a person's answer", suggestion=rule, source="sim"
            )
            answer = None  # nobody to ask: ask means deny
            if self.asker is not None:
                report_tool(ToolUse(tool, tool_input, "waiting", f"waiting for you: {rule}"))
                answer = await self.asker.ask(
                    PermissionRequest(request.index, request.label, tool, tool_input, decision)
                )
            entry = {"kind": "permission", "tool": tool, "behavior": "ask", "rule": rule}
            transcript.append({**entry, "answer": answer})
            status = "denied" if answer in (None, "deny") else "ok"
        if delay:
            await trio.sleep(delay)
        else:
            await trio.lowlevel.checkpoint()
        elapsed = trio.current_time() - started
        if status == "denied":
            summary = f"no rule allows {rule} (sim: no policy)"
            result = f"Permission to use {rule} was denied: {summary}"
        elif status == "error":
            summary = f"{call_text(tool, tool_input)}: failed (sim)"
            result = "sim: the tool failed (scripted)"
        else:
            summary = f"{call_text(tool, tool_input)} (sim: nothing was run)"
            result = "sim: nothing was run"
        report_tool(ToolUse(tool, tool_input, status, summary, None, elapsed))  # type: ignore[arg-type]
        transcript.append(
            {"kind": "tool_result", "id": call_id, "content": result, "is_error": status != "ok"}
        )
