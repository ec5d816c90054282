"""Claude Code's permission rule grammar: ``Tool`` or ``Tool(specifier)``.

``Bash(git log:*)``, ``Read(./src/**)``, ``Edit``, ``mcp__logs``, ``mcp__logs__*``,
``mcp__logs__tail``, ``Agent(reviewer)`` (``Task`` is its old name), ``WebFetch(domain:x)``.
A rule is parsed once, where it is read (a command-line value, a settings file, an ``agent()``
option), so a typo is an error naming the rule and where it came from, not a rule that
silently never matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, final

from ..text import printable

__all__ = [
    "EDIT_TOOLS",
    "MAX_RULE_CHARS",
    "READ_TOOLS",
    "Rule",
    "RuleError",
    "parse_rule",
    "split_rules",
]

#: characters in one rule (a command line or settings value is longer only by mistake)
MAX_RULE_CHARS = 10_000

#: tools whose rules take a path pattern; a ``Read`` rule also governs Grep and Glob, an
#: ``Edit`` rule every tool that writes files (reference §3.3)
READ_TOOLS = ("Read", "Grep", "Glob")
EDIT_TOOLS = ("Edit", "Write", "NotebookEdit")
_PATH_TOOLS = frozenset({*READ_TOOLS, *EDIT_TOOLS})
#: tools whose specifier is a name compared as it is (an agent type, a skill)
_NAME_TOOLS = frozenset({"Agent", "Skill"})
#: Claude Code's tools that take no specifier
_PLAIN_TOOLS = frozenset(
    {
        "WebSearch",
        "StructuredOutput",
        "TodoWrite",
        "Workflow",
        "SendUserMessage",
        "EnterWorktree",
        "ExitWorktree",
        "Monitor",
    }
)
KNOWN_TOOLS = frozenset({"Bash", "WebFetch", *_PATH_TOOLS, *_NAME_TOOLS, *_PLAIN_TOOLS})
_ALIASES = {"Task": "Agent"}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# MCP server and tool names as Claude Code spells them: letters, digits, '-' and '_'
# (a server name has no '__': that separates it from the tool)
_MCP = re.compile(
    r"mcp__([A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*)(?:__([A-Za-z0-9-][A-Za-z0-9_-]*|\*))?\Z"
)

Kind = Literal["bash", "path", "name", "domain", "mcp", "plain"]


class RuleError(ValueError):
    """Raised when a permission rule cannot be read; the message names the rule and its source."""


@final
@dataclass(frozen=True)
class Rule:
    """One parsed rule.

    ``tool`` is the canonical tool name (``Agent`` for ``Task``; the full ``mcp__…`` name);
    ``specifier`` what stood in the parentheses (None: the whole tool), with Bash's legacy
    ``:*`` suffix already turned into `` *``; ``text`` the rule as written and ``source`` where
    it came from (``--allowed-tools``, ``.claude/settings.json``, ``agent() disallowedTools``).
    For MCP rules ``server`` is the server and ``mcp_tool`` the tool (None: every tool).
    """

    tool: str
    specifier: str | None
    text: str
    source: str
    kind: Kind = "plain"
    server: str | None = None
    mcp_tool: str | None = None

    def __str__(self) -> str:
        return self.text

    def covers_tool(self, name: str) -> bool:
        """Whether this rule is about the tool ``name`` at all (its specifier aside)."""
        if self.kind == "mcp":
            if self.mcp_tool is None:
                return name.startswith(f"mcp__{self.server}__")
            return name == self.tool
        if name == self.tool:
            return True
        # A Read rule governs the tools that read files, an Edit rule those that write them.
        if self.tool == "Read":
            return name in READ_TOOLS
        if self.tool == "Edit":
            return name in EDIT_TOOLS
        return False


def _shown(text: str) -> str:
    return "'" + printable(text[:200] + ("…" if len(text) > 200 else "")) + "'"


def _error(text: str, source: str, problem: str) -> RuleError:
    return RuleError(f"{source} {_shown(text)}: {problem}")


def _did_you_mean(name: str) -> str | None:
    lower = name.lower()
    for known in (*sorted(KNOWN_TOOLS), *_ALIASES):
        if known.lower() == lower:
            return known
    return None


def parse_rule(text: str, source: str) -> Rule:
    """Parse one rule as Claude Code writes it.

    Args:
        text (str): the rule, e.g. ``Bash(npm run test:*)``; spaces around it are ignored.
        source (str): where it came from, for messages (``--allowed-tools``,
            ``.claude/settings.json permissions.deny[2]``).

    Raises:
        RuleError: the rule is malformed (unbalanced parenthesis, an empty specifier, a
            tool name that is no name, a specifier on a tool that takes none, a Bash
            pattern with a ``:*`` that is not at its end).
    """
    if not isinstance(text, str):
        raise RuleError(f"{source}: a rule must be a string, got {type(text).__name__}")
    written = text
    text = text.strip()
    if not text:
        raise _error(written, source, "an empty rule; write a tool name such as Read or Bash(ls *)")
    if len(text) > MAX_RULE_CHARS:
        raise _error(text, source, f"a rule is at most {MAX_RULE_CHARS:,} characters")
    open_at = text.find("(")
    if open_at < 0:
        if ")" in text:
            raise _error(text, source, "unbalanced parenthesis: ')' without '('")
        name, specifier = text, None
    else:
        name = text[:open_at].rstrip()
        if not text.endswith(")"):
            if ")" not in text[open_at:]:
                raise _error(text, source, "unbalanced parenthesis: '(' is never closed")
            raise _error(text, source, "text after the closing ')'")
        specifier = text[open_at + 1 : -1]
        depth = 0
        for ch in specifier:
            depth += 1 if ch == "(" else -1 if ch == ")" else 0
            if depth < 0:
                raise _error(text, source, "unbalanced parenthesis: ')' without '('")
        if depth:
            raise _error(text, source, "unbalanced parenthesis: '(' is never closed")
        if not specifier.strip():
            raise _error(text, source, f"an empty specifier; write {name or 'the tool'} alone")
    if not name:
        raise _error(text, source, "no tool name before '('")
    if name.startswith("mcp__"):
        return _mcp_rule(name, specifier, text, source)
    if not _NAME.match(name):
        raise _error(text, source, f"{_shown(name)} is not a tool name")
    tool = _ALIASES.get(name, name)
    if tool not in KNOWN_TOOLS and (guess := _did_you_mean(name)) is not None:
        raise _error(text, source, f"unknown tool {_shown(name)}; did you mean {guess}?")
    if specifier is None:
        return Rule(tool, None, text, source, "plain")
    specifier = specifier.strip()
    if tool == "Bash":
        return Rule(tool, _bash_specifier(specifier, text, source), text, source, "bash")
    if tool in _PATH_TOOLS:
        return Rule(tool, specifier, text, source, "path")
    if tool in _NAME_TOOLS:
        return Rule(tool, specifier, text, source, "name")
    if tool == "WebFetch":
        if not specifier.startswith("domain:") or not specifier[7:].strip():
            raise _error(
                text, source, "WebFetch rules take domain:<host>, e.g. WebFetch(domain:example.com)"
            )
        return Rule(tool, specifier[7:].strip().lower(), text, source, "domain")
    if tool in _PLAIN_TOOLS:
        raise _error(text, source, f"{tool} takes no specifier; write {tool} alone")
    # A tool this version does not know (a newer Claude Code's): kept, matched by name only.
    return Rule(tool, specifier, text, source, "name")


def _bash_specifier(spec: str, text: str, source: str) -> str:
    # The legacy prefix form `npm:*` is `npm *`: the command, then anything (or nothing).
    if spec.endswith(":*"):
        head = spec[:-2].rstrip()
        if not head:
            raise _error(text, source, "':*' needs a command before it, e.g. Bash(npm:*)")
        return head + " *"
    return spec


def _mcp_rule(name: str, specifier: str | None, text: str, source: str) -> Rule:
    m = _MCP.match(name)
    if m is None:
        raise _error(
            text,
            source,
            f"{_shown(name)} is not an MCP rule; write mcp__<server>, mcp__<server>__* or "
            "mcp__<server>__<tool>",
        )
    if specifier is not None:
        raise _error(text, source, "MCP rules take no specifier")
    server, tool = m.group(1), m.group(2)
    if tool == "*":
        tool = None
    canonical = f"mcp__{server}" + ("" if tool is None else f"__{tool}")
    return Rule(canonical, None, text, source, "mcp", server=server, mcp_tool=tool)


def split_rules(value: str, source: str) -> list[Rule]:
    """The rules in one ``--allowed-tools`` value: separated by commas or spaces outside
    parentheses, as Claude Code accepts (``"Bash(git log:*) Edit,Read"``).

    Raises:
        RuleError: a parenthesis is unbalanced or a rule is malformed.
    """
    if len(value) > MAX_RULE_CHARS * 10:
        raise _error(value, source, "this value is too long to be a list of rules")
    rules: list[Rule] = []
    depth = 0
    start = 0
    for i, ch in enumerate(value):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _error(value, source, "unbalanced parenthesis: ')' without '('")
        elif depth == 0 and (ch == "," or ch.isspace()):
            if value[start:i].strip():
                rules.append(parse_rule(value[start:i], source))
            start = i + 1
    if depth:
        raise _error(value, source, "unbalanced parenthesis: '(' is never closed")
    if value[start:].strip():
        rules.append(parse_rule(value[start:], source))
    return rules
