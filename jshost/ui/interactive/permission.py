"""The permission prompt: an agent's tool call waits for the person at the view to answer.

A worker asks through :class:`jshost.ui.asker.ViewAsker` (that agent pauses; the others go
on); the view looks at the open questions on every tick and shows the oldest in a
:class:`PermissionScreen`: the tool, its input, why it is asked, the rule "allow for this run"
would add, and three answers (keys and mouse). Answered, the next question follows; one whose
agent was cancelled meanwhile goes away by itself; stopping the run denies them all.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...text import printable
from ...transcripts import call_text, clip_value, rule_text
from ..asker import PendingAsk

__all__ = ["PermissionPrompts", "PermissionScreen"]

#: lines of a tool's input shown in the prompt, and characters of each
INPUT_LINES = 14
LINE_CHARS = 300

_SAID = {"once": "allowed once", "run": "allowed for this run", "deny": "denied"}


def _input_text(tool_input: Any) -> str:
    shown = json.dumps(clip_value(tool_input, 1_000), ensure_ascii=False, indent=2)
    lines = shown.splitlines()
    out = [line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…" for line in lines]
    if len(out) > INPUT_LINES:
        out = [*out[:INPUT_LINES], f"… {len(lines) - INPUT_LINES:,} more lines"]
    return "\n".join(out)


class PermissionScreen(ModalScreen[str | None]):
    """One agent's question: allow this call once, allow it for the rest of the run, or deny.

    ``1``/``o`` allow once, ``2``/``a`` allow for this run, ``3``/``d``/``n``/Esc deny; or
    click. Enter takes the focused button, Deny to begin with: a stray Enter allows nothing;
    ←/→ (↑/↓, Tab) move between the buttons.
    """

    AUTO_FOCUS = "#deny"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1,o", "answer('once')", "allow once"),
        Binding("2,a", "answer('run')", "allow for this run"),
        Binding("3,d,n,escape", "answer('deny')", "deny"),
        # The screen's own: the app's focus keys are off while a dialog is up (check_action).
        Binding("left,up,shift+tab", "move(-1)", "previous", show=False),
        Binding("right,down,tab", "move(1)", "next", show=False),
    ]
    DEFAULT_CSS = """
    PermissionScreen { align: center middle; }
    PermissionScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $warning; padding: 0 1; background: $surface; }
    PermissionScreen #ask-body { height: auto; }
    PermissionScreen #ask-more { height: auto; color: $text-muted; }
    PermissionScreen Horizontal { height: auto; margin-top: 1; }
    PermissionScreen Button { margin-right: 2; }
    """

    def __init__(self, pending: PendingAsk, more: int = 0) -> None:
        super().__init__()
        self.pending = pending
        self.more = more

    def compose(self) -> ComposeResult:
        r = self.pending.request
        text = Text()
        text.append(f"Agent #{r.agent_index} ", style="bold")
        text.append(printable(r.label), style="bold")
        text.append(" asks to use a tool\n\n", style="bold")
        text.append(printable(call_text(r.tool, r.tool_input, limit=300)), style="bold yellow")
        text.append("\n")
        text.append(printable(_input_text(r.tool_input), multiline=True), style="dim")
        if r.paths:
            paths = ", ".join(r.paths[:5])
            if len(r.paths) > 5:
                paths += f", … {len(r.paths) - 5} more"
            text.append("\ntouches ")
            text.append(printable(paths))
        if r.decision.reason:
            text.append("\n\nwhy it asks: ")
            text.append(printable(r.decision.reason))
        rule = r.decision.suggestion or rule_text(r.tool, r.tool_input)
        text.append("\nallow for this run adds the rule ")
        text.append(printable(rule), style="bold")
        text.append("\n\nThis agent waits for your answer; the others go on.")
        yield Vertical(
            Static(text, id="ask-body"),
            Static(self._more_text(), id="ask-more"),
            Horizontal(
                Button("1 Allow once", id="once", variant="primary"),
                Button("2 Allow for this run", id="run", variant="warning"),
                Button("3 Deny", id="deny", variant="error"),
            ),
        )

    def _more_text(self) -> Text:
        if not self.more:
            return Text("")
        return Text(f"{self.more} more question{'' if self.more == 1 else 's'} after this one")

    def set_more(self, more: int) -> None:
        if more != self.more:
            self.more = more
            self.query_one("#ask-more", Static).update(self._more_text())

    def action_move(self, delta: int) -> None:
        buttons = list(self.query(Button))
        at = buttons.index(self.focused) if self.focused in buttons else len(buttons) - 1
        buttons[(at + delta) % len(buttons)].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class PermissionPrompts:
    """RunApp's part that puts its agents' permission questions in front of the person.

    Needs ``self.source`` (its ``asker``, a :class:`~jshost.ui.asker.ViewAsker`, or none),
    ``self.say`` and textual's ``screen``, ``push_screen`` and ``call_later``.
    """

    source: Any
    screen: Any

    def ask_next(self) -> None:
        """Show the oldest open question, unless one is shown; drop one no longer open."""
        asker = getattr(self.source, "asker", None)
        if asker is None:
            return
        top = self.screen
        if isinstance(top, PermissionScreen):
            if not asker.is_open(top.pending.id):
                top.dismiss(None)  # withdrawn (its agent was cancelled) or denied by a stop
            else:
                top.set_more(len(asker.pending()) - 1)
            return
        pending = asker.pending()
        if not pending:
            return
        first = pending[0]

        def answered(answer: str | None) -> None:
            if answer is not None and asker.answer(first.id, answer):
                r = first.request
                self.say(  # type: ignore[attr-defined]
                    f"{_SAID[answer]}: {rule_text(r.tool, r.tool_input)} for "
                    f"#{r.agent_index} [{r.label}]"
                )
            self.call_later(self.ask_next)  # type: ignore[attr-defined]

        self.push_screen(PermissionScreen(first, len(pending) - 1), answered)  # type: ignore[attr-defined]

    def deny_all_questions(self) -> None:
        """The run is stopping: every open question, and every later one, is denied."""
        asker = getattr(self.source, "asker", None)
        if asker is not None:
            asker.close()
