"""The question ``jshost run`` asks on a terminal before anything runs.

It shows what will run — the script's header, the caps and budget, the validation warnings —
then exactly four choices: run it; run it and don't ask again for this file with this content;
view the raw script (then the choices again); or don't run it. Input and output are passed in,
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

__all__ = ["Choice", "ask"]


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


def ask(
    report: Report,
    *,
    run_rows: list[tuple[str, str]],
    where: str,
    console: Console,
    read_line: Callable[[str], str | None],
    view: Callable[[], None],
    plan_lines: Sequence[str] = (),
) -> Choice:
    """Show the review screen and ask until there is an answer.

    Args:
        report: the validated script (its errors are known to be none).
        run_rows: (label, value) rows about the run: caps, budget, worker.
        where: the directory shown in the "don't ask again" choice.
        console: where the screen is drawn (stderr: stdout keeps the run's result).
        read_line: shows a prompt and returns the line typed, or None at end of input.
        view: shows the raw script (through a pager on a terminal).
        plan_lines: the plan's headline (agents by model, estimated tokens and cost, the
            budget), shown above the choices.

    Returns:
        The choice; end of input counts as "No".
    """
    name = report.meta.name if report.meta else "this script"
    console.print(header_panel(report, _TITLE))
    for label, value in run_rows:
        console.print(Text.assemble((f"{label}: ", "bold"), visible(value)))
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
    while True:
        console.print()
        for i, label in enumerate(labels, 1):
            console.print(Text.assemble((f"  {i}. ", "bold cyan"), label))
        while True:
            line = read_line(f"Choose 1-{len(labels)}: ")
            if line is None:
                return Choice.NO
            answer = line.strip()
            if answer in ("1", "2", "3", "4"):
                break
            console.print(Text(f"type a number from 1 to {len(labels)}", style="red"))
        if answer == "1":
            return Choice.RUN
        if answer == "2":
            return Choice.RUN_AND_REMEMBER
        if answer == "4":
            return Choice.NO
        view()
