"""``jshost validate`` and ``jshost show``, and the review ``run`` does before it spends.

Exit codes of ``validate``: 0 no errors, 1 errors found (or warnings, with ``--strict``),
2 usage error (a file that cannot be read). ``show`` exits 2 when the file cannot be read.
Heavy imports (QuickJS, tree-sitter, rich) happen inside the commands, so ``jshost --help``
stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..text import json_text, printable

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..plan import Plan
    from ..script import Script
    from ..script.validate import Report

__all__ = ["checked_script", "checked_source", "confirm_run", "show_cmd", "validate_cmd"]

_EXIT_ERRORS = 1
_EXIT_USAGE = 2


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


@click.command(name="validate")
@click.argument("scripts", nargs=-1, required=True, metavar="SCRIPT...")
@click.option("--json", "json_", is_flag=True, help="Print one JSON object with every finding.")
@click.option("--strict", is_flag=True, help="Count warnings as errors (exit 1).")
def validate_cmd(scripts: tuple[str, ...], json_: bool, strict: bool) -> None:
    """Check workflow SCRIPTs without running them: no tokens spent, nothing evaluated.

    Reports every problem as `path:line:col: error|warning CODE message`, and an estimate
    of how many agents each script starts. Codes are listed in docs/validate.md.

    \b
    Example usage:
      jshost validate flow.js
      jshost validate --strict --json .claude/workflows/*.js
    """
    from ..errors import ScriptLoadError
    from ..script.validate import validate_file

    reports = []
    unreadable: list[dict[str, str]] = []
    for path in scripts:
        try:
            reports.append(validate_file(path))
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
                click.echo(printable(f"{report.path}: note: fan-out: {report.fanout.text()}"))
            if size := _size_warning(report):
                click.echo(printable(f"{report.path}: note: {size}"))
        if reports:  # nothing to sum up when no file could be read
            files = _plural(len(reports), "file")
            click.echo(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {files}")
    if unreadable:
        sys.exit(_EXIT_USAGE)
    if any(r.failed(strict=strict) for r in reports):
        sys.exit(_EXIT_ERRORS)


@click.command(name="show")
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
        _fail(str(exc), _EXIT_USAGE)
    if not report.source and report.diagnostics and report.diagnostics[0].code == "E101":
        # The file was not even read: far beyond the limit.
        _fail(f"{script}: {report.diagnostics[0].message}: too large to show", 1)
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
        _fail(str(exc), _EXIT_USAGE)
    return _refuse_errors(report)


def checked_source(source: str, path: str | None) -> tuple[Script, Report]:
    """:func:`checked_script` for a script held in memory (a stored run's)."""
    from ..script.validate import validate_source

    return _refuse_errors(validate_source(source, path=path))


def _refuse_errors(report: Report) -> tuple[Script, Report]:
    if report.errors or report.script is None:
        _print_report(report, err=True)
        errors = _plural(report.errors, "error")
        _fail(f"not run: {errors} (nothing was spent; check with jshost validate)", _EXIT_USAGE)
    return report.script, report


def _where(path: str) -> str:
    folder = Path(path).parent
    try:
        return "~/" + str(folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


def _read_line(prompt: str) -> str | None:
    click.echo(prompt, nl=False, err=True)
    line = sys.stdin.readline()
    return line if line else None


def confirm_run(
    report: Report,
    limits: Any,
    *,
    worker: str,
    model: str | None,
    plan: Callable[[], Plan | None] | None = None,
    cost: bool = False,
) -> Plan | None:
    """Ask before a run, unless this file with this content was approved for good.

    ``plan`` makes the plan whose headline the question shows (with its dollar estimate when
    ``cost``: a paid worker); it is called only when the question is asked. Returns that
    plan (None when nothing was asked).
    Exits 2 when there is no terminal to ask on, or when the answer is No.
    """
    from ..errors import JshostError
    from ..store import Store

    path = str(Path(report.path).resolve()) if report.path else None
    name = report.meta.name if report.meta else "workflow"
    if path is not None:
        try:
            with Store() as store:
                if store.is_approved(path, report.sha256):
                    return None
        except JshostError:
            pass  # no store, no memory: ask
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        _fail(
            "not running without confirmation: stdin is not a terminal. "
            "Review the script (jshost show SCRIPT), then pass --yes to run it.",
            _EXIT_USAGE,
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

    made = plan() if plan is not None else None
    plan_lines: list[str] = []
    if made is not None:
        from ..plan import headline

        plan_lines = headline(made, cost=cost)
    choice = ask(
        report,
        run_rows=_run_rows(limits, worker, model),
        where=_where(path) if path else "this directory",
        console=console,
        read_line=_read_line,
        view=show_script,
        plan_lines=plan_lines,
    )
    if choice is Choice.NO:
        _fail("not run", _EXIT_USAGE)
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
