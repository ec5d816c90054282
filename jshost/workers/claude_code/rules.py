"""Permission rules as the claude-code worker hands them to the program.

The program takes rules as one comma-separated ``--allowedTools``/``--disallowedTools`` value
and splits it on commas and spaces outside parentheses, so a rule that does not have the shape
``Tool`` or ``Tool(specifier)`` would silently become other rules (or none). Each rule is
checked here first, by jshost's rule parser (``jshost.permissions.parse_rule``, the same one
the anthropic worker's rules go through) and for that shape; one that is wrong is a usage
error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...permissions.rules import RuleError, parse_rule

__all__ = ["PolicyRules", "RuleShapeError", "check_rules", "from_policy", "mcp_server_configs"]

# A tool name (built-in, or mcp__server__tool), then optionally one parenthesised specifier.
_RULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:*-]*(\((?P<spec>.*)\))?$", re.DOTALL)


class RuleShapeError(ValueError):
    """A permission rule that the program could not read as one rule."""


def _problem(rule: str) -> str | None:
    m = _RULE.match(rule)
    if m is None:
        return "a rule is Tool or Tool(specifier), e.g. Read or Bash(git log *)"
    spec = m.group("spec")
    if spec is not None:
        if not spec.strip():
            return "the specifier in parentheses is empty"
        depth = 0
        for ch in spec:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return "unbalanced parentheses"
        if depth:
            return "unbalanced parentheses"
    if any(ord(ch) < 32 for ch in rule):
        return "control characters are not allowed"
    return None


def check_rules(rules: Iterable[str], where: str) -> list[str]:
    """``rules`` as a list, each checked (see the module docstring).

    Raises:
        RuleShapeError: the first rule that is wrong, named with ``where`` it came from.
    """
    out: list[str] = []
    for raw in rules:
        if not isinstance(raw, str):
            raise RuleShapeError(f"{where}: a rule must be a string, not {type(raw).__name__}")
        rule = raw.strip()
        # jshost's one rule parser first (the anthropic worker's rules are the same rules),
        # then the program's tokenizer's needs.
        try:
            parse_rule(rule, where)
        except RuleError as exc:
            raise RuleShapeError(str(exc)) from None
        problem = _problem(rule)
        if problem is not None:
            raise RuleShapeError(f"{where}: {rule!r}: {problem}")
        out.append(rule)
    return out


@dataclass(frozen=True)
class PolicyRules:
    """A permission policy in the program's terms."""

    rules: tuple[list[str], list[str], list[str]]  # allow, deny, ask
    extra_dirs: list[str]
    mode: str


def from_policy(policy: Any, modes: Sequence[str]) -> PolicyRules:
    """The program's rules, extra directories and mode for a ``jshost.permissions.Policy``:
    allow and deny rules become ``--allowedTools``/``--disallowedTools``, ask rules a
    ``--settings`` permissions block, extra directories ``--add-dir``.

    Raises:
        RuleShapeError: a rule the program would misread.
        ValueError: a mode not in ``modes``.
    """
    mode = str(getattr(policy, "mode", "default"))
    if mode not in modes:
        raise ValueError(f"permission mode {mode!r} is not one of {', '.join(modes)}")

    def texts(rules: Iterable[Any]) -> list[str]:
        return [getattr(r, "text", str(r)) for r in rules]

    return PolicyRules(
        rules=(
            check_rules(texts(policy.allow), "allowed tools"),
            check_rules(texts(policy.deny), "disallowed tools"),
            check_rules(texts(policy.ask), "ask rules"),
        ),
        extra_dirs=[str(d) for d in getattr(policy, "extra_dirs", ())],
        mode=mode,
    )


def mcp_server_configs(servers: Mapping[str, Any] | Iterable[Any] | None) -> dict[str, Any]:
    """Approved MCP servers in the program's ``--mcp-config`` shape, by name.

    Takes a mapping of name → the program's own config dict, or jshost's server configs
    (``jshost.tools.mcp_config.McpServerConfig``: ``name``, ``type``, ``command``, ``args``,
    ``env``, ``url``, ``headers``), as approval leaves them.

    Raises:
        ValueError: a server without a name, or of a type the program does not run.
    """
    if servers is None:
        return {}
    if isinstance(servers, Mapping):
        return {str(k): dict(v) for k, v in servers.items()}
    out: dict[str, Any] = {}
    for server in servers:
        name = getattr(server, "name", "")
        kind = getattr(server, "type", "stdio")
        if not name:
            raise ValueError("an MCP server config without a name")
        if kind == "stdio":
            out[name] = {
                "type": "stdio",
                "command": server.command,
                "args": list(server.args),
                "env": dict(server.env),
            }
        elif kind in ("http", "sse"):
            out[name] = {"type": kind, "url": server.url, "headers": dict(server.headers)}
        else:
            raise ValueError(f"MCP server {name!r}: type {kind!r} is not one the program runs")
    return out
