"""Running agents: a task a slot that runs agent after agent, attempts, skip and restart.

The slot's task, the worker's call, isolated agents' worktrees, how an agent's end is booked
(its record, its charge, the script's reply) and the slot handed on. A mixin of
:class:`~jshost.engine.run.Engine` (through :class:`~jshost.engine.agents.AgentQueue`), which
owns the state these methods use (see ``Engine.__init__``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import trio

from .. import events as ev
from .._data import replace
from ..errors import WorkerError
from ..journal import JournalEntry
from ..records import AgentRecord, ToolUse, Usage
from ..workers.base import (
    AgentRejectedError,
    AgentRequest,
    progress_callback,
    tool_callback,
    transcript_callback,
)
from .bridge import _payload_error

if TYPE_CHECKING:
    from .worktrees import Worktrees

__all__ = ["AgentSlots"]

_Item = tuple[int, AgentRecord, AgentRequest]  # (request id, record, request)

#: idle slots whose tasks wait for the next agent; a slot freed beyond them ends its task at
#: once. A parked task costs a task step of its own when the run ends (256 of them were 4 % of
#: a 200 ms fan-out at concurrency 256), while a chain, or a loop of small parallel() groups,
#: reuses a few.
KEEP_IDLE = 16


class _Slot:
    """A slot's task, the cancel scope its agents run in, and the agent it runs or was given."""

    __slots__ = ("idle", "item", "parked", "scope", "spent", "task")

    def __init__(self, scope: trio.CancelScope, item: _Item) -> None:
        self.task: trio.lowlevel.Task | None = None  # set by the task once it runs
        self.scope = scope
        self.item: _Item | None = item
        self.idle = False  # in the engine's list of idle slots, for _pump to hand an agent
        self.parked = False  # waiting in _park for an agent (else running, or about to)
        #: the scope was cancelled (a skip or a restart): the slot leaves it before it runs
        #: another agent. Kept here: ``CancelScope.cancel_called`` reads trio's clock.
        self.spent = False

    def cancel(self) -> None:
        """Skip or restart the agent running here (``Engine._cancel_attempt``)."""
        self.spent = True
        self.scope.cancel()


class AgentSlots:
    """The engine's running agents: slots, attempts, steering, booking."""

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
            self._restarted(rec)

    def _restarted(self, rec: AgentRecord) -> None:
        """Book a restart asked for by the user: the attempt so far is noted, one more begins."""
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

    # ---- slots: one task a slot, agent after agent ------------------------------------------

    async def _slot_task(self, slot: _Slot) -> None:
        """A slot's task: runs the agent it was started for, then each agent the slot is given.

        One task and one cancel scope serve agent after agent (issue 22: a task and a scope of
        its own per agent were ~12 % of a chain link's instructions). A skip or a restart of
        the agent running here cancels the scope: the worker's call unwinds to here, the
        agent is booked skipped or run again, and the slot goes on in a fresh scope. A scope
        whose cancel came too late to interrupt the worker is spent all the same: the slot
        leaves it before it runs anything else. A freed slot takes the next queued agent at
        once (in the same pass of trio's run loop); with none queued it waits for the next
        ``agent()`` call, unless ``KEEP_IDLE`` slots wait already: then its task ends.
        """
        slot.task = trio.lowlevel.current_task()
        scope = slot.scope
        try:
            while True:
                with scope:
                    if await self._serve(slot):
                        return  # idle, with enough idle slots left for what comes
                if scope.cancelled_caught and slot.item is not None:
                    self._steered(slot)
                scope = slot.scope = trio.CancelScope()
                slot.spent = False
                if slot.item is not None:  # restarted: its next attempt runs in the new scope
                    self._scopes[slot.item[1].index] = slot
        finally:
            if slot.item is not None:  # the run is ending (or a BaseException): free the slot
                self._release(slot.item[1], None)

    async def _serve(self, slot: _Slot) -> bool:
        """Run the slot's agents in its scope; returns once the scope is spent (False), or
        True when the slot is idle and ends: enough others wait for agents already."""
        while True:
            item = slot.item
            if item is None:
                idle = self._idle
                if not slot.idle:
                    slot.idle = True
                    idle.append(slot)
                if len(idle) > KEEP_IDLE:
                    slot.idle = False
                    idle.remove(slot)
                    return True
                await self._park(slot)
                item = slot.item
                assert item is not None
            request_id, rec, request = item
            self._callbacks(rec)
            try:
                if request.isolation == "worktree":  # its worktree lives through its attempts
                    result = await self._isolated(rec, request)
                else:
                    result = await self.worker.run(request)
            except Exception as exc:
                slot.item = None
                self._booked(request_id, rec, None, exc)
            else:
                slot.item = None
                self._booked(request_id, rec, result, None)
            self._release(rec, slot)
            if slot.spent:
                return False

    async def _park(self, slot: _Slot) -> None:
        def abort(_: Any) -> Any:
            # Cancelled while idle: the run is ending.
            slot.parked = False
            if slot.idle:
                slot.idle = False
                self._idle.remove(slot)
            return trio.lowlevel.Abort.SUCCEEDED

        slot.parked = True
        await trio.lowlevel.wait_task_rescheduled(abort)

    def _steered(self, slot: _Slot) -> None:
        """The user skipped or restarted the agent running in ``slot``: its worker unwound."""
        assert slot.item is not None
        request_id, rec, _ = slot.item
        self._scopes.pop(rec.index, None)
        if self._actions.pop(rec.index, None) == "restart":
            self._restarted(rec)
            return
        slot.item = None
        self._finish_skipped(request_id, rec)
        self._release(rec, None)  # the slot's scope is spent: it takes no agent from here

    def _callbacks(self, rec: AgentRecord) -> None:
        progress_callback.set(lambda usage: self._progress(rec, usage))
        tool_callback.set(lambda use: self._tool(rec, use))
        transcript_callback.set(
            lambda entries: self._live_transcripts.__setitem__(rec.index, entries)
        )

    def _booked(
        self, request_id: int, rec: AgentRecord, result: Any, exc: Exception | None
    ) -> None:
        """Book how an agent's attempts ended: its record, its charge, the script's reply."""
        if exc is None:
            if result is None:
                self._finish_skipped(request_id, rec)
                return
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
            if self._listened:
                self._emit(ev.AgentFinished(rec))
        elif isinstance(exc, AgentRejectedError):
            rec.transcript = self._transcript_so_far(rec, exc.transcript)
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._rejected.append(rec)
            self._reply(request_id, False, _payload_error(exc.name, str(exc)), wake=False)
        elif isinstance(exc, WorkerError):
            rec.transcript = self._transcript_so_far(rec, exc.transcript)
            self._charge(rec, exc.usage, exc.model, exc.attempts)
            self._finish_failed(rec, str(exc))
            self._add_failure(f"[{rec.label}] failed: {exc}")
            self._reply(request_id, True, None, wake=False)
        else:  # a worker bug must not take the run down
            rec.transcript = self._transcript_so_far(rec)
            self._finish_failed(rec, f"{type(exc).__name__}: {exc}")
            self._add_failure(f"[{rec.label}] failed: {type(exc).__name__}: {exc}")
            self._reply(request_id, True, None, wake=False)

    def _release(self, rec: AgentRecord, slot: _Slot | None) -> None:
        """An agent has left its slot: the slot goes to the next queued agent (to ``slot``'s
        own task, when its scope is not spent), and the loop hears of the reply."""
        if rec.status == "running":  # cancelled (a stop, --timeout): keep what it wrote
            rec.transcript = self._transcript_so_far(rec)
        # Bookkeeping (tokens spent, finish time) is done before the slot goes to the next
        # agent in the queue, so the budget check at slot time sees it.
        self._scopes.pop(rec.index, None)
        self._actions.pop(rec.index, None)
        self._running -= 1
        if slot is not None and not slot.spent:
            slot.idle = True  # not parked: _pump hands it the next agent directly
            self._idle.append(slot)
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
