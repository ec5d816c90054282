"""The ``run`` command: its options (and ``resume``'s), the run itself, its view and signals.

``resume`` is in resume.py, so that ``jshost run`` does not build its options (issue 22).

Exit codes of ``run``: 0 completed, 1 the script failed, 2 usage or validation error (nothing
ran), 130 stopped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import click

from .._data import replace
from ..errors import JshostError, ScriptLoadError, UsageError
from ..text import printable
from ._edge import (
    READS_ARGS,
    _echo_wrapped,
    _fail,
    _load_args,
    _print_script_error,
    cap_options,
    parse_budget,
)
from ._tool_options import tool_options, tool_options_from
from .exits import EXIT_FAILED, EXIT_STOPPED, EXIT_USAGE


def _run_options(fn: Any) -> Any:
    """The options of ``run``: caps, worker and output."""
    return _with_options(fn, resume=False)


def _resume_options(fn: Any) -> Any:
    """``run``'s options, as ``resume`` takes them: a cap left out is the run's stored one."""
    return _with_options(fn, resume=True)


def _with_options(fn: Any, *, resume: bool) -> Any:
    options = [
        click.option(
            "--args", "args_json", metavar="JSON", help="JSON value the script sees as `args`."
        ),
        click.option("--args-file", metavar="FILE", help="Read `args` from a JSON file."),
        click.option(
            "--worker",
            metavar="NAME",
            # A plain string, checked by the worker registry when the run starts: a Choice
            # would have to read every installed plugin just to build --help.
            help="Model worker: anthropic (the Messages API; the default when "
            "ANTHROPIC_API_KEY is set), claude-code (each agent a Claude Code subagent; "
            "pip install 'jshost[claude-code]'; ~200 MB per running agent), sim (offline "
            "and deterministic), or one an installed plugin adds (see `jshost workers`).",
        ),
        click.option(
            "--base-url",
            metavar="URL",
            help="Messages API base URL, for gateways and proxies (env ANTHROPIC_BASE_URL).",
        ),
        click.option(
            "--model",
            metavar="M",
            help="Model for agents that ask for none (or 'inherit'). Claude Code's "
            "CLAUDE_CODE_SUBAGENT_MODEL sets every agent's model; with "
            "CLAUDE_CODE_SUBAGENT_MODEL_FORCE, the model a script asks for is ignored.",
        ),
        *cap_options(resume, timeout=True),
        *tool_options(),
        click.option(
            "--sim-latency",
            type=click.FloatRange(0, 3600),
            default=0.05,
            show_default=True,
            help="Seconds each sim agent takes.",
        ),
        click.option("--yes", "-y", is_flag=True, help="Run without asking for confirmation."),
        click.option(
            "--json",
            "json_",
            is_flag=True,
            help="Stream the run's events as JSON lines on stdout, then one summary object.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Print only the result and the summary."),
        click.option(
            "--live/--no-live",
            default=None,
            help="Live progress view (default: on when stderr is a terminal).",
        ),
        click.option(
            "--interactive/--no-interactive",
            default=None,
            help="Interactive view to steer the run: pause, stop, skip, restart, save "
            "(default: on when stdin and stdout are terminals; off: the live view).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


RUN_EXIT_CODES = (
    "Exit codes: 0 completed; 1 the script failed; 2 usage or validation error, an MCP server "
    'that cannot start, or No at the confirmation ("not run": nothing ran, nothing spent); '
    "130 stopped (resumable)."
)


@click.command(name="run", epilog=RUN_EXIT_CODES)
@click.argument("script", metavar="SCRIPT|NAME")
@_run_options
@click.option(
    "--resume",
    "resume_id",
    metavar="RUN_ID",
    help="Replay a stopped or failed run with this (edited) script: finished agents "
    "return their stored results.",
)
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Print the plan (jshost plan) and exit without running.",
)
@click.pass_context
def run_cmd(ctx: click.Context, script: str, resume_id: str | None, **opts: Any) -> None:
    """Run a workflow SCRIPT, or a saved workflow by NAME (see `jshost list`).

    \b
    Example usage:
      jshost run samples/hello.js --yes
      jshost run flow.js --args '{"servers": ["a", "b"]}' --budget 230k --yes
      jshost run flow.js --resume wf_3f2a9c01b7de --yes   # after editing flow.js
    """
    from .check import checked_script
    from .library import resolve_script_arg

    try:
        path = resolve_script_arg(script)
    except ScriptLoadError as exc:
        _print_script_error(exc, None)
        sys.exit(EXIT_USAGE)
    loaded, report = checked_script(path)  # every diagnostic, exit 2 on errors
    if resume_id is not None:
        from ..store import Store

        try:
            with Store() as store:
                row = store.get_run(resume_id)
        except JshostError as exc:
            _fail(str(exc), EXIT_USAGE)
        # The README's promise: stored args, caps and model are kept unless given again.
        _keep_stored(ctx, row, opts)
        _confirm_rename(row, loaded.meta.name, yes=opts["yes"])
        resume_id = row.id
    _execute(ctx, loaded, opts, resume_id=resume_id, report=report)


def _keep_stored(ctx: click.Context, row: Any, opts: dict[str, Any]) -> None:
    """Fill ``opts`` with the run's stored args, caps and model where none were given."""
    given = {
        name
        for name in opts
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }
    for option in ("concurrency", "max_agents", "timeout", "cpu_limit", "memory_limit"):
        if option not in given and row.caps.get(option) is not None:
            opts[option] = row.caps[option]
    if "budget" not in given and row.caps.get("budget") is not None:
        opts["budget"] = str(row.caps["budget"])
    if "model" not in given:
        opts["model"] = row.model
    if "args_json" not in given and "args_file" not in given and row.has_args:
        opts["args_json"] = json.dumps(row.args)


def _confirm_rename(row: Any, name: str, *, yes: bool) -> None:
    """A script whose meta.name differs from the run's renames the run: never silently."""
    if name == row.name:
        return
    what = (
        f"run {row.id} is named '{printable(row.name)}' but this script's meta.name is "
        f"'{printable(name)}': resuming renames the run"
    )
    if yes:
        click.echo(f"jshost: warning: {what}", err=True)
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        _fail(f"not resumed: {what}; pass --yes to resume it all the same", EXIT_USAGE)
    if not click.confirm(f"jshost: {what}. Resume it?", default=False, err=True):
        _fail("not run", EXIT_USAGE)


def _execute(
    ctx: click.Context,
    loaded: Any,
    opts: dict[str, Any],
    *,
    resume_id: str | None,
    report: Any,
):
    from ..engine import NO_ARGS, Limits
    from ..sandbox import SandboxLimits

    json_, quiet = opts["json_"], opts["quiet"]
    try:
        interactive = _want_interactive(opts)
        tokens = parse_budget(opts["budget"]) if opts["budget"] is not None else None
        args = _load_args(opts["args_json"], opts["args_file"], int(opts["memory_limit"]) << 20)
        limits = Limits(
            concurrency=opts["concurrency"],
            max_agents=opts["max_agents"],
            budget=tokens,
            timeout=opts["timeout"],
            sandbox=SandboxLimits(
                memory=int(opts["memory_limit"]) << 20, cpu_slice=opts["cpu_limit"]
            ),
        )
        tools = tool_options_from(opts)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)

    if opts.get("plan_only"):
        from .plan import build_plan, print_plan

        try:
            plan = build_plan(loaded, report, args=args, limits=limits, model=opts["model"])
        except UsageError as exc:
            _fail(str(exc), EXIT_USAGE)
        print_plan(plan, json_=json_)
        return

    from ..workers.registry import WorkerSettings, choose_worker, make_worker

    worker_name, note = choose_worker(opts["worker"])
    settings = WorkerSettings(
        model=opts["model"], base_url=opts["base_url"], sim_latency=opts["sim_latency"]
    )
    try:
        worker_obj = make_worker(worker_name, settings)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)

    mcp: Any = None
    settings_ok: Any = None
    # Both are None for agents without tools: their modules are not worth importing then.
    if opts.get("tools_on", True) and getattr(worker_obj, "supports_tools", True):
        from .mcp_approval import mcp_for_run

        try:
            mcp = mcp_for_run(opts, worker_obj)
        except UsageError as exc:
            _fail(str(exc), EXIT_USAGE)
        from .settings_approval import settings_for_run

        settings_ok = settings_for_run(opts, worker_obj)
    plan = None
    if not opts["yes"]:
        from ..estimate import PAID_WORKERS
        from .check import confirm_run
        from .plan import plan_for_confirmation

        plan = confirm_run(
            report,
            limits,
            worker=worker_obj.describe(),
            model=opts["model"],
            args=args,
            resume_id=resume_id,
            plan=None if resume_id else plan_for_confirmation(loaded, report, args, limits, opts),
            cost=worker_obj.name in PAID_WORKERS,
            mcp=mcp,
            powers=_powers(opts, worker_obj, can_ask=interactive),
            settings=settings_ok,
            turns=_turns(tools, worker_obj),
        )
    # the servers the run's toolbox starts (a waiting project .mcp.json only once approved)
    opts["mcp_servers"] = mcp.settle() if mcp is not None else []

    if note and not json_ and not quiet:
        click.echo(f"jshost: {note}", err=True)
    if not getattr(worker_obj, "supports_tools", False) and not json_ and not quiet:
        given = [f for f, k in _TOOL_FLAGS if opts.get(k) not in (None, (), [])]
        if given:
            click.echo(
                f"jshost: note: the {worker_obj.name} worker runs no tools, so "
                f"{', '.join(given)} {'changes' if len(given) == 1 else 'change'} nothing in "
                "this run (they apply to agents with tools: --worker anthropic or claude-code)",
                err=True,
            )

    from .. import _api
    from ..store import Store

    # The interactive view asks the person about tool calls that need an answer; elsewhere
    # nobody can, and ask means deny.
    asker = None
    if interactive:
        from ..ui.asker import ViewAsker

        asker = ViewAsker()
    try:
        store = Store()
        prepared = _api.prepare(
            _api.Workflow(loaded, report),
            worker=worker_obj,
            limits=limits,
            args=args,
            model=opts["model"],
            store=store,
            resume_id=resume_id,
            tools=replace(
                tools,
                mcp_approvals=store,
                mcp_servers=opts.get("mcp_servers") or [],
                settings_approved=settings_ok.approved_paths() if settings_ok else (),
            ),
            asker=asker,
        )
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except JshostError as exc:
        _fail(str(exc), EXIT_USAGE if resume_id else EXIT_FAILED)
    run_id = prepared.run_id
    if prepared.toolbox is not None and not json_:
        for line in prepared.toolbox.notes:
            click.echo(f"jshost: warning: {printable(line)}", err=True)
    if plan is not None:
        from .plan import keep_estimate

        keep_estimate(store, run_id, plan)
    ui = None if interactive else _make_ui(run_id, json_=json_, quiet=quiet, live=opts["live"])
    with store:
        try:
            outcome = _run(
                prepared, ui=ui, interactive_id=run_id if interactive else None, asker=asker
            )
        except JshostError as exc:  # an MCP server that did not start (a UsageError): nothing ran
            _fail(str(exc), EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED)
        except BaseExceptionGroup as group:  # the same, from inside the signal nursery
            found, rest = group.split(JshostError)
            if found is None or rest is not None:
                raise
            leaf = _first_leaf(found)
            _fail(str(leaf), EXIT_USAGE if isinstance(leaf, UsageError) else EXIT_FAILED)
        save_error = prepared.finish(outcome)

    from ..ui.summary import RESULT_PREVIEW_CHARS, format_result, format_summary
    from .plan import spent, with_usage

    usage_lines, usage_json = spent(outcome, worker_obj.name, limits, plan)
    if json_:
        from ..ui.jsonl import outcome_json

        summary = {**outcome_json(outcome, loaded.meta.name, run_id), **usage_json}
        click.echo(json.dumps(summary, ensure_ascii=True))
    else:
        if outcome.status == "completed":
            on_terminal = sys.stdout.isatty()
            text = format_result(  # shown safely on a terminal; exact to a pipe or a file
                outcome.result,
                limit=RESULT_PREVIEW_CHARS if on_terminal else None,
                exact=not on_terminal,
            )
            click.echo(text, color=True)  # click would strip what looks like colour codes
            if on_terminal and len(text) < len(format_result(outcome.result)):
                click.echo(f"(the whole result: jshost inspect {run_id} --result)", err=True)
        if outcome.error is not None:
            script_path = loaded.path
            _print_script_error(
                outcome.error, loaded.source if outcome.error.path == script_path else None
            )
            if args is NO_ARGS and report is not None and report.reads_args:
                click.echo(f"jshost: {READS_ARGS}", err=True)
        for line in with_usage(format_summary(outcome, run_id), usage_lines):
            _echo_wrapped(printable(line))
    if save_error is not None:
        click.echo(
            f"jshost: warning: the run's end was not saved: {printable(save_error)}", err=True
        )
    if outcome.status == "stopped":
        sys.exit(EXIT_STOPPED)
    if outcome.status == "failed":
        sys.exit(EXIT_FAILED)


def _run(prepared: Any, *, ui: Any, interactive_id: str | None = None, asker: Any = None) -> Any:
    """Run a prepared run with this terminal's view and signals; the outcome."""
    import trio

    from . import start_up_done

    start_up_done()  # what the run needs is imported: the garbage collector works again
    if interactive_id is not None:
        from ..ui.interactive import run_interactive  # imports textual: only for this view

        try:
            return run_interactive(prepared.engine, run_id=interactive_id, asker=asker)
        except KeyboardInterrupt:
            os._exit(EXIT_STOPPED)  # a second Ctrl-C: leave at once, the run as it stands
        except JshostError as exc:  # the run never reported its end: the worker did not open
            prepared.failed_to_start(exc)
            raise

    thread = None
    if ui is not None:  # --quiet draws nothing: no UI thread, nor its module
        from ..ui.dispatch import UiThread

        thread = UiThread(ui).start()
    engine = prepared.engine(thread.sink if thread is not None else None)

    async def main() -> Any:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signal, engine, thread is None)
            try:
                return await prepared.serve(engine)
            finally:
                nursery.cancel_scope.cancel()

    try:
        return trio.run(main)
    finally:
        if thread is not None:
            thread.finish()


_TOOL_FLAGS = (
    ("--allowed-tools", "allowed_tools"),
    ("--disallowed-tools", "disallowed_tools"),
    ("--permission-mode", "permission_mode"),
    ("--mcp-config", "mcp_config"),
    ("--max-turns", "max_turns"),
)


def _turns(tools: Any, worker: Any) -> int | None:
    """The model requests an agent may make when agents have tools (``--max-turns``), for the
    confirmation's estimate; None when they have none (one request each)."""
    if not getattr(worker, "supports_tools", False) or not tools.enabled:
        return None
    return int(tools.max_turns)


def _first_leaf(group: BaseException) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


def _powers(opts: dict[str, Any], worker: Any, *, can_ask: bool) -> list[str]:
    """The confirmation's "what the agents may do" lines, from the run's options.

    A worker that can use tools says so (``supports_tools``; the anthropic worker once its
    tool loop lands): its agents get the built-in tools unless ``--no-tools``. The rule
    options are read when the command has them; MCP servers have lines of their own.
    """
    from ..ui.powers import AgentPowers, powers_lines

    tools: list[str] | None = None
    if getattr(worker, "supports_tools", False) and opts.get("tools_on", True):
        from ..tools import builtin  # type: ignore[attr-defined]

        tools = list(builtin.BUILTIN_TOOL_NAMES)
    return powers_lines(
        AgentPowers(
            tools=tools,
            worker=worker.name,
            mode=opts.get("permission_mode") or "default",
            workspace=str(opts.get("workspace") or os.getcwd()),
            allowed=tuple(opts.get("allowed_tools") or ()),
            denied=tuple(opts.get("disallowed_tools") or ()),
            can_ask=can_ask,
        )
    )


def _want_interactive(opts: dict[str, Any]) -> bool:
    """Whether this run gets the interactive view; raises UsageError for conflicting options."""
    wanted = opts["interactive"]
    if wanted:
        for option, given in (
            ("--json", opts["json_"]),
            ("--quiet", opts["quiet"]),
            ("--live/--no-live", opts["live"] is not None),
        ):
            if given:
                raise UsageError(f"--interactive and {option} are mutually exclusive")
    # The view draws on stderr, as every progress view does.
    ttys = sys.stdin.isatty() and sys.stdout.isatty() and sys.stderr.isatty()
    dumb = os.environ.get("TERM") == "dumb"
    if wanted and not ttys:
        raise UsageError("--interactive needs a terminal: stdin, stdout and stderr must be one")
    if wanted and dumb:
        raise UsageError("--interactive needs a terminal that can draw (TERM is 'dumb')")
    on_terminals = ttys and not dumb
    if wanted is None:
        return on_terminals and not (opts["json_"] or opts["quiet"] or opts["live"] is not None)
    return wanted


def _make_ui(run_id: str, *, json_: bool, quiet: bool, live: bool | None) -> Any:
    """The progress UI for this run: JSON events, a live view, plain lines, or none."""
    if json_:
        from ..ui.jsonl import JsonEvents

        return JsonEvents(sys.stdout, run_id)
    if quiet:
        return None
    if live is None:
        live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    if live:
        from rich.console import Console

        from ..ui.live import LiveView

        return LiveView(Console(stderr=True), run_id=run_id)
    from ..ui.plain import PlainProgress

    return PlainProgress(sys.stderr)


async def _stop_on_signal(engine: Any, say_stopping: bool) -> None:
    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for _ in signals:
            count += 1
            if count == 1:
                if say_stopping:  # otherwise the progress UI says it
                    click.echo("\njshost: stopping… (press Ctrl-C again to exit at once)", err=True)
                engine.stop()
            else:
                os._exit(EXIT_STOPPED)
