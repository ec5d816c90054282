"""The question ``jshost run`` asks on a terminal before anything runs.

It shows what will run — the script's header, the caps and budget, what the agents may do (tools,
permission mode, workspace, rules, MCP servers), the validation warnings —
then exactly four choices: run it; run it and don't ask again for this file with this content;
view the raw script (then the choices again); or don't run it. A digit, ``y`` or ``n`` chooses at
once; ↑/↓ move the marker and Enter takes the marked choice. Input and output are passed in,
so the flow is the same under a pseudo-terminal test as for a user.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .script_view import header_panel, visible

if TYPE_CHECKING:
    from ..script.validate import Report

__all__ = ["PROMPT", "Choice", "ask"]


class Choice(enum.Enum):
    """What the user answered."""

    RUN = "run"
    RUN_AND_REMEMBER = "remember"
    NO = "no"


_TITLE = "Review dynamic workflow before running"


def choices(name: str, where: str) -> list[str]:
    """The four choices, in the order they are numbered."""
    return [
        "Yes, run it",
        f"Yes, and don't ask again for {name} in {where}",
        "View raw script",
        "No",
    ]


#: Keys that choose at once, and what they choose (index into :func:`choices`).
_KEYS = {"1": 0, "2": 1, "3": 2, "4": 3, "y": 0, "Y": 0, "n": 3, "N": 3}
PROMPT = "Choose 1-4 (y: run it, n: No), or ↑/↓ then Enter: "


def ask(
    report: Report,
    *,
    run_rows: list[tuple[str, str]],
    where: str,
    console: Console,
    read_key: Callable[[str], str | None],
    view: Callable[[], None],
    plan_lines: Sequence[str] = (),
    powers: Sequence[str] = (),
) -> Choice:
    """Show the review screen and ask until there is an answer.

    Args:
        report: the validated script (its errors are known to be none).
        run_rows: (label, value) rows about the run: caps, budget, worker, args.
        where: the directory shown in the "don't ask again" choice.
        console: where the screen is drawn (stderr: stdout keeps the run's result).
        read_key: shows a prompt and returns one key: a character, or "up", "down", "enter";
            None at end of input.
        view: shows the raw script (through a pager on a terminal).
        plan_lines: the plan's headline (agents by model, estimated tokens and cost, the
            budget), shown above the choices.
        powers: what the agents may do (``jshost.ui.powers.powers_lines``): lines already
            sanitised and wrapped, shown under the run's rows.

    Returns:
        The choice; end of input counts as "No".
    """
    name = report.meta.name if report.meta else "this script"
    console.print(header_panel(report, _TITLE))
    for label, value in run_rows:
        console.print(Text.assemble((f"{label}: ", "bold"), visible(value)))
    if powers:
        console.print()
        for i, line in enumerate(powers):
            console.print(Text(visible(line), style="bold" if i == 0 else ""), soft_wrap=True)
    warnings = [d for d in report.diagnostics if d.severity == "warning"]
    if warnings:
        console.print(Text(f"{len(warnings)} validation warning(s):", style="yellow bold"))
        for d in warnings:
            # One line each, as `validate` prints them: the terminal wraps, rich does not.
            console.print(Text("  " + visible(str(d)), style="yellow"), soft_wrap=True)
    if plan_lines:
        console.print()
        for line in plan_lines:
            style = "yellow bold" if line.startswith("warning:") else None
            console.print(Text(visible(line), style=style or ""), soft_wrap=True)
    labels = choices(visible(name), visible(where))
    outcomes = [Choice.RUN, Choice.RUN_AND_REMEMBER, None, Choice.NO]
    selected = 0

    def draw() -> None:
        for i, label in enumerate(labels):
            mark = "❯" if i == selected else " "
            style = "bold cyan" if i == selected else "cyan"
            console.print(Text.assemble((f"{mark} {i + 1}. ", style), label))

    console.print()
    draw()
    while True:
        key = read_key(PROMPT)
        if key is None:
            return Choice.NO
        if key in ("up", "down"):
            selected = (selected + (1 if key == "down" else -1)) % len(labels)
            console.print()
            draw()
            continue
        if key == "enter":
            chosen = selected
        elif key in _KEYS:
            chosen = _KEYS[key]
        else:
            console.print(Text("press 1-4, y or n, or ↑/↓ then Enter", style="red"))
            continue
        outcome = outcomes[chosen]
        if outcome is not None:
            return outcome
        view()
        selected = 0
        console.print()
        draw()
