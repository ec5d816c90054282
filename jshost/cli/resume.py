"""The ``resume`` command: a stopped, failed or interrupted run again, its results reused.

A module of its own, so that ``jshost run`` does not build ``resume``'s options (half the
command line's: 1.3 M instructions of every run, issue 22); the run itself is ``run``'s.
"""

from __future__ import annotations

from typing import Any

import click

from ..errors import JshostError
from ._edge import _CAP_DEFAULTS, _fail
from .exits import EXIT_USAGE
from .run import RUN_EXIT_CODES, _execute, _keep_stored, _resume_options

__all__ = ["resume_cmd"]


@click.command(name="resume", epilog=RUN_EXIT_CODES)
@click.argument("run_id", metavar="RUN_ID")
@_resume_options
@click.pass_context
def resume_cmd(ctx: click.Context, run_id: str, **opts: Any) -> None:
    """Resume a stopped, failed or interrupted run: replay its script, reusing every result.

    The stored script and args run again; each agent() call whose result is stored returns
    it at once, so only what did not finish is paid for. Caps are the stored ones unless
    given again here; the workspace, tool rules, mode and MCP servers are not stored: give
    them again (the defaults apply otherwise).

    \b
    Example usage:
      jshost resume wf_3f2a9c01b7de --yes
    """
    from ..store import Store
    from .check import checked_source

    try:
        with Store() as store:
            row = store.get_run(run_id)
    except JshostError as exc:
        _fail(str(exc), EXIT_USAGE)
    loaded, report = checked_source(row.script, row.path)
    _keep_stored(ctx, row, opts)
    for option, default in _CAP_DEFAULTS.items():
        if opts.get(option) is None:
            opts[option] = default  # a run stored before this cap was
    _execute(ctx, loaded, opts, resume_id=row.id, report=report)
