"""Token and cost estimates, the price table, and the usage-by-phase block.

The same block reports a plan (an estimate, before a run) and a finished run (what was
spent), in the field guide's form::

    20 Haiku agents, Scan: 120k tokens (100k in / 20k out)
    1 Opus agent, Report: 15k tokens (12k in / 3k out)
    Total: 135k tokens (112k in / 23k out), within budget 230k output tokens

How the estimate is made (``docs/plan.md`` says the same for users):

- **Input tokens** of an agent = (characters of the system prompt + the prompt + the
  ``StructuredOutput`` tool when there is a schema) / ``chars_per_token``, 3.5 by default:
  Claude's tokenizer gives about 3.5 characters a token for English prose and code (Anthropic's
  token-counting documentation), so the figure errs on the high side for plain English.
- **Output tokens** of an agent are a typical figure per model line (``haiku``, ``sonnet``,
  ``opus``, …), tunable in the config file; the summary of a real run shows what was spent
  beside the estimate, so the figures can be set from experience.
- **Prices** are in dollars per million tokens. The defaults are the model catalog of Claude
  Code 2.1.337 as read on 2026-12-06 (they agree with the published per-model prices where
  those list the model); ``[prices."<model id>"]`` in the config file overrides them.

Config file::

    [estimate]
    chars_per_token = 3.5
    [estimate.output_tokens]
    haiku = 1000                        # a model line or a full model id
    "claude-opus-5-5" = 2500
    [prices."claude-haiku-5-5"]         # $ per million tokens
    input = 0.10
    output = 0.50
    cache_write = 0.125                 # 5-minute cache writes
    cache_read = 0.01
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, final

from ._data import Frozen, Record, set_field
from .prices import (
    CHARS_PER_TOKEN,
    DEFAULT_OUTPUT_TOKENS,
    DEFAULT_PRICES,
    PRICES_SOURCE,
    EstimateSettings,
    Price,
    model_line,
    parse_estimate_tables,
)
from .transcripts import note_cost
from .workers.base import Usage

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_OUTPUT_TOKENS",
    "DEFAULT_PRICES",
    "PRICES_SOURCE",
    "EstimateSettings",
    "PhaseUsage",
    "Price",
    "SizeWarning",
    "breakdown",
    "format_breakdown",
    "format_cost",
    "format_count",
    "model_line",
    "model_name",
    "parse_estimate_tables",
    "size_warning",
]


def model_name(model: str) -> str:
    """How the usage block names a model: ``Haiku``, ``Opus``; other ids as they are."""
    from .config import DEFAULT_MODELS

    if model in DEFAULT_MODELS:
        return model.capitalize()
    for alias, model_id in DEFAULT_MODELS.items():
        if model == model_id:
            return alias.capitalize()
    return model  # another version: its id says which


# ---- the usage block -------------------------------------------------------------------


class PhaseUsage(Record):
    """Agents by model and the tokens they used in one phase."""

    title: str | None
    agents: dict[str, int]
    usage: Usage

    _fields = ("title", "agents", "usage")

    def __init__(
        self, title: str | None, agents: dict[str, int] | None = None, usage: Usage | None = None
    ) -> None:
        self.title = title
        self.agents = {} if agents is None else agents
        self.usage = Usage() if usage is None else usage

    @property
    def count(self) -> int:
        return sum(self.agents.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.title,
            "agents": self.count,
            "agents_by_model": dict(self.agents),
            "tokens": _usage_json(self.usage),
        }


def _usage_json(u: Usage) -> dict[str, int]:
    return {
        "input": u.input_tokens,
        "output": u.output_tokens,
        "cache_write": u.cache_creation_input_tokens,
        "cache_read": u.cache_read_input_tokens,
        "total": _total(u),
    }


def _total(u: Usage) -> int:
    return (
        u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
    )


def breakdown(agents: Iterable[tuple[str | None, str, Usage]]) -> list[PhaseUsage]:
    """(phase, model, usage) of each agent that ran → one entry per phase, in first-seen order."""
    phases: dict[str | None, PhaseUsage] = {}
    for phase, model, usage in agents:
        p = phases.setdefault(phase, PhaseUsage(phase))
        p.agents[model] = p.agents.get(model, 0) + 1
        p.usage = p.usage + usage
    return list(phases.values())


def by_model(agents: Iterable[tuple[str | None, str, Usage]]) -> dict[str, tuple[int, Usage]]:
    """model → (agents, usage)."""
    out: dict[str, tuple[int, Usage]] = {}
    for _, model, usage in agents:
        n, u = out.get(model, (0, Usage()))
        out[model] = (n + 1, u + usage)
    return out


def format_count(n: float) -> str:
    """``950``, ``12k``, ``1.5M``: the field guide's way of writing token counts."""
    if n < 1000:
        return f"{n:.0f}"
    if n < 1_000_000:
        k = round(n / 1000, 1)
        return f"{k:.1f}k" if k < 10 and k != int(k) else f"{round(n / 1000)}k"
    return f"{n / 1_000_000:.2f}".rstrip("0").rstrip(".") + "M"


def _agents_text(agents: Mapping[str, int]) -> str:
    parts = [f"{n} {model_name(m)}" for m, n in sorted(agents.items(), key=lambda kv: -kv[1])]
    total = sum(agents.values())
    return " + ".join(parts) + (" agent" if total == 1 else " agents")


def _tokens_text(u: Usage, approx: str) -> str:
    detail = (
        f"{approx}{format_count(u.input_tokens)} in / {approx}{format_count(u.output_tokens)} out"
    )
    cache = []
    if u.cache_read_input_tokens:
        cache.append(f"{format_count(u.cache_read_input_tokens)} cache read")
    if u.cache_creation_input_tokens:
        cache.append(f"{format_count(u.cache_creation_input_tokens)} cache write")
    if cache:
        detail += ", " + ", ".join(cache)
    return f"{approx}{format_count(_total(u))} tokens ({detail})"


def format_breakdown(
    phases: list[PhaseUsage], *, budget: int | None, estimate: bool, indent: str = "  "
) -> list[str]:
    """The field guide's block: one line per phase, then the total against the budget."""
    approx = "~" if estimate else ""
    lines = []
    total = Usage()
    agents: dict[str, int] = {}
    for p in phases:
        title = p.title if p.title is not None else "(no phase)"
        lines.append(f"{indent}{_agents_text(p.agents)}, {title}: {_tokens_text(p.usage, approx)}")
        total = total + p.usage
        for m, n in p.agents.items():
            agents[m] = agents.get(m, 0) + n
    if not phases:
        lines.append(f"{indent}no agents")
    end = f"{indent}Total: {_tokens_text(total, approx)}"
    if budget is not None:
        out = total.output_tokens
        verdict = "within" if out <= budget else "over"
        end += f", {verdict} budget {format_count(budget)} output tokens"
    else:
        end += ", no budget"
    lines.append(end)
    return lines


def costs(
    models: Mapping[str, tuple[int, Usage]], settings: EstimateSettings
) -> tuple[dict[str, float], list[str]]:
    """Dollars per model with a known price, and the models without one."""
    priced: dict[str, float] = {}
    unpriced: list[str] = []
    for model, (_, usage) in models.items():
        price = settings.price(model)
        if price is None:
            unpriced.append(model)
        else:
            priced[model] = price.cost(usage)
    return priced, unpriced


def format_dollars(x: float) -> str:
    if x == 0:
        return "$0"
    if x < 0.01:
        return f"${x:.4f}"
    if x < 1:
        return f"${x:.3f}"
    return f"${x:,.2f}"


def format_cost(priced: Mapping[str, float], unpriced: list[str]) -> str:
    """``Haiku $0.012 · Opus $0.050 · total ~$0.062 (estimate)``."""
    parts = [f"{model_name(m)} {format_dollars(c)}" for m, c in priced.items()]
    text = " · ".join(parts)
    if len(priced) > 1:
        text += f" · total {format_dollars(sum(priced.values()))}"
    if unpriced:
        text += (" · " if text else "") + "no price for " + ", ".join(unpriced)
    return text


# ---- the reference's "Large workflow" advisory -------------------------------------------

#: the reference's thresholds (§4): more than this many agents or tokens draws the warning
SIZE_WARNING_AGENTS = 25
SIZE_WARNING_TOKENS = 1_500_000


@final
class SizeWarning(Frozen):
    agents: int | None
    tokens: int | None
    agents_limit: int
    tokens_limit: int

    _fields = ("agents", "tokens", "agents_limit", "tokens_limit")

    def __init__(
        self, agents: int | None, tokens: int | None, agents_limit: int, tokens_limit: int
    ) -> None:
        set_field(self, "agents", agents)
        set_field(self, "tokens", tokens)
        set_field(self, "agents_limit", agents_limit)
        set_field(self, "tokens_limit", tokens_limit)

    def text(self) -> str:
        why = []
        if self.agents is not None and self.agents > self.agents_limit:
            why.append(f"{self.agents} agents scheduled (more than {self.agents_limit})")
        if self.tokens is not None and self.tokens > self.tokens_limit:
            why.append(
                f"~{format_count(self.tokens)} tokens projected "
                f"(more than {format_count(self.tokens_limit)})"
            )
        return "Large workflow: " + " and ".join(why) + " — check the caps and the budget"


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def size_warning(
    agents: int | None, tokens: int | None, env: Mapping[str, str] | None = None
) -> SizeWarning | None:
    """The "Large workflow" advisory, or None; thresholds from the reference's variables."""
    env = os.environ if env is None else env
    a_limit = _env_int(env, "CLAUDE_CODE_WORKFLOW_SIZE_WARNING_AGENTS", SIZE_WARNING_AGENTS)
    t_limit = _env_int(env, "CLAUDE_CODE_WORKFLOW_SIZE_WARNING_TOKENS", SIZE_WARNING_TOKENS)
    big = (agents is not None and agents > a_limit) or (tokens is not None and tokens > t_limit)
    return SizeWarning(agents, tokens, a_limit, t_limit) if big else None


# ---- after a run: what was spent, beside the estimate ----------------------------------------

#: workers whose tokens are paid for: the summary shows their cost (an estimate from the table)
PAID_WORKERS = ("anthropic", "claude-code")


def _arrow(estimated: float, actual: float, *, dollars: bool = False) -> str:
    show = format_dollars if dollars else format_count
    return f"~{show(estimated)} → {show(actual)}"


def spent_lines(
    agents: list[tuple[str | None, str, Usage]],
    *,
    worker: str,
    budget: int | None,
    estimate: Mapping[str, Any] | None,
    settings: EstimateSettings | None = None,
) -> list[str]:
    """The summary's usage block: per phase and in total, the cost on a paid worker, and the
    estimate the run was started on beside what it spent."""
    settings = settings or EstimateSettings()
    lines = ["usage by phase:"]
    lines += format_breakdown(breakdown(agents), budget=budget, estimate=False)
    paid = worker in PAID_WORKERS
    priced: dict[str, float] = {}
    if paid:
        priced, unpriced = costs(by_model(agents), settings)
        if priced or unpriced:
            lines.append(f"cost (estimate from list prices): {format_cost(priced, unpriced)}")
    if estimate:
        total = sum((u for _, _, u in agents), Usage())
        tokens = estimate.get("tokens") or {}
        est_in, est_out = int(tokens.get("input", 0)), int(tokens.get("output", 0))
        line = (
            f"estimate → actual: agents {_arrow(int(estimate.get('agents', 0)), len(agents))}"
            f" · tokens {_arrow(est_in + est_out, total.input_tokens + total.output_tokens)}"
            f" (in {_arrow(est_in, total.input_tokens)},"
            f" out {_arrow(est_out, total.output_tokens)})"
        )
        est_cost = estimate.get("cost_usd_total")
        if paid and isinstance(est_cost, int | float) and priced:
            line += f" · cost {_arrow(est_cost, sum(priced.values()), dollars=True)}"
        lines.append(line)
    return lines


def spent_json(
    agents: list[tuple[str | None, str, Usage]],
    *,
    worker: str,
    estimate: Mapping[str, Any] | None,
    settings: EstimateSettings | None = None,
) -> dict[str, Any]:
    """The same for JSON: phases, cost on a paid worker, and the estimate as it was stored."""
    settings = settings or EstimateSettings()
    out: dict[str, Any] = {"usage_by_phase": [p.to_json() for p in breakdown(agents)]}
    if worker in PAID_WORKERS:
        priced, unpriced = costs(by_model(agents), settings)
        out["cost_usd_estimate"] = {m: round(c, 6) for m, c in priced.items()}
        out["unpriced_models"] = unpriced
    out["estimate"] = dict(estimate) if estimate else None
    return out


def reported_cost(transcripts: Iterable[Iterable[Mapping[str, Any]]]) -> float | None:
    """Dollars a worker's own accounting reported for the agents (the claude-code worker puts
    the program's figure in a transcript note with ``cost_usd``), or None when none did."""
    costs = [
        cost
        for transcript in transcripts
        for entry in transcript or ()
        if (cost := note_cost(entry)) is not None
    ]
    return sum(costs, 0.0) if costs else None


def with_reported_cost(
    lines: list[str], data: dict[str, Any], cost: float | None
) -> tuple[list[str], dict[str, Any]]:
    """The usage block with the reported cost beside the list-price estimate."""
    if cost is None:
        return lines, data
    line = f"cost reported by Claude Code: {format_dollars(cost)}"
    at = next((i + 1 for i, x in enumerate(lines) if x.startswith("cost (estimate")), len(lines))
    return [*lines[:at], line, *lines[at:]], {**data, "cost_usd_reported": round(cost, 6)}
