"""Prices and the typical figures of the estimate, from the config file's ``[prices]`` and
``[estimate]`` tables (docs/plan.md). Plain data: imports nothing of jshost but the error tree,
so the config can read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, final

from ._data import Frozen, set_field
from ._lazy import lazy_pattern
from .errors import UsageError

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_OUTPUT_TOKENS",
    "DEFAULT_PRICES",
    "PRICES_SOURCE",
    "EstimateSettings",
    "Price",
    "model_line",
    "parse_estimate_tables",
]

#: characters per token assumed for Claude models (English prose and code)
CHARS_PER_TOKEN = 3.5

PRICES_SOURCE = "Claude Code 2.1.337 model catalog, read 2026-12-06"


@final
class Price(Frozen):
    """Dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    _fields = ("input", "output", "cache_write", "cache_read")

    def __init__(self, input: float, output: float, cache_write: float, cache_read: float) -> None:
        set_field(self, "input", input)
        set_field(self, "output", output)
        set_field(self, "cache_write", cache_write)
        set_field(self, "cache_read", cache_read)

    def cost(self, usage: Any) -> float:
        """Dollars for ``usage`` (a ``jshost.workers.Usage``)."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * self.cache_write
            + usage.cache_read_input_tokens * self.cache_read
        ) / 1_000_000


def _p(i: float, o: float, w: float, r: float) -> Price:
    return Price(i, o, w, r)


#: model id → price; cache writes are the 5-minute ones (the only kind jshost asks for)
DEFAULT_PRICES: Mapping[str, Price] = {
    "claude-haiku-5-5": _p(0.10, 0.50, 0.125, 0.01),
    "claude-sonnet-5-5": _p(2, 10, 2.5, 0.10),
    "claude-opus-5-5": _p(4, 20, 5, 0.20),
    "claude-fable-5-2": _p(8, 40, 10, 0.20),
    "claude-mythos-5-2": _p(8, 40, 10, 0.20),
    "claude-fable-5-1": _p(10, 50, 12.5, 0.25),
    "claude-mythos-5-1": _p(10, 50, 12.5, 0.25),
    "claude-fable-5": _p(10, 50, 12.5, 1.0),
    "claude-mythos-5": _p(10, 50, 12.5, 1.0),
    "claude-opus-5": _p(5, 25, 6.25, 0.50),
    "claude-opus-4-8": _p(5, 25, 6.25, 0.50),
    "claude-opus-4-7": _p(5, 25, 6.25, 0.50),
    "claude-opus-4-6": _p(5, 25, 6.25, 0.50),
    "claude-opus-4-5": _p(5, 25, 6.25, 0.50),
    "claude-sonnet-5": _p(2, 10, 2.5, 0.20),
    "claude-sonnet-4-6": _p(3, 15, 3.75, 0.30),
    "claude-sonnet-4-5": _p(3, 15, 3.75, 0.30),
    "claude-sonnet-4-0": _p(3, 15, 3.75, 0.30),
    "claude-haiku-4-5": _p(1, 5, 1.25, 0.10),
    "claude-opus-4-1": _p(15, 75, 18.75, 1.5),
    "claude-opus-4-0": _p(15, 75, 18.75, 1.5),
}

#: typical output tokens of one agent, per model line; "default" for any other model
DEFAULT_OUTPUT_TOKENS: Mapping[str, int] = {
    "haiku": 1000,
    "sonnet": 1500,
    "opus": 2000,
    "fable": 2000,
    "mythos": 2000,
    "default": 1500,
}

_LINE = lazy_pattern(r"^claude-(?P<line>[a-z]+)-")
_DATED = lazy_pattern(r"^(?P<base>.+)-\d{8}$")


def model_line(model: str) -> str | None:
    """``haiku`` for ``claude-haiku-5-5`` or ``haiku``; None for a model of no known line."""
    m = _LINE.match(model)
    line = m.group("line") if m else model
    return line if line in DEFAULT_OUTPUT_TOKENS and line != "default" else None


@final
class EstimateSettings(Frozen):
    """How estimates are made; from the ``[estimate]`` and ``[prices]`` tables of the config."""

    chars_per_token: float = CHARS_PER_TOKEN
    output_tokens: Mapping[str, int]
    prices: Mapping[str, Price]

    _fields = ("chars_per_token", "output_tokens", "prices")

    def __init__(
        self,
        chars_per_token: float = CHARS_PER_TOKEN,
        output_tokens: Mapping[str, int] | None = None,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        set_field(self, "chars_per_token", chars_per_token)
        set_field(
            self,
            "output_tokens",
            dict(DEFAULT_OUTPUT_TOKENS) if output_tokens is None else output_tokens,
        )
        set_field(self, "prices", dict(DEFAULT_PRICES) if prices is None else prices)

    def price(self, model: str) -> Price | None:
        """The price of a model id (a dated id falls back to its undated one), or None."""
        if model in self.prices:
            return self.prices[model]
        m = _DATED.match(model)
        return self.prices.get(m.group("base")) if m else None

    def typical_output(self, model: str) -> int:
        """Typical output tokens of one agent on ``model`` (an id or a model line)."""
        if model in self.output_tokens:
            return self.output_tokens[model]
        line = model_line(model)
        if line is not None and line in self.output_tokens:
            return self.output_tokens[line]
        return self.output_tokens.get("default", DEFAULT_OUTPUT_TOKENS["default"])

    def input_tokens(self, characters: int) -> int:
        """Estimated input tokens for this many characters."""
        return math.ceil(characters / self.chars_per_token)


def _number(value: Any, where: str, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise UsageError(f"{where} must be {kind}")
    if integer and not isinstance(value, int):
        raise UsageError(f"{where} must be a non-negative integer")
    return value


def parse_estimate_tables(data: Mapping[str, Any], path: object) -> EstimateSettings:
    """The estimate settings of a parsed config file.

    Raises:
        UsageError: a table or a value has the wrong type.
    """
    table = data.get("estimate", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [estimate] must be a table")
    settings: dict[str, Any] = {}
    if "chars_per_token" in table:
        cpt = _number(table["chars_per_token"], f"{path}: estimate.chars_per_token")
        if cpt <= 0:
            raise UsageError(f"{path}: estimate.chars_per_token must be more than 0")
        settings["chars_per_token"] = float(cpt)
    outputs = dict(DEFAULT_OUTPUT_TOKENS)
    given = table.get("output_tokens", {})
    if not isinstance(given, dict):
        raise UsageError(f"{path}: [estimate.output_tokens] must be a table of model = tokens")
    for model, tokens in given.items():
        outputs[model] = int(
            _number(tokens, f"{path}: estimate.output_tokens.{model}", integer=True)
        )
    prices = dict(DEFAULT_PRICES)
    table = data.get("prices", {})
    if not isinstance(table, dict):
        raise UsageError(f'{path}: [prices] must be a table of [prices."<model id>"] tables')
    for model, row in table.items():
        if not isinstance(row, dict):
            raise UsageError(f'{path}: [prices."{model}"] must be a table')
        known = {"input", "output", "cache_write", "cache_read"}
        if extra := sorted(set(row) - known):
            raise UsageError(f"{path}: prices.{model}: unknown key {extra[0]!r} (known: {known})")
        base = prices.get(model)
        values = {
            k: float(_number(row[k], f"{path}: prices.{model}.{k}"))
            if k in row
            else (getattr(base, k) if base else None)
            for k in sorted(known)
        }
        if values["input"] is None or values["output"] is None:
            raise UsageError(f"{path}: prices.{model} needs input and output")
        # Cache writes cost 1.25× input and reads 0.1× input on every current model.
        if values["cache_write"] is None:
            values["cache_write"] = values["input"] * 1.25
        if values["cache_read"] is None:
            values["cache_read"] = values["input"] * 0.1
        prices[model] = Price(**values)
    return EstimateSettings(output_tokens=outputs, prices=prices, **settings)
