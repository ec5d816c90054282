"""The fast path of ``schema_problem``: it never accepts a schema the meta-schema rejects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from jshost import schemas
from jshost.schemas import _plainly_valid, schema_problem

TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.floats(-3, 5, allow_nan=False),
    st.sampled_from([0.0, 2.0, 2.5, float("inf"), 1e20]),
    st.sampled_from([*TYPES, "strin", "", "a"]),
    st.lists(st.sampled_from([*TYPES, "x"]), max_size=3),
)


# Near misses, so that a fast path that lets one through is caught.
NEAR: dict[str, list[Any]] = {
    "type": ["strin", ["string", "string"], [], "Object", 1, ["string", 1]],
    "properties": [[], {"a": 1}, {"a": {"type": "x"}}, "a"],
    "required": [["a", "a"], [1], "a", {"a": 1}],
    "enum": ["x", None, {}],
    "examples": ["x", {}],
    "uniqueItems": [1, "true", None],
    "multipleOf": [0, -1, 0.0, True, "2", None],
    "pattern": [1, None, "["],
}
for _key in ("items", "additionalProperties", "not"):
    NEAR[_key] = [[{}], 1, "x", None, {"type": "x"}]
for _key in ("anyOf", "oneOf", "allOf", "prefixItems"):
    NEAR[_key] = [[], {}, [1], [{"type": "x"}], None]
for _key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
    NEAR[_key] = [True, "1", None, [1]]
for _key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties"):
    NEAR[_key] = [-1, 2.5, True, float("inf"), "3", -1.0]
for _key in ("title", "description", "$comment", "format"):
    NEAR[_key] = [1, None, ["a"]]


def _keywords(schema: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    """For each keyword, values that are right, and one time in eight wrong (or odd)."""
    sub = st.one_of(st.booleans(), st.just({}), schema)
    schema_list = st.lists(sub, min_size=1, max_size=3)
    number = st.one_of(st.integers(-3, 5), st.floats(-3, 5, allow_nan=False))
    count = st.one_of(st.integers(0, 5), st.sampled_from([0.0, 3.0]))
    text = st.text("ab", max_size=3)
    right: dict[str, st.SearchStrategy[Any]] = {
        "type": st.one_of(
            st.sampled_from(TYPES),
            st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
        ),
        "properties": st.dictionaries(st.sampled_from("abc"), sub, max_size=3),
        "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True),
        "enum": st.lists(values, max_size=3),
        "examples": st.lists(values, max_size=3),
        "const": values,
        "default": values,
        "uniqueItems": st.booleans(),
        "multipleOf": st.sampled_from([1, 0.5, 3]),
        "pattern": st.sampled_from(["^a", "[", "(?<x>a)"]),
    }
    for key in ("items", "additionalProperties", "not"):
        right[key] = sub
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        right[key] = schema_list
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        right[key] = number
    for key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties"):
        right[key] = count
    for key in ("title", "description", "$comment", "format"):
        right[key] = text
    for key in ("$ref", "definitions", "dependencies", "nullable", "x-extra"):
        right[key] = values
    return {
        key: st.integers(0, 3).flatmap(
            lambda n, good=good, key=key: (
                st.sampled_from(NEAR[key]) if n == 0 and key in NEAR else good
            )
        )
        for key, good in right.items()
    }


schemas_: st.SearchStrategy[Any] = st.deferred(
    lambda: st.one_of(
        st.booleans(),
        st.lists(st.sampled_from(sorted(KEYWORDS)), max_size=3, unique=True).flatmap(
            lambda keys: st.fixed_dictionaries({k: KEYWORDS[k] for k in keys})
        ),
    )
)
KEYWORDS = _keywords(schemas_)


def meta_schema_accepts(schema: Any) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


@settings(
    max_examples=800,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(schemas_)
def test_fast_path_never_accepts_what_the_meta_schema_rejects(schema):
    if _plainly_valid(schema):
        assert meta_schema_accepts(schema), schema


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in NEAR.items() for v in vs])
def test_near_misses_are_left_to_the_full_check(key, value):
    for schema in ({key: value}, {"properties": {"a": {key: value}}}, {"anyOf": [{key: value}]}):
        if _plainly_valid(schema):
            assert meta_schema_accepts(schema), schema


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"type": ["string", "null"], "minLength": 2.0, "description": "x"},
        {"enum": ["a", 1, None]},
        {"anyOf": [{"type": "integer", "minimum": 0}, {"const": "n/a"}]},
        {"type": "array", "items": {"type": "object", "additionalProperties": False}},
        True,
    ],
)
def test_common_schemas_take_the_fast_path(schema):
    assert _plainly_valid(schema)
    assert meta_schema_accepts(schema)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "strin"},
        {"required": ["a", "a"]},
        {"minLength": -1},
        {"minLength": True},
        {"items": [{"type": "string"}]},
        {"anyOf": []},
        {"pattern": "^a"},  # not known to the fast path: the full check decides
    ],
)
def test_other_schemas_get_the_full_check(schema):
    assert not _plainly_valid(schema)


def test_messages_are_the_full_checks_messages(monkeypatch):
    bad = {"type": "object", "properties": {"a": {"type": "nope"}}}
    fast = schema_problem(bad)
    monkeypatch.setattr(schemas, "_plainly_valid", lambda schema, depth=0: False)
    assert schema_problem(bad) == fast
    assert fast is not None and "(at $.properties.a.type)" in fast
