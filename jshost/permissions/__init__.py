"""Permission rules in Claude Code's syntax and order: deny, then ask, then allow.

``Bash(git log:*)``, ``Read(./src/**)``, ``Edit``, ``mcp__logs__*``, ``Agent(reviewer)``: rules
come from the command line, the ``.claude/settings*.json`` files and the user's settings, and
from a call's ``disallowedTools`` / ``bashCommandClamp``. A :class:`Decision` says what a call
may do and which rule said so; an :class:`Asker` answers the calls that must ask a person.
"""

from .decision import Answer, Asker, Decision, PermissionRequest

__all__ = ["Answer", "Asker", "Decision", "PermissionRequest"]
