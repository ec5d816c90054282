"""The dialogs over the view: the keys (``?``), save the script (``s``), stop the run (``x``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

from ...text import printable

__all__ = ["HelpScreen", "SaveScreen", "StopScreen"]


_HELP = [
    ("↑ / ↓", "select a phase or an agent (in detail: a section)"),
    ("Enter / →", "drill in: run → phase → agents → detail (in detail: expand/collapse)"),
    ("Esc / ←", "back one level"),
    ("j / k", "scroll the detail"),
    ("f", "filter agents by status (cycles)"),
    ("p", "pause / resume the run: no new agent starts while paused"),
    ("x", "on an agent: skip it (its agent() gives null); on the run: stop it (asks first)"),
    ("r", "restart the selected running agent (one more attempt)"),
    ("s", "save the script as a workflow (project or user)"),
    ("?", "this help"),
    ("q", "leave the view (once the run has finished)"),
    ("Ctrl-C", "stop the run; press again to exit at once"),
]


class HelpScreen(ModalScreen[None]):
    """The keys, as ``?`` shows them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q,enter", "dismiss", "close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: auto; max-width: 90%; border: round $accent; padding: 0 1;
        background: $surface; }
    """

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in _HELP:
            table.add_row(key, what)
        note = (
            "read-only: this view follows the run from the store; p, x and r work in the "
            "terminal running it"
            if self.read_only
            else "Esc, ? or q closes this help"
        )
        yield Static(
            Group(Text("Keys", style="bold"), table, Text(""), Text(note, style="dim")),
            id="help",
        )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class SaveScreen(ModalScreen[Path | None]):
    """Save the run's script as a workflow: Tab chooses project or user, Enter saves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab,up,down,left,right", "toggle", "project/user"),
        Binding("enter", "save", "save"),
        Binding("escape", "cancel", "cancel"),
    ]
    DEFAULT_CSS = """
    SaveScreen { align: center middle; }
    SaveScreen > Static { width: auto; max-width: 90%; border: round $accent; padding: 0 1;
        background: $surface; }
    """

    def __init__(self, source: str, name: str, cwd: Path) -> None:
        super().__init__()
        self.source, self.workflow_name, self.cwd = source, name, cwd
        self.user = False
        self.overwrite: Path | None = None  # the existing file Enter now overwrites
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(id="save")

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        from ...library import save_target

        text = Text(f"Save {printable(repr(self.workflow_name))} as a workflow\n\n", style="bold")
        for user, label in ((False, "project"), (True, "user")):
            try:
                target = str(save_target(self.workflow_name, user=user, cwd=self.cwd))
            except (OSError, RuntimeError) as exc:  # no home directory, unreadable cwd
                target = f"(unavailable: {exc})"
            chosen = user == self.user
            text.append("● " if chosen else "○ ", style="bold" if chosen else "dim")
            text.append(f"{label:8} ", style="bold" if chosen else "")
            text.append(printable(target) + "\n", style="" if chosen else "dim")
        if self.overwrite is not None:
            exists = f"{printable(self.overwrite)} exists: Enter overwrites it, Esc cancels"
            text.append(f"\n{exists}", "yellow")
        elif self.error:
            text.append(f"\n{printable(self.error)}", style="red")
        else:
            text.append("\nTab: project or user · Enter: save · Esc: cancel", style="dim")
        self.query_one("#save", Static).update(text)

    def action_toggle(self) -> None:
        self.user = not self.user
        self.overwrite, self.error = None, ""
        self._draw()

    def action_save(self) -> None:
        from ...library import SaveError, TargetExists, save_workflow

        try:
            path = save_workflow(
                self.source,
                self.workflow_name,
                user=self.user,
                force=self.overwrite is not None,
                cwd=self.cwd,
            )
        except TargetExists as exc:
            self.overwrite = exc.path
            self._draw()
            return
        except SaveError as exc:
            self.overwrite, self.error = None, str(exc)
            self._draw()
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StopScreen(ModalScreen[bool]):
    """Asks before ``x`` stops the whole run: one Esc too many must not end everything.

    Only ``y`` stops: ``x`` pressed again (the user thought an agent was selected), Enter and
    Esc all keep the run going.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "stop the run"),
        Binding("n,escape,x,q,enter,left", "answer(False)", "keep it running"),
    ]
    DEFAULT_CSS = """
    StopScreen { align: center middle; }
    StopScreen > Static { width: auto; max-width: 90%; border: round $warning; padding: 0 1;
        background: $surface; }
    """

    def __init__(self, running: int, queued: int) -> None:
        super().__init__()
        self.running, self.queued = running, queued

    def compose(self) -> ComposeResult:
        running = (
            "1 running agent is" if self.running == 1 else f"{self.running} running agents are"
        )
        queued = "1 queued one" if self.queued == 1 else f"{self.queued} queued ones"
        text = Text("Stop the whole run?\n\n", style="bold")
        text.append(
            f"{running} cancelled and {queued} never start;\n"
            "finished agents are kept, and jshost resume carries on from them.\n"
            "To skip one agent instead: Enter opens the list, select it, press x.\n\n"
        )
        text.append("y", style="bold")
        text.append(" stop the run · ")
        text.append("n", style="bold")
        text.append(" / ")
        text.append("Esc", style="bold")
        text.append(" keep it running")
        yield Static(text, id="stop")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
