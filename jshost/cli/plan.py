"""``jshost plan`` (and ``run --plan``): what a run would start and spend, before it runs.

Exit codes: 0 the plan was made (even when the dry run itself failed: the plan says so),
2 usage or validation error.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ..text import printable
from ._edge import cap_options
from .exits import EXIT_USAGE

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..engine import Limits
    from ..plan import Plan
    from ..script import Script
    from ..script.validate import Report

__all__ = [
    "build_plan",
    "keep_estimate",
    "plan_cmd",
    "plan_for_confirmation",
    "print_plan",
    "spent",
    "stored_spent",
    "with_usage",
]


def build_plan(
    script: Script, report: Report | None, *, args: Any, limits: Limits, model: str | None
) -> Plan:
    """The plan of a run of ``script`` with these args and caps.

    Raises:
        UsageError: the config file is unreadable or invalid.
    """
    from ..config import load_config
    from ..library import discover, find_workflow
    from ..plan import make_plan

    def resolve_workflow(name: str) -> Any:
        found = find_workflow(name)
        return None if found is None else found.path

    return make_plan(
        script,
        config=load_config(),
        args=args,
        limits=limits,
        model=model,
        fanout=report.fanout if report is not None else None,
        resolve_workflow=resolve_workflow,
        workflow_names=lambda: [wf.name for wf in discover()[0]],
    )


def plan_for_confirmation(
    script: Script, report: Report, args: Any, limits: Limits, opts: dict[str, Any]
) -> Callable[[], Plan | None]:
    """What the confirmation calls to make its plan; a plan that cannot be made is said so."""

    def make() -> Plan | None:
        from ..errors import JshostError

        try:
            return build_plan(script, report, args=args, limits=limits, model=opts["model"])
        except JshostError as exc:
            click.echo(f"jshost: no estimate: {printable(str(exc))}", err=True)
            return None

    return make


def keep_estimate(store: Any, run_id: str, plan: Plan) -> None:
    """Store the plan beside the run, so its summary and ``inspect`` compare it with the spend."""
    from ..errors import JshostError

    try:
        store.set_estimate(run_id, plan.to_json())
    except JshostError as exc:
        click.echo(f"jshost: warning: the estimate was not saved: {printable(str(exc))}", err=True)


def _ran(agents: Any) -> list[tuple[str | None, str, Any]]:
    """(phase, model, usage) of the agents that ran in this session (replayed ones did not)."""
    from ..workers.base import Usage

    out = []
    for a in agents:
        if a.status == "cached" or a.started_at is None:
            continue
        usage = getattr(a, "usage", None)
        if usage is None:  # a stored AgentRow
            usage = Usage(a.tokens_in, a.tokens_out, a.cache_write, a.cache_read)
        out.append((a.phase, a.model_used or a.model or "default", usage))
    return out


def _settings() -> Any:
    from ..config import load_config
    from ..errors import JshostError

    try:
        return load_config().estimate
    except JshostError:
        return None  # the defaults; the run already said what is wrong with the file


def spent(
    outcome: Any, worker: str, limits: Limits, plan: Plan | None
) -> tuple[list[str], dict[str, Any]]:
    """The summary's usage block (text lines and JSON) for a finished run."""
    from ..estimate import reported_cost, spent_json, spent_lines, with_reported_cost

    agents = _ran(outcome.agents)
    estimate = plan.to_json() if plan is not None else None
    settings = _settings()
    lines = spent_lines(
        agents, worker=worker, budget=limits.budget, estimate=estimate, settings=settings
    )
    data = spent_json(agents, worker=worker, estimate=estimate, settings=settings)
    reported = reported_cost(
        getattr(a, "transcript", None) or () for a in outcome.agents if a.status != "cached"
    )
    return with_reported_cost(lines, data, reported)


def stored_spent(
    row: Any, agents: Any, estimate: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any]]:
    """The same block for a stored run, for ``inspect``."""
    from ..estimate import reported_cost, spent_json, spent_lines, with_reported_cost

    ran = _ran(agents)
    settings = _settings()
    budget = row.caps.get("budget") if isinstance(row.caps, dict) else None
    lines = spent_lines(ran, worker=row.worker, budget=budget, estimate=estimate, settings=settings)
    data = spent_json(ran, worker=row.worker, estimate=estimate, settings=settings)
    # Stored rows carry transcripts from store schema 6 on; older rows have none.
    reported = reported_cost(
        getattr(a, "transcript", None) or () for a in agents if a.status != "cached"
    )
    return with_reported_cost(lines, data, reported)


def with_usage(summary: list[str], usage: list[str]) -> list[str]:
    """The summary with the usage block before its closing ``run <id> · …`` line."""
    if summary and summary[-1].startswith("run "):
        return [*summary[:-1], *usage, summary[-1]]
    return [*summary, *usage]


def print_plan(plan: Plan, *, json_: bool) -> None:
    """The plan on stdout: text (shown safely) or one JSON object."""
    from ..plan import format_plan

    if json_:
        click.echo(json.dumps(plan.to_json(), ensure_ascii=True))
        return
    for line in format_plan(plan):
        click.echo(printable(line))


def _cap_options(fn: Any) -> Any:
    for option in reversed(cap_options()):
        fn = option(fn)
    return fn


@click.command(name="plan")
@click.argument("script", metavar="SCRIPT|NAME")
@click.option("--args", "args_json", metavar="JSON", help="JSON value the script sees as `args`.")
@click.option("--args-file", metavar="FILE", help="Read `args` from a JSON file.")
@click.option("--model", metavar="M", help="Model for agents that ask for none (or 'inherit').")
@_cap_options
@click.option("--json", "json_", is_flag=True, help="Print the plan as one JSON object.")
def plan_cmd(script: str, json_: bool, **opts: Any) -> None:
    """Estimate what running SCRIPT (or a saved workflow's NAME) would start and spend.

    A dry run on the offline sim worker, with your args and caps: agents per phase and per
    model, whether the agent cap or the budget would stop it, workflow() children, and
    estimated tokens and cost per model. Nothing is run or spent, nothing is stored, no
    network is used. Counts that depend on agents' answers are marked "at least".

    \b
    Example usage:
      jshost plan samples/nginx-502-debug.js --args-file samples/nginx-502-debug.args.json
      jshost plan nginx-502-debug --args-file args.json --budget 230k --json
    """
    from ..engine import Limits
    from ..errors import ScriptLoadError, UsageError
    from ..sandbox import SandboxLimits
    from ._edge import _fail, _load_args, _print_script_error, parse_budget
    from .check import checked_script
    from .library import resolve_script_arg

    try:
        path = resolve_script_arg(script)
    except ScriptLoadError as exc:
        _print_script_error(exc, None)
        sys.exit(EXIT_USAGE)
    loaded, report = checked_script(path)
    try:
        args = _load_args(opts["args_json"], opts["args_file"])
        budget = parse_budget(opts["budget"]) if opts["budget"] is not None else None
        limits = Limits(
            concurrency=opts["concurrency"],
            max_agents=opts["max_agents"],
            budget=budget,
            sandbox=SandboxLimits(
                memory=int(opts["memory_limit"]) << 20, cpu_slice=opts["cpu_limit"]
            ),
        )
        plan = build_plan(loaded, report, args=args, limits=limits, model=opts["model"])
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    print_plan(plan, json_=json_)
