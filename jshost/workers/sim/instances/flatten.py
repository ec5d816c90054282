"""Deterministic JSON values that validate against a JSON Schema, for the offline sim worker.

The sim worker answers ``agent(prompt, {schema})`` without a model, so it needs a value that
validates against the schema (Draft 2020-12, as ``jsonschema.Draft202012Validator`` checks it),
stays the same for the same prompt, and looks like something a model might have written
(``"summary-3f2a"``, an enum member, a small number in range) rather than noise.

How a value is built:

- ``$ref`` and ``allOf`` are flattened into one set of constraints per level; keywords that
  combine by intersection (``type``, bounds, ``required``, ``enum``) are merged, keywords that
  depend on their sibling keywords (``items`` after ``prefixItems``, ``additionalProperties``
  after ``properties``) are kept per subschema and applied exactly;
- disjunctions (``anyOf``, ``oneOf``, ``if``/``then``/``else``) are tried branch by branch;
- every level checks its candidate with ``jsonschema`` and retries with another seed (and
  with optional content left out) when it does not validate, so keywords honoured only on a
  best-effort basis (``not``, ``oneOf`` exclusivity, ``dependentSchemas``, ``unevaluated*``)
  cost retries, never an invalid answer.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import math
import random
import re
import string
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from re import _parser as _sre
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing.exceptions import Unresolvable

from ....patterns import PatternError, format_checker
from ....patterns import search as _search

__all__ = ["MAX_DEPTH", "SchemaUnsatisfiable", "generate_instance"]

#: deepest nesting of generated values; a recursive schema that needs more is unsatisfiable
MAX_DEPTH = 32

_ATTEMPTS = 6  # candidates per type and branch before a level gives up
_MAX_CHOICES = 64  # anyOf/oneOf/if branch combinations tried per level
_BUDGET = 20_000  # generation steps per call, so pathological schemas fail fast
_MAX_SIZE = 10_000  # largest minLength/minItems/minProperties we are willing to build
# Characters of strings one value may hold in all: each size is bounded by _MAX_SIZE, but
# nesting multiplies them (a 150-byte schema would otherwise ask for a 100 MB value).
_MAX_CHARS = 1_000_000
_UNIQUE_TRIES = 32  # seeds tried per array item to find one distinct from the others
# A ``$ref`` target may be expanded this many times along one path before optional content
# that would expand it again is left out; 2 gives a tree one level of children.
_RECURSION_ALLOWANCE = 2

_TYPE_FALLBACK = ("string", "integer", "number", "boolean", "null", "object", "array")
_KEY_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")  # keys jsonschema writes as ``$.key``
_POOL = string.ascii_lowercase + string.digits + string.ascii_uppercase + "-_. :/@"
_LETTERS = string.ascii_lowercase
_MISSING = object()


class SchemaUnsatisfiable(ValueError):
    """Raised when no instance can be generated; the message names the JSON path and why.

    For example ``"$.items: minItems 3 > maxItems 1"`` or
    ``"$.b: required property is ruled out by additionalProperties: false"``.
    """


def generate_instance(schema: dict[str, Any] | bool, seed: str) -> Any:
    """Generate a JSON value that validates against ``schema``, derived from ``seed``.

    The result is a pure function of ``schema`` and ``seed``: the same pair always gives the
    same value, and different seeds (prompts) usually give different values.

    Args:
        schema (dict | bool): a JSON Schema (Draft 2020-12); ``$ref`` must be local (``#...``).
        seed (str): any text, typically the prompt.

    Returns:
        Any: a JSON-compatible value (dict, list, str, int, float, bool or None) that
        ``jsonschema.Draft202012Validator(schema)`` accepts.

    Raises:
        SchemaUnsatisfiable: the schema is invalid, admits no value, or needs something this
            generator cannot build; the message starts with the JSON path concerned.
    """
    try:
        Draft202012Validator.check_schema(schema, format_checker=format_checker())
    except SchemaError as exc:
        raise SchemaUnsatisfiable(f"{exc.json_path}: invalid schema: {exc.message}") from None
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    try:
        value = _Generator(schema).generate(digest)
        # The contract is "never return an invalid value", so check once more against the
        # schema exactly as a caller would, independently of the per-level checks.
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    except (Unresolvable, re.error, PatternError) as exc:
        raise SchemaUnsatisfiable(f"$: schema could not be evaluated: {exc}") from None
    except RecursionError:
        raise SchemaUnsatisfiable(
            "$: schema could not be evaluated: its $ref chain never ends (a $ref cycle)"
        ) from None
    if error is not None:
        raise SchemaUnsatisfiable(
            f"{error.json_path}: generated value does not validate: {_short(error.message)}"
        )
    return value


# --------------------------------------------------------------------------- small helpers


def _hash(*parts: object) -> int:
    data = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _rng(*parts: object) -> random.Random:
    # A private Random per decision keeps results independent of any global state.
    return random.Random(_hash(*parts))


def _hex_stream(seed: str, n: int) -> str:
    blocks = (
        hashlib.sha256(f"{seed}\x1f{i}".encode("utf-8", "surrogatepass")).hexdigest()
        for i in range(-(-n // 64))
    )
    return "".join(blocks)[:n]


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", name).strip("-")[:32] or "value"


def _dns_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "value"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join_key(path: str, key: str) -> str:
    # Same spelling as ValidationError.json_path, so our paths and jsonschema's agree.
    if _KEY_RE.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def _canon(value: Any) -> Any:
    """A hashable form with jsonschema's equality: 1 == 1.0, but True != 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("list", tuple(_canon(v) for v in value))
    if isinstance(value, dict):
        return ("dict", frozenset((k, _canon(v)) for k, v in value.items()))
    return ("other", repr(value))


def _ordered_union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _closure(keys: Iterable[str], dependent_required: dict[str, list[str]]) -> list[str]:
    out = list(dict.fromkeys(keys))
    for key in out:  # grows while iterating, on purpose
        out.extend(d for d in dependent_required.get(key, ()) if d not in out)
    return out


def _all_of(parts: list[Any]) -> Any:
    if any(p is False for p in parts):
        return False
    parts = [p for p in parts if p is not True and p != {}]
    if not parts:
        return True
    return parts[0] if len(parts) == 1 else {"allOf": parts}


def _max_opt(a: Any, b: Any) -> Any:
    return b if a is None else max(a, b)


def _min_opt(a: Any, b: Any) -> Any:
    return b if a is None else min(a, b)


def _fraction(m: int | float) -> Fraction:
    # repr() gives the shortest decimal that round-trips, i.e. what the schema author wrote.
    return Fraction(repr(m)) if isinstance(m, float) else Fraction(m)


def _is_multiple(value: int | float, m: int | float) -> bool:
    """``multipleOf`` exactly as jsonschema evaluates it, float rounding included."""
    if isinstance(m, float):
        quotient = value / m
        try:
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(value) / Fraction(m)).denominator == 1
    return value % m == 0


def _window(lo: Any, hi: Any, size: int = 100) -> tuple[Any, Any]:
    """A stretch of [lo, hi] at most ``size`` wide, as near [0, size] as the bounds allow.

    Hand-written examples are small non-negative numbers; staying close to them keeps values
    plausible, and keeping the stretch wide leaves room for distinct values (uniqueItems).
    """
    a, b = 0, size
    if lo is not None and a < lo:
        a, b = lo, lo + size
    if hi is not None and b > hi:
        a, b = hi - size, hi
    if lo is not None and a < lo:
        a = lo
    return a, b


def _spiral(k0: int, kmin: int | None, kmax: int | None, n: int) -> Iterator[int]:
    """k0, k0+1, k0-1, k0+2, … restricted to [kmin, kmax], at most ``n`` values."""
    produced = 0
    for step in range(2 * n + 1):
        k = k0 + (step + 1) // 2 if step % 2 else k0 - step // 2
        if (kmin is None or k >= kmin) and (kmax is None or k <= kmax):
            yield k
            produced += 1
            if produced >= n:
                return


def _clamp(k: int, kmin: int | None, kmax: int | None) -> int:
    if kmin is not None and k < kmin:
        return kmin
    if kmax is not None and k > kmax:
        return kmax
    return k


# --------------------------------------------------------------------------- flattened schema


@dataclass
class _Ctx:
    """Where a value is being generated: its path, seed, nesting and the $refs above it."""

    path: str
    seed: str
    depth: int
    refs: tuple[int, ...]  # ids of $ref targets expanded on the way here, repeats included
    name: str  # the property name the value belongs to, for plausible strings

    def key(self, key: str) -> _Ctx:
        return _Ctx(_join_key(self.path, key), f"{self.seed}.{key}", self.depth + 1, self.refs, key)

    def index(self, i: int) -> _Ctx:
        return _Ctx(f"{self.path}[{i}]", f"{self.seed}[{i}]", self.depth + 1, self.refs, self.name)

    def retry(self, attempt: int) -> _Ctx:
        return self if attempt == 0 else replace(self, seed=f"{self.seed}~{attempt}")


@dataclass
class _Flat:
    """The constraints of one level after ``$ref`` and ``allOf`` are merged.

    ``None`` means unconstrained. Keywords whose meaning depends on their siblings stay
    grouped per subschema (``obj_rules``, ``arr_rules``) so they can be applied exactly.
    """

    types: list[str] | None = None
    excluded_types: set[str] = field(default_factory=set)
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: list[int | float] = field(default_factory=list)
    min_length: int = 0
    max_length: int | None = None
    patterns: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    min_items: int = 0
    max_items: int | None = None
    unique_items: bool = False
    arr_rules: list[tuple[list[Any], Any]] = field(default_factory=list)  # (prefixItems, items)
    contains: list[tuple[Any, int, int | None]] = field(default_factory=list)
    min_properties: int = 0
    max_properties: int | None = None
    required: list[str] = field(default_factory=list)
    # (properties, patternProperties, additionalProperties) of each subschema
    obj_rules: list[tuple[dict[str, Any], dict[str, Any], Any]] = field(default_factory=list)
    property_names: list[Any] = field(default_factory=list)
    dependent_required: dict[str, list[str]] = field(default_factory=dict)
    dependent_schemas: dict[str, list[Any]] = field(default_factory=dict)
    groups: list[tuple[str, list[Any]]] = field(default_factory=list)  # disjunctions to resolve
    refs: list[int] = field(default_factory=list)

    def copy(self) -> _Flat:
        new = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list | dict | set):
                setattr(new, name, value.copy())
        return new

    def inferred_types(self) -> list[str]:
        """The types the keywords present suggest, for a schema without ``type``."""
        kinds = []
        if (
            self.obj_rules
            or self.required
            or self.min_properties
            or self.max_properties is not None
            or self.property_names
            or self.dependent_required
            or self.dependent_schemas
        ):
            kinds.append("object")
        if (
            self.arr_rules
            or self.contains
            or self.min_items
            or self.max_items is not None
            or self.unique_items
        ):
            kinds.append("array")
        if self.min_length or self.max_length is not None or self.patterns or self.formats:
            kinds.append("string")
        bounds = (self.minimum, self.maximum, self.exclusive_minimum, self.exclusive_maximum)
        if any(b is not None for b in bounds) or self.multiple_of:
            kinds.append("number")
        return kinds

    def bounds_text(self) -> str:
        pairs = (
            ("minimum", self.minimum),
            ("exclusiveMinimum", self.exclusive_minimum),
            ("maximum", self.maximum),
            ("exclusiveMaximum", self.exclusive_maximum),
        )
        return ", ".join(f"{kw} {v}" for kw, v in pairs if v is not None) or "no bounds"

    def bounds_conflict(self, kind: str) -> str:
        """Why no ``kind`` fits the numeric bounds, e.g. ``minimum 5 > maximum 3``."""
        lower = [
            (v, ex, kw)
            for kw, v, ex in (
                ("minimum", self.minimum, False),
                ("exclusiveMinimum", self.exclusive_minimum, True),
            )
            if v is not None
        ]
        upper = [
            (v, not ex, kw)
            for kw, v, ex in (
                ("maximum", self.maximum, False),
                ("exclusiveMaximum", self.exclusive_maximum, True),
            )
            if v is not None
        ]
        lv, _, lkw = max(lower)
        uv, _, ukw = min(upper)
        if lv > uv:
            return f"{lkw} {lv} > {ukw} {uv}"
        return f"no {kind} between {lkw} {lv} and {ukw} {uv}"

    def real_bounds(self) -> tuple[Any, bool, Any, bool]:
        """(lower, lower exclusive, upper, upper exclusive) after merging both keyword kinds."""
        lo, lo_ex, hi, hi_ex = self.minimum, False, self.maximum, False
        if self.exclusive_minimum is not None and (lo is None or self.exclusive_minimum >= lo):
            lo, lo_ex = self.exclusive_minimum, True
        if self.exclusive_maximum is not None and (hi is None or self.exclusive_maximum <= hi):
            hi, hi_ex = self.exclusive_maximum, True
        return lo, lo_ex, hi, hi_ex

    def within(self, v: int | float) -> bool:
        return (
            (self.minimum is None or v >= self.minimum)
            and (self.maximum is None or v <= self.maximum)
            and (self.exclusive_minimum is None or v > self.exclusive_minimum)
            and (self.exclusive_maximum is None or v < self.exclusive_maximum)
        )


def _intersect_types(current: list[str] | None, new: list[str]) -> list[str]:
    if current is None:
        return list(dict.fromkeys(new))
    out = []
    for t in current:
        if t in new:
            out.append(t)
        elif (t == "number" and "integer" in new) or (t == "integer" and "number" in new):
            out.append("integer")  # every integer is a number, not the other way round
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- regex sampling


class _RegexUnsupported(Exception):
    """The pattern uses a construct we cannot build a match for."""


class _RegexTooLong(Exception):
    """The sample grew past its size limit (nested repeats with large counts)."""


_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_AT_START = (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING)
_AT_END = (_sre.AT_END, _sre.AT_END_STRING)
_CATEGORY_RE = {
    _sre.CATEGORY_DIGIT: re.compile(r"\d"),
    _sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    _sre.CATEGORY_SPACE: re.compile(r"\s"),
    _sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    _sre.CATEGORY_WORD: re.compile(r"\w"),
    _sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
    _sre.CATEGORY_LINEBREAK: re.compile(r"\n"),
    _sre.CATEGORY_NOT_LINEBREAK: re.compile(r"[^\n]"),
}


@functools.lru_cache(maxsize=256)
def _parse_regex(pattern: str) -> Any:
    return _sre.parse(pattern)


def _class_contains(items: list[tuple[Any, Any]], ch: str) -> bool:
    for op, av in items:
        if op is _sre.LITERAL and chr(av) == ch:
            return True
        if op is _sre.RANGE and av[0] <= ord(ch) <= av[1]:
            return True
        if op is _sre.CATEGORY and av in _CATEGORY_RE and _CATEGORY_RE[av].match(ch):
            return True
    return False


class _RegexGen:
    """Builds one string that a parsed regex matches, walking the ``re._parser`` tree.

    Args:
        rng (random.Random): source of every choice (branch, character, repeat count).
        extra (int | None): None picks small repeat counts at random, which reads naturally;
            an int is a budget of extra repetitions beyond each repeat's minimum, handed out
            first come first served, so the sample's length grows step by step with it (which
            is how a length window such as minLength 7, maxLength 7 is hit).
        limit (int): give up with ``_RegexTooLong`` past this many characters.
    """

    def __init__(self, rng: random.Random, extra: int | None, limit: int) -> None:
        self._rng = rng
        self._budget = extra
        self._limit = limit
        self._size = 0
        self._groups: dict[int, str] = {}

    def emit(self, items: Iterable[tuple[Any, Any]]) -> str:
        return "".join([self._node(op, av) for op, av in items])

    def _node(self, op: Any, av: Any) -> str:
        if op is _sre.LITERAL:
            return self._chars(chr(av))
        if op is _sre.NOT_LITERAL:
            return self._chars(self._rng.choice([c for c in _POOL if c != chr(av)]))
        if op is _sre.ANY:
            return self._chars(self._rng.choice(_LETTERS))
        if op is _sre.IN:
            return self._chars(self._charset(av))
        if op is _sre.BRANCH:
            return self.emit(self._rng.choice(av[1]))
        if op is _sre.SUBPATTERN:
            group, _, _, body = av
            text = self.emit(body)
            if group is not None:
                self._groups[group] = text
            return text
        if op in _REPEATS:
            low, high, body = av
            return "".join([self.emit(body) for _ in range(self._count(low, high))])
        if op in _ZERO_WIDTH:
            # Anchors and lookarounds consume nothing; the caller's re.search has the last word.
            return ""
        if op is _sre.GROUPREF:
            return self._chars(self._groups.get(av, ""))
        if op is _sre.GROUPREF_EXISTS:
            group, yes, no = av
            if group in self._groups:
                return self.emit(yes)
            return self.emit(no) if no is not None else ""
        if op is _sre.ATOMIC_GROUP:
            return self.emit(av)
        raise _RegexUnsupported(f"unsupported regex construct {op}")

    def _count(self, low: int, high: int) -> int:
        top = None if high == _sre.MAXREPEAT else high
        if self._budget is not None:
            extra = self._budget if top is None else min(self._budget, top - low)
            self._budget -= extra
        elif top is None:
            extra = self._rng.randint(1, 5)
        else:
            extra = self._rng.randint(0, min(top - low, 5))
        return low + extra

    def _chars(self, text: str) -> str:
        self._size += len(text)
        if self._size > self._limit:
            raise _RegexTooLong
        return text

    def _charset(self, items: list[tuple[Any, Any]]) -> str:
        if items and items[0][0] is _sre.NEGATE:
            allowed = [c for c in _POOL if not _class_contains(items[1:], c)]
            if not allowed:
                raise _RegexUnsupported("negated character class excludes every candidate")
            return self._rng.choice(allowed)
        op, av = self._rng.choice(items)
        if op is _sre.LITERAL:
            return chr(av)
        if op is _sre.RANGE:
            low, high = av
            nice = [c for c in _POOL if low <= ord(c) <= high]
            if nice:
                return self._rng.choice(nice)
            code = self._rng.randint(low, high)
            return chr(low) if 0xD800 <= code <= 0xDFFF else chr(code)
        if op is _sre.CATEGORY and av in _CATEGORY_RE:
            allowed = [c for c in _POOL if _CATEGORY_RE[av].match(c)]
            if allowed:
                return self._rng.choice(allowed)
        raise _RegexUnsupported(f"unsupported character class item {op}")


def _regex_sample(pattern: str, seed: str) -> str | None:
    """A short string ``re.search(pattern, ·)`` accepts, or None."""
    try:
        parsed = _parse_regex(pattern)
    except re.error:
        return None
    for extra in (None, 0, 1):
        try:
            text = _RegexGen(_rng(seed, "sample"), extra, 256).emit(parsed)
        except (_RegexUnsupported, _RegexTooLong):
            return None
        if _search(pattern, text):
            return text
    return None


def _grow(make: Callable[[int | None], str | None], lo: int) -> str | None:
    """The sample from ``make(budget)`` with the smallest budget that reaches length ``lo``."""

    def long_enough(budget: int) -> bool:
        text = make(budget)
        return text is None or len(text) >= lo  # None: overflowed, so certainly long enough

    if not long_enough(lo):
        return make(lo)
    a, b = 0, lo
    while a < b:
        mid = (a + b) // 2
        if long_enough(mid):
            b = mid
        else:
            a = mid + 1
    return make(a)


# --------------------------------------------------------------------------- formats


def _format_example(fmt: str, ctx: _Ctx) -> str | None:
    """A valid, seed-dependent example of ``format``, or None for formats we do not know."""
    h = _hash(ctx.seed, "format")
    slug = _dns_slug(ctx.name)
    hx = _hex_stream(ctx.seed, 8)
    date = f"{2020 + h % 6:04d}-{1 + (h >> 8) % 12:02d}-{1 + (h >> 16) % 28:02d}"
    clock = f"{(h >> 24) % 24:02d}:{(h >> 32) % 60:02d}:{(h >> 40) % 60:02d}"
    examples: dict[str, Callable[[], str]] = {
        "date": lambda: date,
        "date-time": lambda: f"{date}T{clock}Z",
        "time": lambda: f"{clock}Z",
        "email": lambda: f"{slug}.{hx[:4]}@example.com",
        "idn-email": lambda: f"{slug}.{hx[:4]}@example.com",
        "uri": lambda: f"https://example.com/{slug}/{hx}",
        "iri": lambda: f"https://example.com/{slug}/{hx}",
        "uri-reference": lambda: f"/{slug}/{hx}",
        "iri-reference": lambda: f"/{slug}/{hx}",
        "uri-template": lambda: f"https://example.com/{slug}/{{id}}",
        "uuid": lambda: str(
            uuid.UUID(bytes=hashlib.sha256(ctx.seed.encode()).digest()[:16], version=4)
        ),
        "ipv4": lambda: f"10.{h % 256}.{(h >> 8) % 256}.{1 + (h >> 16) % 254}",
        "ipv6": lambda: f"2001:db8::{(h >> 8) & 0xFFFF:x}:{(h >> 24) & 0xFFFF:x}",
        "hostname": lambda: f"{slug}-{hx[:4]}.example.com",
        "idn-hostname": lambda: f"{slug}-{hx[:4]}.example.com",
        "duration": lambda: f"P{1 + h % 30}DT{(h >> 8) % 24}H",
        "json-pointer": lambda: f"/{slug}/{h % 10}",
        "relative-json-pointer": lambda: f"{h % 3}/{slug}",
        "regex": lambda: f"^{slug}-[0-9a-f]{{4}}$",
    }
    make = examples.get(fmt)
    return make() if make is not None else None


# --------------------------------------------------------------------------- the generator


class _Generator:
    """Generates values for one root schema; holds the caches that depend on that root."""

    def __init__(self, root: dict[str, Any] | bool) -> None:
        self._root = root
        self._root_validator = Draft202012Validator(root)
        # Caches keyed by id() hold the schema too, so a freed temporary cannot alias an id.
        self._validators: dict[int, tuple[Any, Draft202012Validator]] = {}
        self._reach: dict[int, tuple[Any, frozenset[int]]] = {}
        self._anchors: dict[str, Any] | None = None
        self._steps = 0
        self._chars = 0

    def _spend(self, chars: int, path: str) -> None:
        self._chars += chars
        if self._chars > _MAX_CHARS:
            raise SchemaUnsatisfiable(
                f"{path}: the value would be too large to generate (its strings would hold "
                f"more than {_MAX_CHARS:,} characters)"
            )

    def generate(self, seed: str) -> Any:
        ctx = _Ctx(path="$", seed=seed, depth=0, refs=(id(self._root),), name="value")
        return self._gen(self._root, ctx)

    # ---- one level

    def _tick(self, path: str) -> None:
        self._steps += 1
        if self._steps > _BUDGET:
            raise SchemaUnsatisfiable(
                f"{path}: gave up after {_BUDGET} generation steps (schema too large, too "
                "recursive or too many anyOf/oneOf combinations)"
            )

    def _gen(self, schema: Any, ctx: _Ctx) -> Any:
        self._tick(ctx.path)
        if ctx.depth > MAX_DEPTH:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: nesting deeper than {MAX_DEPTH} levels (a recursive schema that "
                "never allows stopping?)"
            )
        if schema is True:
            return self._plain_string(ctx, 0, None)
        flat = _Flat()
        self._collect(flat, schema, ctx.path)
        errors: list[SchemaUnsatisfiable] = []
        for choice in itertools.islice(self._choices(flat, ctx, errors), _MAX_CHOICES):
            try:
                return self._gen_choice(
                    schema, choice, replace(ctx, refs=ctx.refs + tuple(choice.refs))
                )
            except SchemaUnsatisfiable as exc:
                errors.append(exc)
        if not flat.groups and errors:
            raise errors[0]
        kinds = "/".join(dict.fromkeys(kind for kind, _ in flat.groups))
        first = f"; first failure: {errors[0]}" if errors else ""
        raise SchemaUnsatisfiable(f"{ctx.path}: no {kinds} branch can be satisfied{first}")

    def _choices(
        self, flat: _Flat, ctx: _Ctx, errors: list[SchemaUnsatisfiable]
    ) -> Iterator[_Flat]:
        """Every way to pick one branch per disjunction, each merged into the constraints."""
        if not flat.groups:
            yield flat
            return
        kind, branches = flat.groups[0]
        rest = flat.copy()
        rest.groups = flat.groups[1:]
        order = list(range(len(branches)))
        refs = ctx.refs + tuple(flat.refs)
        if self._hot(refs):
            # Deep in a recursion, prefer branches that bottom out (e.g. null over $ref: #).
            order.sort(key=lambda i: self._too_recursive(branches[i], refs))
        for i in order:
            self._tick(ctx.path)
            merged = rest.copy()
            try:
                self._collect(merged, branches[i], ctx.path)
                if kind == "oneOf":
                    # Steer away from the other branches where that is cheap (`{type}` only).
                    for j, other in enumerate(branches):
                        if j != i:
                            self._collect_not(merged, other, ctx.path)
            except SchemaUnsatisfiable as exc:
                errors.append(exc)
                continue
            yield from self._choices(merged, ctx, errors)

    def _gen_choice(self, schema: Any, flat: _Flat, ctx: _Ctx) -> Any:
        if flat.enum is not None:
            order = sorted(range(len(flat.enum)), key=lambda i: _hash(ctx.seed, "enum", i))
            for i in order:
                if self._first_error(schema, flat.enum[i], ctx.path) is None:
                    return copy.deepcopy(flat.enum[i])
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no enum/const value satisfies the rest of the schema"
            )
        kinds, fallback = self._candidate_types(flat, ctx.path)
        failure: str | None = None
        structural = False
        for kind in itertools.chain(kinds, fallback):
            if kind in fallback and structural:
                # The inferred type is what the author meant, so its contradictions (minimum >
                # maximum, minItems > maxItems) are reported rather than hidden behind another
                # type; other types are tried only when a built value failed validation (a
                # `not`, `oneOf` exclusivity), which another type may well pass.
                break
            for attempt in range(_ATTEMPTS):
                try:
                    # Odd attempts leave optional content out: fewer chances to break `not`,
                    # `oneOf` exclusivity, dependentSchemas or unevaluatedProperties.
                    value = self._build(kind, flat, ctx.retry(attempt), lean=attempt % 2 == 1)
                except SchemaUnsatisfiable as exc:
                    failure = failure or str(exc)
                    structural = True
                    break  # another seed will not help
                error = self._first_error(schema, value, ctx.path)
                if error is None:
                    return value
                if failure is None:
                    where = ctx.path + error.json_path[1:]
                    failure = (
                        f"{ctx.path}: no generated value validates; first failure at {where}: "
                        f"{_short(error.message)}"
                    )
        raise SchemaUnsatisfiable(failure or f"{ctx.path}: no type can be generated")

    @staticmethod
    def _candidate_types(flat: _Flat, path: str) -> tuple[list[str], list[str]]:
        """Types to try, and (for a schema without ``type``) the types to fall back on."""
        if flat.types is not None:
            kinds, fallback = list(flat.types), []
        else:
            kinds = flat.inferred_types() or list(_TYPE_FALLBACK)
            fallback = [k for k in _TYPE_FALLBACK if k not in kinds]
        excluded = flat.excluded_types

        def allowed(kind: str) -> bool:
            return kind not in excluded and not (kind == "integer" and "number" in excluded)

        kinds, fallback = [k for k in kinds if allowed(k)], [k for k in fallback if allowed(k)]
        if not kinds and not fallback:
            raise SchemaUnsatisfiable(f"{path}: every allowed type is excluded by 'not'")
        return kinds, fallback

    # ---- flattening

    def _collect(self, flat: _Flat, schema: Any, path: str) -> None:
        """Merge ``schema``'s constraints (and its $ref / allOf) into ``flat``."""
        if schema is True:
            return
        if schema is False:
            raise SchemaUnsatisfiable(f"{path}: false schema admits no value")
        if not isinstance(schema, dict):
            raise SchemaUnsatisfiable(f"{path}: a schema must be an object or a boolean")
        s = schema
        if "type" in s:
            types = [s["type"]] if isinstance(s["type"], str) else list(s["type"])
            merged = _intersect_types(flat.types, types)
            if not merged:
                if not types:
                    raise SchemaUnsatisfiable(f"{path}: type list is empty")
                raise SchemaUnsatisfiable(f"{path}: type {types} conflicts with type {flat.types}")
            flat.types = merged
        if "const" in s:
            self._restrict_enum(flat, [s["const"]], path)
        if "enum" in s:
            self._restrict_enum(flat, list(s["enum"]), path)
        if "minimum" in s:
            flat.minimum = _max_opt(flat.minimum, s["minimum"])
        if "maximum" in s:
            flat.maximum = _min_opt(flat.maximum, s["maximum"])
        if "exclusiveMinimum" in s:
            flat.exclusive_minimum = _max_opt(flat.exclusive_minimum, s["exclusiveMinimum"])
        if "exclusiveMaximum" in s:
            flat.exclusive_maximum = _min_opt(flat.exclusive_maximum, s["exclusiveMaximum"])
        if "multipleOf" in s:
            flat.multiple_of.append(s["multipleOf"])
        if "minLength" in s:
            flat.min_length = max(flat.min_length, s["minLength"])
        if "maxLength" in s:
            flat.max_length = _min_opt(flat.max_length, s["maxLength"])
        if "pattern" in s:
            flat.patterns.append(s["pattern"])
        if "format" in s:
            flat.formats.append(s["format"])
        if "minItems" in s:
            flat.min_items = max(flat.min_items, s["minItems"])
        if "maxItems" in s:
            flat.max_items = _min_opt(flat.max_items, s["maxItems"])
        if s.get("uniqueItems"):
            flat.unique_items = True
        if "prefixItems" in s or "items" in s:
            flat.arr_rules.append((list(s.get("prefixItems", [])), s.get("items")))
        if "contains" in s:
            flat.contains.append((s["contains"], s.get("minContains", 1), s.get("maxContains")))
        if "properties" in s or "patternProperties" in s or "additionalProperties" in s:
            flat.obj_rules.append(
                (
                    dict(s.get("properties", {})),
                    dict(s.get("patternProperties", {})),
                    s.get("additionalProperties"),
                )
            )
        if "required" in s:
            flat.required = _ordered_union(flat.required, s["required"])
        if "minProperties" in s:
            flat.min_properties = max(flat.min_properties, s["minProperties"])
        if "maxProperties" in s:
            flat.max_properties = _min_opt(flat.max_properties, s["maxProperties"])
        if "propertyNames" in s:
            flat.property_names.append(s["propertyNames"])
        for key, deps in s.get("dependentRequired", {}).items():
            flat.dependent_required[key] = _ordered_union(
                flat.dependent_required.get(key, []), deps
            )
        for key, sub in s.get("dependentSchemas", {}).items():
            flat.dependent_schemas[key] = [*flat.dependent_schemas.get(key, []), sub]
        if "not" in s:
            self._collect_not(flat, s["not"], path)
        if "anyOf" in s:
            flat.groups.append(("anyOf", list(s["anyOf"])))
        if "oneOf" in s:
            flat.groups.append(("oneOf", list(s["oneOf"])))
        if "if" in s and ("then" in s or "else" in s):
            cond = s["if"]
            flat.groups.append(
                (
                    "if",
                    [
                        {"allOf": [cond, s.get("then", True)]},
                        {"allOf": [{"not": cond}, s.get("else", True)]},
                    ],
                )
            )
        for key in ("$ref", "$dynamicRef"):
            if key in s:
                target = self._resolve(s[key], path)
                # A target already merged at this level adds nothing (and would loop).
                if id(target) not in flat.refs:
                    flat.refs.append(id(target))
                    self._collect(flat, target, path)
        for sub in s.get("allOf", []):
            self._collect(flat, sub, path)

    def _collect_not(self, flat: _Flat, negated: Any, path: str) -> None:
        # Only `not: {type}` steers generation; any other `not` is enforced by validation.
        if negated is True or negated == {}:
            raise SchemaUnsatisfiable(f"{path}: 'not' of a schema that accepts everything")
        if isinstance(negated, dict) and set(negated) == {"type"}:
            t = negated["type"]
            flat.excluded_types.update([t] if isinstance(t, str) else t)

    @staticmethod
    def _restrict_enum(flat: _Flat, values: list[Any], path: str) -> None:
        if flat.enum is None:
            flat.enum = values
            if not values:
                raise SchemaUnsatisfiable(f"{path}: enum is empty")
            return
        allowed = {_canon(v) for v in values}
        flat.enum = [v for v in flat.enum if _canon(v) in allowed]
        if not flat.enum:
            raise SchemaUnsatisfiable(f"{path}: enum/const values have no member in common")

    def _resolve(self, ref: Any, path: str) -> Any:
        """The local schema a ``$ref`` points at (JSON pointer or ``$anchor``)."""
        base = self._root.get("$id", "") if isinstance(self._root, dict) else ""
        if (
            isinstance(base, str)
            and base
            and isinstance(ref, str)
            and ref.startswith(base.rstrip("#"))
        ):
            ref = ref[len(base.rstrip("#")) :] or "#"
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaUnsatisfiable(
                f"{path}: unsupported $ref {ref!r}; only local references ('#...') are resolved"
            )
        fragment = unquote(ref[1:])
        if not fragment:
            return self._root
        if not fragment.startswith("/"):
            target = self._anchor_map().get(fragment, _MISSING)
            if target is _MISSING:
                raise SchemaUnsatisfiable(f"{path}: $ref {ref!r} names no $anchor")
            return target
        node: Any = self._root
        for raw in fragment[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaUnsatisfiable(f"{path}: $ref {ref!r} does not resolve")
        return node

    def _anchor_map(self) -> dict[str, Any]:
        if self._anchors is None:
            self._anchors = {}
            stack: list[Any] = [self._root]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    for key in ("$anchor", "$dynamicAnchor"):
                        if isinstance(node.get(key), str):
                            self._anchors.setdefault(node[key], node)
                    stack.extend(v for v in node.values() if isinstance(v, dict | list))
                elif isinstance(node, list):
                    stack.extend(v for v in node if isinstance(v, dict | list))
        return self._anchors

    # ---- recursion control

    @staticmethod
    def _hot(refs: tuple[int, ...]) -> set[int]:
        return {r for r in set(refs) if refs.count(r) >= _RECURSION_ALLOWANCE}

    def _too_recursive(self, schema: Any, refs: tuple[int, ...]) -> bool:
        """Whether ``schema`` would expand a $ref already expanded enough times above us."""
        hot = self._hot(refs)
        return bool(hot) and not hot.isdisjoint(self._reachable(schema))

    def _reachable(self, schema: Any) -> frozenset[int]:
        cached = self._reach.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        found: set[int] = set()
        seen: set[int] = set()
        stack = [schema]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("$ref", "$dynamicRef"):
                        try:
                            target = self._resolve(value, "$")
                        except SchemaUnsatisfiable:
                            continue
                        found.add(id(target))
                        stack.append(target)
                    elif key in ("$defs", "definitions"):
                        continue  # only reachable through a $ref, followed above
                    elif isinstance(value, dict | list):
                        stack.append(value)
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, dict | list))
        result = frozenset(found)
        self._reach[id(schema)] = (schema, result)
        return result

    # ---- validation

    def _first_error(self, schema: Any, value: Any, path: str) -> ValidationError | None:
        cached = self._validators.get(id(schema))
        if cached is not None and cached[0] is schema:
            validator = cached[1]
        else:
            # evolve() keeps the root's resolver, so '#/...' refs in subschemas still resolve.
            validator = self._root_validator.evolve(schema=schema)
            self._validators[id(schema)] = (schema, validator)
        try:
            return next(iter(validator.iter_errors(value)), None)
        except (Unresolvable, re.error, PatternError) as exc:
            raise SchemaUnsatisfiable(f"{path}: schema could not be evaluated: {exc}") from None

    # ---- builders

    def _build(self, kind: str, flat: _Flat, ctx: _Ctx, *, lean: bool) -> Any:
        if kind == "null":
            return None
        if kind == "boolean":
            return _hash(ctx.seed, "bool") % 2 == 0
        if kind == "integer":
            return self._build_integer(flat, ctx)
        if kind == "number":
            return self._build_number(flat, ctx)
        if kind == "string":
            return self._build_string(flat, ctx)
        if kind == "array":
            return self._build_array(flat, ctx, lean=lean)
        if kind == "object":
            return self._build_object(flat, ctx, lean=lean)
        raise SchemaUnsatisfiable(f"{ctx.path}: unknown type {kind!r}")

    @staticmethod
    def _build_integer(flat: _Flat, ctx: _Ctx, kind: str = "integer") -> int:
        lo: int | None = None if flat.minimum is None else math.ceil(flat.minimum)
        if flat.exclusive_minimum is not None:
            lo = _max_opt(lo, math.floor(flat.exclusive_minimum) + 1)
        hi: int | None = None if flat.maximum is None else math.floor(flat.maximum)
        if flat.exclusive_maximum is not None:
            hi = _min_opt(hi, math.ceil(flat.exclusive_maximum) - 1)
        if lo is not None and hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: {flat.bounds_conflict(kind)}")
        # An integer v is a multiple of p/q (in lowest terms) exactly when p divides v.
        step = 1
        for m in flat.multiple_of:
            step = math.lcm(step, _fraction(m).numerator)
        kmin = None if lo is None else -(-lo // step)
        kmax = None if hi is None else hi // step
        if kmin is not None and kmax is not None and kmin > kmax:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no multiple of {step} satisfies {flat.bounds_text()}"
            )
        a, b = _window(lo, hi)
        target = a + _hash(ctx.seed, "int") % (b - a + 1)
        for k in _spiral(_clamp(target // step, kmin, kmax), kmin, kmax, 64):
            value = k * step
            if all(_is_multiple(value, m) for m in flat.multiple_of):
                return value
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no integer found that is a multipleOf {flat.multiple_of} "
            f"({flat.bounds_text()})"
        )

    def _build_number(self, flat: _Flat, ctx: _Ctx) -> int | float:
        if flat.multiple_of:
            fracs = [_fraction(m) for m in flat.multiple_of]
            if all(f.denominator == 1 for f in fracs):
                return self._build_integer(flat, ctx, "number")
            return self._build_float_multiple(flat, ctx, fracs)
        lo, lo_ex, hi, hi_ex = flat.real_bounds()
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_ex or hi_ex))):
            raise SchemaUnsatisfiable(f"{ctx.path}: {flat.bounds_conflict('number')}")
        if lo is not None and lo == hi:
            return lo
        a, b = _window(lo, hi)
        t = 0.1 + 0.8 * (_hash(ctx.seed, "num") % 1000) / 1000
        raw = a + (b - a) * t
        candidates = [round(raw, 2), round(raw, 4), raw, a / 2 + b / 2]
        if lo is not None:
            candidates.append(math.nextafter(lo, math.inf))
        if hi is not None:
            candidates.append(math.nextafter(hi, -math.inf))
        for value in candidates:
            if math.isfinite(value) and flat.within(value):
                return value
        raise SchemaUnsatisfiable(f"{ctx.path}: no number satisfies {flat.bounds_text()}")

    @staticmethod
    def _build_float_multiple(flat: _Flat, ctx: _Ctx, fracs: list[Fraction]) -> float:
        step = Fraction(
            functools.reduce(math.lcm, (f.numerator for f in fracs)),
            functools.reduce(math.gcd, (f.denominator for f in fracs)),
        )
        lo, lo_ex, hi, hi_ex = flat.real_bounds()
        kmin = kmax = None
        if lo is not None:
            kmin = math.ceil(Fraction(lo) / step)
            kmin += 1 if lo_ex and kmin * step == lo else 0
        if hi is not None:
            kmax = math.floor(Fraction(hi) / step)
            kmax -= 1 if hi_ex and kmax * step == hi else 0
        if kmin is not None and kmax is not None and kmin > kmax:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no multiple of {float(step)} satisfies {flat.bounds_text()}"
            )
        a, b = _window(lo, hi)
        target = Fraction(a) + (Fraction(b) - Fraction(a)) * Fraction(
            _hash(ctx.seed, "num") % 1000, 1000
        )
        first = float(flat.multiple_of[0])
        for k in _spiral(_clamp(math.floor(target / step), kmin, kmax), kmin, kmax, 64):
            # Which float spelling divides back cleanly in binary varies, so try both.
            for value in (float(k * step), k * first):
                if flat.within(value) and all(_is_multiple(value, m) for m in flat.multiple_of):
                    return value
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no number found that is a multipleOf {flat.multiple_of} "
            f"({flat.bounds_text()})"
        )

    def _build_string(self, flat: _Flat, ctx: _Ctx) -> str:
        lo, hi = flat.min_length, flat.max_length
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minLength {lo} > maxLength {hi}")
        if lo > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minLength {lo} is too large to generate (limit {_MAX_SIZE})"
            )

        def fits(text: str) -> bool:
            return (
                lo <= len(text)
                and (hi is None or len(text) <= hi)
                and all(_search(p, text) for p in flat.patterns)
            )

        try:
            for candidate in self._string_candidates(flat, ctx):
                self._spend(len(candidate), ctx.path)
                if fits(candidate):
                    return candidate
        except (re.error, PatternError) as exc:
            raise SchemaUnsatisfiable(f"{ctx.path}: invalid pattern: {exc}") from None
        except _RegexUnsupported as exc:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot generate a string matching pattern {flat.patterns[0]!r} "
                f"({exc})"
            ) from None
        lengths = "" if lo == 0 and hi is None else f" with length {lo}..{'' if hi is None else hi}"
        if flat.patterns:
            shown = ", ".join(repr(p) for p in flat.patterns)
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot generate a string matching pattern {shown}{lengths}"
            )
        raise SchemaUnsatisfiable(f"{ctx.path}: cannot generate a string{lengths}")

    def _string_candidates(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        for fmt in flat.formats:
            example = _format_example(fmt, ctx)
            if example is not None:
                yield example
        if not flat.patterns:
            yield self._plain_string(ctx, flat.min_length, flat.max_length)
            return
        yield from self._pattern_candidates(flat, ctx)

    def _pattern_candidates(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        lo, hi = flat.min_length, flat.max_length
        first, *others = flat.patterns
        parsed = _parse_regex(first)
        nodes = list(parsed)
        # Padding can only help where the pattern is not anchored, and testing hopeless
        # candidates is what sends a backtracking-prone pattern into exponential time.
        pad_before = not (nodes and nodes[0][0] is _sre.AT and nodes[0][1] in _AT_START)
        pad_after = not (nodes and nodes[-1][0] is _sre.AT and nodes[-1][1] in _AT_END)
        filler = self._plain_string(ctx, lo, None)
        limit = max(4 * lo, hi or 0, 256) + 64
        for variant in range(4):
            seed = f"{ctx.seed}/re{variant}"

            def make(extra: int | None, seed: str = seed) -> str | None:
                try:
                    return _RegexGen(_rng(seed), extra, limit).emit(parsed)
                except _RegexTooLong:
                    return None

            bases = [make(None), make(0)]
            if lo:
                bases.append(_grow(make, lo))
            bases = [b for b in bases if b is not None]
            yield from bases
            for base in bases:
                if others:
                    tails = "".join(
                        _regex_sample(p, f"{seed}/{j}") or "" for j, p in enumerate(others)
                    )
                    yield base + tails
                    yield tails + base
                if len(base) < lo:
                    pad = filler[: lo - len(base)]
                    if pad_after:
                        yield base + pad
                    if pad_before:
                        yield pad + base

    @staticmethod
    def _plain_string(ctx: _Ctx, lo: int, hi: int | None) -> str:
        slug, hx = _slug(ctx.name), _hex_stream(ctx.seed, 4)
        text = f"{slug}-{hx}"
        if hi is not None and len(text) > hi:
            text = f"{slug[: hi - 5]}-{hx}" if hi >= 6 else _hex_stream(ctx.seed, hi)
        if len(text) < lo:
            text += "-" + _hex_stream(f"{ctx.seed}/pad", lo)[: lo - len(text) - 1]
        return text

    def _build_array(self, flat: _Flat, ctx: _Ctx, *, lean: bool) -> list[Any]:
        lo, hi = flat.min_items, flat.max_items
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minItems {lo} > maxItems {hi}")
        forced: list[Any] = []  # one slot per item `contains` insists on
        for schema, min_c, max_c in flat.contains:
            if max_c is not None and min_c > max_c:
                raise SchemaUnsatisfiable(f"{ctx.path}: minContains {min_c} > maxContains {max_c}")
            forced.extend([schema] * min_c)
        if hi is not None and len(forced) > hi:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: contains needs {len(forced)} items > maxItems {hi}"
            )
        need = max(lo, len(forced))
        if need > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minItems {need} is too large to generate (limit {_MAX_SIZE})"
            )
        prefix_len = max((len(prefix) for prefix, _ in flat.arr_rules), default=0)
        target = need if lean else max(need, 2, prefix_len)
        if hi is not None:
            target = min(target, hi)
        capped = [schema for schema, _, max_c in flat.contains if max_c is not None]
        seen: set[Any] | None = set() if flat.unique_items else None
        items: list[Any] = []
        for i in range(target):
            optional = i >= need
            parts, reason = self._item_parts(flat, i)
            if i < len(forced):
                parts.append(forced[i])
            else:
                # Filler must not push a `contains` past its maxContains.
                parts.extend({"not": c} for c in capped)
            schema = _all_of(parts)
            if schema is False:
                if optional:
                    break
                raise SchemaUnsatisfiable(
                    f"{ctx.path}[{i}]: item needed for minItems {need} is ruled out by {reason}"
                )
            if optional and self._too_recursive(schema, ctx.refs):
                break
            value = self._array_item(schema, ctx.index(i), seen, optional=optional)
            if value is _MISSING:
                break
            items.append(value)
        return items

    @staticmethod
    def _item_parts(flat: _Flat, i: int) -> tuple[list[Any], str]:
        parts: list[Any] = []
        reason = ""
        for prefix, items in flat.arr_rules:
            if i < len(prefix):
                parts.append(prefix[i])
                reason = reason or (f"prefixItems[{i}]: false" if prefix[i] is False else "")
            elif items is not None:
                parts.append(items)
                reason = reason or ("items: false" if items is False else "")
        return parts, reason or "a false schema"

    def _array_item(self, schema: Any, ctx: _Ctx, seen: set[Any] | None, *, optional: bool) -> Any:
        for attempt in range(_UNIQUE_TRIES if seen is not None else 1):
            try:
                value = self._gen(schema, ctx.retry(attempt))
            except SchemaUnsatisfiable:
                if optional:
                    return _MISSING
                raise
            if seen is None:
                return value
            key = _canon(value)
            if key not in seen:
                seen.add(key)
                return value
        if optional:
            return _MISSING
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no value found distinct from the earlier items (uniqueItems)"
        )

    def _build_object(self, flat: _Flat, ctx: _Ctx, *, lean: bool) -> dict[str, Any]:
        lo, hi = flat.min_properties, flat.max_properties
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minProperties {lo} > maxProperties {hi}")
        if lo > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minProperties {lo} is too large to generate (limit {_MAX_SIZE})"
            )
        flat, required = self._apply_dependencies(flat, ctx.path)
        if hi is not None and len(required) > hi:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: {len(required)} required properties > maxProperties {hi}"
            )
        obj: dict[str, Any] = {}
        for key in required:
            obj[key] = self._required_property(flat, key, ctx)
        declared = list(dict.fromkeys(k for props, _, _ in flat.obj_rules for k in props))
        if not lean:
            for key in declared:
                if hi is not None and len(obj) >= hi:
                    break
                if key not in obj:
                    self._add_optional(flat, key, obj, ctx)
        if len(obj) < lo:
            self._fill_properties(flat, obj, ctx, lo)
        # Declared order reads naturally; other keys keep the order they were added in.
        rank = {k: i for i, k in enumerate(declared)}
        return dict(sorted(obj.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def _apply_dependencies(self, flat: _Flat, path: str) -> tuple[_Flat, list[str]]:
        """Required keys after dependentRequired, with dependentSchemas of required keys merged."""
        required = _closure(flat.required, flat.dependent_required)
        if not any(k in flat.dependent_schemas for k in required):
            return flat, required
        flat = flat.copy()
        done: set[str] = set()
        while todo := [k for k in required if k in flat.dependent_schemas and k not in done]:
            for key in todo:
                done.add(key)
                for sub in flat.dependent_schemas[key]:
                    self._collect(flat, sub, path)
            required = _closure(flat.required, flat.dependent_required)
        return flat, required

    def _property_schema(self, flat: _Flat, key: str) -> tuple[Any, str]:
        """The schema ``key``'s value must meet, and which keyword rules it out if false."""
        parts: list[tuple[Any, str]] = []
        for props, patterns, additional in flat.obj_rules:
            if key in props:
                parts.append((props[key], f"properties {key!r}: false"))
                continue
            matched = [
                (s, f"patternProperties {p!r}: false")
                for p, s in patterns.items()
                if _search(p, key)
            ]
            if matched:
                parts.extend(matched)
            elif additional is not None:
                parts.append((additional, "additionalProperties: false"))
        for schema, reason in parts:
            if schema is False:
                return False, reason
        return _all_of([schema for schema, _ in parts]), ""

    def _name_allowed(self, flat: _Flat, key: str, path: str) -> bool:
        return all(self._first_error(pn, key, path) is None for pn in flat.property_names)

    def _required_property(self, flat: _Flat, key: str, ctx: _Ctx) -> Any:
        child = ctx.key(key)
        if not self._name_allowed(flat, key, ctx.path):
            raise SchemaUnsatisfiable(f"{child.path}: required property name fails propertyNames")
        schema, reason = self._property_schema(flat, key)
        if schema is False:
            raise SchemaUnsatisfiable(f"{child.path}: required property is ruled out by {reason}")
        return self._gen(schema, child)

    def _add_optional(self, flat: _Flat, key: str, obj: dict[str, Any], ctx: _Ctx) -> None:
        """Add ``key`` (and what dependentRequired brings along) if that is possible."""
        if key in flat.dependent_schemas:
            return  # best effort: dependentSchemas are only honoured for required keys
        keys = [k for k in _closure([key], flat.dependent_required) if k not in obj]
        hi = flat.max_properties
        if hi is not None and len(obj) + len(keys) > hi:
            return
        added: dict[str, Any] = {}
        for k in keys:
            if k in flat.dependent_schemas or not self._name_allowed(flat, k, ctx.path):
                return
            schema, _ = self._property_schema(flat, k)
            if schema is False or self._too_recursive(schema, ctx.refs):
                return
            try:
                added[k] = self._gen(schema, ctx.key(k))
            except SchemaUnsatisfiable:
                return
        obj.update(added)

    def _fill_properties(self, flat: _Flat, obj: dict[str, Any], ctx: _Ctx, lo: int) -> None:
        """Add properties until there are ``lo`` of them (minProperties)."""
        budget = (lo - len(obj)) * 8 + 32
        for name in itertools.islice(self._extra_names(flat, ctx), budget):
            if len(obj) >= lo:
                return
            if (
                name in obj
                or name in flat.dependent_schemas
                or flat.dependent_required.get(name)
                or not self._name_allowed(flat, name, ctx.path)
            ):
                continue
            schema, _ = self._property_schema(flat, name)
            if schema is False:
                continue
            try:
                obj[name] = self._gen(schema, ctx.key(name))
            except SchemaUnsatisfiable:
                continue
        if len(obj) < lo:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot reach minProperties {lo}; only {len(obj)} properties "
                "could be generated"
            )

    def _extra_names(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        for props, patterns, _ in flat.obj_rules:
            yield from props
            for pattern in patterns:
                for variant in range(4):
                    name = _regex_sample(pattern, f"{ctx.seed}/key{pattern}/{variant}")
                    if name is not None:
                        yield name
        if flat.property_names:
            names = {"allOf": [{"type": "string"}, *flat.property_names]}
            for variant in range(8):
                try:
                    yield self._gen(
                        names,
                        replace(ctx.key("name"), seed=f"{ctx.seed}/name{variant}", path=ctx.path),
                    )
                except SchemaUnsatisfiable:
                    break
        for i in itertools.count(1):
            yield f"field{i}"
