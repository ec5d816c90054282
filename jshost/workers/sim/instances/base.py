"""What every part of the generator shares: its caps, its error, seeded choices, JSON paths."""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

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
