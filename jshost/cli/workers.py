"""``jshost workers``: the workers ``--worker`` takes, built-in and from installed plugins."""

from __future__ import annotations

import json

import click

from ..text import json_text, printable

__all__ = ["workers_cmd"]


@click.command(
    name="workers",
    epilog="Exit codes: 0 listed (a plugin that failed to import is listed, not an error).",
)
@click.option("--json", "json_", is_flag=True, help="One JSON object per worker, one a line.")
def workers_cmd(json_: bool) -> None:
    """List the model workers: name, package, whether each is ready, and what it is.

    Plugins are packages that register a factory in the `jshost.workers` entry-point group;
    JSHOST_LOAD_PLUGINS=a,b loads only those (by entry-point or package name), and an empty
    value loads none. A plugin that fails to import is listed with its error.

    \b
    Example usage:
      jshost workers
      jshost run flow.js --worker openai-compat --yes
    """
    from ..workers.registry import worker_infos

    infos = worker_infos()
    if json_:
        for info in infos:
            click.echo(json_text(json.dumps(info.as_dict(), ensure_ascii=False)))
        return
    # Names, packages, descriptions and errors come from installed third-party code.
    width = max(len(printable(info.name)) for info in infos)
    for info in infos:
        state = "ready" if info.ready else f"not ready: {info.problem}"
        click.echo(
            f"{printable(info.name):<{width}}  ({printable(info.package)}) {printable(state)}"
        )
        if info.description:
            click.echo(f"{'':<{width}}  {printable(info.description)}")
