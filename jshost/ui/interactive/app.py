"""RunApp, the textual app of one run: its layout, what each level draws, what each key does.

The levels: run and phases → agents of a phase → agent detail.

In raw mode Ctrl-C arrives as a key, not as SIGINT: the first stops the run (the view closes
once it has stopped, and the summary follows), the second leaves at once. SIGINT and SIGTERM
sent from elsewhere do the same.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from ...errors import JshostError
from ...text import printable
from ..live import agents_line, log_lines, phase_cells, state_counts, tokens_line
from ..state import STATES, AgentView, RunView, clock, count_states, phase_summaries, tokens_k
from .permission import PermissionPrompts
from .screens import HelpScreen, SaveScreen, StopScreen
from .sources import LOG_ROWS, STORE_POLL_FINISHED, Source
from .widgets import (
    _AGENT_COLUMNS,
    _RUN_COLUMNS,
    _STATUS_MARK,
    Row,
    Rows,
    _agent_columns,
    _agent_row,
    _clip_lines,
    _status_text,
    agent_detail,
    agent_sections,
)

__all__ = ["RunApp"]

#: the exit code of a run stopped by the user
EXIT_STOPPED = 130


#: seconds a message stays in the message line
MESSAGE_SECONDS = 8.0

_FILTERS: tuple[str | None, ...] = (None, *STATES)


class _Signal(Message):
    """SIGINT or SIGTERM reached the process while the view is up."""


Level = Literal["run", "agents", "detail"]


class RunApp(PermissionPrompts, App[int]):
    """The interactive view of one run: run and phases → agents of a phase → agent detail.

    Args:
        source (Source): where the run comes from (:class:`LiveSource` or :class:`StoreSource`).
        cwd (Path | None): the directory a project workflow is saved from (default: cwd).
        handle_signals (bool): turn SIGINT and SIGTERM into Ctrl-C (off under a test pilot).
    """

    ENABLE_COMMAND_PALETTE = False
    TITLE = "jshost"
    CSS = """
    Screen { layout: vertical; }
    #header { height: auto; padding: 0 1; }
    #where { height: 1; padding: 0 1; color: $text-muted; }
    #rows { height: 1fr; padding: 0 1; }
    #detail { height: 1fr; padding: 0 1; display: none; }
    #bottom { height: auto; }
    #logs { height: auto; max-height: 5; padding: 0 1; }
    #message { height: auto; max-height: 2; padding: 0 1; color: $warning; }
    #keys { height: 1; padding: 0 0 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "up", show=False),
        Binding("down", "move(1)", "down", show=False),
        Binding("enter,right", "enter", "open", show=False),
        Binding("escape,left", "back", "back", show=False),
        Binding("j", "scroll(1)", "scroll down", show=False),
        Binding("k", "scroll(-1)", "scroll up", show=False),
        Binding("pagedown", "scroll(20)", "page down", show=False),
        Binding("pageup", "scroll(-20)", "page up", show=False),
        Binding("f", "filter", "filter", show=False),
        Binding("p", "pause", "pause", show=False),
        Binding("x", "x", "skip/stop", show=False),
        Binding("r", "restart", "restart", show=False),
        Binding("s", "save", "save", show=False),
        Binding("question_mark", "help", "help", show=False),
        Binding("q", "leave", "leave", show=False),
        # Priority: over textual's own quit key (ctrl+q) and over what a dialog binds (ctrl+c).
        Binding("ctrl+q", "leave", "leave", show=False, priority=True),
        Binding("ctrl+c", "interrupt", "stop", show=False, priority=True),
    ]

    def __init__(
        self, source: Source, *, cwd: Path | None = None, handle_signals: bool = False
    ) -> None:
        super().__init__()
        self.source = source
        self.cwd = cwd or Path.cwd()
        self.handle_signals = handle_signals
        self.view: RunView | None = None
        self.level: Level = "run"
        #: the run-level row whose agents the agents level lists: ("run",) or ("phase", title)
        self.group: tuple[Any, ...] = ("run",)
        self.status_filter: str | None = None
        self.agent_index: int | None = None
        self.section = 0
        self.expanded: set[str] = set()
        self.message = ""
        #: the user left at once with a second Ctrl-C while the run was still going
        self.abandoned = False
        self._interrupts = 0
        self._leave_when_finished = False
        self._message_at = 0.0
        self._polling = False
        self._section_lines: list[int] = []
        self._detail_key: Any = None
        self._next_poll = 0.0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog (help, save) is up, its keys are its own: only Ctrl-C still acts.
        return action == "interrupt" or not isinstance(self.screen, ModalScreen)

    # ---- layout and refresh ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="where")
        yield Rows(id="rows")
        with VerticalScroll(id="detail", can_focus=False):
            yield Static(id="detail-body")
        yield Vertical(Static(id="logs"), Static(id="message"), Static(id="keys"), id="bottom")

    async def on_mount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: self.post_message(_Signal()))
        self.source.start()
        await self.refresh_view()
        self.set_interval(0.1, self._tick)

    def on_unmount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def on__signal(self, _: _Signal) -> None:
        await self.action_interrupt()

    async def _tick(self) -> None:
        now = time.monotonic()
        if self.message and now - self._message_at > MESSAGE_SECONDS:
            self.say("")
        if now >= self._next_poll:
            await self.refresh_view()
        self.ask_next()

    async def refresh_view(self) -> None:
        """Read the run again and redraw (never two reads at once)."""
        if self._polling:
            return
        self._polling = True
        try:
            if self.source.blocking:
                view = await asyncio.to_thread(self.source.poll)
            else:
                view = self.source.poll()
        except JshostError as exc:
            self.say(f"cannot read the run: {exc}")
            return
        finally:
            self._polling = False
            interval = self.source.poll_interval
            if self.view is not None and self.view.finished and self.source.read_only:
                interval = STORE_POLL_FINISHED
            self._next_poll = time.monotonic() + interval
        self.view = view
        if view.finished and isinstance(self.screen, StopScreen):
            self.screen.dismiss(None)  # nothing left to stop: the question no longer applies
        self.draw()
        if getattr(self.source, "failed", False):
            self.exit(return_code=1)  # the caller reports the error (run_interactive)
            return
        if view.finished and self._leave_when_finished:
            self.exit(return_code=EXIT_STOPPED if view.status == "stopped" else 0)

    def say(self, message: str) -> None:
        """Show a message in the message line (for a few seconds)."""
        self.message = message
        self._message_at = time.monotonic()
        self.query_one("#message", Static).update(Text(printable(message)))

    def draw(self) -> None:
        view = self.view
        if view is None:
            return
        self.query_one("#header", Static).update(self._header(view))
        rows = self.query_one("#rows", Rows)
        detail = self.query_one("#detail", VerticalScroll)
        if self.level == "detail":
            rows.display = False
            detail.display = True
            self._draw_detail(view)
        else:
            rows.display = True
            detail.display = False
            if self.level == "run":
                rows.show(self._run_rows(view), _RUN_COLUMNS)
            else:
                group = self._agents(view, filtered=False)
                shown = self._agents(view)
                empty = "no agents yet"
                if self.status_filter is not None:
                    empty = f"no {self.status_filter} agents here (f changes the filter)"
                columns = _agent_columns(group, view.now)
                rows.show([_agent_row(a, view.now) for a in shown], columns, empty=empty)
        self.query_one("#where", Static).update(self._where(view))
        logs = list(view.logs)
        if view.error:
            logs.append(("failure", view.error))
        self.query_one("#logs", Static).update(log_lines(logs[-LOG_ROWS:]))
        self.query_one("#keys", Static).update(self._keys(view))

    def _header(self, view: RunView) -> Text:
        text = Text()
        text.append(printable(view.name), style="bold")
        text.append(" · ")
        text.append(_status_text(view))
        text.append(f" · {clock(view.elapsed)} · ")
        text.append(view.run_id, style="dim")
        if self.source.read_only:
            text.append(" · watching (read-only)", style="dim")
        text.append("\n")
        text.append(agents_line(view.agents, view.max_agents))
        text.append("\n")
        text.append(tokens_line(view.agents, view.budget, view.spent))
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def _group_title(self) -> str:
        if self.group == ("run",):
            return "all agents"
        title = self.group[1]
        return f"phase {printable(title)}" if title is not None else "(no phase)"

    def _where(self, view: RunView) -> Text:
        parts = ["run"]
        if self.level in ("agents", "detail"):
            parts.append(self._group_title())
        if self.level == "detail" and self.agent_index is not None:
            a = view.agent(self.agent_index)
            parts.append(f"#{self.agent_index} {printable(a.label) if a else ''}".rstrip())
        text = Text(" › ".join(parts))
        if self.level == "agents":
            rows = self.query_one("#rows", Rows)
            if rows.rows:
                text.append(f" · {rows.cursor + 1}/{len(rows.rows)}")
        if self.status_filter is not None:
            text.append(f" · filter: {self.status_filter}", style="bold")
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def _keys(self, view: RunView) -> Text:
        """The keys that do something here and now, cut to the width from the middle."""
        steer = not self.source.read_only and not view.finished
        agent = self.selected_agent() if steer and self.level != "run" else None
        keys: list[str] = []
        if self.level == "run":
            keys += ["↑↓ select", "Enter open"]
            if steer:
                keys += ["p carry on" if view.paused else "p pause", "x stop run"]
            keys += ["f filter", "s save"]
        else:
            if self.level == "agents":
                keys += ["↑↓ select", "Enter detail", "Esc back"]
            else:
                keys += ["↑↓ section", "Enter expand", "j/k scroll", "Esc back"]
            if agent is not None and agent.status in ("queued", "running"):
                keys.append("x skip")
            if agent is not None and agent.status == "running":
                keys.append("r restart")
            if self.level == "agents":
                keys.append("f filter")
        keys.append("? help")
        lead = []
        if self.source.read_only:
            lead = ["watching: q leaves"]
        elif view.finished:
            lead = ["finished: q leaves"]
        # What must stay in view on a narrow terminal: how to leave, and how to see every key
        # (? lists them all). The ones a user finds by habit go first.
        width = max(20, self.query_one("#keys", Static).content_size.width)
        for spare in ("j/k scroll", "s save", "f filter", "Esc back"):
            if cell_len(" · ".join(lead + keys)) <= width:
                break
            if spare in keys:
                keys.remove(spare)
        while len(keys) > 2 and cell_len(" · ".join(lead + keys)) > width:
            del keys[-2]
        text = Text(" · ".join(lead + keys))
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def _run_rows(self, view: RunView) -> list[Row]:
        counts = count_states(view.agents)
        mark, style = _STATUS_MARK.get(view.status, ("▸", "cyan"))
        t_in = sum(a.usage.input_tokens for a in view.agents)
        t_out = sum(a.usage.output_tokens for a in view.agents)
        rows = [
            Row(
                key=("run",),
                cells=(
                    Text(mark, style=style),
                    Text(f"{printable(view.name)} (all agents)", style="bold"),
                    state_counts(counts) if view.agents else Text("–", style="dim"),
                    f"{tokens_k(t_in)}/{tokens_k(t_out)}",
                    clock(view.elapsed),
                ),
            )
        ]
        for summary in phase_summaries(view.agents, view.phases, view.current_phase, view.now):
            rows.append(Row(key=("phase", summary.title), cells=phase_cells(summary)))
        return rows

    def _agents(self, view: RunView, *, filtered: bool = True) -> list[AgentView]:
        if self.group == ("run",):
            agents = list(view.agents)
        else:
            agents = [a for a in view.agents if a.phase == self.group[1]]
        if filtered and self.status_filter is not None:
            agents = [a for a in agents if a.status == self.status_filter]
        return agents

    def _draw_detail(self, view: RunView) -> None:
        a = view.agent(self.agent_index) if self.agent_index is not None else None
        body = self.query_one("#detail-body", Static)
        if a is None:
            body.update(Text("this agent is not in the run any more", style="dim"))
            return
        took = a.elapsed(view.now)
        key = (
            a.status,
            a.attempts,
            a.usage,
            (a.model_used, a.last_tool, a.tool_calls, len(a.transcript), a.worktree),
            int(took) if took is not None else None,
            self.section,
            frozenset(self.expanded),
            a.index,
        )
        if key == self._detail_key:
            return  # nothing shown changed: keep the (maybe large) text as it is
        self._detail_key = key
        self.section = min(self.section, len(agent_sections(a)) - 1)
        text, self._section_lines = agent_detail(
            a, view.now, selected=self.section, expanded=self.expanded
        )
        body.update(text)

    # ---- selection ---------------------------------------------------------------------------

    def selected_agent(self) -> AgentView | None:
        """The agent the keys act on: the detail's, or the selected row's."""
        if self.view is None:
            return None
        if self.level == "detail" and self.agent_index is not None:
            return self.view.agent(self.agent_index)
        if self.level == "agents":
            row = self.query_one("#rows", Rows).selected
            if row is not None:
                return self.view.agent(row.key[1])
        return None

    def action_move(self, delta: int) -> None:
        if self.level == "detail":
            a = self.selected_agent()
            if a is None:
                return
            self.section = max(0, min(self.section + delta, len(agent_sections(a)) - 1))
            self.draw()
            if self.section < len(self._section_lines):
                self.query_one("#detail", VerticalScroll).scroll_to(
                    y=self._section_lines[self.section] - 1, animate=False
                )
            return
        self.query_one("#rows", Rows).move(delta)
        if self.view is not None:
            self.query_one("#where", Static).update(self._where(self.view))
            self.query_one("#keys", Static).update(self._keys(self.view))

    def action_enter(self) -> None:
        rows = self.query_one("#rows", Rows)
        if self.level == "run":
            row = rows.selected
            if row is None:
                return
            self.say("")  # what was said about the run screen is stale on the next one
            self.group = row.key
            self.level = "agents"
            rows.cursor = 0
            rows.show([], _AGENT_COLUMNS)
        elif self.level == "agents":
            row = rows.selected
            if row is None:
                return
            self.say("")
            self.agent_index = row.key[1]
            self.level = "detail"
            self.section = 1  # the result (or error) first: it is what one usually opens for
            self.expanded = set()
            self._detail_key = None
            self.query_one("#detail", VerticalScroll).scroll_to(y=0, animate=False)
        else:
            a = self.selected_agent()
            if a is None:
                return
            name, body = agent_sections(a)[self.section]
            if body is None:
                self.say(f"no {name} yet: agent #{a.index} is {a.status}")
                return
            if name not in self.expanded and not _clip_lines(body, False)[1]:
                # Nothing would change on screen: say so rather than seem not to hear the key.
                self.say(f"the {name} is shown whole: nothing more to expand")
                return
            self.expanded ^= {name}
        self.draw()

    def action_back(self) -> None:
        rows = self.query_one("#rows", Rows)
        if self.level != "run":
            self.say("")
        if self.level == "detail":
            self.level = "agents"
            self.draw()
            rows.show(rows.rows, rows.columns, select=("agent", self.agent_index))
        elif self.level == "agents":
            self.level = "run"
            self.draw()
            rows.show(rows.rows, _RUN_COLUMNS, select=self.group)

    def action_scroll(self, lines: int) -> None:
        if self.level == "detail":
            self.query_one("#detail", VerticalScroll).scroll_relative(y=lines, animate=False)
        else:
            self.action_move(max(-1, min(1, lines)) * (1 if abs(lines) == 1 else 10))

    def action_filter(self) -> None:
        i = _FILTERS.index(self.status_filter)
        self.status_filter = _FILTERS[(i + 1) % len(_FILTERS)]
        shown = self.status_filter or "all"
        if self.level == "run":
            # The run screen lists phases, not agents: nothing here changes, so say what will.
            self.say(
                f"agent lists will show {shown} agents: Enter opens the selected row's "
                "(f again changes the filter)"
            )
        else:
            self.say(f"showing {shown} agents")
        self.draw()

    # ---- steering ----------------------------------------------------------------------------

    def _can_steer(self) -> bool:
        if self.source.read_only:
            self.say(
                "read-only: this view follows the run from the store; pause, stop, skip and "
                "restart work in the terminal running it"
            )
            return False
        if self.view is None or self.view.finished:
            self.say("the run has finished")
            return False
        return True

    async def _steer(self, action: str, *args: Any) -> bool:
        if action == "stop":
            self.deny_all_questions()  # at once: a stopping run waits for nobody's answer
        # On a worker thread: the call waits for the engine's thread to take it.
        ok = await asyncio.to_thread(self.source.steer, action, *args)
        await self.refresh_view()
        return ok

    async def action_pause(self) -> None:
        if not self._can_steer():
            return
        assert self.view is not None
        pause = not self.view.paused
        await self._steer("set_paused", pause)
        if pause:
            self.say("paused: no new agent starts; running ones finish (p carries on)")
        else:
            self.say("carrying on")

    async def action_x(self) -> None:
        if not self._can_steer():
            return
        if self.level == "run":
            assert self.view is not None
            counts = count_states(self.view.agents)

            async def answered(stop: bool | None) -> None:
                if stop and self._can_steer():
                    await self._stop()
                elif stop is False:
                    self.say("the run goes on")

            self.push_screen(StopScreen(counts["running"], counts["queued"]), answered)
            return
        a = self.selected_agent()
        if a is None:
            self.say("no agent selected")
        elif a.status not in ("queued", "running"):
            self.say(f"agent #{a.index} is {a.status}: only a queued or running agent is skipped")
        elif await self._steer("skip_agent", a.index):
            self.say(f"skipped #{a.index} [{a.label}]: its agent() gives null")
        else:
            self.say(f"agent #{a.index} had already ended")

    async def _stop(self) -> None:
        assert self.view is not None
        await self._steer("stop")
        self.say(
            f"stopping: finished agents are kept; resume with jshost resume {self.view.run_id}"
        )

    async def action_restart(self) -> None:
        if not self._can_steer():
            return
        a = self.selected_agent()
        if a is None:
            self.say("select a running agent to restart it")
        elif a.status != "running":
            self.say(f"agent #{a.index} is {a.status}: only a running agent is restarted")
        elif await self._steer("restart_agent", a.index):
            self.say(f"restarted #{a.index} [{a.label}] (attempt {a.attempts + 1})")
        else:
            self.say(f"agent #{a.index} had already ended")

    def action_save(self) -> None:
        view = self.view
        if view is None or not view.script:
            self.say("the script is not known yet")
            return

        def saved(path: Path | None) -> None:
            if path is not None:
                self.say(f"saved to {path} · run it with: jshost run {view.name}")

        self.push_screen(SaveScreen(view.script, view.name, self.cwd), saved)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.source.read_only))

    def action_leave(self) -> None:
        if self.source.read_only or (self.view is not None and self.view.finished):
            self.exit(return_code=0)
            return
        self.say("the run is still going: q leaves once it has finished (x on the run stops it)")

    async def action_interrupt(self) -> None:
        if self.source.read_only or (self.view is not None and self.view.finished):
            self.exit(return_code=0)
            return
        self._interrupts += 1
        if self._interrupts > 1:
            self.abandoned = True
            self.exit(return_code=EXIT_STOPPED)
            return
        self._leave_when_finished = True
        await self._steer("stop")
        self.say("stopping… (Ctrl-C again to exit at once)")
