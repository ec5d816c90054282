"""Checks on the JSON Schemas scripts pass to ``agent({schema})``, with the reference's messages."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

# jsonschema (with referencing and its format checkers) and .patterns (re2, quickjs) load
# in the functions that need them: a run whose agents pass no schema never imports them, which
# is a fifth of `jshost run`'s start-up (bench/RESULTS.md, issue 22).

__all__ = [
    "MAX_SCHEMA_CHARS",
    "MAX_SCHEMA_PROBLEMS",
    "STRUCTURED_OUTPUT_CAP",
    "schema_problem",
    "schema_problems",
    "schema_size_problem",
    "structured_output_cap_message",
]

#: largest schema ``agent({schema})`` takes, in characters of its JSON text. Checking a
#: schema against the meta-schema, building values for it and validating answers all grow
#: with its size; real StructuredOutput schemas are a few kilobytes.
MAX_SCHEMA_CHARS = 64 * 1024

#: failed StructuredOutput calls before agent() rejects (reference §4)
STRUCTURED_OUTPUT_CAP = 5


_BOUNDS = (
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minimum", "maximum"),
)


# The keywords _contradiction looks at (a bound needs its lower half): a schema with none of
# them, such as most leaves ({"type": "string"}), has nothing to check.
_CONTRADICTION_KEYS = frozenset(
    {"properties", "required", "additionalProperties", "items", "contains"}
    | {"allOf", "anyOf", "oneOf", "prefixItems"}
    | {lower for lower, _ in _BOUNDS}
)


def _contradiction(schema: Any, path: str) -> str | None:
    """A provable contradiction in ``schema`` (recursively), or None."""
    if not isinstance(schema, dict) or _CONTRADICTION_KEYS.isdisjoint(schema):
        return None
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    if schema.get("additionalProperties") is False and not schema.get("patternProperties"):
        for i, key in enumerate(required):
            if isinstance(key, str) and key not in props:
                return (
                    "a required key is ruled out by additionalProperties: false: "
                    f"{path}.required[{i}] {key!r} is not among the declared properties"
                )
    for key in required:
        if isinstance(key, str) and props.get(key) is False:
            return f"a required key's schema is false: {path}.properties.{key} is false"
    # A part with none of the keywords has nothing to check: its path is not even built
    # (validate checks every literal schema of a script, issue 22).
    keys = _CONTRADICTION_KEYS
    for name, sub in props.items():
        if isinstance(sub, dict) and not keys.isdisjoint(sub):
            found = _contradiction(sub, f"{path}.properties.{name}")
            if found:
                return found
    for key in ("items", "additionalProperties", "contains"):
        sub = schema.get(key)
        if isinstance(sub, dict) and not keys.isdisjoint(sub):
            found = _contradiction(sub, f"{path}.{key}")
            if found:
                return found
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        subs = schema.get(key)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                if isinstance(sub, dict) and not keys.isdisjoint(sub):
                    found = _contradiction(sub, f"{path}.{key}[{i}]")
                    if found:
                        return found
    for key, upper in _BOUNDS:
        lo = schema.get(key)
        if lo is None:
            continue
        hi = schema.get(upper)
        if (
            isinstance(lo, int | float)
            and isinstance(hi, int | float)
            and not isinstance(lo, bool)
            and not isinstance(hi, bool)
            and lo > hi
        ):
            return f"contradictory bounds: {path}: {key} {lo} is greater than {upper} {hi}"
    return None


# The keywords the fast path below knows, and what their values must be per the 2020-12
# meta-schema. A schema with any other keyword goes through jsonschema's full check.
_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_NUMBER_KEYS = frozenset({"maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"})
_COUNT_KEYS = frozenset(
    {"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"}
)
_TEXT_KEYS = frozenset({"title", "description", "$comment", "format"})
_SCHEMA_KEYS = frozenset({"items", "additionalProperties", "not"})
_SCHEMA_LIST_KEYS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_ANY_KEYS = frozenset({"const", "default"})
_MAX_FAST_DEPTH = 64


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    # JSON Schema's "integer" includes 2.0; a boolean is no number.
    if isinstance(value, float):
        return value.is_integer() and value >= 0
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _plainly_valid(schema: Any, depth: int = 0) -> bool:
    """True only when ``schema`` certainly passes the 2020-12 meta-schema.

    Checking against the meta-schema costs about a millisecond a schema, and ``validate``
    checks every literal schema of a script, which may have hundreds. Most use a handful of
    keywords whose rules are simple; those are checked here. Anything else (an unknown
    keyword, ``pattern``, ``$ref``, a bad value) returns False, and jsonschema decides and
    words the error: this never rejects a schema on its own.
    """
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or depth > _MAX_FAST_DEPTH:
        return False
    for key, value in schema.items():
        if key == "type":
            if isinstance(value, str):
                ok = value in _SIMPLE_TYPES
            else:
                ok = (
                    isinstance(value, list)
                    and len(value) > 0
                    and all(isinstance(t, str) and t in _SIMPLE_TYPES for t in value)
                    and len(set(value)) == len(value)
                )
        elif key == "properties":
            ok = isinstance(value, dict) and all(
                _plainly_valid(sub, depth + 1) for sub in value.values()
            )
        elif key == "required":
            ok = (
                isinstance(value, list)
                and all(isinstance(k, str) for k in value)
                and len(set(value)) == len(value)
            )
        elif key == "enum" or key == "examples":
            ok = isinstance(value, list)
        elif key in _NUMBER_KEYS:
            ok = _number(value)
        elif key == "multipleOf":
            ok = _number(value) and value > 0
        elif key in _COUNT_KEYS:
            ok = _count(value)
        elif key == "uniqueItems":
            ok = isinstance(value, bool)
        elif key in _TEXT_KEYS:
            ok = isinstance(value, str)
        elif key in _SCHEMA_KEYS:
            ok = _plainly_valid(value, depth + 1)
        elif key in _SCHEMA_LIST_KEYS:
            ok = (
                isinstance(value, list)
                and len(value) > 0
                and all(_plainly_valid(sub, depth + 1) for sub in value)
            )
        elif key in _ANY_KEYS:
            ok = True
        else:
            ok = False
        if not ok:
            return False
    return True


def schema_size_problem(chars: int) -> str | None:
    """The ``agent()`` rejection for a schema whose JSON text has ``chars`` characters."""
    if chars <= MAX_SCHEMA_CHARS:
        return None
    return (
        f"agent({{schema}}) received a JSON Schema that is too large ({chars:,} characters of "
        f"JSON; the limit is {MAX_SCHEMA_CHARS:,}). The subagent was not started."
    )


def _pointer(root: Any, ref: str) -> Any:
    """The subschema a local ``$ref`` (``#`` or ``#/a/b``) points at, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for part in ref[2:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


# Keywords that apply their subschemas to the same value: a cycle through these alone
# never reaches a smaller part of the value, so evaluating it never ends.
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_LIST = ("allOf", "anyOf", "oneOf")


def _ref_cycle(root: Any) -> str | None:
    """A ``$ref`` chain that leads back to where it started without descending, or None."""
    state: dict[int, int] = {}  # id → 1 on the current path, 2 done

    def visit(node: Any, path: str, trail: list[str]) -> str | None:
        if not isinstance(node, dict):
            return None
        key = id(node)
        if state.get(key) == 1:
            return " → ".join([*trail, path]).replace("$.", "#/").replace(".", "/")
        if state.get(key) == 2:
            return None
        state[key] = 1
        edges: list[tuple[Any, str]] = []
        for word in ("$ref", "$dynamicRef"):
            ref = node.get(word)
            if isinstance(ref, str):
                edges.append((_pointer(root, ref), ref))
        for word in _IN_PLACE_ONE:
            edges.append((node.get(word), f"{path}.{word}"))
        for word in _IN_PLACE_LIST:
            subs = node.get(word)
            if isinstance(subs, list):
                edges.extend((sub, f"{path}.{word}[{i}]") for i, sub in enumerate(subs))
        deps = node.get("dependentSchemas")
        if isinstance(deps, dict):
            edges.extend((sub, f"{path}.dependentSchemas.{k}") for k, sub in deps.items())
        for target, where in edges:
            found = visit(target, where, [*trail, path])
            if found:
                return found
        state[key] = 2
        return None

    # Only subschemas reachable from the root matter, through any keyword.
    stack = [(root, "$")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            found = visit(node, path, [])
            if found:
                return found
            for k, v in node.items():
                if k not in ("const", "enum", "default", "examples"):
                    stack.append((v, f"{path}.{k}"))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def _meta_schema_and_pattern_problem(schema: Any) -> str | None:
    """The 2020-12 meta-schema's verdict on ``schema``, then its regexes' (each compiles in the
    host's dialect; at most MAX_ECMA_PATTERNS need the bounded ECMAScript engine)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from .patterns import (
        MAX_ECMA_PATTERNS,
        PatternError,
        compile_pattern,
        format_checker,
        is_fallback,
        schema_patterns,
    )

    try:
        Draft202012Validator.check_schema(schema, format_checker=format_checker())
    except SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else ""
        return f"agent({{schema}}) received an invalid JSON Schema: {exc.message}" + (
            f" (at {where})" if where else ""
        )
    fallbacks = 0
    for pattern in schema_patterns(schema):
        try:
            fallbacks += is_fallback(compile_pattern(pattern))
        except PatternError as exc:
            return f"agent({{schema}}) received an invalid JSON Schema: {exc}"
    if fallbacks > MAX_ECMA_PATTERNS:
        return (
            f"agent({{schema}}) received an unusable JSON Schema — {fallbacks} patterns use "
            f"lookaround or backreferences; at most {MAX_ECMA_PATTERNS} may (see SECURITY.md)"
        )
    return None


def schema_problem(schema: Any) -> str | None:
    """The exact ``agent()`` rejection message for a bad schema, or None when it is usable."""
    return _first_problem(schema, None)


def _first_problem(schema: Any, plain: bool | None, text: str | None = None) -> str | None:
    """:func:`schema_problem`; ``plain`` is ``_plainly_valid(schema)`` when already known,
    ``text`` the schema's JSON text (``json.dumps(schema, ensure_ascii=False)``) when the caller
    has it."""
    if text is None:
        text = json.dumps(schema, ensure_ascii=False, default=str)
    size = schema_size_problem(len(text))
    if size:
        return size
    if not isinstance(schema, dict | bool):
        return (
            "agent({schema}) received an invalid JSON Schema: "
            f"a schema must be an object or a boolean, not {type(schema).__name__}"
        )
    # A schema of the keywords _plainly_valid knows needs neither jsonschema nor the regex
    # engines (those keywords hold no regex, and property names found where a walk looks for
    # `patternProperties` are then those keywords, plain words): `validate` of a script with
    # hundreds of such schemas imports and runs neither (issue 22).
    if not (_plainly_valid(schema) if plain is None else plain):
        problem = _meta_schema_and_pattern_problem(schema)
        if problem is not None:
            return problem
    # A cycle takes a `$ref` (JSON has no other way back: the text shows every object once).
    cycle = _ref_cycle(schema) if '"$ref"' in text or '"$dynamicRef"' in text else None
    if cycle:
        return (
            "agent({schema}) received an unusable JSON Schema — a $ref cycle that never "
            f"reaches a part of the value: {cycle}. The subagent was not started — fix the "
            "schema and call agent() again."
        )
    found = _contradiction(schema, "$")
    if schema is False:
        found = "the schema is false: no value satisfies it"
    if found:
        explanation, _, message = found.partition(": ")
        return (
            f"agent({{schema}}) received an unusable JSON Schema — {explanation}: "
            f"{message}. The subagent was not started — fix the schema and call "
            "agent() again."
        )
    return None


#: ``validate`` lists at most this many problems of one schema (then says how many more).
MAX_SCHEMA_PROBLEMS = 20


def schema_problems(
    schema: Any, *, text: str | None = None
) -> list[tuple[str, tuple[str | int, ...]]]:
    """Every problem of a schema, for ``validate``: ``(message, where in the schema)``.

    The messages are :func:`schema_problem`'s, one per invalid place (``agent()`` itself
    rejects with the first); a usable schema gives none. At most :data:`MAX_SCHEMA_PROBLEMS`.
    ``text`` is the schema's JSON text, ``json.dumps(schema, ensure_ascii=False)``, when the
    caller has it (it is not made again).
    """
    plain = isinstance(schema, dict | bool) and _plainly_valid(schema)
    if not isinstance(schema, dict | bool) or plain:
        first = _first_problem(schema, plain, text)
        return [] if first is None else [(first, ())]
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    found: list[tuple[str, tuple[str | int, ...]]] = []
    extra = 0
    for error in validator.iter_errors(schema):
        if len(found) == MAX_SCHEMA_PROBLEMS:
            extra += 1
            continue
        where = error.json_path if error.json_path != "$" else ""
        message = f"agent({{schema}}) received an invalid JSON Schema: {error.message}" + (
            f" (at {where})" if where else ""
        )
        found.append((message, tuple(error.absolute_path)))
    if extra:
        found.append((f"agent({{schema}}): {extra} more problems in this schema (not listed)", ()))
    if not found:
        first = schema_problem(schema)
        return [] if first is None else [(first, ())]
    return found


def structured_output_cap_message(last_error: str, cap: int = STRUCTURED_OUTPUT_CAP) -> str:
    """The reference's rejection when no StructuredOutput call produced a valid value
    (``cap`` comes from ``MAX_STRUCTURED_OUTPUT_RETRIES``, as in the reference)."""
    n = cap
    return (
        f"agent({{schema}}): StructuredOutput retry cap ({n}) exceeded — {n} failed calls with "
        f"no valid output — last StructuredOutput error: {last_error}"
    )
