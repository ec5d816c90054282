"""The ``jshost`` command line: the root group, main() and the registration of every command.

Each command lives in its own module (run.py: run and resume; check.py, runs.py, …); the exit
codes, fail() and the error lines they share live in _edge.py.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import JshostError
from ._edge import _fail
from .exits import EXIT_FAILED, EXIT_STOPPED


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jshost")
def cli() -> None:
    """Run Claude Code workflow scripts in a sandbox, with model workers under caps.

    \b
    Example usage:
      jshost run samples/hello.js --yes
      jshost run samples/nginx-502-debug.js --args-file samples/nginx-502-debug.args.json --yes
    """


def main() -> None:
    """Console entry point: no Python traceback reaches the user unless asked for."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\njshost: stopped", err=True)
        sys.exit(EXIT_STOPPED)
    except BrokenPipeError:
        # The reader went away (`jshost run … | head`): nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)
    except JshostError as exc:
        _fail(str(exc), EXIT_FAILED)
    except BaseExceptionGroup as group:
        # trio hands a Ctrl-C that came in as the run ended back wrapped in a group.
        stop, rest = group.split(KeyboardInterrupt)
        if stop is not None and rest is None:
            click.echo("\njshost: stopped", err=True)
            sys.exit(EXIT_STOPPED)
        _internal_error(group)
    except Exception as exc:
        _internal_error(exc)


def _internal_error(exc: BaseException) -> None:
    if os.environ.get("JSHOST_RAISE_ERRORS"):
        raise exc
    _fail(
        f"internal error: {type(exc).__name__}: {exc} "
        "(set JSHOST_RAISE_ERRORS=1 to see the traceback)",
        EXIT_FAILED,
    )


def _register() -> None:
    from .agents import agents_cmd
    from .check import show_cmd, validate_cmd
    from .library import list_cmd, save_cmd
    from .plan import plan_cmd
    from .run import resume_cmd, run_cmd
    from .runs import inspect_cmd, runs_cmd
    from .watch import watch_cmd
    from .workers import workers_cmd

    for command in (
        run_cmd,
        resume_cmd,
        runs_cmd,
        inspect_cmd,
        save_cmd,
        list_cmd,
        validate_cmd,
        show_cmd,
        watch_cmd,
        workers_cmd,
        agents_cmd,
    ):
        cli.add_command(command)
    cli.add_command(plan_cmd)
    # click cuts a docstring's first sentence at 45 characters, mid-phrase; these fit whole.
    short_help = {
        "run": "Run a workflow script or a saved workflow.",
        "resume": "Resume a stopped or failed run, reusing results.",
        "runs": "List stored runs, newest first.",
        "inspect": "Show one stored run in full.",
        "save": "Save a script as a workflow to run by name.",
        "list": "List saved workflows.",
        "validate": "Check scripts without running them.",
        "show": "Show a script exactly as it would run.",
        "watch": "Follow a run live from another terminal.",
        "workers": "List the model workers, built-in and plugins.",
        "plan": "Estimate agents, tokens and cost of a run.",
        "agents": "List the agent types agentType can name.",
    }
    for name, text in short_help.items():
        cli.commands[name].short_help = text


_register()
