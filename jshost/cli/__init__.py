"""The ``jshost`` command line: the root group, main() and the registration of every command.

Each command lives in its own module (run.py, resume.py; check.py, runs.py, …); the exit
codes, fail() and the error lines they share live in _edge.py.
"""

from __future__ import annotations

import gc


def _pause_collector() -> bool:
    """Pause garbage collection while modules are imported; whether it was on."""
    on = gc.isenabled()
    gc.disable()
    return on


def _resume_collector(was_on: bool) -> None:
    """Undo :func:`_pause_collector`, without the collection it held back.

    What the imports made goes to the oldest generation uncollected (``freeze`` then
    ``unfreeze`` moves it there and resets the young generation's count, which would
    otherwise start a collection of all of it at the next allocation); a full collection
    still looks at it. Left alone when the program froze objects of its own, which
    ``unfreeze`` would give back. Only the command line does this: it owns its process,
    while ``import jshost`` in a program leaves that program's collector as it was.
    """
    if was_on:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


# No garbage collection while the command line's modules are imported (issue 22): imports
# make many objects and few cycles, and each collection walks all of them. Restored at the end
# of this module; console_main() pauses it again until the command starts its work.
_COLLECTING = _pause_collector()

import atexit  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from typing import NoReturn  # noqa: E402

import click  # noqa: E402

from .. import __version__  # noqa: E402
from ..errors import JshostError  # noqa: E402
from ._edge import _fail  # noqa: E402
from .exits import EXIT_FAILED, EXIT_STOPPED  # noqa: E402

#: each command and the module that defines it, imported when the command is used: `jshost
#: run` pays for none of the others (issue 22's start-up)
_COMMANDS = {
    "run": ("run", "run_cmd"),
    "resume": ("resume", "resume_cmd"),
    "runs": ("runs", "runs_cmd"),
    "inspect": ("runs", "inspect_cmd"),
    "save": ("library", "save_cmd"),
    "list": ("library", "list_cmd"),
    "validate": ("check", "validate_cmd"),
    "show": ("check", "show_cmd"),
    "watch": ("watch", "watch_cmd"),
    "workers": ("workers", "workers_cmd"),
    "agents": ("agents", "agents_cmd"),
    "plan": ("plan", "plan_cmd"),
}
# click cuts a docstring's first sentence at 45 characters, mid-phrase; these fit whole.
_SHORT_HELP = {
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


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            module, attr = _COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
            command.short_help = _SHORT_HELP.get(cmd_name, command.short_help)
            self.add_command(command, cmd_name)
        if cmd_name not in _IMPORTS_ON_START:
            start_up_done()
        return self.commands.get(cmd_name)


#: the commands that import the rest of what they need once started, and then call
#: start_up_done() themselves, before their work
_IMPORTS_ON_START = frozenset({"run", "resume"})
_paused = False


def start_up_done() -> None:
    """The command's modules are imported: collect garbage again, from here on.

    :func:`console_main` pauses the collector for the start-up (its collections, which walk
    every object the imports made and find next to no cycles, cost a one-agent `jshost run`
    21 M instructions: issue 22). What start-up made is
    moved out of the collector's sight (``gc.freeze``), as it stays for the whole process;
    a command that runs for long collects its own garbage as any program does.
    """
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jshost")
def cli() -> None:
    """Run Claude Code workflow scripts in a sandbox, with model workers under caps.

    \b
    Example usage:
      jshost run samples/hello.js --yes
      jshost run samples/nginx-502-debug.js --args-file samples/nginx-502-debug.args.json --yes
    """


_resume_collector(_COLLECTING)


def console_main() -> NoReturn:
    """The ``jshost`` program: :func:`main`, then the process ends without tearing down.

    Once the command is done, nothing is left for the interpreter's teardown to do that the
    user can see: it would free every module and object one by one and collect the garbage
    of all of them (56 M instructions, a tenth of a one-agent `jshost run`: issue 22). So the
    steps of a normal exit that can be seen are taken as Python takes them (wait for the
    threads that are not daemons, run the exit handlers, flush the standard streams), and then
    the process ends.
    """
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True
    try:
        main()
    except SystemExit as exc:
        _exit(exc.code)
    _exit(None)


def _exit(code: object) -> NoReturn:
    shutdown = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_exit_handlers is None:  # not CPython: the normal exit
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:  # sys.exit("text") prints the text and exits 1
        print(code, file=sys.stderr)
        status = 1
    start_up_done()  # a command that ended before its work: the exit handlers see it as set
    shutdown()  # joins the threads that are not daemons, as the interpreter would
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:  # the reader went away: as main() treats it
            status = status or EXIT_FAILED
        except (OSError, ValueError):
            status = status or 120  # what Python exits with when flushing at exit fails
    os._exit(status)


def main() -> None:
    """The command line as a function: no Python traceback reaches the user unless asked for.

    Raises ``SystemExit`` with the exit code, as a click program does; :func:`console_main` is
    the program itself.
    """
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
