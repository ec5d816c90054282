"""What the permission check says about one tool call, and who answers when it must ask."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["Answer", "Asker", "Behavior", "Decision", "PermissionRequest"]

Behavior = Literal["allow", "ask", "deny"]

#: a person's answer: allow this call, allow it for the rest of the run (adds ``rule``), deny
Answer = Literal["once", "run", "deny"]


@dataclass(frozen=True)
class Decision:
    """The outcome of checking one call against the rules.

    ``rule`` is the rule that matched, as the user wrote it, and ``source`` where it came from
    (``--allowed-tools``, ``.claude/settings.json``, ``agent() disallowedTools``, ``default``);
    ``suggestion`` is a rule that would allow the call (shown with a denial, offered by the
    interactive prompt's "allow for this run"). ``reason`` is one sentence for the model and the
    user that names the rule, or the missing one.
    """

    behavior: Behavior
    reason: str
    rule: str | None = None
    source: str | None = None
    suggestion: str | None = None


@dataclass(frozen=True)
class PermissionRequest:
    """A call that needs a person's answer, as the interactive view shows it."""

    agent_index: int
    label: str
    tool: str
    tool_input: dict[str, Any]
    decision: Decision
    paths: tuple[str, ...] = field(default=())


class Asker(Protocol):
    """Answers permission requests (the interactive view). With no asker, ``ask`` means deny."""

    async def ask(self, request: PermissionRequest) -> Answer: ...
