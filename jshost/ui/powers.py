"""What the agents of a run may do, as the confirmation shows it before anything runs.

The block is a list of lines built from plain data (:class:`AgentPowers`), so that each part
that adds a power (tools and rules, MCP servers) adds its lines without drawing anything; the
confirmation prints them as they are. Every value is sanitised here, and each line is wrapped to
fit an 80-column terminal with the label's indent kept.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import final

from ..text import printable

__all__ = ["TITLE", "AgentPowers", "powers_lines"]

TITLE = "What the agents may do"
#: columns the block is wrapped to (an 80-column terminal, with a margin)
WIDTH = 78
#: where values start: two spaces, a label of up to 9 characters, two spaces
_LABEL = 13

_MODES = {
    "default": "reads inside the workspace; edits and commands only where a rule allows",
    "acceptEdits": "reads and edits inside the workspace; commands only where a rule allows",
    "plan": "reads only: no edit and no command runs",
}


@final
@dataclass(frozen=True)
class AgentPowers:
    """What the agents of a run may do.

    Args:
        tools (Sequence[str] | None): the tools the agents get, by name; None: the worker's
            agents use none (they answer in text).
        worker (str): the worker's name, said when the agents use no tools.
        mode (str): the permission mode (``default``, ``acceptEdits``, ``plan``).
        workspace (str | None): the directory the tools are rooted at.
        allowed, denied, asked (Sequence[str]): permission rules, as the user wrote them.
        mcp_servers (Sequence[str]): MCP servers, one entry each (``name (n tools)``).
        can_ask (bool): a person can answer the calls that need asking (the interactive view);
            otherwise those are denied.
        extra (Sequence[str]): more lines, shown as they are (sanitised) at the end.
    """

    tools: Sequence[str] | None = None
    worker: str = ""
    mode: str = "default"
    workspace: str | None = None
    allowed: Sequence[str] = ()
    denied: Sequence[str] = ()
    asked: Sequence[str] = ()
    mcp_servers: Sequence[str] = ()
    can_ask: bool = False
    extra: Sequence[str] = ()


def _row(label: str, value: str, width: int) -> list[str]:
    lead = f"  {label:<{_LABEL - 4}}  "
    return textwrap.wrap(
        value,
        width=width,
        initial_indent=lead,
        subsequent_indent=" " * _LABEL,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [lead.rstrip()]


def _list_row(label: str, values: Sequence[str], width: int) -> list[str]:
    """A row of rules or names, wrapped between items, never inside one that fits a line."""
    lead = f"  {label:<{_LABEL - 4}}  "
    lines: list[str] = []
    line = lead
    for i, value in enumerate(values):
        item = printable(value) + ("," if i < len(values) - 1 else "")
        if line.strip() and line != lead and len(line) + 1 + len(item) > width:
            lines.append(line)
            line = " " * _LABEL
        sep = "" if line in (lead, " " * _LABEL) else " "
        if len(line) + len(sep) + len(item) > width:  # one item longer than a line
            lines += _row(label if line == lead else "", item, width)[:-1]
            line = _row(label if line == lead else "", item, width)[-1]
            continue
        line += sep + item
    lines.append(line)
    return lines


def powers_lines(p: AgentPowers, width: int = WIDTH) -> list[str]:
    """The block's lines: a title, then one row per power (wrapped to ``width`` columns)."""
    lines = [f"{TITLE}:"]
    if p.tools is None:
        who = f"the {printable(p.worker)} worker's agents" if p.worker else "the agents"
        lines += _row("tools", f"none: {who} answer in text and touch nothing", width)
        lines += [printable(line) for line in p.extra]
        return lines
    lines += _list_row("tools", p.tools, width) if p.tools else _row("tools", "none", width)
    mode = printable(p.mode)
    lines += _row("mode", f"{mode}: {_MODES[p.mode]}" if p.mode in _MODES else mode, width)
    if p.workspace is not None:
        lines += _row("workspace", printable(p.workspace), width)
    if p.allowed:
        lines += _list_row("allow", p.allowed, width)
    else:
        lines += _row("allow", "(the mode's defaults only)", width)
    if p.denied:
        lines += _list_row("deny", p.denied, width)
    if p.asked:
        lines += _list_row("ask", p.asked, width)
    if p.mcp_servers:
        lines += _list_row("MCP", p.mcp_servers, width)
    questions = (
        "you are asked in the view (allow once, for this run, or deny)"
        if p.can_ask
        else "a call that needs asking is denied (nobody to ask here)"
    )
    lines += _row("questions", questions, width)
    for line in p.extra:
        lines += textwrap.wrap(printable(line), width=width) or [""]
    return lines
