"""The result and the closing summary as a reader sees them, shared by the CLI and the views.

``format_result`` shows a result (raw string or indented JSON, terminal-safe unless exact);
``format_summary`` writes the lines that end a run; ``format_seconds`` and ``format_tokens``
are the figures in them.
"""

from __future__ import annotations

import json
from typing import Any

from ..records import RunOutcome
from ..text import encodable, printable
from ..workers.base import Usage

__all__ = [
    "RESULT_PREVIEW_CHARS",
    "format_result",
    "format_seconds",
    "format_summary",
    "format_tokens",
    "tokens_by_model",
]


def format_seconds(s: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(s + 0.5), 60)
    return f"{m} min {sec:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


#: past this many characters a result shown on a terminal is cut (the store keeps it whole)
RESULT_PREVIEW_CHARS = 20_000


def format_result(value: Any, *, limit: int | None = None, exact: bool = False) -> str:
    """The result as the user reads it: strings raw, anything else as indented JSON.

    Shown on a terminal unless ``exact``: control, bidi and zero-width characters become
    ``⟨U+001B⟩`` markers. ``exact`` is for a pipe or a file: the value as it is (only a lone
    surrogate, which nothing can encode, is written as ``\\udXXX``).
    With ``limit``, a longer text is cut at a line end and a note says how much was left out.
    """
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    text = encodable(text) if exact else printable(text, multiline=True)
    if limit is None or len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > limit // 2 else limit
    rest = text[cut:]
    more_lines = rest.count("\n")
    return (
        f"{text[:cut].rstrip()}\n… result truncated: {len(rest):,} more characters "
        f"({more_lines:,} more lines)"
    )


def tokens_by_model(outcome: RunOutcome) -> dict[str, tuple[int, int]]:
    """Input and output tokens per model (the model the worker reported, else the one asked)."""
    out: dict[str, tuple[int, int]] = {}
    for a in outcome.agents:
        if not (a.usage.input_tokens or a.usage.output_tokens):
            continue
        model = a.model_used or a.model or "default"
        i, o = out.get(model, (0, 0))
        out[model] = (i + a.usage.input_tokens, o + a.usage.output_tokens)
    return out


def format_tokens(usage: Usage) -> str:
    """``1,200 in / 300 out``, with prompt-cache reads and writes when there were any."""
    cache = []
    if usage.cache_read_input_tokens:
        cache.append(f"{usage.cache_read_input_tokens:,} cache read")
    if usage.cache_creation_input_tokens:
        cache.append(f"{usage.cache_creation_input_tokens:,} cache write")
    extra = f" (+ {', '.join(cache)})" if cache else ""
    return f"{usage.input_tokens:,} in{extra} / {usage.output_tokens:,} out"


def format_summary(outcome: RunOutcome, run_id: str | None = None) -> list[str]:
    """The closing lines: status, agent counts, elapsed, tokens per model, failures, run id."""
    o = outcome
    counts = f"{o.count('done')} done, {o.count('failed')} failed, {o.count('skipped')} skipped"
    for extra in ("cached", "cancelled"):
        if n := o.count(extra):
            counts += f", {n} {extra}"
    if o.refused:
        # agent() calls the cap refused never became agents; the failure lines count them
        counts += f", {o.refused:,} refused"
    budget = ""
    if o.budget is not None:
        budget = f" · budget {o.spent:,} / {o.budget:,} output tokens used"
    lines = [
        f"{o.status} · agents {counts} · {format_seconds(o.elapsed)} · "
        f"tokens {format_tokens(o.usage)}{budget}"
    ]
    if o.worker_problem:
        lines.append(printable(o.worker_problem))
    per_model = tokens_by_model(o)
    if len(per_model) > 1:
        lines.append(
            "tokens by model: "
            + ", ".join(f"{m} {i:,} in / {out:,} out" for m, (i, out) in sorted(per_model.items()))
        )
    if o.failures:
        lines.append(f"failures ({len(o.failures)}):")
        shown = o.failures[:20]
        lines.extend(f"  {printable(f)}" for f in shown)
        if len(o.failures) > len(shown):
            lines.append(f"  … and {len(o.failures) - len(shown)} more (jshost inspect shows all)")
    if kept := o.kept_worktrees:
        lines.append(f"kept worktrees ({len(kept)}) — review and merge:")
        for a in kept:
            earlier = " · kept by an earlier session" if a.status == "cached" else ""
            lines.append(
                f"  {printable(a.worktree_path or '')} ({printable(a.worktree_branch or '')})"
                f" · [{printable(a.label)}]{earlier}"
            )
    if o.dropped_logs:
        lines.append(f"log: {o.dropped_logs:,} earlier lines not kept in memory")
    if run_id is not None:
        lines.append(f"run {run_id} · jshost inspect {run_id} · jshost resume {run_id}")
    return lines
