"""The trio run loop: caps, FIFO scheduling, budget, timers, child workflows, cancellation.

One run = one sandbox on its own JS thread. The loop starts the script, then alternates:
handle the events the script emitted (agent calls, logs, timers, …), wait for something to
finish (an agent, a timer), and settle it in the sandbox in one batch. Python is the authority
for every cap: the prelude checks them too, but only so that it can throw synchronously.
"""

from __future__ import annotations

import heapq
import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import trio

from .. import events as ev
from ..bounds import (
    MAX_PATH_CHARS,
    MAX_PROMPT_CHARS,
    MAX_TITLE_CHARS,
    MAX_WORKFLOW_CALLS,
    text_problem,
    value_has_surrogate,
)
from ..errors import JshostError, ScriptLoadError, StoreError, WorkerError, WorkflowError
from ..journal import JournalEntry, Recorder, Replay, cache_key
from ..records import AgentRecord, RunOutcome, RunStatus
from ..sandbox import (
    CHILD_LINE_BASE,
    RUNTIME_LINE_BASE,
    JsThread,
    Sandbox,
    SandboxLimitError,
    SandboxLimits,
    parse_frames,
)
from ..schemas import schema_problem, schema_size_problem
from ..script import (
    CHILD_PREFIX,
    DESTRUCTURING_MESSAGE,
    PREFIX,
    Script,
    destructuring_site,
    load_child_script,
)
from ..settings import ModelPolicy
from ..workers.base import AgentRejectedError, AgentRequest, Usage, Worker, progress_callback

__all__ = [
    "NO_ARGS",
    "AgentRecord",
    "Engine",
    "EngineControl",
    "Limits",
    "RunOutcome",
    "default_label",
]

#: ``args`` when the user gave none: the script sees ``undefined`` (JSON null stays ``null``).
NO_ARGS: Any = object()

MAX_CONCURRENCY = 256
#: longest a change waits in the recorder's buffer while nothing else happens (for watchers)
FLUSH_INTERVAL = 0.5
_KEEP_LOGS = 1000
# Failure lines and progress groups a run keeps: a script can make as many as it likes (a
# parallel() of failing thunks in a loop, phase() with a counter), the host must not.
_KEEP_FAILURES = 1000
_MAX_PHASES = 1000
# What the host keeps of one log or failure line: a script may log strings as large as its
# heap, and the host must not hold a thousand of them.
MAX_LINE_CHARS = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Caps of one run.

    Args:
        concurrency (int): agents running at once, 1–256.
        max_agents (int): ``agent()`` calls per run, child workflows included.
        budget (int | None): output tokens; no new agent starts once they are spent.
        timeout (float | None): wall-clock seconds for the whole run.
        sandbox (SandboxLimits): memory, stack and CPU-slice limits of the JS context.
    """

    concurrency: int = 16
    max_agents: int = 1000
    budget: int | None = None
    timeout: float | None = None
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if self.max_agents < 1:
            raise ValueError("max_agents must be at least 1")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be a positive number of tokens")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")


#: Node's largest timer delay; longer (or shorter than 1 ms, or not a number) means 1 ms
MAX_TIMER_MS = 2**31 - 1


def timer_delay(ms: float) -> float:
    """Seconds a ``setTimeout(fn, ms)`` waits: Node's rule, as in the reference runtime."""
    ms = float(ms)
    if not (1 <= ms <= MAX_TIMER_MS):  # also NaN
        ms = 1.0
    return ms / 1000


def default_label(prompt: str) -> str:
    """The reference's default label: the prompt's first 60 characters, whitespace collapsed."""
    return " ".join(prompt.split())[:60].strip() or "agent"


def _clip(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    return f"{text[:MAX_LINE_CHARS]}… ({len(text) - MAX_LINE_CHARS:,} more characters)"


def _title(text: str) -> str:
    """A phase or group title as the host keeps it: at most a set length."""
    return text if len(text) <= MAX_TITLE_CHARS else f"{text[:MAX_TITLE_CHARS]}…"


def _text_cost(prompt: str, opts: dict[str, Any], schema_text: str | None) -> int:
    """Bytes of host memory an agent() call's text takes (kept in its record and the store)."""
    cost = sys.getsizeof(prompt) + (0 if schema_text is None else sys.getsizeof(schema_text))
    return cost + sum(sys.getsizeof(v) for v in opts.values() if isinstance(v, str))


def _payload_error(name: str, message: str) -> dict[str, str]:
    return {"name": name, "message": message}


_CHILD_CACHE = 16  # child scripts a run keeps loaded (each up to a few MB)

_NESTED = (
    "workflow() cannot be called from within a child workflow — nesting is limited to one "
    "level. Inline the inner script or call its agents directly."
)


def _is_prelude(line: int) -> bool:
    return RUNTIME_LINE_BASE <= line < CHILD_LINE_BASE


class _Refused(Exception):
    """A call the host refuses; the script's promise rejects with ``name: message``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _refuse_text(text: str, what: str, limit: int) -> None:
    problem = text_problem(text, what, limit)
    if problem is not None:
        raise _Refused(*problem)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise _Refused("TypeError", f"{what} contains control characters")


class _BridgeError(Exception):
    """An event from the sandbox that the prelude never emits: the script forged it."""


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise _BridgeError(what)


def _thrown_by_script(stack: str) -> bool:
    """Whether the error's first frame is script code, not a native function (Object.keys)."""
    first = stack.lstrip().split("\n", 1)[0]
    return "<input>:" in first


@dataclass
class _Child:
    path: str
    name: str
    source: str = ""


class Engine:
    """Runs one workflow script to its end.

    Args:
        script (Script): a loaded, checked script.
        worker (Worker): the model worker every agent goes to.
        limits (Limits): the run's caps.
        args (Any): the JSON value the script sees as ``args``; ``NO_ARGS`` → ``undefined``.
        sink (events.Sink | None): receives every event, synchronously.
        resolve_workflow (Callable[[str], Path | None] | None): maps a saved workflow name to
            its file, for ``workflow('name')``; ``names()`` lists what it knows.
        workflow_names (Callable[[], list[str]] | None): the names for the "Available:" list.
        model (str | None): the run's model, for agents that name none or say ``inherit``.
        recorder (Recorder | None): where agents, journal entries and log lines are saved;
            flushed before each batch of results reaches the script.
        replay (Replay | None): stored results of earlier sessions, when resuming.
        model_policy (ModelPolicy | None): the reference's model settings
            (``CLAUDE_CODE_SUBAGENT_MODEL`` and ``_FORCE``); none apply when None.
    """

    def __init__(
        self,
        script: Script,
        *,
        worker: Worker,
        limits: Limits | None = None,
        args: Any = NO_ARGS,
        sink: ev.Sink | None = None,
        resolve_workflow: Callable[[str], Path | None] | None = None,
        workflow_names: Callable[[], list[str]] | None = None,
        model: str | None = None,
        recorder: Recorder | None = None,
        replay: Replay | None = None,
        model_policy: ModelPolicy | None = None,
    ) -> None:
        self.script = script
        self._model_policy = model_policy or ModelPolicy()
        self.recorder = recorder or Recorder()
        self._replay = replay
        self._key = ""  # the cache-key chain: the key of the latest agent() call
        self.worker = worker
        self.model = model
        self.limits = limits or Limits()
        self.args_json = (
            None if args is NO_ARGS else json.dumps(args, ensure_ascii=True, allow_nan=False)
        )
        self._sink = sink or (lambda e: None)
        self._resolve_workflow = resolve_workflow or (lambda name: None)
        self._workflow_names = workflow_names or list
        self.agents: list[AgentRecord] = []
        self._by_request: dict[int, AgentRecord] = {}
        self._replies: deque[tuple[int, bool, Any]] = deque()
        self._wakeup: trio.Event | None = None
        self._outstanding = 0  # agent and workflow requests whose promise is not settled yet
        self._spent = 0
        self._running = 0
        self._peak = 0
        self._timers: dict[int, float] = {}
        self._timer_heap: list[tuple[float, int]] = []
        self._failures: list[str] = []
        self._logs: deque[str] = deque(maxlen=_KEEP_LOGS)
        self._dropped_logs = 0
        self._phases: list[str] = [p.title for p in script.meta.phases]
        self._phase_set = set(self._phases)
        self._dropped_failures = 0
        self._children: list[_Child] = []
        self._workflow_calls = 0
        self._child_cache: dict[tuple[Any, ...], Script | str] = {}
        self._text_bytes = 0  # memory the agents' prompts, options and schemas hold
        self._child_groups: dict[str, int] = {}
        self._rejected: list[AgentRecord] = []
        self._scope: trio.CancelScope | None = None
        self._sandbox: Sandbox | None = None
        self._stop_requested = False
        self._queue: deque[tuple[int, AgentRecord, AgentRequest]] = deque()
        self._nursery: trio.Nursery | None = None
        self._script_finished = False
        self._paused = False
        # Steering running agents: their cancel scopes, what a cancel means, restarts so far.
        self._scopes: dict[int, trio.CancelScope] = {}
        self._actions: dict[int, Literal["skip", "restart"]] = {}
        self._restarts: dict[int, int] = {}
        self._deadline = math.inf  # the --timeout's trio deadline
        self._timed_out = False
        # agent() calls the cap refused: one failure line says so, with the count, at the end
        self._refused = 0
        self._cap_line: int | None = None  # its index in self._failures
        self._cancelled_queued: list[AgentRecord] = []

    # ---- public --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the run: in-flight agents are cancelled, finished ones are kept."""
        if not self._stop_requested:
            self._emit(ev.RunStopping())
        self._stop_requested = True
        # Reference §7.4: once the run is stopping no queued agent starts.
        self._cancel_queued()
        if self._scope is not None:
            self._scope.cancel()

    @property
    def spent(self) -> int:
        """Output tokens spent so far."""
        return self._spent

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Pause (no queued agent starts; running ones finish) or carry on."""
        if paused == self._paused:
            return
        self._paused = paused
        self.recorder.paused(paused)
        self._emit(ev.RunPaused(paused))
        if not paused:
            self._pump()

    def skip_agent(self, index: int) -> bool:
        """Skip agent #index if it is queued or running: its ``agent()`` resolves to null.

        Returns whether there was such an agent to skip.
        """
        for i, (request_id, rec, _) in enumerate(self._queue):
            if rec.index == index:
                del self._queue[i]
                self._finish_skipped(request_id, rec)
                return True
        return self._cancel_attempt(index, "skip")

    def restart_agent(self, index: int) -> bool:
        """Cancel running agent #index's attempt and run it again (one more attempt)."""
        return self._cancel_attempt(index, "restart")

    def _cancel_attempt(self, index: int, action: Literal["skip", "restart"]) -> bool:
        scope = self._scopes.get(index)
        if scope is None:
            return False
        self._actions[index] = action
        scope.cancel()
        return True

    async def run(self) -> RunOutcome:
        """Run the script; never raises for anything the script or a worker does."""
        started = time.monotonic()
        self._emit(ev.RunStarted(self.script.meta, self.worker.describe(), self.limits))
        js = JsThread(self.limits.sandbox)
        holder: dict[str, Sandbox] = {}
        result: Any = None
        error: WorkflowError | None = None
        finished = False
        try:
            async with trio.open_nursery() as nursery:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    if self._stop_requested:
                        scope.cancel()
                    deadline = (
                        trio.current_time() + self.limits.timeout
                        if self.limits.timeout
                        else math.inf
                    )
                    self._deadline = deadline
                    with trio.move_on_at(deadline) as timeout_scope:
                        try:
                            finished, result = await self._loop(js, holder, nursery)
                        except WorkflowError as exc:
                            error = exc
                    self._script_finished = True
                    self._cancel_queued()
                    if timeout_scope.cancelled_caught and error is None and not finished:
                        self._timed_out = True
                        error = WorkflowError(
                            f"the run exceeded its wall-clock timeout of {self.limits.timeout:g} s"
                            " (--timeout)",
                            name="TimeoutError",
                        )
                # Agents the script never awaited (or that were running when it failed).
                nursery.cancel_scope.cancel()
        finally:
            if self._sandbox is not None:
                # An abandoned step (a stop or a timeout during `while (true) {}`) ends soon.
                self._sandbox.halt()
                self._sandbox = None
            if holder and js.abandoned:
                js.submit(self._close_sandbox, holder)  # once the abandoned step has ended
            elif holder:
                await js.run(self._close_sandbox, holder, watch=False)
            js.close()
        if self._stop_requested and error is not None and error.name == "StopError":
            error = None  # the halted sandbox refusing more work: that is the stop itself
        abandoned = finished or error is not None
        if self._timed_out:
            why = f"the run's --timeout of {self.limits.timeout:g} s was reached"
        else:
            why = "the script ended before this agent finished"
        ended = list(self._cancelled_queued)
        for rec in self.agents:
            if rec.status in ("queued", "running"):
                rec.status = "cancelled"
                rec.finished_at = rec.finished_at or time.monotonic()
                self.recorder.agent(rec)
                self._emit(ev.AgentFinished(rec))
                ended.append(rec)
        if abandoned:
            for rec in sorted(ended, key=lambda r: r.index):
                self._add_failure(f"[{rec.label}] cancelled: {why}")
        if self._stop_requested and error is None and not finished:
            status: RunStatus = "stopped"
        elif error is not None:
            status = "failed"
        else:
            status = "completed"
        self._report_unhandled(error)
        self._settle_cap_line()
        if self._dropped_failures:
            note = f"… and {self._dropped_failures:,} more failure lines (not kept)"
            self._failures.append(note)
            self._emit(ev.FailureLine(note))
        outcome = RunOutcome(
            status=status,
            result=result if status == "completed" else None,
            error=error,
            agents=self.agents,
            failures=self._failures,
            logs=list(self._logs),
            phases=self._phases,
            elapsed=time.monotonic() - started,
            peak_concurrency=self._peak,
            dropped_logs=self._dropped_logs,
            refused=self._refused,
            budget=self.limits.budget,
            spent=self._spent,
            worker_problem=self.worker.problem(),
        )
        self._emit(ev.RunFinished(outcome))
        return outcome

    # ---- the loop ------------------------------------------------------------------------

    @staticmethod
    def _close_sandbox(holder: dict[str, Sandbox]) -> None:
        sandbox = holder.pop("sandbox", None)
        if sandbox is not None:
            sandbox.stop()
            del sandbox  # freed here, on the JS thread that owns it

    async def _js(self, js: JsThread, fn: Callable[..., list[dict[str, Any]]], *a: Any) -> list:
        try:
            return await js.run(fn, *a)
        except SandboxLimitError as exc:
            raise WorkflowError(exc.message, name=exc.name, path=self.script.path) from None
        except StoreError as exc:
            raise WorkflowError(
                f"cannot save agent results, so the run stops: {exc}", name="StoreError"
            ) from None

    def _save_and_settle(self, sandbox: Sandbox, batch: str) -> list[dict[str, Any]]:
        # On the sandbox's thread: the results in this batch are durable before the script
        # sees them, and saving costs no thread hop of its own.
        self.recorder.flush()
        return sandbox.settle(batch)

    async def _loop(
        self, js: JsThread, holder: dict[str, Sandbox], nursery: trio.Nursery
    ) -> tuple[bool, Any]:
        config = {
            "maxAgents": self.limits.max_agents,
            "budget": self.limits.budget,
            "args": self.args_json,
        }
        try:
            sandbox = await js.run(Sandbox, self.limits.sandbox, config, watch=False)
        except SandboxLimitError as exc:
            raise WorkflowError(exc.message, name=exc.name) from None
        holder["sandbox"] = sandbox
        self._sandbox = sandbox
        if self.limits.timeout:
            sandbox.deadline = time.monotonic() + self.limits.timeout
        self._nursery = nursery
        pending = deque(await self._js(js, sandbox.start, self.script.wrapped))
        while True:
            handled = 0
            while pending or sandbox.more:
                if not pending:  # the rest of a flood of events, a chunk at a time
                    pending.extend(await self._js(js, sandbox.take))
                    continue
                event = pending.popleft()
                handled += 1
                running = self._running
                try:
                    outcome = await self._handle(event, js, sandbox, nursery, pending)
                except _BridgeError as exc:
                    raise WorkflowError(
                        f"the sandbox sent a malformed bridge event ({exc})", name="InternalError"
                    ) from None
                if outcome is not None:
                    return True, outcome[0]
                if pending and (self._running > running or handled % 64 == 0):
                    # A step may emit a thousand agent() calls: let a worker start as soon as
                    # its agent gets a slot, and let finished agents and timers be seen,
                    # rather than only after every event of the step is handled.
                    await trio.lowlevel.checkpoint()
            if self._outstanding == 0 and not self._timers:
                raise WorkflowError(
                    "the script is waiting for a promise that can never settle: no agents are "
                    "running and no timers are pending",
                    name="DeadlockError",
                    path=self.script.path,
                )
            await self._wait()
            batch = self._take_batch()
            pending.extend(await self._js(js, self._save_and_settle, sandbox, batch))

    async def _wait(self) -> None:
        if self._replies:
            # Requests the host answers at once (`await workflow('nope')` in a loop) must
            # not keep the loop from ever seeing a stop or the run's timeout.
            await trio.lowlevel.checkpoint()
            return
        self._wakeup = trio.Event()
        deadline = self._next_timer()
        if self.recorder.dirty:  # someone may be watching the store: save within a moment
            deadline = min(deadline, trio.current_time() + FLUSH_INTERVAL)
        with trio.move_on_at(deadline):
            await self._wakeup.wait()
        self._wakeup = None

    def _next_timer(self) -> float:
        heap = self._timer_heap
        while heap and (heap[0][1] not in self._timers or self._timers[heap[0][1]] != heap[0][0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def _take_batch(self) -> str:
        replies = []
        while self._replies:
            replies.append(list(self._replies.popleft()))
        self._outstanding -= len(replies)
        fired = []
        now = trio.current_time()
        while self._next_timer() <= now:
            _, timer_id = heapq.heappop(self._timer_heap)
            del self._timers[timer_id]
            fired.append(timer_id)
        batch = {"spent": self._spent, "count": len(self.agents), "r": replies, "f": fired}
        return json.dumps(batch, ensure_ascii=True, allow_nan=False, default=str)

    def _reply(self, request_id: int, ok: bool, payload: Any) -> None:
        self._replies.append((request_id, ok, payload))
        if self._wakeup is not None:
            self._wakeup.set()

    # ---- events from the sandbox ---------------------------------------------------------

    async def _handle(
        self,
        event: Any,
        js: JsThread,
        sandbox: Sandbox,
        nursery: trio.Nursery,
        pending: deque,
    ) -> tuple[Any] | None:
        _need(isinstance(event, dict), "not an object")
        kind = event.get("t")
        if kind == "agent":
            await self._on_agent(event, nursery)
        elif kind == "log":
            msg = event.get("msg")
            _need(isinstance(msg, str), "log without text")
            self._log(msg)
        elif kind == "phase":
            title = event.get("title")
            _need(isinstance(title, str), "phase without title")
            title = _title(title)
            if self._add_phase(title):
                self._emit(ev.PhaseStarted(title))
        elif kind == "failure":
            line = event.get("line")
            _need(isinstance(line, str), "failure without text")
            if line.endswith(": " + self._cap_error()["message"]):
                self._note_refused()
            else:
                self._add_failure(line)
        elif kind == "timer":
            timer_id, ms = event.get("id"), event.get("ms")
            _need(isinstance(timer_id, int) and isinstance(ms, int | float), "bad timer")
            at = trio.current_time() + timer_delay(ms)
            self._timers[timer_id] = at
            heapq.heappush(self._timer_heap, (at, timer_id))
        elif kind == "clear":
            self._timers.pop(event.get("id"), None)
        elif kind == "workflow":
            pending.extend(await self._on_workflow(event, js, sandbox))
        elif kind == "done":
            if event.get("ok") is True:
                # Exact, lone surrogates included: the store keeps JSON escapes, and every
                # human-facing surface shows them inert (jshost.text.printable).
                return (event.get("value"),)
            raise self._script_error(event)
        else:
            raise _BridgeError(f"unknown kind {kind!r}")
        return None

    async def _on_agent(self, event: dict[str, Any], nursery: trio.Nursery) -> None:
        request_id, prompt, opts = event.get("id"), event.get("prompt"), event.get("opts")
        _need(isinstance(request_id, int) and isinstance(prompt, str), "bad agent call")
        _need(isinstance(opts, dict), "bad agent options")
        schema_text = event.get("schema")
        _need(schema_text is None or isinstance(schema_text, str), "bad schema")
        self._outstanding += 1
        if len(self.agents) >= self.limits.max_agents:
            self._reply(request_id, False, self._cap_error())
            return
        if self._budget_exceeded():
            self._reply(request_id, False, self._budget_error())
            return
        cost = _text_cost(prompt, opts, schema_text)
        refused = self._agent_problem(prompt, opts, cost)
        if refused is not None:
            self._reply(request_id, False, _payload_error(*refused))
            return
        schema = None
        if schema_text is not None:
            # Checked off the loop (a schema with a `pattern` or a `$ref` is checked against
            # the meta-schema, which takes a while for a large one), and only once its size
            # is known to be bounded.
            problem = schema_size_problem(len(schema_text))
            if problem is None:
                schema = json.loads(schema_text)
                if value_has_surrogate(schema):
                    problem = (
                        "agent({schema}) contains a lone surrogate, which is not valid Unicode text"
                    )
                else:
                    problem = await trio.to_thread.run_sync(
                        schema_problem, schema, abandon_on_cancel=True
                    )
            if problem:
                self._reply(request_id, False, _payload_error("TypeError", problem))
                return
        self._text_bytes += cost

        def text(key: str) -> str | None:
            v = opts.get(key)
            return v if isinstance(v, str) else None

        label = text("label") or default_label(prompt)
        self._key = key = cache_key(self._key, prompt, opts, schema)
        effort = opts.get("effort")
        stall = opts.get("stallMs")
        rec = AgentRecord(
            index=len(self.agents) + 1,
            label=label,
            prompt=prompt,
            phase=text("phase"),
            model=text("model"),
            schema=schema,
            key=key,
            options=opts,
            queued_at=time.monotonic(),
        )
        if rec.phase is not None:
            self._add_phase(rec.phase)
        asked = None if rec.model in (None, "inherit") else rec.model
        model, note = self._model_policy.choose(asked, self.model)
        if note is not None:
            self._log(f"[{label}] {note}")
        request = AgentRequest(
            index=rec.index,
            prompt=prompt,
            label=label,
            schema=schema,
            model=model,
            effort=effort if isinstance(effort, str | int | float) else None,
            phase=rec.phase,
            agent_type=text("agentType"),
            isolation=text("isolation"),
            stall_ms=int(stall) if isinstance(stall, int | float) and stall > 0 else None,
            log=self._log,
        )
        # One name for the model from queued to done: what the worker will say it used.
        rec.model_used = self.worker.model_name(request.model)
        self.agents.append(rec)
        self._by_request[request_id] = rec
        decision = self._replay.decide(key) if self._replay is not None else None
        if decision is not None and decision.hit:
            rec.status = "cached"
            rec.result = decision.value
            rec.started_at = rec.finished_at = rec.queued_at
            self.recorder.agent(rec)
            self._reply(request_id, True, decision.value)
            self._emit(ev.AgentFinished(rec))
            return
        self.recorder.agent(rec)
        self._emit(ev.AgentQueued(rec))
        self._queue.append((request_id, rec, request))
        self._pump()

    def _stopping(self) -> bool:
        """Whether the run is ending (stop, --timeout, the script done): nothing new starts."""
        return (
            self._stop_requested or self._script_finished or trio.current_time() >= self._deadline
        )

    def _cancel_queued(self) -> None:
        """Record every queued agent as cancelled: the run is stopping, so none will start."""
        now = time.monotonic()
        while self._queue:
            _, rec, _ = self._queue.popleft()
            rec.status = "cancelled"
            rec.finished_at = now
            self.recorder.agent(rec)
            self._cancelled_queued.append(rec)
            self._emit(ev.AgentFinished(rec))

    def _agent_problem(
        self, prompt: str, opts: dict[str, Any], cost: int
    ) -> tuple[str, str] | None:
        """Why the host refuses this agent() call's text, or None."""
        refused = text_problem(prompt, "agent() prompt", MAX_PROMPT_CHARS)
        if refused is not None:
            return refused
        if isinstance(opts.get("phase"), str):
            # Often inherited from phase(), whose title the host keeps as it is (clipped): a
            # group title is shown and stored, never sent to a model.
            opts["phase"] = _title(opts["phase"])
        for key, value in opts.items():
            _need(isinstance(key, str) and len(key) < 64, "bad option name")
            _need(isinstance(value, str | int | float | bool), "bad option value")
            if isinstance(value, str) and key != "phase":
                refused = text_problem(value, f"agent() option {key}", MAX_TITLE_CHARS)
                if refused is not None:
                    return refused
        # The host keeps every prompt of a run (records, the store, the worker's request), so
        # their total (with labels, options and schemas) is held to the sandbox's memory limit.
        cap = self.limits.sandbox.memory
        if self._text_bytes + cost > cap:
            return "RangeError", (
                f"agent(): the prompts of this run would total more than {cap >> 20} MiB, the "
                "sandbox's memory limit (--memory-limit); the host keeps every prompt of a run"
            )
        return None

    def _pump(self) -> None:
        """Start queued agents, in call order, while slots are free (the FIFO queue)."""
        if self._queue and self._stopping():
            # Reference §7.4: once a run is stopping, a freed slot starts nothing.
            self._cancel_queued()
            return
        while self._queue and self._running < self.limits.concurrency and not self._paused:
            if self._nursery is None:
                return
            request_id, rec, request = self._queue.popleft()
            if self._budget_exceeded():
                rec.status = "skipped"
                rec.error = "token budget exceeded"
                rec.finished_at = time.monotonic()
                self.recorder.agent(rec)
                self._reply(request_id, False, self._budget_error())
                self._emit(ev.AgentFinished(rec))
                continue
            rec.status = "running"
            rec.started_at = time.monotonic()
            rec.attempts = 1
            self._running += 1
            self._peak = max(self._peak, self._running)
            self.recorder.agent(rec)
            self.recorder.entry(JournalEntry("started", rec.key, rec.index))
            self._scopes[rec.index] = trio.CancelScope()
            self._emit(ev.AgentStarted(rec))
            self._nursery.start_soon(self._run_agent, request_id, rec, request)

    def _progress(self, rec: AgentRecord, usage: Usage) -> None:
        if rec.status == "running":
            rec.usage = usage
            self._emit(ev.AgentProgress(rec))

    async def _attempts(self, rec: AgentRecord, request: AgentRequest) -> Any:
        """The worker's result, running it again each time the user restarts the agent.

        None when the user skipped the agent.
        """
        while True:
            # The first scope was made when the slot was given, so a skip or a restart asked
            # for before this task got going is not lost.
            scope = self._scopes.setdefault(rec.index, trio.CancelScope())
            with scope:
                return await self.worker.run(request)
            del self._scopes[rec.index]
            # Only our own scope's cancel gets here: the user skipped or restarted the agent.
            if self._actions.pop(rec.index, None) != "restart":
                return None
            self._restarts[rec.index] = self._restarts.get(rec.index, 0) + 1
            rec.attempts += 1
            rec.started_at = time.monotonic()
            self.recorder.agent(rec)
            self._emit(ev.AgentStarted(rec))

    def _finish_skipped(self, request_id: int, rec: AgentRecord) -> None:
        rec.status = "skipped"
        rec.error = "skipped by the user"
        rec.finished_at = time.monotonic()
        self.recorder.agent(rec)
        # A skipped agent counts as failed for resume (reference §7.4).
        self.recorder.entry(JournalEntry("failed", rec.key, rec.index))
        self._reply(request_id, True, None)
        self._emit(ev.AgentFinished(rec))

    async def _run_agent(self, request_id: int, rec: AgentRecord, request: AgentRequest) -> None:
        progress_callback.set(lambda usage: self._progress(rec, usage))
        try:
            result = await self._attempts(rec, request)
            if result is None:
                self._finish_skipped(request_id, rec)
                return
        except AgentRejectedError as exc:
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._rejected.append(rec)
            self._reply(request_id, False, _payload_error(exc.name, str(exc)))
        except WorkerError as exc:
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._add_failure(f"[{rec.label}] failed: {exc}")
            self._reply(request_id, True, None)
        except Exception as exc:  # a worker bug must not take the run down
            self._finish_failed(rec, f"{type(exc).__name__}: {exc}")
            self._add_failure(f"[{rec.label}] failed: {type(exc).__name__}: {exc}")
            self._reply(request_id, True, None)
        else:
            value = result.value
            rec.status = "done"
            rec.result = value
            self._charge(rec, result.usage, result.model, result.attempts)
            rec.finished_at = time.monotonic()
            self.recorder.agent(rec)
            if value is not None:  # null results are never journalled (reference §5.1)
                self.recorder.entry(JournalEntry("result", rec.key, rec.index, value))
            self._reply(request_id, True, value)
            self._emit(ev.AgentFinished(rec))
        finally:
            # Bookkeeping (tokens spent, finish time) is done before the slot goes to the next
            # agent in the queue, so the budget check at slot time sees it.
            self._scopes.pop(rec.index, None)
            self._actions.pop(rec.index, None)
            self._running -= 1
            self._pump()

    def _charge(self, rec: AgentRecord, usage: Usage | None, model: str, attempts: int) -> None:
        # Failed agents are charged too: their requests cost tokens all the same.
        if usage is not None:
            rec.usage = usage
            self._spent += usage.output_tokens
            if usage.output_tokens and self.limits.budget is not None:
                self._emit(ev.BudgetChanged(self._spent, self.limits.budget))
        rec.model_used = model or rec.model_used
        # Restarts asked for by the user are attempts too.
        rec.attempts = self._restarts.get(rec.index, 0) + max(1, attempts)

    def _finish_failed(self, rec: AgentRecord, message: str) -> None:
        rec.status = "failed"
        rec.error = message
        rec.finished_at = time.monotonic()
        self.recorder.agent(rec)
        self.recorder.entry(JournalEntry("failed", rec.key, rec.index))
        self._emit(ev.AgentFinished(rec))

    async def _on_workflow(
        self, event: dict[str, Any], js: JsThread, sandbox: Sandbox
    ) -> list[dict[str, Any]]:
        request_id, ref, args_json = event.get("id"), event.get("ref"), event.get("args")
        _need(isinstance(request_id, int) and isinstance(ref, dict), "bad workflow call")
        _need(args_json is None or isinstance(args_json, str), "bad workflow args")
        self._outstanding += 1
        name_ref = ref.get("name")
        raw = ref.get("scriptPath")
        _need(isinstance(name_ref, str) or isinstance(raw, str), "bad workflow reference")
        try:
            self._workflow_calls += 1
            if self._workflow_calls > MAX_WORKFLOW_CALLS:
                raise _Refused(
                    "RangeError",
                    f"workflow() call cap reached ({MAX_WORKFLOW_CALLS} per run, child "
                    "workflows included)",
                )
            self._check_caller(event.get("from"))
            if isinstance(name_ref, str):
                _refuse_text(name_ref, "workflow() name", MAX_TITLE_CHARS)
                try:
                    # Off the loop: the first lookup reads every saved workflow.
                    path = await trio.to_thread.run_sync(self._resolve_workflow, name_ref)
                except (OSError, ValueError, RuntimeError):
                    path = None
                if path is None:
                    found = await trio.to_thread.run_sync(self._workflow_names)
                    names = ", ".join(sorted(found)) or "(none)"
                    raise JshostError(
                        f"workflow('{name_ref}'): no workflow with that name. Available: {names}"
                    )
                label = f"workflow('{name_ref}')"
            else:
                _refuse_text(raw, "workflow({scriptPath})", MAX_PATH_CHARS)
                label = f"workflow({{scriptPath: '{raw}'}})"
                try:
                    path = self._child_path(raw)
                except (OSError, ValueError, RuntimeError):
                    raise JshostError(f"{label}: not a workflow script") from None
            child = await trio.to_thread.run_sync(self._load_child, path)
            if isinstance(child, str):
                raise JshostError(f"{label}: {child}")
            if len(child.meta.name) > MAX_TITLE_CHARS:
                raise _Refused(
                    "RangeError",
                    f"{label}: its meta.name is {len(child.meta.name):,} characters long; "
                    f"the limit is {MAX_TITLE_CHARS:,}",
                )
        except _Refused as exc:
            self._reply(request_id, False, _payload_error(exc.name, str(exc)))
            return []
        except JshostError as exc:
            self._reply(request_id, False, _payload_error("Error", str(exc)))
            return []
        name = child.meta.name
        n = self._child_groups[name] = self._child_groups.get(name, 0) + 1
        group = f"▸ {name}" if n == 1 else f"▸ {name} #{n}"
        self._add_phase(group)
        self._children.append(_Child(path=child.display_path, name=name, source=child.source))
        self._outstanding -= 1  # the child's own promise settles inside the sandbox
        return await self._js(
            js, sandbox.start_child, request_id, child.child_wrapped, name, group, args_json
        )

    def _load_child(self, path: Path) -> Script | str:
        """The child script at ``path``, or why it cannot run; the same file is read once.

        A loop of workflow() calls would otherwise read and check the same file (up to 2 MB
        of source) every time, for as many calls as the cap allows.
        """
        try:
            st = path.stat()
            key: tuple[Any, ...] | None = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        except (OSError, ValueError):
            key = None  # loading says what is wrong
        found = self._child_cache.get(key) if key is not None else None
        if found is None:
            try:
                found = load_child_script(path)
            except ScriptLoadError as exc:
                found = str(exc)
            except (OSError, ValueError, RuntimeError):
                found = "not a workflow script"
            if key is not None:
                self._child_cache[key] = found
                while len(self._child_cache) > _CHILD_CACHE:
                    del self._child_cache[next(iter(self._child_cache))]
        return found

    def _check_caller(self, stack: Any) -> None:
        """Refuse a workflow() call made from a child workflow's code, however it got there.

        A child reaches the parent's ``globalThis.workflow`` as easily as its own stub, so
        the host looks at who called: the prelude sends the call's stack trace, and frames at
        or past ``CHILD_LINE_BASE`` are a child's code. A call with no script frame at all
        (``.then(workflow)``) cannot be attributed and is refused too.
        """
        _need(isinstance(stack, str), "workflow call without its caller")
        lines = [line for _, line, _ in parse_frames(stack) if not _is_prelude(line)]
        if any(line >= CHILD_LINE_BASE for line in lines):
            raise _Refused("Error", _NESTED)
        if not lines:
            raise _Refused(
                "Error",
                "workflow() must be called from the workflow script's own code, not passed "
                "as a callback",
            )

    def _child_path(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        if path.is_absolute() or path.exists() or self.script.path is None:
            return path
        beside = Path(self.script.path).parent / path
        return beside if beside.exists() else path

    # ---- helpers -------------------------------------------------------------------------

    def _budget_exceeded(self) -> bool:
        total = self.limits.budget
        return total is not None and total > 0 and self._spent >= total

    def _budget_error(self) -> dict[str, str]:
        return _payload_error(
            "WorkflowBudgetExceededError",
            f"Workflow token budget exceeded ({self._spent} / {self.limits.budget} output "
            "tokens). Stopping further agent() calls. In-flight agents will complete; their "
            "results are preserved.",
        )

    def _cap_error(self) -> dict[str, str]:
        return _payload_error(
            "WorkflowAgentCapError",
            f"Workflow agent() call cap reached ({self.limits.max_agents}). This usually means "
            "a loop using budget.remaining() never terminates because no token budget was set "
            "— remaining() returns Infinity when budget.total is null. Add a hard iteration cap "
            "to the loop, or pass a token budget.",
        )

    def _cap_line_text(self, *, final: bool) -> str:
        cap = self.limits.max_agents
        n = self._refused
        lead = f"{n:,} agent() call{'' if n == 1 else 's'} refused" if final else "agent() refused"
        text = f"{lead}: {self._cap_error()['message']}"
        if cap < Limits.max_agents:
            text += f" (the cap of {cap:,} was set with --max-agents {cap})"
        return text

    def _note_refused(self) -> None:
        # The script saw the reference's error once per refused call; the user sees one line,
        # in progress now and with the count in the summary (see _settle_cap_line).
        self._refused += 1
        if self._cap_line is None:
            self._cap_line = len(self._failures)
            line = self._cap_line_text(final=False)
            self._failures.append(line)
            self._emit(ev.FailureLine(line))

    def _settle_cap_line(self) -> None:
        if self._cap_line is None:
            return
        line = self._cap_line_text(final=True)
        self._failures[self._cap_line] = line
        self._logs.append(line)
        self.recorder.log("failure", line)

    def _emit(self, event: ev.Event) -> None:
        self._sink(event)

    def _log(self, message: str) -> None:
        message = _clip(message)
        if len(self._logs) == self._logs.maxlen:
            self._dropped_logs += 1
        self._logs.append(message)
        self.recorder.log("log", message)
        self._emit(ev.LogLine(message))

    def _add_phase(self, title: str) -> bool:
        """Register a progress group; False when it is new and the run has too many already."""
        if title in self._phase_set:
            return True
        if len(self._phases) >= _MAX_PHASES:
            return False
        self._phases.append(title)
        self._phase_set.add(title)
        return True

    def _add_failure(self, line: str) -> None:
        line = _clip(line)
        self._logs.append(line)
        self.recorder.log("failure", line)
        if len(self._failures) >= _KEEP_FAILURES:
            self._dropped_failures += 1
            return
        self._failures.append(line)
        self._emit(ev.FailureLine(line))

    def _script_error(self, event: dict[str, Any]) -> WorkflowError:
        name = event.get("name") if isinstance(event.get("name"), str) else "Error"
        message = event.get("message") if isinstance(event.get("message"), str) else ""
        stack = event.get("stack") if isinstance(event.get("stack"), str) else ""
        name, message = name[:MAX_TITLE_CHARS], _clip(message)
        path, line, col = self.script.path, None, None
        for _, frame_line, frame_col in parse_frames(stack):
            child = frame_line >= CHILD_LINE_BASE and bool(self._children)
            if child or frame_line < RUNTIME_LINE_BASE:
                source, prefix = self.script.source, PREFIX
                if child:
                    path, source = self._children[-1].path, self._children[-1].source
                    frame_line, prefix = frame_line - CHILD_LINE_BASE, CHILD_PREFIX
                line, col = frame_line, frame_col
                in_wrapper = line == 1 and col <= len(prefix)
                if line == 1:
                    col = max(1, col - len(prefix))
                if source and _thrown_by_script(stack) and DESTRUCTURING_MESSAGE.match(message):
                    # QuickJS gives a failed destructuring the last position it wrote.
                    found = destructuring_site(source, None if in_wrapper else line, col, message)
                    if found is not None:
                        line, col = found
                    elif in_wrapper:
                        line = col = None  # the wrapper's own start is no place in the script
                break
        mib = self.limits.sandbox.memory >> 20
        if name == "InternalError" and message.startswith("out of memory"):
            message = f"{message} (the sandbox's limit is {mib} MiB; see --memory-limit)"
        elif event.get("null") is True:
            # QuickJS throws a bare null when it cannot even allocate the error object.
            name = "InternalError"
            message = (
                f"out of memory, or the script threw null (the sandbox's limit is {mib} MiB; "
                "see --memory-limit)"
            )
        return WorkflowError(message, name=name, path=path, line=line, column=col)

    def _report_unhandled(self, error: WorkflowError | None) -> None:
        # A rejected agent() that no parallel/pipeline recorded and that did not fail the run
        # was never awaited (or was caught): say so rather than drop it silently.
        if not self._rejected:
            return
        seen = "\n".join(self._failures)
        for rec in self._rejected:
            msg = rec.error or ""
            if msg and (msg in seen or (error is not None and msg in error.message)):
                continue
            self._add_failure(f"[{rec.label}] failed: {msg}")


class EngineControl:
    """Steer a running engine from another thread (an interactive view).

    Every method hands the action to the engine's trio thread and waits for it; once the run
    has ended they do nothing and return False.

    Args:
        engine (Engine): the engine to steer.
        token (trio.lowlevel.TrioToken): the token of the trio run the engine runs in.
    """

    def __init__(self, engine: Engine, token: trio.lowlevel.TrioToken) -> None:
        self.engine = engine
        self._token = token

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return trio.from_thread.run_sync(fn, *args, trio_token=self._token)
        except trio.RunFinishedError:
            return False

    def set_paused(self, paused: bool) -> bool:
        return self._call(self.engine.set_paused, paused) is None

    def skip_agent(self, index: int) -> bool:
        return bool(self._call(self.engine.skip_agent, index))

    def restart_agent(self, index: int) -> bool:
        return bool(self._call(self.engine.restart_agent, index))

    def stop(self) -> bool:
        return self._call(self.engine.stop) is None
