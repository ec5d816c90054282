"""The trio run loop: start the script, handle its events, wait, settle; stop, pause, the outcome.

One run = one sandbox on its own JS thread. The loop starts the script, then alternates:
handle the events the script emitted (agent calls, logs, timers, …), wait for something to
finish (an agent, a timer), and settle it in the sandbox in one batch. Python is the authority
for every cap: the prelude checks them too, but only so that it can throw synchronously.

``Engine`` owns every piece of a run's state; its jobs are split by concern: the agent queue
(``agents``), the outbox wire format (``bridge``), child workflows (``children``) and timers
(``timers``). Other threads steer it through ``control.EngineControl``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

import trio

from .. import events as ev
from ..errors import StoreError, WorkflowError
from ..journal import Recorder, Replay
from ..limits import Limits
from ..records import AgentRecord, RunOutcome, RunStatus
from ..sandbox import JsThread, Sandbox, SandboxLimitError, line_base
from ..script import Script
from ..settings import ModelPolicy
from ..workers.base import AgentRequest, Worker
from .agents import AgentQueue
from .bridge import Bridge, _BatchEncoder, _BridgeError, _clip
from .children import ChildWorkflows, _Child
from .timers import Timers

if TYPE_CHECKING:
    from ..agent_types import AgentTypes, Denial
    from .worktrees import Worktrees

__all__ = ["NO_ARGS", "Engine"]


#: ``args`` when the user gave none: the script sees ``undefined`` (JSON null stays ``null``).
NO_ARGS: Any = object()

#: longest a change waits in the recorder's buffer while nothing else happens (for watchers)
FLUSH_INTERVAL = 0.5
_KEEP_LOGS = 1000
# Failure lines and progress groups a run keeps: a script can make as many as it likes (a
# parallel() of failing thunks in a loop, phase() with a counter), the host must not.
_KEEP_FAILURES = 1000
_MAX_PHASES = 1000


def _is_agent_types(value: object) -> TypeGuard[AgentTypes]:
    # Without the module imported, nothing is an AgentTypes: a run that names no agent type
    # never imports it (issue 22's start-up).
    types = sys.modules.get("jshost.agent_types.types")
    return types is not None and isinstance(value, types.AgentTypes)


def _discover_agent_types() -> AgentTypes:
    from ..agent_types import discover_agent_types

    return discover_agent_types()


class Engine(AgentQueue, ChildWorkflows, Bridge):
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
        agent_types (AgentTypes | Callable[[], AgentTypes] | None): the agent types
            ``agent({agentType})`` resolves against, or a function that discovers them (called
            once, in a worker thread, at the first ``agentType``); None: discovered from the
            current directory.
        agent_type_denial (Denial | None): ``denial(name) -> (rule, source) | None``, the
            permission rules' say on an agent type (``Agent(<name>)`` deny rules).
        workspace (Path | None): the directory the run works in (None: the process's working
            directory); ``isolation: 'worktree'`` agents get worktrees of its git repository.
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
        agent_types: AgentTypes | Callable[[], AgentTypes] | None = None,
        agent_type_denial: Denial | None = None,
        workspace: Path | None = None,
    ) -> None:
        self.script = script
        #: frames below this line are the script's (the sandbox's prelude starts after it)
        self._line_base = line_base(script.wrapped)
        self.workspace = workspace
        self._worktrees: Worktrees | None = None  # made when the first isolated agent starts
        self._agent_types: AgentTypes | None = None
        self._discover_types: Callable[[], AgentTypes] = _discover_agent_types
        if _is_agent_types(agent_types):
            self._agent_types = agent_types
        elif callable(agent_types):
            self._discover_types = agent_types
        self._types_lock = trio.Lock()
        self._agent_type_denial = agent_type_denial
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
        self._encode_batch = _BatchEncoder()
        # The loop's wait (_wait): the parked loop task, and the alarm that wakes it at the
        # earliest deadline (a timer, rows due for watchers); a reply wakes it directly.
        self._parked: trio.lowlevel.Task | None = None
        self._alarm_scope = trio.CancelScope()
        self._js_thread: JsThread | None = None
        self._handed: Any = None  # the settle step handed to the JS thread while parked
        self._outstanding = 0  # agent and workflow requests whose promise is not settled yet
        self._spent = 0
        self._running = 0
        self._peak = 0
        self._timers = Timers()
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
        # Running agents' transcripts as their workers write them (report_transcript), and
        # what earlier attempts of restarted agents wrote: kept however an agent ends.
        self._live_transcripts: dict[int, list[dict[str, Any]]] = {}
        self._restarted_transcripts: dict[int, list[dict[str, Any]]] = {}
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
        except (SandboxLimitError, StoreError) as exc:
            raise self._step_error(exc) from None

    def _step_error(self, exc: SandboxLimitError | StoreError) -> WorkflowError:
        if isinstance(exc, SandboxLimitError):
            return WorkflowError(exc.message, name=exc.name, path=self.script.path)
        return WorkflowError(
            f"cannot save agent results, so the run stops: {exc}", name="StoreError"
        )

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
            sandbox = await js.run(
                Sandbox, self.limits.sandbox, config, self._line_base, watch=False
            )
        except SandboxLimitError as exc:
            raise WorkflowError(exc.message, name=exc.name) from None
        holder["sandbox"] = sandbox
        self._sandbox = sandbox
        self._js_thread = js
        if self.limits.timeout:
            sandbox.deadline = time.monotonic() + self.limits.timeout
        self._nursery = nursery
        nursery.start_soon(self._alarm)
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
            events = await self._wait()
            if events is None:
                # The batch is passed, not kept: its JSON (all the answers in it) goes once the
                # script has it, not while the loop waits for the next one.
                events = await self._js(js, self._save_and_settle, sandbox, self._take_batch())
            pending.extend(events)

    async def _wait(self) -> list[dict[str, Any]] | None:
        """Park until a reply is ready, a timer is due, or buffered rows are due for watchers.

        One park per wait (no trio.Event, no cancel scope: issue 22, a chain waits once per
        link), on the JS thread's wake-up pipe: a reply, the alarm and the end of a settle step
        that an agent handed to the JS thread (:meth:`_hand_off`) each make it readable, so the
        step's outcome wakes the loop itself, without a task step of trio's entry queue. The
        deadline is the alarm task's, moved only when it must come sooner, so an early alarm
        (or a byte left from an earlier wake-up) just has the loop look again. Returns the
        events of a handed step, else None.
        """
        if self._replies:
            # Requests the host answers at once (`await workflow('nope')` in a loop) must
            # not keep the loop from ever seeing a stop or the run's timeout.
            await trio.lowlevel.checkpoint()
            return None
        js = self._js_thread
        assert js is not None
        # The clock is read once a look (issue 22: three reads a link were 2 % of a chain's
        # Python); the microseconds between them moved no deadline that mattered.
        start = now = trio.current_time()
        while True:
            deadline = self._timers.next_at()
            if self.recorder.dirty:  # someone may be watching the store: save within a moment
                deadline = min(deadline, start + FLUSH_INTERVAL)
                save_by = self.recorder.save_by  # rows kept back for watchers, due by then
                if save_by is not None:
                    deadline = min(deadline, now + save_by - time.monotonic())
            if deadline <= now:
                await trio.lowlevel.checkpoint()
                return None
            alarm = self._alarm_scope
            if deadline < alarm.deadline:
                alarm.deadline = deadline
            self._parked = trio.lowlevel.current_task()
            try:
                await trio.lowlevel.wait_readable(js.wake_fd)
            except trio.Cancelled as exc:
                # The run is stopping (a stop, --timeout).
                self._parked = None
                job, self._handed = self._handed, None
                if job is None:
                    raise
                return await js.grace_direct(job, exc)
            js.drain()
            self._parked = None
            if self._handed is not None:
                return await self._handed_events(js)
            if self._replies:
                return None
            now = trio.current_time()

    async def _handed_events(self, js: JsThread) -> list[dict[str, Any]]:
        # The handed step's outcome; until it has ended, no one else may wake or hand off
        # (``_parked`` stays None), so a byte left from earlier just means another look.
        job = self._handed
        while not job.done and job.given_up is None:
            try:
                await trio.lowlevel.wait_readable(js.wake_fd)
            except trio.Cancelled as exc:
                self._handed = None
                return await js.grace_direct(job, exc)
            js.drain()
        self._handed = None
        try:
            if job.given_up is not None:
                raise job.given_up
            return js.outcome(job)
        except (SandboxLimitError, StoreError) as exc:
            raise self._step_error(exc) from None

    def _hand_off(self) -> None:
        """An agent's task ends: wake the loop for its reply, or hand the JS thread the batch.

        If this was the last running agent and the loop is parked, the batch goes to the JS
        thread from here and the step's end wakes the loop directly (a direct job): two trio
        task steps fewer per link of a chain of agents than the loop taking the batch itself
        and the outcome coming back through trio's entry queue (issue 22). With other agents
        running the loop takes the batch as before, so replies that come in the same moment
        share a step.
        """
        task = self._parked
        js, sandbox = self._js_thread, self._sandbox
        if task is None or self._running or not self._replies or js is None or sandbox is None:
            self._wake()
            return
        self._parked = None
        self._handed = js.start_direct(self._save_and_settle, sandbox, self._take_batch())

    def _wake(self) -> None:
        if self._parked is not None:
            self._parked = None
            self._js_thread.poke()  # type: ignore[union-attr]  # parked: the loop runs

    async def _alarm(self) -> None:
        """Wakes the parked loop when the deadline ``_wait`` set is reached."""
        while True:
            with self._alarm_scope:
                await trio.sleep_forever()
            self._alarm_scope = trio.CancelScope()
            self._wake()

    # ---- the run's record: events, logs, progress groups, failure lines ------------------

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
