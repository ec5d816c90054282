"""``jshost save`` and ``jshost list``: saved workflows, in the places Claude Code uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import JshostError, ScriptLoadError
from ..text import json_text, printable
from .exits import EXIT_FAILED, EXIT_USAGE

__all__ = ["list_cmd", "resolve_script_arg", "save_cmd"]


def resolve_script_arg(arg: str) -> str:
    """A SCRIPT argument as a path: the file if it exists, else a saved workflow's file.

    Raises ``ScriptLoadError`` naming the saved workflows when ``arg`` is neither.
    """
    if Path(arg).exists():
        return arg
    if arg.endswith((".js", ".mjs", ".cjs", ".ts")) or "/" in arg:
        # A path, not a name: saved workflows were not searched, so say only what is true.
        raise ScriptLoadError(f"no such file: {arg!r}")
    from ..library import discover, find_workflow

    found = find_workflow(arg)
    if found is not None:
        return str(found.path)
    names = sorted(wf.name for wf in discover()[0])
    known = ", ".join(names) if names else "(none saved; see `jshost save`)"
    raise ScriptLoadError(f"no such file or saved workflow: {arg!r}. Saved workflows: {known}")


@click.command(
    name="save",
    epilog="Exit codes: 0 saved; 1 it could not be written; 2 the script is unreadable or "
    "has errors (nothing saved).",
)
@click.argument("script", metavar="SCRIPT")
@click.option("--user", is_flag=True, help="Save for every project: ~/.claude/workflows/.")
@click.option("--force", "-f", is_flag=True, help="Overwrite an existing file without asking.")
def save_cmd(script: str, user: bool, force: bool) -> None:
    """Save SCRIPT as a workflow you can run by name.

    Validates it first, then writes <slug of meta.name>.js into the project's
    .claude/workflows/ (the closest one between here and the repository root, else the
    root's), or with --user into ~/.claude/workflows/ ($CLAUDE_CONFIG_DIR respected).

    \b
    Example usage:
      jshost save flow.js
      jshost run nginx-502-debug --args-file servers.json --yes
    """
    from ..library import SaveError, TargetExists, save_workflow
    from ..script.validate import format_text, validate_file

    try:
        report = validate_file(script)
    except ScriptLoadError as exc:
        click.echo(f"jshost: {printable(str(exc), multiline=True)}", err=True)
        sys.exit(EXIT_USAGE)
    if report.errors or report.meta is None:
        for line in format_text(report):
            click.echo(printable(line), err=True)
        click.echo(f"jshost: not saved: {report.errors} error(s) in {printable(script)}", err=True)
        sys.exit(EXIT_USAGE)  # as `run` refuses it: nothing was done
    name = report.meta.name
    try:
        try:
            path = save_workflow(report.source, name, user=user, force=force)
        except TargetExists as exc:
            if not sys.stdin.isatty():
                raise
            click.confirm(
                f"{printable(exc.path)} exists. Overwrite it?", default=False, abort=True, err=True
            )
            path = save_workflow(report.source, name, user=user, force=True)
    except SaveError as exc:
        click.echo(f"jshost: {printable(str(exc))}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(printable(f"saved {name!r} to {path}"))
    # A name with hidden characters cannot be typed as it is shown: the file can. A name with
    # spaces or quotes is quoted, so the hint pastes into a shell as it is.
    by = name if printable(name) == name else str(path)
    import shlex  # only to show a saved workflow's command (start-up, issue 22)

    run = f"jshost run {printable(shlex.quote(by))}"
    if report.reads_args:
        click.echo(f"run it with: {run} --args JSON  (or --args-file FILE: the script reads args)")
    else:
        click.echo(f"run it with: {run}")


@click.command(name="list")
@click.option("--json", "json_", is_flag=True, help="Print the workflows as JSON.")
def list_cmd(json_: bool) -> None:
    """List saved workflows: the project's (closest first), the user's, then the ones
    bundled with jshost (deep-research, code-review). A name shows once: the first wins.

    \b
    Example usage:
      jshost list
      jshost list --json
    """
    from ..library import discover

    try:
        workflows, skipped = discover()
    except (OSError, JshostError) as exc:
        click.echo(f"jshost: cannot list saved workflows: {printable(str(exc))}", err=True)
        sys.exit(EXIT_FAILED)
    if json_:
        out = {
            "workflows": [wf.to_json() for wf in workflows],
            "skipped": [
                {"path": str(s.path), "scope": s.scope, "reason": s.reason} for s in skipped
            ],
        }
        click.echo(json_text(json.dumps(out, ensure_ascii=False, indent=2)))
        return
    if all(wf.scope == "bundled" for wf in workflows):
        click.echo("no saved workflows here; save one with `jshost save SCRIPT`")
    for wf in workflows:
        # Saved files are untrusted text: every value is shown, never obeyed, on one line.
        m = wf.meta
        click.echo(printable(f"{m.name}  ({wf.scope}) {wf.path}"))
        click.echo(printable(f"  {m.description}"))
        if m.when_to_use:
            click.echo(printable(f"  when to use: {m.when_to_use}"))
        if m.phases:
            click.echo(printable("  phases: " + " → ".join(p.title for p in m.phases)))
    for s in skipped:
        click.echo(printable(f"skipped {s.path} ({s.scope}): {s.reason}"), err=True)
