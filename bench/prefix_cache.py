"""Prompt-cache stagger (figure 8): the input-token cost of a same-prefix fan-out, with and without.

A fan-out of schema agents that share a large prefix (the system prompt and a
``StructuredOutput`` tool with a long schema) runs through the real anthropic worker, the real
engine and sandbox, against the loopback Messages server of ``tests/messages_server.py`` in its
``prompt_cache`` mode: the first request with a prefix writes it to the cache, and from the
moment its response starts the others read it. Each reply takes ``prefill`` seconds before it
starts, as a real model's would.

Without the stagger every agent of the first wave starts together and writes the prefix; with
it (``CLAUDE_CODE_WORKFLOW_PREFIX_STAGGER_MS``, the reference's §6.7) the siblings wait for the
first response and read it. Cost is in units of base input tokens at the API's multipliers
(cache write 1.25×, cache read 0.1×), so the ratio holds for any model.

    python -m bench.prefix_cache [--quick] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jshost.config import Config
from jshost.engine import Limits

from .common import bench_parser, run_in_process, temp_home

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from messages_server import MessagesServer, Reply  # lives with the tests

WRITE, READ = 1.25, 0.10

META = "export const meta = { name: 'bench-cache', description: 'same-prefix fan-out' }\n"

FANOUT = """\
const schema = {schema}
const out = await parallel(Array.from({{ length: {n} }}, (_, i) => () =>
  agent('Check host ' + i + ' and report what you find.', {{ label: 'host ' + i, schema }})))
return out.filter(Boolean).length
"""


def _schema(chars: int) -> dict[str, Any]:
    # A realistic shape, with long field descriptions making up the shared prefix.
    words = "Describe precisely what was observed, with timestamps and evidence. "
    text = (words * (chars // len(words) + 1))[:chars]
    return {
        "type": "object",
        "properties": {
            "finding": {"type": "string", "description": text},
            "severity": {"enum": ["low", "medium", "high"]},
        },
        "required": ["finding", "severity"],
    }


def measure(agents: int, *, stagger_ms: int, prefill: float, schema_chars: int) -> dict[str, Any]:
    """One fan-out run; the tokens the server reported, summed over every agent."""
    from jshost.workers.anthropic import AnthropicWorker, RetryPolicy

    def responder(body: dict[str, Any]) -> Reply:
        return Reply(tool_input={"finding": "ok", "severity": "low"}, delay=prefill)

    source = META + FANOUT.format(n=agents, schema=json.dumps(_schema(schema_chars)))
    with MessagesServer(responder, prompt_cache=True) as server, temp_home() as home:
        worker = AnthropicWorker(
            api_key="bench",
            base_url=server.url,
            config=Config(),
            policy=RetryPolicy(max_retries=0),
            stagger=stagger_ms,
        )
        run = run_in_process(
            source,
            worker=worker,
            limits=Limits(concurrency=min(agents, 16)),
            home=home,
            store=False,
        )
    usage = run.outcome.usage
    cost = (
        usage.input_tokens
        + WRITE * usage.cache_creation_input_tokens
        + READ * usage.cache_read_input_tokens
    )
    return {
        "agents": agents,
        "stagger_ms": stagger_ms,
        "input": usage.input_tokens,
        "cache_write": usage.cache_creation_input_tokens,
        "cache_read": usage.cache_read_input_tokens,
        "cost_input_units": round(cost, 1),
        "wall_s": round(run.wall, 3),
        "held_lines": sum("prompt-cache warm-up" in line for line in run.outcome.logs),
    }


def run(quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    """With and without the stagger, side by side; ``quick``: 8 agents, a small schema.

    ``repeat`` is accepted for the common options; token counts do not vary between runs.
    """
    agents = 8 if quick else 32
    # The quick run's prefill is long enough for the whole wave to arrive inside it even on a
    # loaded machine: the figures stay meaningful as a smoke test.
    prefill = 0.3 if quick else 0.2
    schema_chars = 2000 if quick else 16000
    # A first run pays the SDK's import and the client's set-up, which spreads the first
    # wave's arrivals: warm up, so both measured runs start their wave the same way.
    measure(2, stagger_ms=0, prefill=0.0, schema_chars=100)
    off = measure(agents, stagger_ms=0, prefill=prefill, schema_chars=schema_chars)
    on = measure(agents, stagger_ms=5000, prefill=prefill, schema_chars=schema_chars)
    return {
        "agents": agents,
        "prefill_s": prefill,
        "schema_chars": schema_chars,
        "without": off,
        "with": on,
        "cost_ratio": round(on["cost_input_units"] / off["cost_input_units"], 3),
        "wall_ratio": round(on["wall_s"] / off["wall_s"], 3) if off["wall_s"] else None,
    }


def format_rows(f: dict[str, Any]) -> list[str]:
    lines = []
    for name in ("without", "with"):
        r = f[name]
        lines.append(
            f"   {name:<8} stagger: {r['input']:>7,} in + {r['cache_write']:>7,} cache write + "
            f"{r['cache_read']:>7,} cache read = {r['cost_input_units']:>9,.0f} input units · "
            f"{r['wall_s']:.2f} s · {r['held_lines']} held"
        )
    lines.append(f"   with/without: input cost {f['cost_ratio']:.3f}, wall {f['wall_ratio']:.3f}")
    return lines


def main() -> None:
    args = bench_parser(__doc__).parse_args()
    figures = run(args.quick, args.repeat)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['agents']}-agent same-prefix fan-out, prefill {figures['prefill_s']} s")
        print("\n".join(format_rows(figures)))


if __name__ == "__main__":
    main()
