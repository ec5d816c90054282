"""generate_instance: values validate, are deterministic, and impossible schemas say why."""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from jshost.workers.sim.instances import MAX_DEPTH, SchemaUnsatisfiable, generate_instance


def assert_valid(schema: Any, value: Any) -> None:
    errors = list(Draft202012Validator(schema).iter_errors(value))
    assert not errors, f"{value!r} does not validate: {errors[0].message} at {errors[0].json_path}"


TREE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#"}},
    },
    "required": ["name"],
}

AGENT_REPORT = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 10},
        "verdict": {"enum": ["approve", "request_changes", "comment"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "findings": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "pattern": r"^src/[a-z_]+\.py$"},
                    "line": {"type": "integer", "minimum": 1},
                    "severity": {"enum": ["low", "medium", "high"]},
                },
                "required": ["file", "line", "severity"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["summary", "verdict", "findings"],
    "additionalProperties": False,
}

CASES: dict[str, Any] = {
    # types
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "type-list": {"type": ["integer", "string"], "minimum": 3, "maximum": 1},
    "no-type": {},
    "true-schema": True,
    "infer-object": {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
    "infer-array": {"items": {"type": "integer"}, "minItems": 1},
    "infer-string": {"minLength": 12, "pattern": "^[a-z]"},
    "infer-number": {"minimum": 500},
    # enum / const
    "enum": {"enum": ["red", "green", "blue"]},
    "const-object": {"const": {"a": [1, 2], "b": None}},
    "enum-with-type": {"type": "string", "enum": [1, "x", None, "y"]},
    "enum-with-constraint": {"enum": ["a", "bb", "ccc"], "minLength": 3},
    # objects
    "object": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["title"],
    },
    "additional-false": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    },
    "additional-schema": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 10},
        "minProperties": 3,
    },
    "pattern-properties": {
        "type": "object",
        "patternProperties": {"^x-[a-z]+$": {"type": "boolean"}},
        "required": ["x-trace"],
        "additionalProperties": False,
        "minProperties": 2,
    },
    "min-max-properties": {
        "type": "object",
        "properties": {k: {"type": "integer"} for k in "abcdef"},
        "required": ["a"],
        "maxProperties": 3,
    },
    "property-names": {
        "type": "object",
        "propertyNames": {"pattern": "^[a-z]{3,8}$"},
        "minProperties": 2,
    },
    "dependent-required": {
        "type": "object",
        "properties": {"card": {"type": "string"}, "billing": {"type": "string"}},
        "dependentRequired": {"card": ["billing"]},
        "required": ["card"],
    },
    "dependent-schemas": {
        "type": "object",
        "properties": {"mode": {"type": "string"}},
        "required": ["mode"],
        "dependentSchemas": {
            "mode": {"required": ["level"], "properties": {"level": {"const": 3}}}
        },
    },
    # arrays
    "array": {"type": "array", "items": {"type": "string"}},
    "prefix-items": {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string", "format": "date"}],
        "items": False,
    },
    "min-max-items": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 5},
    "max-items-zero": {"type": "array", "maxItems": 0},
    "unique-booleans": {
        "type": "array",
        "items": {"type": "boolean"},
        "uniqueItems": True,
        "minItems": 2,
    },
    "unique-enum": {
        "type": "array",
        "items": {"enum": ["a", "b", "c"]},
        "uniqueItems": True,
        "minItems": 3,
    },
    "contains": {
        "type": "array",
        "items": {"type": ["string", "integer"]},
        "contains": {"type": "integer", "minimum": 100},
        "minContains": 2,
    },
    "max-contains": {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 4,
        "contains": {"const": 7},
        "maxContains": 1,
    },
    # strings
    "lengths": {"type": "string", "minLength": 40, "maxLength": 45},
    "short": {"type": "string", "maxLength": 3},
    "pattern-code": {"type": "string", "pattern": r"^[A-Z]{3}-\d{4}$"},
    "pattern-alternation": {"type": "string", "pattern": r"^(foo|bar)baz(?:\.[a-z0-9]+)?$"},
    "pattern-length": {"type": "string", "pattern": "^[a-z]+$", "minLength": 20, "maxLength": 22},
    "pattern-unanchored": {"type": "string", "pattern": "ab?c", "minLength": 10},
    "pattern-classes": {"type": "string", "pattern": r"^\w+@[^\s@]+\.(com|org)$"},
    "pattern-backref": {"type": "string", "pattern": r"^(\d)-\1$"},
    "pattern-exact-length": {
        "type": "string",
        "pattern": r"^v\d+\.\d+\.\d+$",
        "minLength": 7,
        "maxLength": 7,
    },
    "pattern-lookahead": {"type": "string", "pattern": r"^(?=.*\d)(?=.*[A-Z])[A-Za-z\d]{8,12}$"},
    "pattern-backtracking": {"type": "string", "pattern": "^((a+)+b)+$", "minLength": 500},
    # numbers
    "int-range": {"type": "integer", "minimum": -20, "maximum": -10},
    "int-exclusive": {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7},
    "int-multiple": {"type": "integer", "multipleOf": 7, "minimum": 1000},
    "float-multiple": {"type": "number", "multipleOf": 0.01, "minimum": 0.1, "maximum": 0.3},
    "mixed-multiple": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": -3},
    "number-exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
    "huge-bounds": {"type": "number", "minimum": 1e300},
    # combinators
    "all-of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"a": {"minimum": 50}, "b": {"type": "string"}}, "required": ["b"]},
            {"properties": {"a": {"maximum": 60}}},
        ]
    },
    "all-of-closed": {
        "allOf": [
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            {"properties": {"a": True, "b": {"type": "string"}}},
        ]
    },
    "any-of": {"anyOf": [{"type": "string", "maxLength": 0, "minLength": 1}, {"type": "integer"}]},
    "one-of-overlap": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    "one-of-objects": {
        "oneOf": [
            {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
            {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"]},
        ]
    },
    "not": {"type": "integer", "not": {"multipleOf": 2}, "minimum": 0, "maximum": 10},
    "not-type": {"not": {"type": ["string", "integer", "number"]}},
    "if-then-else": {
        "type": "object",
        "properties": {"kind": {"enum": ["a", "b"]}, "x": {"type": "integer"}},
        "required": ["kind"],
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"required": ["x"], "properties": {"x": {"minimum": 100}}},
        "else": {"properties": {"x": {"maximum": -100}}},
    },
    "unevaluated": {
        "allOf": [{"properties": {"a": {"type": "integer"}}}],
        "properties": {"b": {"type": "string"}},
        "unevaluatedProperties": False,
    },
    # refs
    "ref-defs": {
        "$defs": {"id": {"type": "string", "format": "uuid"}},
        "type": "object",
        "properties": {"id": {"$ref": "#/$defs/id"}},
        "required": ["id"],
    },
    "ref-definitions": {
        "definitions": {"n": {"type": "integer", "minimum": 3}},
        "type": "array",
        "items": {"$ref": "#/definitions/n"},
    },
    "ref-escaped": {
        "$defs": {"a/b": {"const": "slash"}, "c~d": {"const": "tilde"}, "e%f": {"const": "pct"}},
        "type": "array",
        "prefixItems": [
            {"$ref": "#/$defs/a~1b"},
            {"$ref": "#/$defs/c~0d"},
            {"$ref": "#/$defs/e%25f"},
        ],
        "minItems": 3,
    },
    "ref-anchor": {
        "$defs": {"x": {"$anchor": "pos", "type": "integer", "minimum": 1}},
        "$ref": "#pos",
    },
    "ref-with-id": {
        "$id": "https://example.com/report.json",
        "$defs": {"n": {"type": "integer", "maximum": -1}},
        "type": "object",
        "properties": {"n": {"$ref": "https://example.com/report.json#/$defs/n"}},
        "required": ["n"],
    },
    "ref-sibling": {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "minLength": 30},
    "tree": TREE,
    "linked-list": {
        "type": "object",
        "properties": {"value": {"type": "integer"}, "next": {"$ref": "#"}},
        "required": ["value"],
    },
    "recursive-any-of": {
        "$defs": {
            "expr": {
                "anyOf": [
                    {
                        "type": "array",
                        "items": {"$ref": "#/$defs/expr"},
                        "minItems": 1,
                        "maxItems": 2,
                    },
                    {"type": "integer"},
                ]
            }
        },
        "$ref": "#/$defs/expr",
    },
    "agent-report": AGENT_REPORT,
}


@pytest.mark.parametrize("schema", CASES.values(), ids=CASES.keys())
def test_instance_validates_and_is_deterministic(schema: Any) -> None:
    value = generate_instance(schema, "review the auth module")
    assert_valid(schema, value)
    assert generate_instance(schema, "review the auth module") == value
    other = generate_instance(schema, "summarise the changelog")
    assert_valid(schema, other)


@pytest.mark.parametrize(
    "schema",
    [CASES["string"], CASES["integer"], CASES["number"], CASES["agent-report"], TREE],
    ids=["string", "integer", "number", "agent-report", "tree"],
)
def test_different_seeds_give_different_values(schema: Any) -> None:
    values = {repr(generate_instance(schema, f"prompt {i}")) for i in range(5)}
    assert len(values) > 1


def test_values_look_plausible() -> None:
    value = generate_instance(
        {
            "type": "object",
            "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
            "required": ["summary", "score"],
        },
        "x",
    )
    assert re.fullmatch(r"summary-[0-9a-f]{4}", value["summary"])
    assert 0 <= value["score"] <= 100
    items = generate_instance({"type": "array"}, "x")
    assert all(re.fullmatch(r"value-[0-9a-f]{4}", v) for v in items)
    assert generate_instance({"type": ["null", "string"]}, "x") is None  # first satisfiable


def test_optional_properties_are_included_in_declared_order() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "null"}},
        "required": ["c"],
    }
    assert list(generate_instance(schema, "s")) == ["a", "b", "c"]


def test_default_array_length() -> None:
    assert len(generate_instance({"type": "array"}, "s")) == 2
    assert len(generate_instance({"type": "array", "minItems": 5}, "s")) == 5
    assert len(generate_instance({"type": "array", "maxItems": 1}, "s")) == 1
    assert generate_instance({"type": "array", "maxItems": 0}, "s") == []


def test_recursive_tree_terminates() -> None:
    value = generate_instance(TREE, "a tree")
    assert_valid(TREE, value)

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node.get("children", [])), default=0)

    assert depth(value) <= 3
    assert value["children"], "one level of children makes the example useful"


def test_recursion_that_never_bottoms_out_is_unsatisfiable() -> None:
    schema = {"type": "object", "required": ["next"], "properties": {"next": {"$ref": "#"}}}
    with pytest.raises(SchemaUnsatisfiable, match=f"deeper than {MAX_DEPTH}"):
        generate_instance(schema, "s")


FORMAT_CHECKS: dict[str, Any] = {
    "date": datetime.date.fromisoformat,
    "date-time": lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")),
    "time": lambda v: datetime.time.fromisoformat(v.replace("Z", "+00:00")),
    "email": lambda v: re.fullmatch(r"[a-z0-9.-]+@example\.com", v) or 1 / 0,
    "uri": lambda v: urlsplit(v).scheme == "https" or 1 / 0,
    "uuid": uuid.UUID,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "hostname": lambda v: re.fullmatch(r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]+", v) or 1 / 0,
}


@pytest.mark.parametrize("fmt", FORMAT_CHECKS)
def test_formats_produce_valid_examples(fmt: str) -> None:
    schema = {"type": "object", "properties": {"field": {"type": "string", "format": fmt}}}
    values = {generate_instance(schema, f"seed {i}")["field"] for i in range(3)}
    assert len(values) > 1
    for value in values:
        FORMAT_CHECKS[fmt](value)
        errors = list(
            Draft202012Validator(
                {"format": fmt}, format_checker=Draft202012Validator.FORMAT_CHECKER
            ).iter_errors(value)
        )
        assert not errors, errors[0].message


UNSATISFIABLE: dict[str, tuple[Any, str]] = {
    "required-vs-additional": (
        {
            "type": "object",
            "properties": {"a": {}},
            "required": ["b"],
            "additionalProperties": False,
        },
        "$.b: required property is ruled out by additionalProperties: false",
    ),
    "min-length-gt-max": (
        {
            "type": "object",
            "properties": {"s": {"type": "string", "minLength": 5, "maxLength": 2}},
            "required": ["s"],
        },
        "$.s: minLength 5 > maxLength 2",
    ),
    "minimum-gt-maximum": (
        {"type": "integer", "minimum": 5, "maximum": 3},
        "$: minimum 5 > maximum 3",
    ),
    "inferred-number-bounds": ({"minimum": 5, "exclusiveMaximum": 5}, "$: "),
    "no-integer-between": (
        {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        "$: no integer between exclusiveMinimum 1 and exclusiveMaximum 2",
    ),
    "min-items-gt-max": (
        {
            "type": "object",
            "properties": {"items": {"type": "array", "minItems": 3, "maxItems": 1}},
            "required": ["items"],
        },
        "$.items: minItems 3 > maxItems 1",
    ),
    "nested-path": (
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 3, "maxLength": 1},
        },
        "$[0]: minLength 3 > maxLength 1",
    ),
    "enum-no-member": ({"type": "integer", "enum": ["a", "b"]}, "$: no enum"),
    "enum-conflict": ({"allOf": [{"enum": [1, 2]}, {"enum": [3]}]}, "$: enum"),
    "type-list-empty": ({"type": []}, "$.type: invalid schema"),
    "type-conflict": ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "$: type"),
    "false-schema": (False, "$: false schema"),
    "false-required-property": (
        {"type": "object", "properties": {"x": False}, "required": ["x"]},
        "$.x: required property is ruled out",
    ),
    "false-item": (
        {"type": "array", "prefixItems": [{"type": "integer"}], "items": False, "minItems": 2},
        "$[1]: item needed for minItems 2 is ruled out by items: false",
    ),
    "impossible-pattern": (
        {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^a$", "minLength": 3}},
            "required": ["code"],
        },
        "$.code: cannot generate a string matching pattern '^a$'",
    ),
    "min-props-gt-max": (
        {"type": "object", "minProperties": 3, "maxProperties": 1},
        "$: minProperties 3 > maxProperties 1",
    ),
    "required-gt-max-props": (
        {"type": "object", "required": ["a", "b"], "maxProperties": 1},
        "$: 2 required properties > maxProperties 1",
    ),
    "min-props-closed": (
        {
            "type": "object",
            "properties": {"a": {}},
            "additionalProperties": False,
            "minProperties": 2,
        },
        "$: cannot reach minProperties 2",
    ),
    "no-multiple-in-range": (
        {"type": "integer", "multipleOf": 10, "minimum": 1, "maximum": 9},
        "$: no multiple of 10",
    ),
    "unique-exhausted": (
        {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 3},
        "$[2]: no value found distinct",
    ),
    "min-contains-gt-max": (
        {"type": "array", "contains": {"type": "integer"}, "minContains": 3, "maxContains": 2},
        "$: minContains 3 > maxContains 2",
    ),
    "any-of-none": (
        {
            "type": "object",
            "required": ["v"],
            "properties": {
                "v": {
                    "anyOf": [
                        {"type": "string", "minLength": 2, "maxLength": 1},
                        {"type": "integer", "minimum": 2, "maximum": 1},
                    ]
                }
            },
        },
        "$.v: no anyOf branch can be satisfied; first failure: $.v: minLength 2 > maxLength 1",
    ),
    "not-everything": ({"not": {}}, "$: 'not'"),
    "unresolvable-ref": ({"$ref": "#/$defs/missing"}, "$: $ref '#/$defs/missing'"),
    "remote-ref": ({"$ref": "https://example.com/schema.json"}, "$: unsupported $ref"),
    "float-multiple-quirk": (
        # jsonschema divides in floats: 0.6 / 0.1 == 5.999999999999999, so nothing fits.
        {"type": "number", "multipleOf": 0.1, "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.7},
        "$: no number found that is a multipleOf [0.1]",
    ),
    "combinatorial-explosion": (
        {"allOf": [{"anyOf": [{"minLength": 1}, {"maxLength": 50}]}] * 20 + [{"anyOf": [False]}]},
        "$: gave up after",
    ),
    "one-of-identical": ({"oneOf": [{"type": "integer"}, {"type": "integer"}]}, "$: no oneOf"),
}


@pytest.mark.parametrize(("schema", "message"), UNSATISFIABLE.values(), ids=UNSATISFIABLE.keys())
def test_unsatisfiable_schemas_name_the_path(schema: Any, message: str) -> None:
    with pytest.raises(SchemaUnsatisfiable) as info:
        generate_instance(schema, "seed")
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- property test

_PATTERNS = [  # (pattern, shortest match, longest match or None)
    (r"^[a-z]+$", 1, None),
    (r"^[A-Z]{3}-\d{2,4}$", 6, 8),
    (r"^(foo|bar)-[0-9a-f]+$", 5, None),
    (r"^v\d+\.\d+\.\d+$", 6, None),
    (r"[a-z]", 1, None),
]
_NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@st.composite
def _string_schema(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    kind = draw(st.sampled_from(["plain", "pattern", "format"]))
    if kind == "format":
        fmt = draw(st.sampled_from(["date", "date-time", "email", "uri", "uuid", "ipv4"]))
        return {"type": "string", "format": fmt}, 1000
    if kind == "pattern":
        pattern, shortest, longest = draw(st.sampled_from(_PATTERNS))
        lo = draw(st.integers(shortest, shortest + 4))
        if longest is not None:
            lo = min(lo, longest)
        hi_cap = longest if longest is not None else lo + 30
        hi = draw(st.integers(lo, hi_cap))
        return {"type": "string", "pattern": pattern, "minLength": lo, "maxLength": hi}, 1000
    lo = draw(st.integers(0, 30))
    hi = draw(st.integers(lo, lo + 40))
    return {"type": "string", "minLength": lo, "maxLength": hi}, (1000 if hi >= 2 else 1 + hi)


@st.composite
def _integer_schema(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    step = draw(st.sampled_from([None, 1, 2, 3, 5, 10]))
    lo = draw(st.integers(-10_000, 10_000))
    span = draw(st.integers(step or 0, 1000))
    schema: dict[str, Any] = {"type": "integer"}
    if draw(st.booleans()):
        schema["minimum"], schema["maximum"] = lo, lo + span
    else:
        schema["exclusiveMinimum"], schema["exclusiveMaximum"] = lo - 1, lo + span + 1
    if step is not None:
        schema["multipleOf"] = step
    return schema, min(span, 100) // (step or 1) + 1  # values come from a 100-wide window


@st.composite
def _number_schema(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    step = draw(st.sampled_from([None, 0.5, 0.25, 0.1, 2]))
    lo = draw(st.floats(-1e6, 1e6))
    # Wide enough to hold several multiples: jsonschema checks multipleOf in float arithmetic,
    # which rejects some exact multiples (0.6 is not a multipleOf 0.1 to it).
    span = draw(st.floats(8.0 * (step or 1), 1e4))
    schema: dict[str, Any] = {"type": "number", "minimum": lo, "maximum": lo + span}
    if draw(st.booleans()):
        schema = {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + span}
    if step is not None:
        schema["multipleOf"] = step
    return schema, min(1000, int(span / (step or 0.01)))


@st.composite
def _enum_schema(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    values = draw(st.lists(_SCALARS, min_size=1, max_size=5, unique_by=repr))
    if len(values) == 1 and draw(st.booleans()):
        return {"const": values[0]}, 1
    return {"enum": values}, 1  # floats such as 0.0 and -0.0 may be equal, so count 1


_LEAVES = st.one_of(
    _string_schema(),
    _integer_schema(),
    _number_schema(),
    _enum_schema(),
    st.just(({"type": "boolean"}, 2)),
    st.just(({"type": "null"}, 1)),
)


def _extend(children: st.SearchStrategy[tuple[dict[str, Any], int]]) -> st.SearchStrategy[Any]:
    @st.composite
    def obj(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
        props = draw(st.dictionaries(_NAMES, children, min_size=1, max_size=4))
        names = list(props)
        required = draw(st.lists(st.sampled_from(names), unique=True))
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {k: s for k, (s, _) in props.items()},
        }
        if required:
            schema["required"] = required
        closed = draw(st.booleans())
        if closed:
            schema["additionalProperties"] = False
        if draw(st.booleans()):
            top = len(names) if closed else len(names) + 2
            schema["maxProperties"] = draw(st.integers(len(required), top))
            if draw(st.booleans()):
                schema["minProperties"] = draw(
                    st.integers(0, min(schema["maxProperties"], len(names)))
                )
        # Distinct objects come from distinct values: optional keys are always included.
        size = 1 if "maxProperties" in schema else math.prod(n for _, n in props.values())
        return schema, min(size, 1000)

    @st.composite
    def arr(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
        item, size = draw(children)
        lo = draw(st.integers(0, 3))
        hi = draw(st.integers(lo, lo + 3))
        schema: dict[str, Any] = {"type": "array", "items": item, "minItems": lo, "maxItems": hi}
        if size >= 2 * hi and draw(st.booleans()):
            schema["uniqueItems"] = True
        return schema, (1 if hi == 0 or lo == 0 else size)

    @st.composite
    def any_of(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
        branches = draw(st.lists(children, min_size=1, max_size=3))
        return {"anyOf": [s for s, _ in branches]}, branches[0][1]  # the first branch is used

    return st.one_of(obj(), arr(), any_of())


_SCHEMAS = st.recursive(_LEAVES, _extend, max_leaves=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_SCHEMAS, seed=st.text(max_size=20))
def test_random_consistent_schemas_always_validate(
    case: tuple[dict[str, Any], int], seed: str
) -> None:
    schema, _ = case
    value = generate_instance(schema, seed)
    assert_valid(schema, value)
    assert generate_instance(schema, seed) == value
