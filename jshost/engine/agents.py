"""The agent queue: each ``agent()`` call checked, queued FIFO, given a slot, run and charged.

Caps (``maxAgents``, the prompts' memory), the token budget, attempts, skip and restart, and the
failure line for calls the cap refused. A mixin of :class:`~jshost.engine.run.Engine`, which owns
the state these methods use (see ``Engine.__init__``).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import TYPE_CHECKING, Any, Literal

import trio

from .. import events as ev
from .._data import replace
from ..bounds import MAX_PROMPT_CHARS, MAX_TITLE_CHARS, text_problem, value_has_surrogate
from ..errors import WorkerError
from ..journal import JournalEntry, cache_key
from ..limits import Limits
from ..permissions.call_options import (
    MAX_OPTION_RULE_CHARS,
    MAX_OPTION_RULES,
    CallOptionError,
    agent_type_problem,
    check_call_options,
    schema_refusal,
)
from ..records import AgentRecord, ToolUse, Usage
from ..workers.base import (
    AgentRejectedError,
    AgentRequest,
    progress_callback,
    tool_callback,
    transcript_callback,
)
from .bridge import _need, _payload_error, _title

if TYPE_CHECKING:
    from ..agent_types import AgentType
    from .worktrees import Worktrees

__all__ = ["AgentQueue", "default_label"]


def default_label(prompt: str) -> str:
    """The reference's default label: the prompt's first 60 characters, whitespace collapsed."""
    return " ".join(prompt.split())[:60].strip() or "agent"


#: the options that are arrays of rule strings (reference §3.1); every other option is a scalar
RULE_OPTIONS = ("disallowedTools", "bashCommandClamp")


def _text_cost(prompt: str, opts: dict[str, Any], schema_text: str | None) -> int:
    """Bytes of host memory an agent() call's text takes (kept in its record and the store)."""
    cost = sys.getsizeof(prompt) + (0 if schema_text is None else sys.getsizeof(schema_text))
    for v in opts.values():
        if isinstance(v, str):
            cost += sys.getsizeof(v)
        elif isinstance(v, list):
            cost += sys.getsizeof(v) + sum(sys.getsizeof(s) for s in v if isinstance(s, str))
    return cost


class AgentQueue:
    """The engine's agents: from the ``agent()`` event to the reply that settles its promise."""

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
        denied: tuple[str, ...] = ()
        clamp: tuple[str, ...] = ()
        if refused is None:
            try:
                denied, clamp = check_call_options(
                    opts.get("disallowedTools"),
                    opts.get("bashCommandClamp"),
                    schema=schema_text is not None,
                )
            except CallOptionError as exc:
                refused = exc.name, str(exc)
        if refused is not None:
            self._reply(request_id, False, _payload_error(*refused))
            return
        schema = None
        if schema_text is not None:
            from ..schemas import schema_problem, schema_size_problem  # only for a schema

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
        definition = None
        agent_type = opts.get("agentType")
        if isinstance(agent_type, str) and agent_type:
            from ..agent_types import AgentTypeError

            try:
                definition = await self._agent_definition(agent_type)
            except AgentTypeError as exc:
                # Before the agent gets an index or a cache key, as the reference checks it.
                self._reply(request_id, False, _payload_error(exc.js_name, str(exc)))
                return
            refusal = agent_type_problem(
                definition.name, definition.source, definition.tools, definition.disallowed_tools
            )
            if refusal is None and schema_text is not None:
                refusal = schema_refusal(denied, definition.disallowed_tools)
            if refusal is not None:
                self._reply(request_id, False, _payload_error(refusal.name, str(refusal)))
                return
        self._text_bytes += cost

        # The options given as text, read from one pass over the (few) options a call has.
        text = {k: v for k, v in opts.items() if isinstance(v, str)}.get
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
        # Reference §6.4: the environment's model > the script's > the agent type's > the run's.
        fallback = (
            self.model if definition is None or definition.model is None else definition.model
        )
        model, note = self._model_policy.choose(asked, fallback)
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
            agent_definition=definition,
            isolation=text("isolation"),
            stall_ms=int(stall) if isinstance(stall, int | float) and stall > 0 else None,
            disallowed_tools=denied,
            bash_command_clamp=clamp,
            log=self._log,
        )
        # One name for the model from queued to done: what the worker will say it used.
        rec.model_used = self.worker.model_name(request.model)
        self.agents.append(rec)
        self._by_request[request_id] = rec
        decision = self._replay.decide(key) if self._replay is not None else None
        kept = self._replay.worktrees.get(key) if self._replay is not None else None
        if decision is not None and decision.hit:
            rec.status = "cached"
            rec.result = decision.value
            if kept is not None:
                # The worktree an earlier session kept for this result stays where it is.
                rec.worktree_path, rec.worktree_branch = kept
            rec.started_at = rec.finished_at = rec.queued_at
            self.recorder.agent(rec)
            self._reply(request_id, True, decision.value)
            self._emit(ev.AgentFinished(rec))
            return
        if kept is not None:
            self._log(
                f"[{label}] the worktree an earlier session kept stays at {kept[0]} "
                f"({kept[1]}); this run gives the agent a new one"
            )
        self.recorder.agent(rec)
        self._emit(ev.AgentQueued(rec))
        self._queue.append((request_id, rec, request))
        self._pump()

    async def _agent_definition(self, name: str) -> AgentType:
        """The agent type ``name``; raises ``AgentTypeError`` with the reference's message."""
        if self._agent_types is None:
            async with self._types_lock:
                if self._agent_types is None:
                    # Once a run, at the first agentType: a walk up the directories and a
                    # read of every agent file, so off the trio thread.
                    self._agent_types = await trio.to_thread.run_sync(
                        self._discover_types, abandon_on_cancel=True
                    )
        return self._agent_types.get(name, denial=self._agent_type_denial)

    def _stopping(self) -> bool:
        """Whether the run is ending (stop, --timeout, the script done): nothing new starts."""
        return (
            self._stop_requested
            or self._script_finished
            or (self._deadline != math.inf and trio.current_time() >= self._deadline)
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
            if key in RULE_OPTIONS:
                # The runtime sends these as arrays of strings, bounded; anything else is a
                # broken bridge, not a script's mistake (that is reported by the runtime).
                _need(
                    isinstance(value, list)
                    and len(value) <= MAX_OPTION_RULES
                    and all(isinstance(s, str) for s in value),
                    "bad option value",
                )
                for i, item in enumerate(value):
                    refused = text_problem(item, f"agent({{{key}}})[{i}]", MAX_OPTION_RULE_CHARS)
                    if refused is not None:
                        return refused
                continue
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
        while (item := self._next_to_start()) is not None:
            assert self._nursery is not None
            self._nursery.start_soon(self._slot, item)

    def _next_to_start(self) -> tuple[int, AgentRecord, AgentRequest] | None:
        """Give a free slot to the next queued agent: it is marked running and returned."""
        if self._queue and self._stopping():
            # Reference §7.4: once a run is stopping, a freed slot starts nothing.
            self._cancel_queued()
            return None
        while self._queue and self._running < self.limits.concurrency and not self._paused:
            if self._nursery is None:
                return None
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
            return request_id, rec, request
        return None

    async def _slot(self, item: tuple[int, AgentRecord, AgentRequest]) -> None:
        """A slot's task: its agent, then each queued agent the slot goes to as one ends.

        One task a slot, not one an agent (issue 22): the next agent starts as soon as this
        one is booked, in the same pass of trio's run loop, rather than in a task that only
        runs once every agent ending in that pass is booked; and a task is made once a slot.
        """
        while True:
            following: list[tuple[int, AgentRecord, AgentRequest]] = []
            try:
                await self._run_agent(*item, following)
            except BaseException:
                # Ending abnormally (the run is being cancelled): the agent the slot already
                # went to gets a task of its own, as before, and sees the cancellation there.
                if following and self._nursery is not None:
                    self._nursery.start_soon(self._slot, following[0])
                raise
            if not following:
                return
            item = following[0]

    def _tool(self, rec: AgentRecord, use: ToolUse) -> None:
        if rec.status == "running":
            rec.last_tool = use
            # Saved within a moment (the engine's idle flush): `watch` shows what a running
            # agent does, and that it waits for a person's answer.
            self.recorder.agent(rec)
            self._emit(ev.AgentTool(rec, use))

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
            self._restarted_transcripts[rec.index] = [
                *self._transcript_so_far(rec),
                {"kind": "note", "text": "restarted by the user"},
            ]
            self._restarts[rec.index] = self._restarts.get(rec.index, 0) + 1
            rec.attempts += 1
            rec.started_at = time.monotonic()
            self.recorder.agent(rec)
            self._emit(ev.AgentStarted(rec))

    def _worktree_set(self) -> Worktrees:
        if self._worktrees is None:
            # Imported by the first isolated agent: a run without one needs none of it (git,
            # its environment and its records: issue 22's start-up).
            from .worktrees import Worktrees

            run_id = getattr(self.recorder, "run_id", None)
            self._worktrees = Worktrees(self.workspace, run_id)
        return self._worktrees

    async def _isolated(self, rec: AgentRecord, request: AgentRequest) -> Any:
        """:meth:`_attempts`, in a git worktree of the agent's own when it asked for one.

        The worktree is made once the agent has its slot and goes (or is kept) before the
        agent's end is recorded, whichever way it ends: stopped and skipped agents too.
        """
        if request.isolation != "worktree":
            return await self._attempts(rec, request)
        from .worktrees import CLEANUP_TIMEOUT, WorktreeIsolationError, worktree_note

        trees = self._worktree_set()
        try:
            tree = await trees.create(rec.index)
        except WorktreeIsolationError as exc:
            raise AgentRejectedError(str(exc), name=exc.name) from None
        rec.worktree_path, rec.worktree_branch = str(tree.path), tree.branch
        self.recorder.agent(rec)  # on record while it runs: a killed process leaves it behind
        # The worker gets the note; the cache key and the record keep the script's prompt.
        note = worktree_note(tree, trees.workspace)
        request = replace(request, cwd=tree.path, prompt=request.prompt + note)
        try:
            return await self._attempts(rec, request)
        finally:
            removed = False
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
                removed = await trees.release(tree)
            if removed:
                rec.worktree_path = rec.worktree_branch = None
            self.recorder.agent(rec)

    def _transcript_so_far(self, rec: AgentRecord, last: Any = None) -> list[dict[str, Any]]:
        """Earlier attempts' entries (restarts), then ``last`` (the worker's own account), else
        what the worker had written when the agent ended."""
        live = self._live_transcripts.pop(rec.index, None) or []
        earlier = self._restarted_transcripts.pop(rec.index, [])
        return [*earlier, *(live if last is None else last)]

    def _finish_skipped(self, request_id: int, rec: AgentRecord) -> None:
        rec.status = "skipped"
        rec.transcript = self._transcript_so_far(rec)
        rec.error = "skipped by the user"
        rec.finished_at = time.monotonic()
        self.recorder.agent(rec)
        # A skipped agent counts as failed for resume (reference §7.4).
        self.recorder.entry(JournalEntry("failed", rec.key, rec.index))
        self._reply(request_id, True, None)
        self._emit(ev.AgentFinished(rec))

    async def _run_agent(
        self,
        request_id: int,
        rec: AgentRecord,
        request: AgentRequest,
        following: list[tuple[int, AgentRecord, AgentRequest]],
    ) -> None:
        progress_callback.set(lambda usage: self._progress(rec, usage))
        tool_callback.set(lambda use: self._tool(rec, use))
        transcript_callback.set(
            lambda entries: self._live_transcripts.__setitem__(rec.index, entries)
        )
        try:
            result = await self._isolated(rec, request)
            if result is None:
                self._finish_skipped(request_id, rec)
                return
        except AgentRejectedError as exc:
            rec.transcript = self._transcript_so_far(rec, exc.transcript)
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._rejected.append(rec)
            self._reply(request_id, False, _payload_error(exc.name, str(exc)), wake=False)
        except WorkerError as exc:
            rec.transcript = self._transcript_so_far(rec, exc.transcript)
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._add_failure(f"[{rec.label}] failed: {exc}")
            self._reply(request_id, True, None, wake=False)
        except Exception as exc:  # a worker bug must not take the run down
            rec.transcript = self._transcript_so_far(rec)
            self._finish_failed(rec, f"{type(exc).__name__}: {exc}")
            self._add_failure(f"[{rec.label}] failed: {type(exc).__name__}: {exc}")
            self._reply(request_id, True, None, wake=False)
        else:
            value = result.value
            rec.status = "done"
            rec.result = value
            rec.transcript = self._transcript_so_far(rec, result.transcript)
            self._charge(rec, result.usage, result.model, result.attempts)
            rec.finished_at = time.monotonic()
            self.recorder.agent(rec)
            if value is not None:  # null results are never journalled (reference §5.1)
                self.recorder.entry(JournalEntry("result", rec.key, rec.index, value))
            self._reply(request_id, True, value, wake=False)
            self._emit(ev.AgentFinished(rec))
        finally:
            if rec.status == "running":  # cancelled (a stop, --timeout): keep what it wrote
                rec.transcript = self._transcript_so_far(rec)
            # Bookkeeping (tokens spent, finish time) is done before the slot goes to the next
            # agent in the queue, so the budget check at slot time sees it.
            self._scopes.pop(rec.index, None)
            self._actions.pop(rec.index, None)
            self._running -= 1
            # The freed slot goes to the next queued agent, which this task runs next
            # (:meth:`_slot`); other free slots (a resume, a larger cap) get tasks of their own.
            nxt = self._next_to_start()
            if nxt is not None:
                following.append(nxt)
            self._pump()
            self._hand_off()

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

    # ---- caps and budget -----------------------------------------------------------------

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
