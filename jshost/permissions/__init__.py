"""Permission rules in Claude Code's syntax and order: deny, then ask, then allow.

``Bash(git log:*)``, ``Read(./src/**)``, ``Edit``, ``mcp__logs__*``, ``Agent(reviewer)``: rules
come from the command line, the ``.claude/settings*.json`` files and the user's settings, and
from a call's ``disallowedTools`` / ``bashCommandClamp``. A :class:`Decision` says what a call
may do and which rule said so; an :class:`Asker` answers the calls that must ask a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .decision import Answer, Asker, Decision, PermissionRequest
    from .policy import (
        MODES,
        Mode,
        Policy,
        PolicyError,
        check_mode,
        mode_for_type,
        parse_cli_rules,
        unanswered,
    )
    from .rules import Rule, RuleError, parse_rule, split_rules
    from .settings import Settings, SettingsError, SettingsFile, load_settings

# The names load lazily, as jshost's own do: the engine and the linter reach this package for
# every run (``call_options``), and the policy with its matchers and Bash parser is
# milliseconds of start-up that a run without tools never uses (issue 22).
_WHERE = {
    **dict.fromkeys(("Answer", "Asker", "Decision", "PermissionRequest"), "decision"),
    **dict.fromkeys(
        (
            "MODES",
            "Mode",
            "Policy",
            "PolicyError",
            "check_mode",
            "mode_for_type",
            "parse_cli_rules",
            "unanswered",
        ),
        "policy",
    ),
    **dict.fromkeys(("Rule", "RuleError", "parse_rule", "split_rules"), "rules"),
    **dict.fromkeys(("Settings", "SettingsError", "SettingsFile", "load_settings"), "settings"),
}

__all__ = [
    "MODES",
    "Answer",
    "Asker",
    "Decision",
    "Mode",
    "PermissionRequest",
    "Policy",
    "PolicyError",
    "Rule",
    "RuleError",
    "Settings",
    "SettingsError",
    "SettingsFile",
    "check_mode",
    "load_settings",
    "mode_for_type",
    "parse_cli_rules",
    "parse_rule",
    "split_rules",
    "unanswered",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
