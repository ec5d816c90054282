"""The edge every command shares: exit codes, fail(), error lines, args and budget parsing.

One copy of each, so that every command prints its errors and exits the same way.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any, NoReturn

import click

from .._lazy import lazy_pattern
from ..errors import ScriptError, UsageError
from ..settings import CONCURRENCY_ENV
from ..text import printable

#: What a script that reads `args` needs when none were given.
READS_ARGS = "the script reads args; pass --args or --args-file"

_BUDGET = lazy_pattern(r"^\+?(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[kKmM]?)$")


def parse_budget(text: str) -> int:
    """``230k`` → 230000, ``1.5m`` → 1500000, ``5000`` → 5000."""
    m = _BUDGET.match(text.strip().replace("_", "").replace(",", ""))
    if not m:
        raise UsageError(f"--budget must be a token count such as 230k or 1.5m, not {text!r}")
    value = float(m.group("n")) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group("unit").lower()]
    if value < 1:
        raise UsageError("--budget must be at least 1 token")
    return int(value)


def _read_args_file(args_file: str) -> str:
    """The file's text, read only once it is known to be a regular file of bounded size."""
    from ..bounds import MAX_ARGS_FILE_BYTES

    limit = MAX_ARGS_FILE_BYTES
    try:
        # Non-blocking, so that a FIFO cannot hang the open; it is refused right after.
        fd = os.open(args_file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(f"--args-file: {args_file!r} is not a regular file")
            if st.st_size > limit:
                raise UsageError(
                    f"--args-file: {args_file!r} is {st.st_size:,} bytes; "
                    f"the limit is {limit:,} bytes ({limit >> 20} MiB)"
                )
            data = f.read(limit + 1)  # the file may grow after the check
    except FileNotFoundError:
        raise UsageError(f"--args-file: no such file: {args_file!r}") from None
    except OSError as exc:
        raise UsageError(f"--args-file: cannot read {args_file!r}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"--args-file: {args_file!r} is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--args-file: cannot read {args_file!r}: {exc}") from None


def _args_fit(text: str, memory: int) -> bool:
    """Whether ``text`` parses within ``memory`` bytes of QuickJS heap (False only for OOM).

    Python's own objects for a JSON value can be twenty times its text (``[{},{},…]``), so
    args are first parsed where the script will see them, under the sandbox's memory
    limit: what does not fit there is refused before Python builds anything of it.
    """
    from .. import _quickjs as quickjs

    ctx = quickjs.Context()
    ctx.set_memory_limit(memory)
    ctx.set_max_stack_size(1 << 20)
    try:
        ctx.parse_json(text)
    except quickjs.JSException as exc:
        first = (str(exc.args[0]) if exc.args else "").split("\n", 1)[0]
        # Syntax and nesting errors are left to Python's parser, which says where they are.
        return not ("out of memory" in first or first.strip() in {"", "null"})
    return True


def _load_args(args_json: str | None, args_file: str | None, memory: int = 256 << 20) -> Any:
    from ..engine import NO_ARGS

    if args_json is not None and args_file is not None:
        raise UsageError("--args and --args-file are mutually exclusive")
    if args_file is not None:
        text = _read_args_file(args_file)
        source = args_file
    elif args_json is not None:
        text, source = args_json, "--args"
    else:
        return NO_ARGS
    if not _args_fit(text, memory):
        raise UsageError(
            f"{source}: the run's args do not fit in the sandbox's memory "
            f"({memory >> 20} MiB; see --memory-limit)"
        )
    try:
        value = json.loads(text)
        json.dumps(value, allow_nan=False)  # JSON has no NaN or Infinity (Python accepts them)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise UsageError(f"{source}: not valid JSON: NaN and Infinity are not JSON") from None
        raise UsageError(
            f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise UsageError(f"{source}: JSON is nested too deeply") from None
    from ..bounds import value_has_surrogate

    if value_has_surrogate(value):
        # A \ud800 escape alone is no character: it could be neither stored nor shown.
        raise UsageError(f"{source}: not valid JSON text: a \\u escape is a lone surrogate")
    return value


def _echo_wrapped(shown: str) -> None:
    """Text made printable, to stderr, wrapped at words on a terminal (never inside an id)."""
    from ..ui.wrap import wrap_lines

    for part in wrap_lines(shown.split("\n"), sys.stderr):
        click.echo(part, err=True)


def _fail(message: str, code: int) -> NoReturn:
    _echo_wrapped(f"jshost: {printable(message, multiline=True)}")
    sys.exit(code)


def _print_script_error(exc: ScriptError, source: str | None) -> None:
    # The message and the detail carry the script's own text (a thrown message, a stack).
    # The excerpt below is not wrapped: its caret must line up.
    _echo_wrapped(f"jshost: {printable(str(exc), multiline=True)}")
    if exc.detail:
        click.echo(printable(exc.detail, multiline=True), err=True)
    elif source is not None and exc.line is not None:
        from ..script.diagnostics import excerpt

        shown = excerpt(source, exc.line, exc.column or 1)
        if shown:
            click.echo(shown, err=True)


#: The caps ``run`` uses when none is given; ``resume`` uses the run's stored ones instead.
_CAP_DEFAULTS = {"concurrency": 16, "max_agents": 1000, "cpu_limit": 30.0, "memory_limit": 256}


def _cap(name: str, resume: bool, help: str) -> dict[str, Any]:
    """The default and help of a cap option: ``resume`` shows no default it does not use."""
    if resume:
        return {"default": None, "help": help + " Default: the run's stored value."}
    return {"default": _CAP_DEFAULTS[name], "show_default": True, "help": help}


def cap_options(resume: bool = False, *, timeout: bool = False) -> list[Any]:
    """The cap options ``run``, ``resume`` and ``plan`` share, so a plan uses the run's caps."""
    options = [
        click.option(
            "--concurrency",
            type=click.IntRange(1, 256),
            envvar=list(CONCURRENCY_ENV),
            **_cap(
                "concurrency",
                resume,
                "Agents running at once (env JSHOST_MAX_CONCURRENT_AGENTS, or Claude Code's "
                "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS; ours wins when both are set). "
                "With the claude-code worker each running agent is a ~200 MB process: 16 take "
                "~3.2 GB, so lower it on a small machine.",
            ),
        ),
        click.option(
            "--max-agents",
            type=click.IntRange(1, 1_000_000),
            **_cap("max_agents", resume, "agent() calls allowed in the run."),
        ),
        click.option("--budget", metavar="TOKENS", help="Output-token budget, e.g. 230k."),
        *(
            [
                click.option(
                    "--timeout",
                    type=click.FloatRange(0, min_open=True),
                    help="Wall-clock limit in seconds.",
                )
            ]
            if timeout
            else []
        ),
        click.option(
            "--cpu-limit",
            type=click.FloatRange(0.05, 3600),
            **_cap("cpu_limit", resume, "Seconds one synchronous slice of the script may run."),
        ),
        click.option(
            "--memory-limit",
            type=click.IntRange(8, 8192),
            **_cap("memory_limit", resume, "JS heap limit in MiB."),
        ),
    ]
    return options
