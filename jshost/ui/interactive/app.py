"""The interactive run view (textual): drill into phases and agents; pause, stop, skip, save.

Threads. The view is a textual app on the main thread: textual's asyncio loop owns the terminal
(raw mode, resize signals). The trio engine runs under ``trio.run`` on a thread of its own, as
it would without a view. Trio's guest mode inside textual's loop was the alternative; it was
not taken because the engine and the view would then share one thread, and every frame
textual composes would delay the engine's scheduling. On its own thread the engine never waits
for the view: events reach the view through the same bounded, coalescing
:class:`~jshost.ui.dispatch.EventQueue` the other views use (an append under a lock), and the
view polls it a few times a second and draws a frozen :class:`~jshost.ui.state.RunView`.
Steering goes the other way through :class:`~jshost.engine.EngineControl`, called from a
worker thread so that the view's loop never waits for the engine either.

In raw mode Ctrl-C arrives as a key, not as SIGINT: the first stops the run (the view closes
once it has stopped, and the summary follows), the second leaves at once. SIGINT and SIGTERM
sent from elsewhere do the same.

``jshost watch`` draws the same app from a :class:`StoreSource`: it re-reads the run from the
store (a running engine commits its changes within half a second) and is read-only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import trio
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from ...engine import Engine, EngineControl, RunOutcome
from ...errors import JshostError
from ...text import printable
from ..dispatch import EventQueue
from ..live import agents_line, log_lines, phase_cells, state_counts, tokens_line
from ..plain import format_result
from ..state import (
    STATE_STYLE,
    STATES,
    AgentView,
    RunState,
    RunView,
    clock,
    count_states,
    phase_summaries,
    tokens_k,
    view_from_state,
    view_from_store,
)

__all__ = ["EngineThread", "LiveSource", "RunApp", "StopScreen", "StoreSource"]

#: seconds between looks at what changed (events for a run here, the store for a watched run)
LIVE_POLL = 0.25
STORE_POLL = 0.5
#: a watched run that has ended is looked at less often (it may be resumed elsewhere)
STORE_POLL_FINISHED = 2.0
#: log lines kept and shown under the lists
LOG_ROWS = 4
#: lines of a prompt or result shown before Enter expands it
COLLAPSED_LINES = 10
#: characters of one section drawn even when expanded (inspect prints everything)
EXPANDED_CHARS = 100_000
#: seconds a message stays in the message line
MESSAGE_SECONDS = 8.0

EXIT_STOPPED = 130
_FILTERS: tuple[str | None, ...] = (None, *STATES)


# ---- where a run comes from --------------------------------------------------------------------


class EngineThread:
    """Runs an engine under ``trio.run`` on a thread of its own.

    Args:
        engine (Engine): the engine to run; its sink must never block (an EventQueue's put).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outcome: RunOutcome | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._ready = threading.Event()
        self._control: EngineControl | None = None
        self._thread = threading.Thread(target=self._main, name="jshost-engine", daemon=True)

    def start(self) -> EngineThread:
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def _main(self) -> None:
        async def main() -> RunOutcome:
            self._control = EngineControl(self.engine, trio.lowlevel.current_trio_token())
            self._ready.set()
            async with self.engine.worker:  # its connections close with the run
                return await self.engine.run()

        try:
            self.outcome = trio.run(main)
        except BaseException as exc:  # handed to the thread that waits for the outcome
            self.error = exc
        finally:
            self._ready.set()
            self.done.set()

    @property
    def control(self) -> EngineControl | None:
        """The engine's remote control, once its trio run is up (blocks until then)."""
        self._ready.wait()
        return self._control

    def wait(self) -> RunOutcome:
        """The outcome, once the run has ended; Ctrl-C stops it, a second one exits at once."""
        interrupts = 0
        while not self.done.is_set():
            try:
                self.done.wait(0.2)
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 1:
                    os._exit(EXIT_STOPPED)
                control = self.control
                if control is not None:
                    control.stop()
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


class Source(Protocol):
    """Where the view reads a run from, and (unless read-only) how it steers it."""

    read_only: bool
    #: poll() does blocking I/O: the view calls it on a worker thread
    blocking: bool
    poll_interval: float

    def start(self) -> None: ...

    def poll(self) -> RunView: ...

    def steer(self, action: str, *args: Any) -> bool: ...


class LiveSource:
    """A run this process runs: the engine on its own thread, its events through a queue.

    Args:
        engine (Engine): the engine, built with ``sink=queue.put``.
        queue (EventQueue): the queue the engine's events go to.
        run_id (str): the run's id in the store.
    """

    read_only = False
    blocking = False
    poll_interval = LIVE_POLL

    def __init__(self, engine: Engine, queue: EventQueue, *, run_id: str) -> None:
        self.runner = EngineThread(engine)
        self.queue = queue
        self.run_id = run_id
        self.state = RunState(log_rows=LOG_ROWS)
        self._script = engine.script

    def start(self) -> None:
        self.runner.start()

    def poll(self) -> RunView:
        batch = self.queue.take(0)
        if batch:
            self.state.handle(batch)
        script = self._script
        return view_from_state(
            self.state, run_id=self.run_id, script=script.source, path=script.path, meta=script.meta
        )

    def steer(self, action: str, *args: Any) -> bool:
        """``set_paused``, ``skip_agent``, ``restart_agent`` or ``stop``; blocks briefly."""
        control = self.runner.control
        return control is not None and bool(getattr(control, action)(*args))


class StoreSource:
    """A run followed from the store, read-only (``jshost watch``).

    Args:
        store (Store): an open store (``Store(reading=True)``); calls are serialized by it.
        run_id (str): the run to follow.
    """

    read_only = True
    blocking = True
    poll_interval = STORE_POLL

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def start(self) -> None:
        pass

    def poll(self) -> RunView:
        run = self.store.get_run(self.run_id)
        agents = self.store.agents(run.id)
        logs = self.store.logs(run.id, last=LOG_ROWS)
        return view_from_store(run, agents, logs)

    def steer(self, action: str, *args: Any) -> bool:
        raise RuntimeError("a watched run is read-only")


# ---- widgets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One selectable row: a key that stays the same while the row's cells change.

    ``cells`` may be a function making them: only the rows on screen are drawn.
    """

    key: tuple[Any, ...]
    cells: tuple[RenderableType, ...] | Callable[[], tuple[RenderableType, ...]]

    def render(self) -> tuple[RenderableType, ...]:
        return self.cells() if callable(self.cells) else self.cells


class Rows(Widget):
    """A list of rows with a cursor; draws only the rows that fit (runs may have 1,000 agents)."""

    DEFAULT_CSS = "Rows { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.columns: list[dict[str, Any]] = []
        self.cursor = 0
        self.empty = ""
        self._top = 0

    @property
    def selected(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def show(
        self, rows: list[Row], columns: list[dict[str, Any]], *, select: Any = None, empty: str = ""
    ) -> None:
        """Replace the rows, keeping the cursor on the same key (or on ``select``)."""
        key = select if select is not None else (self.selected.key if self.selected else None)
        self.rows, self.columns, self.empty = rows, columns, empty
        if key is not None:
            for i, row in enumerate(rows):
                if row.key == key:
                    self.cursor = i
                    break
        self.cursor = max(0, min(self.cursor, len(rows) - 1))
        self.refresh()

    def move(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.rows) - 1))
        self.refresh()

    def render(self) -> RenderableType:
        if not self.rows:
            return Text(self.empty, style="dim")
        height = max(1, self.size.height)
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + height:
            self._top = self.cursor - height + 1
        self._top = max(0, min(self._top, len(self.rows) - height))
        table = Table.grid(padding=(0, 1), expand=True)
        for spec in self.columns:
            table.add_column(**spec)
        for i in range(self._top, min(len(self.rows), self._top + height)):
            table.add_row(*self.rows[i].render(), style="reverse" if i == self.cursor else None)
        return table


_RUN_COLUMNS = [
    {"width": 1, "no_wrap": True},
    {"ratio": 1, "no_wrap": True, "overflow": "ellipsis", "min_width": 8},
    {"no_wrap": True, "overflow": "ellipsis"},
    {"justify": "right", "no_wrap": True},
    {"justify": "right", "no_wrap": True},
]
_AGENT_COLUMNS = [
    {"justify": "right", "no_wrap": True, "style": "dim"},
    {"no_wrap": True, "width": 9},
    {"ratio": 1, "no_wrap": True, "overflow": "ellipsis", "min_width": 10},
    {"no_wrap": True, "overflow": "ellipsis", "max_width": 16, "style": "dim"},
    {"justify": "right", "no_wrap": True},
    {"justify": "right", "no_wrap": True},
]
_STATUS_MARK = {
    "starting": ("▸", "cyan"),
    "running": ("▸", "cyan"),
    "paused": ("‖", "yellow"),
    "stopping": ("▸", "yellow"),
    "completed": ("✓", "green"),
    "failed": ("!", "red"),
    "stopped": ("■", "yellow"),
    "interrupted": ("!", "red"),
}


def _status_text(view: RunView) -> Text:
    if view.status == "paused":
        return Text(" PAUSED ", style="bold black on yellow")
    if view.status == "stopping":
        return Text("stopping…", style="bold yellow")
    style = {"completed": "green", "failed": "red", "running": "cyan", "starting": "cyan"}
    return Text(view.status, style=style.get(view.status, "yellow"))


def _agent_cells(a: AgentView, now: float) -> tuple[RenderableType, ...]:
    took = a.elapsed(now)
    tries = f" ×{a.attempts}" if a.attempts > 1 else ""
    return (
        f"#{a.index}",
        Text(a.status, style=STATE_STYLE.get(a.status, "")),
        Text(printable(a.label) + tries),
        Text(printable(a.model_used or a.model or "default")),
        f"{tokens_k(a.usage.input_tokens)}→{tokens_k(a.usage.output_tokens)}",
        clock(took) if took is not None else "",
    )


def _agent_columns(agents: list[AgentView], now: float) -> list[dict[str, Any]]:
    """The agent list's columns, sized from every agent of the group, filtered out or not.

    Sized from the rows shown, a filter would move the columns (and a column empty in every
    row shown, such as the elapsed time of queued agents, made rich stop expanding the table).
    """
    index = model = tokens = 0
    took = 4  # 0:00
    for a in agents:
        cells = _agent_cells(a, now)
        index = max(index, len(str(cells[0])))
        model = max(model, cell_len(str(cells[3])))
        tokens = max(tokens, len(str(cells[4])))
        took = max(took, len(str(cells[5])))
    widths = [index, None, None, min(model, 16), tokens, took]
    return [
        {**spec, "min_width": max(spec.get("min_width", 0), width)} if width else spec
        for spec, width in zip(_AGENT_COLUMNS, widths, strict=True)
    ]


def _agent_row(a: AgentView, now: float) -> Row:
    return Row(key=("agent", a.index), cells=lambda: _agent_cells(a, now))


def _clip_lines(text: str, expanded: bool) -> tuple[str, str]:
    """The part of ``text`` shown and a note about the rest ("" when all of it is shown)."""
    if expanded:
        if len(text) <= EXPANDED_CHARS:
            return text, ""
        return text[:EXPANDED_CHARS], f"… {len(text) - EXPANDED_CHARS:,} more characters"
    lines = text.splitlines() or [""]
    shown = "\n".join(line[:400] for line in lines[:COLLAPSED_LINES])
    hidden = len(lines) - COLLAPSED_LINES
    if hidden > 0:
        return shown, f"… {hidden:,} more lines (Enter expands)"
    if len(shown) < len(text):
        return shown, "… long lines cut (Enter expands)"
    return shown, ""


def agent_sections(a: AgentView) -> list[tuple[str, str | None]]:
    """The detail's sections: prompt, result or error, and tool calls for workers with them."""
    # Every body is shown as printable text: the prompt and result hold what the script and
    # the model wrote, and a redraw must not replay an escape sequence in them.
    sections: list[tuple[str, str | None]] = [("prompt", printable(a.prompt, multiline=True))]
    if a.status in ("done", "cached"):
        sections.append(("result", format_result(a.result)))
    elif a.status in ("failed", "skipped", "cancelled"):
        sections.append(("error", printable(a.error or a.status, multiline=True)))
    else:
        sections.append(("result", None))
    if a.tool_calls is not None:
        calls = "\n".join(printable(call) for call in a.tool_calls)
        sections.append(("recent tool calls", calls or "none yet"))
    return sections


def agent_detail(
    a: AgentView, now: float, *, selected: int, expanded: set[str]
) -> tuple[Text, list[int]]:
    """The detail text of one agent and the line each section starts on."""
    text = Text()
    text.append(f"#{a.index} ", style="dim")
    text.append(printable(a.label), style="bold")
    text.append("\nstatus ")
    text.append(a.status, style=STATE_STYLE.get(a.status, ""))
    text.append(f" · attempts {a.attempts}")
    model = a.model or a.model_used or "default"
    if a.model_used and a.model_used != a.model:
        model += f" ({a.model_used})"
    text.append(f" · model {printable(model)}")
    if a.phase:
        text.append(f" · phase {printable(a.phase)}")
    took = a.elapsed(now)
    u = a.usage
    text.append(f"\ntokens {u.input_tokens:,} in / {u.output_tokens:,} out")
    if u.cache_creation_input_tokens or u.cache_read_input_tokens:
        text.append(
            f" · cache {u.cache_creation_input_tokens:,} written / "
            f"{u.cache_read_input_tokens:,} read"
        )
    text.append(f" · elapsed {clock(took) if took is not None else '–'}")
    starts = []
    line = 3
    for i, (name, body) in enumerate(agent_sections(a)):
        text.append("\n\n")
        line += 1
        starts.append(line)
        is_open = name in expanded
        mark = "▾" if is_open else "▸"
        text.append(f"{mark} {name}", style="bold reverse" if i == selected else "bold")
        if body is None:
            text.append("\n  (not finished yet)", style="dim")
            line += 2
            continue
        shown, note = _clip_lines(body, is_open)
        text.append("\n")
        text.append(shown)
        line += 1 + shown.count("\n") + 1
        if note:
            text.append(f"\n{note}", style="dim")
            line += 1
    return text, starts


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


class _Signal(Message):
    """SIGINT or SIGTERM reached the process while the view is up."""


# ---- the app -------------------------------------------------------------------------------------

Level = Literal["run", "agents", "detail"]


class RunApp(App[int]):
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
            a.model_used,
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


# ---- entry points ------------------------------------------------------------------------------


def run_interactive(engine_factory: Callable[[Any], Engine], *, run_id: str) -> RunOutcome:
    """Run an engine with the interactive view on this terminal; the outcome once both end.

    ``engine_factory(sink)`` builds the engine with the given event sink.
    """
    queue = EventQueue()
    source = LiveSource(engine_factory(queue.put), queue, run_id=run_id)
    app = RunApp(source, handle_signals=True)
    app.run()
    runner = source.runner
    # The view may close on the run's last event, a moment before its thread has returned.
    if not runner.done.is_set() and source.state.outcome is None:
        if app.abandoned:
            sys.stderr.write(f"jshost: left at once; resume the run with: jshost resume {run_id}\n")
            sys.stderr.flush()
            os._exit(EXIT_STOPPED)
        # The view failed or was closed some other way: the run goes on without it.
        sys.stderr.write("jshost: the view closed before the run ended; Ctrl-C stops the run\n")
        if not runner.started:  # it failed before it started the run
            runner.start()
    return runner.wait()


def watch(store: Any, run_id: str) -> None:
    """Follow a stored run in the interactive view, read-only, until the user leaves."""
    RunApp(StoreSource(store, run_id), handle_signals=True).run()
