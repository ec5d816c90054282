"""``jshost agents``: the agent types ``agent(prompt, {agentType})`` can name, and skipped files."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..text import json_text, printable
from .exits import EXIT_FAILED

__all__ = ["agents_cmd"]

_LINE_BREAKS = re.compile(r"[ \t\r\n]+")


def _tools(names: tuple[str, ...] | None) -> str:
    if names is None:
        return "all the run offers"
    return ", ".join(names) if names else "none"


@click.command(
    name="agents",
    epilog="Exit codes: 0 listed (skipped files are listed too, on stderr); 1 the workspace "
    "could not be read; 2 no such workspace directory.",
)
@click.option("--json", "json_", is_flag=True, help="Print the agent types as JSON.")
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Look for .claude/agents/ from DIR up to its repository root (default: here).",
)
def agents_cmd(json_: bool, workspace: Path | None) -> None:
    """List the agent types a workflow's agent(prompt, {agentType}) can name.

    Claude Code's agent files: .claude/agents/*.md from the workspace up to the repository
    root (the closest first), then ~/.claude/agents/*.md, then the built-in general-purpose
    and Explore. A name shows once: the first wins. Files that define no usable agent type
    are listed with the reason.

    \b
    --json prints one object:
      {"agents": [{"name", "description", "tools" (list, or null: all),
                   "disallowedTools", "model" (null: the run's), "permissionMode"
                   (null: the session's), "scope" (project|user|built-in),
                   "source" (path or "built-in"), "deniedBy" (the settings' Agent(<name>)
                   deny rule, or null)}],
       "skipped": [{"path", "scope", "reason"}]}

    \b
    Example usage:
      jshost agents
      jshost agents --json --workspace ../service
    """
    from ..agent_types import discover_agent_types

    try:
        types = discover_agent_types(workspace)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        click.echo(f"jshost: cannot list agent types: {printable(str(exc))}", err=True)
        sys.exit(EXIT_FAILED)
    denied = _denials(workspace)
    if json_:
        out = {
            "agents": [{**t.to_json(), "deniedBy": denied(t.name)} for t in types],
            "skipped": [s.to_json() for s in types.skipped],
        }
        click.echo(json_text(json.dumps(out, ensure_ascii=False, indent=2)))
        return
    for t in types:
        # Agent files are untrusted text: every value is shown, never obeyed, on one line.
        click.echo(printable(f"{t.name}  ({t.scope}) {t.source}"))
        if t.description:
            click.echo(printable(f"  {_LINE_BREAKS.sub(' ', t.description)}"))
        line = f"  tools: {_tools(t.tools)}"
        if t.disallowed_tools:
            line += f"; not: {', '.join(t.disallowed_tools)}"
        click.echo(printable(line))
        extra = [f"model: {t.model}"] if t.model else []
        if t.permission_mode:
            extra.append(f"permission mode: {t.permission_mode}")
        if extra:
            click.echo(printable("  " + "; ".join(extra)))
        if rule := denied(t.name):
            click.echo(printable(f"  denied by {rule}: agent({{agentType: '{t.name}'}}) throws"))
    for s in types.skipped:
        click.echo(printable(f"skipped {s.path} ({s.scope}): {s.reason}"), err=True)


def _denials(workspace: Path | None) -> Callable[[str], str | None]:
    """``denied(name)``: the settings files' ``Agent(<name>)`` deny rule and its file, or None.
    A settings file that cannot be read denies nothing here (``run`` reports it)."""
    from ..permissions import Policy, SettingsError, load_settings

    try:
        policy = Policy.from_settings(load_settings((workspace or Path.cwd()).resolve(), None))
    except (SettingsError, OSError):
        return lambda name: None

    def denied(name: str) -> str | None:
        found = policy.agent_type_denial(name)
        return None if found is None else f"{found.rule} ({found.source})"

    return denied
