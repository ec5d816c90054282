"""Prompt-cache stagger: same-prefix agents wait for the first one's response (reference §6.7).

Agents of a fan-out that share a request prefix (model, effort, agent type, tool names, the
schema, the working directory) would all write that prefix to the prompt cache if they started
together: a cache entry exists only once a response has begun. So the first agent with a given
key goes at once, and the others wait — at most the stagger cap — until its response has
started; then they read the prefix from the cache instead of writing it again. The prefix stays
"warm" for 270 s, as in the reference (the cache lives 5 minutes from its last use).

The cap is ``CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS`` (default 5000; 0 turns the stagger off).
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, final

import trio

__all__ = ["ENV", "PrefixStagger", "prefix_key", "stagger_ms"]

ENV = "CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS"
DEFAULT_MS = 5000
#: how long a prefix counts as cached after a response on it began (the reference's figure)
WARM_SECONDS = 270.0


def stagger_ms(env: Mapping[str, str] | None = None) -> int:
    """The stagger cap in ms from the environment: the default when unset or not a number."""
    env = os.environ if env is None else env
    try:
        value = int(env.get(ENV, "").strip())
    except ValueError:
        return DEFAULT_MS
    return max(0, value)


def prefix_key(
    *,
    model: str,
    effort: str | None,
    agent_type: str | None,
    tool_names: list[str],
    schema: Any,
    cwd: str,
) -> str:
    """The reference's key: model, effort, agentType, tool names, schema JSON, cwd, one a line."""
    schema_json = "" if schema is None else json.dumps(schema, sort_keys=True)
    return "\n".join(
        [model, effort or "", agent_type or "", ",".join(tool_names), schema_json, cwd]
    )


@dataclass
class _Group:
    started: trio.Event = field(default_factory=trio.Event)
    warm_until: float = 0.0
    leader_running: bool = True


@final
class Ticket:
    """One agent's place in its prefix group; :meth:`started` when its response has begun."""

    def __init__(self, stagger: PrefixStagger, key: str, group: _Group, leader: bool) -> None:
        self._stagger, self._key, self._group, self.leader = stagger, key, group, leader
        self._done = False

    def started(self) -> None:
        """The response began: the prefix is in the cache now, siblings may go."""
        group = self._group
        group.warm_until = trio.current_time() + WARM_SECONDS
        group.started.set()

    def finished(self) -> None:
        """The agent ended (however): a leader that never got a response lets the others go."""
        if self._done or not self.leader:
            return
        self._done = True
        group = self._group
        group.leader_running = False
        if not group.started.is_set():
            # No cache entry was made: the next agent with this key leads afresh.
            if self._stagger._groups.get(self._key) is group:
                del self._stagger._groups[self._key]
            group.started.set()


class PrefixStagger:
    """The waiting room of one worker (one run): per prefix key, the first agent leads.

    Args:
        cap_ms (int): the longest an agent waits; 0 turns the stagger off.
    """

    def __init__(self, cap_ms: int = DEFAULT_MS) -> None:
        self.cap_ms = cap_ms
        self._groups: dict[str, _Group] = {}

    async def enter(self, key: str, log: Callable[[int], None] | None = None) -> Ticket:
        """Wait (up to the cap) for a same-prefix sibling's first response; return a ticket.

        ``log(held_ms)`` is called when the agent was held.
        """
        now = trio.current_time()
        group = self._groups.get(key)
        if group is None or (group.started.is_set() and now >= group.warm_until):
            group = self._groups[key] = _Group()
            return Ticket(self, key, group, leader=True)
        if group.started.is_set() or self.cap_ms <= 0:
            return Ticket(self, key, group, leader=False)
        with trio.move_on_after(self.cap_ms / 1000):
            await group.started.wait()
        held = round((trio.current_time() - now) * 1000)
        if log is not None:
            log(held)
        # Released, timed out, or the leader ended without a response: go, without leading
        # (a chain of failing leaders must not hold anyone longer than the cap).
        return Ticket(self, key, group, leader=False)


#: the ticket of the agent the current task runs (set by the worker for each agent)
current_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "jshost_stagger_ticket", default=None
)
