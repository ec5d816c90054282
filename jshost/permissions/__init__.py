"""Permission rules in Claude Code's syntax and order: deny, then ask, then allow.

``Bash(git log:*)``, ``Read(./src/**)``, ``Edit``, ``mcp__logs__*``, ``Agent(reviewer)``: rules
come from the command line, the ``.claude/settings*.json`` files and the user's settings, and
from a call's ``disallowedTools`` / ``bashCommandClamp``. A :class:`Decision` says what a call
may do and which rule said so; an :class:`Asker` answers the calls that must ask a person.
"""

from .decision import Answer, Asker, Decision, PermissionRequest
from .policy import MODES, Mode, Policy, PolicyError, check_mode, parse_cli_rules, unanswered
from .rules import Rule, RuleError, parse_rule, split_rules
from .settings import Settings, SettingsError, SettingsFile, load_settings

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
    "parse_cli_rules",
    "parse_rule",
    "split_rules",
    "unanswered",
]
