"""``jshost plan``: what a run would start and spend, from a dry run on the sim worker.

The script runs for real — the real sandbox, the real engine, the user's args and caps — but
every ``agent()`` goes to the offline sim worker with no latency, and nothing is recorded: no
store, no network, no tool, no MCP server. Each agent is charged the *estimated* tokens of a
real model (``jshost.estimate``), so a budget stops the dry run where it would stop the run.

The sim's answers are not the model's. Where the number of agents depends on what agents
answer, the count is what the sim's answers led to; such counts are marked "at least / as run
by the sim". Two signals mark them: the validator's fan-out estimate names agents' answers
(or a loop it cannot bound) as a factor, and then a second dry run with different sim answers
starts a different number of agents in some phase.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, final

import trio

from .config import Config
from .engine import NO_ARGS, Engine, Limits
from .estimate import (
    PhaseUsage,
    SizeWarning,
    breakdown,
    by_model,
    costs,
    format_breakdown,
    format_cost,
    format_count,
    format_dollars,
    model_name,
    size_warning,
)
from .script import FanOut, Script
from .settings import ModelPolicy
from .workers.base import AgentRejectedError, AgentRequest, AgentResult, Usage, Worker
from .workers.prompts import PLAIN_SYSTEM, SCHEMA_SYSTEM, TOOL, TOOL_DESCRIPTION
from .workers.sim import SimWorker

__all__ = ["Plan", "format_plan", "headline", "make_plan"]

#: the longest a dry run may take: a script that waits on long timers is reported, not waited on
#: (env ``JSHOST_PLAN_SECONDS``)
DRY_RUN_SECONDS = 10.0


def dry_run_seconds() -> float:
    """``JSHOST_PLAN_SECONDS`` when it is a positive number, else :data:`DRY_RUN_SECONDS`."""
    try:
        value = float(os.environ.get("JSHOST_PLAN_SECONDS", ""))
    except ValueError:
        return DRY_RUN_SECONDS
    return value if 0 < value <= 3600 else DRY_RUN_SECONDS


# Test markers of the sim worker (hang, latency, fail) are for tests, not for the plan.
_SIM_MARKER = re.compile(r"\[\[sim:[a-z]+(?:=[^\]]*)?\]\]")


class _PlanWorker(Worker):
    """The sim worker's answers, charged what a real model would likely use."""

    name = "sim"
    supports_schema = True

    def __init__(self, config: Config, *, salt: str = "") -> None:
        self._sim = SimWorker(latency=0.0)
        self._config = config
        self._salt = salt

    def describe(self) -> str:
        return "sim worker (dry run)"

    def model_name(self, model: str | None) -> str | None:
        # An agent that never reaches run() (a worktree that cannot be made) keeps this name.
        return self.model_of(model)

    def model_of(self, requested: str | None) -> str:
        try:
            return self._config.resolve_model(requested)
        except ValueError:
            return requested or "default"  # the run would fail it; count it as asked

    def estimate(self, request: AgentRequest, model: str) -> Usage:
        settings = self._config.estimate
        chars = len(request.prompt)
        if request.schema is not None:
            tool = {
                "name": TOOL,
                "description": TOOL_DESCRIPTION,
                "input_schema": request.schema,
            }
            chars += len(SCHEMA_SYSTEM) + len(json.dumps(tool))
        else:
            chars += len(PLAIN_SYSTEM)
        return Usage(
            input_tokens=settings.input_tokens(chars),
            output_tokens=settings.typical_output(model),
        )

    async def run(self, request: AgentRequest) -> AgentResult:
        model = self.model_of(request.model)
        clean = _SIM_MARKER.sub("", request.prompt)
        asked = dataclasses.replace(request, prompt=clean + self._salt, log=None)
        result = await self._sim.run(asked)
        return AgentResult(result.value, self.estimate(request, model), model=model)


class _PlanEngine(Engine):
    """The engine, noting when the budget turned an ``agent()`` call away."""

    budget_hits = 0

    def _budget_error(self) -> dict[str, str]:
        self.budget_hits += 1
        return super()._budget_error()

    def children(self) -> list[str]:
        return [c.name for c in self._children]

    async def _isolated(self, rec: Any, request: AgentRequest) -> Any:
        # A dry run writes nothing: it checks that a worktree could be made (the run fails
        # the agent where it could not) and makes none.
        if request.isolation == "worktree":
            from .engine.worktrees import WorktreeIsolationError

            try:
                await self._worktree_set().check()
            except WorktreeIsolationError as exc:
                raise AgentRejectedError(str(exc), name=exc.name) from None
        return await self._attempts(rec, request)


@dataclass
class _DryRun:
    status: str
    error: str | None
    agents: list[tuple[str | None, str, Usage]]
    cap_hits: int
    budget_hits: int
    children: list[str]
    timed_out: bool


@final
@dataclass
class Plan:
    """What a run of a script would start and spend, as far as a dry run shows."""

    name: str
    phases: list[PhaseUsage]
    models: dict[str, tuple[int, Usage]]
    cost: dict[str, float]
    unpriced: list[str]
    children: list[str]
    max_agents: int
    budget: int | None
    cap_stops: bool
    budget_stops: bool
    #: phases whose count depends on agents' answers ("at least / as run by the sim")
    depends_on_answers: list[str | None]
    answers_note: str | None
    status: str
    error: str | None
    timed_out: bool
    elapsed: float
    seconds: float = DRY_RUN_SECONDS
    #: what validate's fan-out estimate says the count depends on: agents' answers, or
    #: something the text does not bound
    answer_factors: list[str] = field(default_factory=list)
    unknown_factors: list[str] = field(default_factory=list)
    size: SizeWarning | None = None
    fanout: dict[str, Any] | None = field(default=None)

    @property
    def agents(self) -> int:
        return sum(p.count for p in self.phases)

    @property
    def usage(self) -> Usage:
        return sum((p.usage for p in self.phases), Usage())

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input_tokens + u.output_tokens

    @property
    def exact(self) -> bool:
        return not (self.depends_on_answers or self.answer_factors or self.timed_out)

    def to_json(self) -> dict[str, Any]:
        u = self.usage
        return {
            "name": self.name,
            "agents": self.agents,
            "agents_exact": self.exact,
            "agents_by_model": {m: n for m, (n, _) in self.models.items()},
            "phases": [
                {**p.to_json(), "depends_on_answers": p.title in self.depends_on_answers}
                for p in self.phases
            ],
            "tokens": {"input": u.input_tokens, "output": u.output_tokens, "total": self.tokens},
            "tokens_by_model": {
                m: {"input": v.input_tokens, "output": v.output_tokens}
                for m, (_, v) in self.models.items()
            },
            "cost_usd": {m: round(c, 6) for m, c in self.cost.items()},
            "cost_usd_total": round(sum(self.cost.values()), 6),
            "unpriced_models": self.unpriced,
            "workflow_children": self.children,
            "max_agents": self.max_agents,
            "budget": self.budget,
            "stopped_by_agent_cap": self.cap_stops,
            "stopped_by_budget": self.budget_stops,
            "answers_note": self.answers_note,
            "answer_factors": self.answer_factors,
            "unknown_factors": self.unknown_factors,
            "dry_run": {
                "status": self.status,
                "error": self.error,
                "timed_out": self.timed_out,
                "elapsed_s": round(self.elapsed, 4),
            },
            "size_warning": self.size.text() if self.size else None,
            "fanout": self.fanout,
        }


def _dry_run(
    script: Script,
    *,
    args: Any,
    limits: Limits,
    config: Config,
    model: str | None,
    salt: str,
    resolve_workflow: Callable[[str], Path | None] | None,
    workflow_names: Callable[[], list[str]] | None,
    seconds: float,
) -> _DryRun:
    worker = _PlanWorker(config, salt=salt)
    # A busy loop is cut off like a long wait: the dry run never takes more than ``seconds``
    # a slice (a second dry run may follow).
    sandbox = dataclasses.replace(limits.sandbox, cpu_slice=min(limits.sandbox.cpu_slice, seconds))
    caps = dataclasses.replace(limits, timeout=seconds, sandbox=sandbox)
    engine = _PlanEngine(
        script,
        worker=worker,
        limits=caps,
        args=args,
        model=model,
        resolve_workflow=resolve_workflow,
        workflow_names=workflow_names,
        model_policy=ModelPolicy.from_env(),  # as the run: CLAUDE_CODE_SUBAGENT_MODEL(_FORCE)
    )
    outcome = trio.run(engine.run)
    ran = [
        (a.phase, a.model_used or worker.model_of(a.model), a.usage)
        for a in outcome.agents
        if a.started_at is not None
    ]
    error = outcome.error
    timed_out = error is not None and error.name == "TimeoutError" and "--timeout" in str(error)
    return _DryRun(
        status=outcome.status,
        error=None if error is None else str(error),
        agents=ran,
        # Calls past the cap are turned away in the sandbox: the engine counts those refused
        # inside parallel()/pipeline(), and the error that ends a script says so (a script
        # that catches a refused direct call is not seen).
        cap_hits=outcome.refused + (error is not None and error.name == "WorkflowAgentCapError"),
        budget_hits=engine.budget_hits,
        children=engine.children(),
        timed_out=timed_out,
    )


def _counts(agents: list[tuple[str | None, str, Usage]]) -> dict[str | None, dict[str, int]]:
    return {p.title: p.agents for p in breakdown(agents)}


def make_plan(
    script: Script,
    *,
    config: Config,
    args: Any = NO_ARGS,
    limits: Limits | None = None,
    model: str | None = None,
    fanout: FanOut | None = None,
    resolve_workflow: Callable[[str], Path | None] | None = None,
    workflow_names: Callable[[], list[str]] | None = None,
    seconds: float | None = None,
) -> Plan:
    """Dry-run ``script`` on the sim worker and estimate what a real run would spend."""
    started = time.monotonic()
    limits = limits or Limits()
    seconds = dry_run_seconds() if seconds is None else seconds
    kwargs = dict(
        args=args,
        limits=limits,
        config=config,
        model=model,
        resolve_workflow=resolve_workflow,
        workflow_names=workflow_names,
        seconds=seconds,
    )
    first = _dry_run(script, salt="", **kwargs)  # type: ignore[arg-type]
    varying: list[str | None] = []
    note = None
    factors = fanout.factors if fanout is not None else {}
    answer_factors = [n for n, k in factors.items() if k == "answers"]
    unknown_factors = [n for n, k in factors.items() if k == "unknown"]
    doubtful = fanout is None or bool(answer_factors or unknown_factors)
    if doubtful and not first.timed_out:
        # Answers the sim would not give: do the counts move?
        second = _dry_run(script, salt="\0other answers", **kwargs)  # type: ignore[arg-type]
        a, b = _counts(first.agents), _counts(second.agents)
        varying = [p for p in [*a, *(q for q in b if q not in a)] if a.get(p) != b.get(p)]
        if answer_factors:
            note = "the count depends on agents' answers (" + ", ".join(answer_factors) + ")"
        if varying and note is None:
            note = "the count changed when the sim answered differently"
    phases = breakdown(first.agents)
    models = by_model(first.agents)
    priced, unpriced = costs(models, config.estimate)
    plan = Plan(
        name=script.meta.name,
        phases=phases,
        models=models,
        cost=priced,
        unpriced=unpriced,
        children=first.children,
        max_agents=limits.max_agents,
        budget=limits.budget,
        cap_stops=first.cap_hits > 0,
        budget_stops=first.budget_hits > 0,
        depends_on_answers=varying,
        answers_note=note,
        status=first.status,
        error=first.error,
        timed_out=first.timed_out,
        elapsed=0.0,
        seconds=seconds,
        answer_factors=answer_factors,
        unknown_factors=unknown_factors,
        fanout=fanout.to_json() if fanout is not None else None,
    )
    plan.size = size_warning(plan.agents, plan.tokens)
    plan.elapsed = time.monotonic() - started
    return plan


def _models_text(plan: Plan) -> str:
    parts = [
        f"{n} {model_name(m)}"
        for m, (n, _) in sorted(plan.models.items(), key=lambda kv: -kv[1][0])
    ]
    return " + ".join(parts) if parts else "0"


def headline(plan: Plan, *, cost: bool = True, turns: int | None = None) -> list[str]:
    """The lines the confirmation shows: agents by model, tokens, cost, budget, warnings.

    ``cost``: show dollars (not for the sim worker, whose runs cost nothing). ``turns``: the
    agents have tools and may make up to this many model requests each (``--max-turns``);
    the dry run counts one request per agent, so tokens and dollars are a floor and a line
    gives the range of requests.
    """
    at_least = "" if plan.exact else "at least "
    floor = "at least " if turns else ""
    noun = "agent" if plan.agents == 1 else "agents"
    u = plan.usage
    dollars = f" · {floor}~{format_dollars(sum(plan.cost.values()))}"
    lines = [
        f"estimate: {at_least}{_models_text(plan)} {noun} · {floor}~{format_count(plan.tokens)} "
        f"tokens (~{format_count(u.input_tokens)} in / ~{format_count(u.output_tokens)} out)"
        + (dollars if plan.cost and cost else "")
    ]
    if turns:
        lines.append(f"tools: {_requests(plan, turns)}")
    if plan.budget is not None:
        verdict = (
            "the budget would stop it"
            if plan.budget_stops
            else ("fits" if u.output_tokens <= plan.budget else "over")
        )
        if turns and verdict == "fits":
            verdict = "fits one request per agent; tool turns spend more, up to the budget"
        lines.append(
            f"budget: {format_count(plan.budget)} output tokens · estimated "
            f"{floor}~{format_count(u.output_tokens)} · {verdict}"
        )
    else:
        lines.append("budget: none" + (" (nothing caps what tool turns spend)" if turns else ""))
    if plan.cap_stops:
        lines.append(f"agent cap: the cap of {plan.max_agents:,} agents would stop it")
    if not plan.exact:
        lines.append(f"note: {_doubt(plan)}")
    elif plan.unknown_factors:
        lines.append(f"note: {_unbounded(plan)}")
    if plan.size is not None:
        lines.append(f"warning: {plan.size.text()}")
    return lines


def _requests(plan: Plan, turns: int) -> str:
    """The range of model requests agents with tools make, and what that means for the floor."""
    n = plan.agents
    most = f"{n * turns:,}" if plan.exact else f"{n * turns:,}+"
    return (
        f"each agent makes 1 to {turns} model requests (--max-turns {turns}): {n:,} to {most} "
        "in all; the estimate counts one each, and every further turn sends the conversation "
        "so far again, so the run can spend many times this"
    )


def _unbounded(plan: Plan) -> str:
    names = ", ".join(plan.unknown_factors)
    return f"validate cannot bound {names}: the counts are as run by the sim"


def _doubt(plan: Plan) -> str:
    if plan.timed_out:
        return f"the dry run was cut off after {plan.seconds:g} s: counts are at least"
    return (
        f"{plan.answers_note or 'the count depends on answers'}: counts are at least / "
        "as run by the sim"
    )


def format_plan(plan: Plan) -> list[str]:
    """``jshost plan``'s text: the usage block as an estimate, cost, caps, children."""
    marks = {p: " (at least / as run by the sim)" for p in plan.depends_on_answers}
    lines = [f"Plan for {plan.name} (an estimate from a dry run on the sim worker):"]
    block = format_breakdown(plan.phases, budget=plan.budget, estimate=True)
    for p, line in zip(plan.phases, block, strict=False):
        lines.append(line + marks.get(p.title, ""))
    lines.append(block[-1])
    if plan.cost or plan.unpriced:
        lines.append(f"Cost (estimate): {format_cost(plan.cost, plan.unpriced)}")
    noun = "agent" if plan.agents == 1 else "agents"
    at_least = "" if plan.exact else "at least "
    lines.append(f"Agents: {at_least}{plan.agents} {noun} ({_models_text(plan)})")
    cap = f"Agent cap {plan.max_agents:,}: " + (
        "would stop the run" if plan.cap_stops else "not reached"
    )
    lines.append(cap)
    if plan.budget is not None:
        lines.append(
            f"Budget {format_count(plan.budget)} output tokens: "
            + ("would stop the run" if plan.budget_stops else "not reached")
        )
    if plan.children:
        lines.append("workflow() children: " + ", ".join(plan.children))
    else:
        lines.append("workflow() children: none")
    if not plan.exact:
        lines.append(f"Note: {_doubt(plan)}")
    elif plan.unknown_factors:
        lines.append(f"Note: {_unbounded(plan)}")
    if plan.status == "failed" and not plan.timed_out and plan.error:
        lines.append(f"Note: the dry run failed ({plan.error}); counts are up to that point")
    if plan.size is not None:
        lines.append(f"Warning: {plan.size.text()}")
    lines.append(TOOLS_NOTE)
    lines.append(
        f"(dry run: {plan.elapsed:.2f} s; nothing was run or spent. Output tokens are typical "
        "figures per model; tune them in the config file.)"
    )
    return lines


#: What the estimate cannot know: how many turns an agent with tools takes (docs/tools.md).
TOOLS_NOTE = (
    "Note: each agent is counted as one request. Agents with tools (the anthropic and "
    "claude-code workers) make one request per turn, up to --max-turns, so such a run can "
    "spend several times this: cap it with --budget."
)
