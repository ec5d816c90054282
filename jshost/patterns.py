"""JSON Schema ``pattern`` / ``patternProperties`` regexes, matched in linear time.

Schemas come from scripts and values from models, so a pattern such as ``^(a+)+b$`` must not
send a backtracking engine into exponential time on the run loop. Every schema regex the host
evaluates (sim instance generation, StructuredOutput validation, jsonschema's ``pattern``,
``patternProperties``, ``additionalProperties`` and ``unevaluatedProperties``) goes through
RE2, which matches in time linear in the text.

Dialect: JSON Schema says ECMA-262. RE2 agrees with it on the constructs schemas use (classes,
``\\d``/``\\w`` as ASCII, anchors, quantifiers, groups, alternation, ``\\p{…}``); ``\\uXXXX`` and
``\\u{…}`` are translated. Lookaround and backreferences have no linear-time match: a pattern
RE2 refuses is matched by QuickJS's own ECMA-262 engine (with the ``u`` flag) in a private
context whose CPU time per match is limited, and a match that runs out of time is an error
("took too long"), never a hang.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import types
from typing import Any

import re2

from . import _quickjs as quickjs

__all__ = [
    "ECMA_MATCH_SECONDS",
    "MAX_ECMA_PATTERNS",
    "MAX_PATTERN_CHARS",
    "PatternError",
    "compile_pattern",
    "format_checker",
    "install",
    "is_fallback",
    "schema_patterns",
    "search",
]

#: longest pattern accepted (RE2 also bounds the memory of the compiled program)
MAX_PATTERN_CHARS = 4096
_MAX_PROGRAM_BYTES = 8 << 20

#: CPU seconds one ECMA-262 fallback match may take (QuickJS interrupts it after that)
ECMA_MATCH_SECONDS = 0.25
#: patterns per schema that may need the fallback engine (each match is time-limited)
MAX_ECMA_PATTERNS = 16
_ECMA_MEMORY = 64 << 20
_ECMA_SOURCE = """
(() => {
  const cache = new Map();
  const compile = (p) => {
    let r = cache.get(p);
    if (r === undefined) {
      r = new RegExp(p, 'u');
      if (cache.size > 256) cache.clear();
      cache.set(p, r);
    }
    return r;
  };
  return (args) => {
    const [p, s] = JSON.parse(args);
    const r = compile(p);
    return s === null ? true : r.test(s);
  };
})()
"""

_UNICODE_ESCAPE = re.compile(r"(\\\\)|\\u\{([0-9A-Fa-f]{1,6})\}|\\u([0-9A-Fa-f]{4})")


class PatternError(ValueError):
    """A schema regex this host cannot evaluate in bounded time; the message says why."""


def _translate(pattern: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)  # an escaped backslash: the `u` after it is a literal
        return "\\x{" + (m.group(2) or m.group(3)) + "}"

    return _UNICODE_ESCAPE.sub(sub, pattern)


_local = threading.local()
# Fallback patterns that ran out of time once: they fail at once from then on, so a schema
# cannot cost a slice per string of a large answer.
_too_slow: set[str] = set()


def _ecma(pattern: str, text: str | None) -> bool:
    if pattern in _too_slow:
        raise PatternError(f"pattern {pattern!r} took too long to match (see SECURITY.md)")
    # One context per thread: a QuickJS context must never be used by two threads at once.
    test = getattr(_local, "test", None)
    if test is None:
        ctx = quickjs.Context()
        ctx.set_memory_limit(_ECMA_MEMORY)
        ctx.set_max_stack_size(1 << 20)
        test = ctx.eval(_ECMA_SOURCE)
        ctx.set_time_limit(ECMA_MATCH_SECONDS)
        _local.ctx, _local.test = ctx, test
    try:
        return bool(test(json.dumps([pattern, text])))
    except quickjs.JSException as exc:
        first = (str(exc.args[0]) if exc.args else "").split("\n", 1)[0]
        if "interrupted" in first:
            _too_slow.add(pattern)
            size = 0 if text is None else len(text)
            raise PatternError(
                f"pattern {pattern!r} took too long to match a string of {size:,} "
                f"characters (more than {ECMA_MATCH_SECONDS:g} s; see SECURITY.md)"
            ) from None
        raise PatternError(f"pattern {pattern!r} cannot be used: {first}") from None


class _EcmaProgram:
    """A pattern RE2 refuses (lookaround, backreferences), matched by QuickJS with a time limit."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        _ecma(pattern, None)  # a syntax error shows now, where the schema is checked

    def search(self, text: str) -> bool | None:
        return _ecma(self.pattern, text) or None


def is_fallback(program: Any) -> bool:
    """Whether a compiled pattern runs on the time-limited ECMA-262 fallback engine."""
    return isinstance(program, _EcmaProgram)


def _options() -> Any:
    options = re2.Options()
    options.max_mem = _MAX_PROGRAM_BYTES
    options.log_errors = False  # RE2 would write every rejected pattern to stderr
    return options


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program of a schema ``pattern``; raises PatternError when unusable."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"pattern is too long ({len(pattern):,} characters; the limit is {MAX_PATTERN_CHARS:,})"
        )
    try:
        return re2.compile(_translate(pattern), _options())
    except re2.error as exc:
        why = exc.args[0] if exc.args else "invalid"
        if isinstance(why, bytes):
            why = why.decode("utf-8", "replace")
        if "perl operator" in why or re.search(r"escape sequence: \\[1-9kc]", why):
            return _EcmaProgram(pattern)
        raise PatternError(f"pattern {pattern!r} cannot be used: {why}") from None


def search(pattern: str, text: str, flags: int = 0) -> Any:
    """Like ``re.search(pattern, text)``: a match object or None, in linear time."""
    if flags:
        raise PatternError("regex flags are not supported in schema patterns")
    return compile_pattern(pattern).search(text)


def _bounded_re() -> types.SimpleNamespace:
    names = {k: getattr(re, k) for k in dir(re) if not k.startswith("__")}
    names["search"] = search
    return types.SimpleNamespace(**names)


_installed = False


def install() -> None:
    """Make jsonschema evaluate schema regexes with :func:`search`.

    jsonschema calls ``re.search`` for ``pattern`` and ``patternProperties`` and, through
    helpers, for ``additionalProperties`` and ``unevaluatedProperties``; replacing the module's
    ``re`` keeps its keywords and its error messages exactly as they are.
    """
    global _installed
    if _installed:
        return
    from jsonschema import _keywords, _utils

    bounded = _bounded_re()
    _keywords.re = bounded  # type: ignore[attr-defined]
    _utils.re = bounded  # type: ignore[attr-defined]
    _installed = True


@functools.cache
def format_checker() -> Any:
    """jsonschema's 2020-12 format checker, with ``regex`` checked in this module's dialect.

    The meta-schema marks ``pattern`` as ``format: regex``; jsonschema would compile it with
    Python's ``re`` and refuse ECMA-262 syntax such as ``\\u{1F600}`` or ``(?<name>…)``.
    """
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)

    @checker.checks("regex", raises=PatternError)
    def _regex(instance: object) -> bool:
        if isinstance(instance, str):
            compile_pattern(instance)
        return True

    return checker


def schema_patterns(schema: Any, limit: int = 100_000) -> list[str]:
    """Every regex in ``schema``: ``pattern`` values and ``patternProperties`` keys.

    Values under ``const``, ``enum``, ``default`` and ``examples`` are data, not schemas.
    """
    found: list[str] = []
    stack = [schema]
    seen = 0
    while stack and seen < limit:
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in ("const", "enum", "default", "examples"):
                    continue
                if key == "pattern" and isinstance(value, str):
                    found.append(value)
                elif key == "patternProperties" and isinstance(value, dict):
                    found.extend(k for k in value if isinstance(k, str))
                if isinstance(value, dict | list):
                    stack.append(value)
    return found


install()
