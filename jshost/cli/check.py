"""``jshost validate`` and ``jshost show``, and the review ``run`` does before it spends.

Exit codes of ``validate``: 0 no errors, 1 errors found (or warnings, with ``--strict``),
2 usage error (a file that cannot be read). ``show`` exits 2 when the file cannot be read.
Heavy imports (QuickJS, tree-sitter, rich) happen inside the commands, so ``jshost --help``
stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..text import json_text, printable
from .exits import EXIT_FAILED, EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..plan import Plan
    from ..script import FanOut, Script
    from ..script.validate import Report
    from .mcp_approval import McpApproval
    from .settings_approval import SettingsApproval

__all__ = ["checked_script", "checked_source", "confirm_run", "show_cmd", "validate_cmd"]


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"jshost: {printable(message, multiline=True)}", err=True)
    sys.exit(code)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _size_warning(report: Report) -> str | None:
    """The reference's "Large workflow" advisory when the text fixes the number of agents."""
    from ..estimate import size_warning

    fanout = report.fanout
    if fanout is None or not fanout.exact or fanout.sites == 0:
        return None
    warning = size_warning(fanout.constant, None)
    return warning.text() if warning else None


def _print_report(report: Report, *, err: bool) -> None:
    from ..script.validate import format_text

    for line in format_text(report):
        # A message may quote the file (a name, a string): nothing of it reaches the terminal live.
        click.echo(printable(line), err=err)


def fanout_sentence(fanout: FanOut) -> str:
    """The fan-out estimate in plain words: how many agents a run starts, and on what the
    count depends (the JSON keeps the compact form)."""
    if fanout.sites == 0:
        return "no agent() calls, so a run starts no agents"
    parts = [str(fanout.constant)] if fanout.constant or not fanout.terms else []
    for k, names in fanout.terms:
        product = " × ".join(names)
        parts.append(product if k == 1 else f"{k} × {product}")
    total = " + ".join(parts)
    if fanout.more_terms:
        total += f" + {fanout.more_terms} more terms"
    noun = "agent" if total == "1" else "agents"
    if fanout.exact:
        return f"a run starts {total} {noun}"
    why = {
        "args": ("depends", "depend", "on the args you pass"),
        "answers": ("depends", "depend", "on what agents answer"),
        "unknown": ("cannot", "cannot", "be read from the text"),
    }
    reasons = []
    for kind, (one, many, rest) in why.items():
        names = [
            n
            for n, k in fanout.factors.items()
            if k == kind or (kind == "unknown" and k not in why)
        ]
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            reasons.append(f"{listed} {one if len(names) == 1 else many} {rest}")
    return f"a run starts {total} {noun}, where " + "; ".join(reasons)


@click.command(
    name="validate",
    epilog="Exit codes: 0 no errors; 1 errors found (or warnings, with --strict); "
    "2 a file could not be read.",
)
@click.argument("scripts", nargs=-1, required=True, metavar="SCRIPT|NAME...")
@click.option("--json", "json_", is_flag=True, help="Print one JSON object with every finding.")
@click.option("--strict", is_flag=True, help="Count warnings as errors (exit 1).")
def validate_cmd(scripts: tuple[str, ...], json_: bool, strict: bool) -> None:
    """Check workflow SCRIPTs (or saved workflows by NAME) without running them.

    No tokens are spent and nothing is evaluated.

    Reports every problem as `path:line:col: error|warning CODE message`, and an estimate
    of how many agents each script starts. Codes are listed in docs/validate.md.

    \b
    Example usage:
      jshost validate flow.js
      jshost validate --strict --json .claude/workflows/*.js
    """
    from ..errors import ScriptLoadError
    from ..script.validate import validate_file
    from .library import resolve_script_arg

    reports = []
    unreadable: list[dict[str, str]] = []
    for path in scripts:
        try:
            reports.append(validate_file(resolve_script_arg(path)))
        except ScriptLoadError as exc:
            click.echo(f"jshost: {printable(str(exc), multiline=True)}", err=True)
            unreadable.append({"path": path, "error": exc.message})
    errors = sum(r.errors for r in reports)
    warnings = sum(r.warnings for r in reports)
    if json_:
        out = {
            "ok": not unreadable and not any(r.failed(strict=strict) for r in reports),
            "errors": errors,
            "warnings": warnings,
            "files": [{**r.to_json(), "size_warning": _size_warning(r)} for r in reports],
            "unreadable": unreadable,
        }
        click.echo(json_text(json.dumps(out, ensure_ascii=False, indent=2)))
    else:
        for report in reports:
            _print_report(report, err=False)
            if report.fanout is not None:
                note = f"{report.path}: note: fan-out: {fanout_sentence(report.fanout)}"
                click.echo(printable(note))
            if size := _size_warning(report):
                click.echo(printable(f"{report.path}: note: {size}"))
            if report.reads_args:
                click.echo(
                    printable(
                        f"{report.path}: note: the script reads args "
                        "(pass them with --args JSON or --args-file FILE)"
                    )
                )
        if reports:  # nothing to sum up when no file could be read
            files = _plural(len(reports), "file")
            click.echo(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {files}")
    if unreadable:
        sys.exit(EXIT_USAGE)
    if any(r.failed(strict=strict) for r in reports):
        sys.exit(EXIT_FAILED)


@click.command(
    name="show", epilog="Exit codes: 0 shown; 1 too large to show; 2 no such file or name."
)
@click.argument("script", metavar="SCRIPT|NAME")
@click.option(
    "--plain",
    is_flag=True,
    help="Plain text without colours or pager (the default when stdout is not a terminal).",
)
def show_cmd(script: str, plain: bool) -> None:
    """Show a workflow SCRIPT (or a saved workflow's NAME) exactly as it would run.

    A header gives the meta (name, description, when to use, phases), the size, the
    sha256 and what `validate` finds; then the numbered source, highlighted and paged on
    a terminal.

    \b
    Example usage:
      jshost show flow.js
      jshost show nginx-502-debug --plain | less
    """
    from ..errors import ScriptLoadError
    from ..script.validate import validate_file
    from .library import resolve_script_arg

    try:
        report = validate_file(resolve_script_arg(script))
    except ScriptLoadError as exc:
        _fail(str(exc), EXIT_USAGE)
    if not report.source and report.diagnostics and report.diagnostics[0].code == "E101":
        # The file was not even read: far beyond the limit.
        _fail(f"{script}: {report.diagnostics[0].message}: too large to show", EXIT_FAILED)
    from ..ui import script_view as view

    if plain or not sys.stdout.isatty():
        click.echo(view.plain_view(report), nl=False)
        return
    from rich.console import Console

    console = Console()
    view.page(view.render(view.rich_view(report), console), console)


# ---- the review before a run ------------------------------------------------------------


def checked_script(path: str) -> tuple[Script, Report]:
    """The script at ``path`` and its validation; exits 2, printing every diagnostic as
    ``validate`` does, when the file is unreadable or the script has errors."""
    from ..errors import ScriptLoadError
    from ..script.validate import validate_file

    try:
        report = validate_file(path)
    except ScriptLoadError as exc:
        _fail(str(exc), EXIT_USAGE)
    return _refuse_errors(report)


def checked_source(source: str, path: str | None) -> tuple[Script, Report]:
    """:func:`checked_script` for a script held in memory (a stored run's)."""
    from ..script.validate import validate_source

    return _refuse_errors(validate_source(source, path=path))


def _refuse_errors(report: Report) -> tuple[Script, Report]:
    if report.errors or report.script is None:
        _print_report(report, err=True)
        errors = _plural(report.errors, "error")
        _fail(f"not run: {errors} (nothing was spent; check with jshost validate)", EXIT_USAGE)
    return report.script, report


def _where(path: str) -> str:
    folder = Path(path).parent
    try:
        return "~/" + str(folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


_ENTER_WINDOW = 0.3  # seconds an Enter right after a key counts as part of it
_SEQUENCES = {"\x1b[A": "up", "\x1bOA": "up", "\x1b[B": "down", "\x1bOB": "down"}


def _read_key(prompt: str) -> str | None:
    """One key from the terminal on stdin (in cbreak mode: see :func:`_keys_mode`).

    Returns a character, "up", "down" or "enter"; None at end of input (Ctrl-D).
    """
    import select

    click.echo(prompt, nl=False, err=True)
    fd = sys.stdin.fileno()
    data = os.read(fd, 1)
    if data == b"\x1b":  # an arrow key is a sequence; a lone Esc is not
        while select.select([fd], [], [], 0.05)[0] and len(data) < 8:
            data += os.read(fd, 1)
            if data[-1:].isalpha() or data[-1:] == b"~":
                break
    elif data not in (b"\r", b"\n", b"") and select.select([fd], [], [], _ENTER_WINDOW)[0]:
        # `1⏎` out of habit (the question used to read lines): the Enter belongs to the
        # key, not to the next question, where it would take the marked choice. (Another
        # key typed that fast is dropped with it.)
        os.read(fd, 1)
    click.echo(err=True)
    if not data or data == b"\x04":
        return None
    if data in (b"\r", b"\n"):
        return "enter"
    text = data.decode("utf-8", "replace")
    return _SEQUENCES.get(text, text)


@contextlib.contextmanager
def _keys_mode() -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
    """The terminal in cbreak mode (keys one by one, no echo; Ctrl-C still interrupts) for the
    whole question, so no key typed between two reads meets the line mode (where Ctrl-D is
    end-of-file and a key waits for Enter). Yields a context that gives the terminal its own
    mode back for a while (the pager)."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    @contextlib.contextmanager
    def as_it_was() -> Iterator[None]:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        try:
            yield
        finally:
            tty.setcbreak(fd, termios.TCSANOW)

    tty.setcbreak(fd, termios.TCSANOW)
    try:
        yield as_it_was
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _drop_typeahead() -> None:
    """Forget keys typed after the answer (the Enter of a habitual `1⏎`): they are not meant
    for the run's view, which reads the same terminal next."""
    import termios

    with contextlib.suppress(OSError, termios.error):
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)


def confirm_run(
    report: Report,
    limits: Any,
    *,
    worker: str,
    model: str | None,
    args: Any,
    resume_id: str | None = None,
    plan: Callable[[], Plan | None] | None = None,
    cost: bool = False,
    mcp: McpApproval | None = None,
    powers: Sequence[str] = (),
    settings: SettingsApproval | None = None,
    turns: int | None = None,
) -> Plan | None:
    """Ask before a run, unless this file with this content was approved for good (and no
    project ``.mcp.json`` waits for approval: ``mcp``, whose ``confirmed`` a yes sets).

    ``plan`` makes the plan whose headline the question shows (with its dollar estimate when
    ``cost``: a paid worker; ``turns``: the agents have tools and make up to this many model
    requests each); it is called only when the question is asked. ``powers`` are
    the "what the agents may do" lines (``jshost.ui.powers``). Returns that
    plan (None when nothing was asked).
    Exits 2 ("not run") when there is no terminal to ask on, or when the answer is No.
    """
    from ..errors import JshostError
    from ..store import Store

    path = str(Path(report.path).resolve()) if report.path else None
    name = report.meta.name if report.meta else "workflow"
    lapsed = False
    cached = None
    try:
        with Store() as store:
            if path is not None:
                # a waiting .mcp.json is asked about on a terminal, else left out (run.py)
                # (and so are a project's settings files that grant powers)
                pending = (mcp and mcp.pending) or (settings and settings.pending)
                waiting = pending and sys.stdin.isatty() and sys.stderr.isatty()
                if store.is_approved(path, report.sha256) and not waiting:
                    return None
                lapsed = store.was_approved(path)
            if resume_id is not None:
                from ..journal import Replay

                cached = len(Replay.from_entries(store.journal(resume_id)))
    except JshostError:
        pass  # no store, no memory: ask
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        why = "stdin is not a terminal"
        if lapsed:
            why = (
                'the script changed since you chose "don\'t ask again" for it (that holds '
                "for one content only), and stdin is not a terminal to ask on"
            )
        _fail(
            f"not running without confirmation: {why}. "
            "Review the script (jshost show SCRIPT), then pass --yes to run it.",
            EXIT_USAGE,
        )
    from rich.console import Console

    from ..ui import script_view as view
    from ..ui.confirm import Choice, ask

    console = Console(stderr=True)

    def show_script() -> None:
        if sys.stdout.isatty():
            view.page(view.render(view.rich_view(report), console), console)
        else:  # stdout holds the result: draw on the terminal the question is on
            console.print(view.rich_view(report))

    rows = _run_rows(limits, worker, model)
    rows.append(("args", _args_summary(args, reads_args=report.reads_args)))
    if resume_id is not None:
        stored = "no agent results stored" if not cached else f"{_plural(cached, 'agent')} cached"
        rows.append(("resume", f"{resume_id}: {stored} (returned at once, not paid again)"))
    if lapsed:
        rows.append(("note", 'the script changed since you chose "don\'t ask again" for it'))
    if mcp is not None:
        rows.extend(mcp.rows())
    if settings is not None:
        rows.extend(settings.rows())
    made = plan() if plan is not None else None
    plan_lines: list[str] = []
    if made is not None:
        from ..plan import headline

        plan_lines = headline(made, cost=cost, turns=turns)
    with _keys_mode() as as_it_was:

        def view_script() -> None:
            with as_it_was():
                show_script()

        choice = ask(
            report,
            run_rows=rows,
            where=_where(path) if path else "this directory",
            console=console,
            read_key=_read_key,
            view=view_script,
            plan_lines=plan_lines,
            powers=powers,
        )
        _drop_typeahead()
    if choice is Choice.NO:
        _fail("not run", EXIT_USAGE)
    if mcp is not None:
        mcp.confirmed = True
    if settings is not None:
        settings.confirmed = True
    if choice is Choice.RUN_AND_REMEMBER and settings is not None and settings.pending:
        try:
            with Store() as store:
                settings.remember(store)
        except JshostError as exc:
            warning = f"could not remember the settings approval: {printable(str(exc))}"
            click.echo(f"jshost: warning: {warning}", err=True)
    if choice is Choice.RUN_AND_REMEMBER and mcp is not None and mcp.pending:
        try:
            with Store() as store:
                mcp.remember(store)
        except JshostError as exc:
            warning = f"could not remember the MCP approval: {printable(str(exc))}"
            click.echo(f"jshost: warning: {warning}", err=True)
    if choice is Choice.RUN_AND_REMEMBER:
        if path is None:
            click.echo("jshost: a script without a file cannot be remembered", err=True)
            return made
        try:
            with Store() as store:
                store.approve(path, report.sha256, name)
        except JshostError as exc:
            warning = f"could not remember the approval: {printable(str(exc))}"
            click.echo(f"jshost: warning: {warning}", err=True)
    return made


_ARGS_SHOWN = 78  # the args row fits a line of an 80-column terminal


def _args_summary(args: Any, *, reads_args: bool) -> str:
    """One line about the run's ``args``: none (and whether the script wants some), or a
    summary of the value: its type, its size, and the start of its JSON."""
    from ..engine import NO_ARGS

    if args is NO_ARGS:
        if reads_args:
            from ._edge import READS_ARGS

            return f"none ({READS_ARGS})"
        return "none"
    text = json.dumps(args, ensure_ascii=False)
    if isinstance(args, dict):
        kind = f"object with {_plural(len(args), 'key')}"
    elif isinstance(args, list):
        kind = f"array of {_plural(len(args), 'item')}"
    else:
        kinds = {str: "string", bool: "boolean", int: "number", float: "number"}
        kind = kinds.get(type(args), "null")
    head = f"{kind} ({len(text):,} characters): "
    room = max(20, _ARGS_SHOWN - len("args: ") - len(head))  # one line of 80 columns
    shown = text if len(text) <= room else text[: room - 1] + "…"
    return head + shown


def _run_rows(limits: Any, worker: str, model: str | None) -> list[tuple[str, str]]:
    caps = f"{limits.concurrency} agents at once · at most {limits.max_agents:,} agents"
    if limits.timeout:
        caps += f" · {limits.timeout:g} s wall-clock limit"
    if limits.budget:
        budget = f"{limits.budget:,} output tokens"
    else:
        budget = "none (budget.remaining() is Infinity; only the agent cap stops a loop)"
    return [
        ("caps", caps),
        ("budget", budget),
        ("worker", worker + (f" · model {model}" if model else "")),
    ]
