"""The options that say what a run's agents may do: ``--workspace``, ``--allowed-tools``,
``--disallowed-tools``, ``--permission-mode``, ``--mcp-config``, ``--max-turns``, ``--no-tools``
(shared by ``run`` and ``resume``; docs/tools.md)."""

from __future__ import annotations

from typing import Any

import click

from .._api import ToolOptions
from ..tools import DEFAULT_MAX_TURNS

__all__ = ["tool_options", "tool_options_from"]


def tool_options() -> list[Any]:
    """The click options, in the order ``--help`` lists them."""
    return [
        click.option(
            "--tools/--no-tools",
            "tools_on",
            default=True,
            help="Let agents use tools (Read, Grep, Glob, Bash, Edit, Write, MCP) under the "
            "permission rules, on workers with tools (anthropic; claude-code: the program's "
            "own). The sim runs none. Default: on.",
        ),
        click.option(
            "--workspace",
            metavar="DIR",
            help="Directory agents act in; paths outside it are refused unless a rule allows "
            "them. Default: the current directory.",
        ),
        click.option(
            "--allowed-tools",
            metavar="RULES",
            multiple=True,
            help="Allow rules, e.g. 'Bash(git log:*)', 'Edit', 'Read(./src/**)' "
            "(repeatable; several in one value separated by commas or spaces). "
            "Read, Grep and Glob inside the workspace are allowed by default.",
        ),
        click.option(
            "--disallowed-tools",
            metavar="RULES",
            multiple=True,
            help="Deny rules, same syntax (repeatable); a deny always wins.",
        ),
        click.option(
            "--permission-mode",
            metavar="MODE",
            help="default (reads inside the workspace; edits, commands and MCP tools ask), "
            "acceptEdits (edits inside the workspace too), plan (reads only), dontAsk (only what "
            "the rules allow). Default: the settings' defaultMode, else default.",
        ),
        click.option(
            "--mcp-config",
            metavar="FILE",
            multiple=True,
            help="MCP servers to start for the run, in .mcp.json format (repeatable); their "
            "tools are named mcp__<server>__<tool> and need a rule.",
        ),
        click.option(
            "--max-turns",
            metavar="N",
            help=f"Model turns one agent may take before it fails (default {DEFAULT_MAX_TURNS}).",
        ),
    ]


def tool_options_from(opts: dict[str, Any], *, asker: Any = None) -> ToolOptions:
    """The ``ToolOptions`` the command line gave; raises ``UsageError`` for a bad value.

    Rules are parsed here too, whatever the worker: a typo in a rule is an error even on a
    worker without tools, not a flag silently ignored.
    """
    from ..errors import UsageError

    for flag, key in (
        ("--allowed-tools", "allowed_tools"),
        ("--disallowed-tools", "disallowed_tools"),
    ):
        if opts.get(key):
            from ..permissions import RuleError, parse_cli_rules

            try:
                parse_cli_rules(opts[key], flag)
            except RuleError as exc:
                raise UsageError(str(exc)) from None
    mode = opts.get("permission_mode")
    if mode is not None:
        from ..permissions import PolicyError, check_mode

        try:
            check_mode(mode, "--permission-mode")
        except PolicyError as exc:
            raise UsageError(str(exc)) from None
    turns = opts.get("max_turns")
    max_turns = DEFAULT_MAX_TURNS
    if turns is not None:
        try:
            max_turns = int(str(turns).strip())
        except ValueError:
            raise UsageError(f"--max-turns must be a whole number, not {turns!r}") from None
        if max_turns < 1:
            raise UsageError(f"--max-turns must be at least 1, not {max_turns}")
    return ToolOptions(
        enabled=opts.get("tools_on", True),
        workspace=opts.get("workspace"),
        allowed_tools=tuple(opts.get("allowed_tools") or ()),
        disallowed_tools=tuple(opts.get("disallowed_tools") or ()),
        permission_mode=mode,
        mcp_config=tuple(opts.get("mcp_config") or ()),
        max_turns=max_turns,
        asker=asker,
    )
