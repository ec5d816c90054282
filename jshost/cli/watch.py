"""``jshost watch``: follow a run from another terminal in the interactive view, read-only."""

from __future__ import annotations

import os
import sys

import click

from ..errors import JshostError
from ..text import printable
from .exits import EXIT_FAILED, EXIT_USAGE

__all__ = ["watch_cmd"]


@click.command(name="watch")
@click.argument("run_id", metavar="[RUN_ID]", required=False)
def watch_cmd(run_id: str | None) -> None:
    """Follow a run live in the interactive view, from another terminal (read-only).

    Without RUN_ID, the run started most recently among those still running. RUN_ID may be a
    unique prefix of the id; a finished run can be viewed too. Pausing, stopping, skipping and
    restarting work in the terminal running the run; here q leaves.

    \b
    Example usage:
      jshost watch
      jshost watch wf_3f2a
    """
    from ..store import Store

    try:
        store = Store(reading=True)
    except JshostError as exc:
        click.echo(f"jshost: {printable(str(exc))}", err=True)
        sys.exit(EXIT_USAGE)
    with store:
        try:
            if run_id is not None:
                row = store.get_run(run_id)
            else:
                going = [r for r in store.list_runs() if r.shown_status in ("running", "paused")]
                if not going:
                    click.echo(
                        "jshost: no run is running now; `jshost watch RUN_ID` shows a finished "
                        "one (see `jshost runs`)",
                        err=True,
                    )
                    sys.exit(EXIT_FAILED)
                row = max(going, key=lambda r: r.started_at)
        except JshostError as exc:
            click.echo(f"jshost: {printable(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        if not (sys.stdin.isatty() and sys.stdout.isatty() and sys.stderr.isatty()):
            click.echo(
                f"jshost: watch needs a terminal; `jshost inspect {row.id}` prints the run",
                err=True,
            )
            sys.exit(EXIT_USAGE)
        if os.environ.get("TERM") == "dumb":
            click.echo("jshost: watch needs a terminal that can draw (TERM is 'dumb')", err=True)
            sys.exit(EXIT_USAGE)
        from ..ui.interactive import watch  # imports textual: only for this view

        watch(store, row.id)
