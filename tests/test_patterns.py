"""Schema regexes: linear time on RE2, ECMA-262 fallback with a time limit, jsonschema's texts."""

from __future__ import annotations

import time

import pytest
from jsonschema import Draft202012Validator

from jshost.patterns import PatternError, compile_pattern, is_fallback, search
from jshost.schemas import schema_problem

EVIL = "^(a+)+b$"


def test_a_catastrophic_pattern_is_linear():
    t0 = time.process_time()
    assert search(EVIL, "a" * 200_000 + "c") is None
    assert search(EVIL, "a" * 50 + "b")
    assert time.process_time() - t0 < 1.0


def test_jsonschema_keywords_use_the_bounded_engine_and_keep_their_messages():
    schema = {
        "type": "object",
        "properties": {"s": {"type": "string", "pattern": EVIL}},
        "patternProperties": {EVIL: {"type": "integer"}},
        "additionalProperties": False,
    }
    value = {"s": "a" * 60 + "c", "a" * 60 + "c": 1}
    t0 = time.process_time()
    messages = sorted(e.message for e in Draft202012Validator(schema).iter_errors(value))
    assert time.process_time() - t0 < 1.0
    assert f"'{'a' * 60}c' does not match '{EVIL}'" in messages
    assert f"'{'a' * 60}c' does not match any of the regexes: '{EVIL}'" in messages


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"^\u0041\u{1F600}$", "A\U0001f600", True),
        (r"^\\u0041$", "\\u0041", True),  # an escaped backslash, then a literal "u0041"
        (r"^\d+$", "١٢", False),  # ECMA-262's \d is ASCII, unlike Python's
        (r"^(\d)-\1$", "3-3", True),  # a backreference: the ECMA-262 fallback
        (r"^(\d)-\1$", "3-4", False),
        (r"^(?=.*[A-Z]).{3}$", "aBc", True),  # lookahead
        (r"(?<=a)b", "ab", True),  # lookbehind
    ],
)
def test_dialect(pattern, text, matches):
    assert bool(search(pattern, text)) is matches


def test_the_fallback_is_time_limited_and_then_fails_at_once():
    slow = r"^(?=a)(a+)+b$"
    assert is_fallback(compile_pattern(slow))
    with pytest.raises(PatternError, match="took too long"):
        search(slow, "a" * 40 + "c")
    t0 = time.monotonic()
    with pytest.raises(PatternError, match="took too long"):
        search(slow, "a" * 40 + "c")
    assert time.monotonic() - t0 < 0.1


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "string", "pattern": "["}, "invalid JSON Schema"),
        ({"type": "string", "pattern": "(?=a"}, "'(?=a' is not a 'regex'"),
        ({"type": "string", "pattern": "(?<n>a)\\k<m>"}, "'(?<n>a)\\\\k<m>' is not a 'regex'"),
        ({"type": "string", "pattern": "a" * 5000}, "is not a 'regex'"),
        ({"anyOf": [{"pattern": f"(?=x{i})"} for i in range(17)]}, "at most 16"),
        ({"$ref": "#"}, "a $ref cycle"),
        ({"properties": {f"p{i}": {"type": "string"} for i in range(5000)}}, "too large"),
    ],
)
def test_schema_problems(schema, words):
    problem = schema_problem(schema)
    assert problem is not None and words in problem, problem


@pytest.mark.parametrize("pattern", [r"^\u{1F600}$", r"^(?<year>\d{4})-\k<year>$", r"\p{Lu}"])
def test_ecma_262_patterns_pass_the_schema_check(pattern):
    assert schema_problem({"type": "string", "pattern": pattern}) is None


def test_a_recursive_schema_that_descends_is_fine():
    schema = {
        "$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}},
        "$ref": "#/$defs/n",
    }
    assert schema_problem(schema) is None
