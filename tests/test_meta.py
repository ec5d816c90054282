"""Tests for jshost.script.meta: the meta header of a workflow script, read without running it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jshost.errors import ScriptLoadError
from jshost.script.meta import FIRST_STATEMENT, Meta, MetaSpan, Phase, _parser, parse_meta

PREFIX = "export const meta = "
BASE = "name: 'n', description: 'd'"


def meta_src(obj: str, body: str = "\nreturn 1\n") -> str:
    return PREFIX + obj + body


def load_error(source: str) -> ScriptLoadError:
    with pytest.raises(ScriptLoadError) as info:
        parse_meta(source, path="wf.js")
    return info.value


def raw_of(value_js: str) -> Any:
    meta, _ = parse_meta(meta_src("{" + BASE + ", x: " + value_js + "}"))
    return meta.raw["x"]


# -- rule 1: the first statement -------------------------------------------------------

VALID = "{name: 'a', description: 'b'}"


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("", None, None),
        ("// just a comment\n/* and another */\n", None, None),
        ("#!/usr/bin/env node\n", None, None),
        (f"const meta = {VALID}", 1, 1),
        (f"export let meta = {VALID}", 1, 1),
        (f"export var meta = {VALID}", 1, 1),
        ("export const meta = foo()", 1, 1),
        ("export const meta = [1, 2]", 1, 1),
        ("export const meta = 'x'", 1, 1),
        (f"export const meta = {VALID}, other = 1", 1, 1),
        (f"export const other = {VALID}", 1, 1),
        (f"export const {{meta}} = {VALID}", 1, 1),
        ("export default {name: 'a', description: 'b'}", 1, 1),
        ("export { meta }", 1, 1),
        (f"foo()\nexport const meta = {VALID}", 1, 1),
        (f"// c\n\n   let x = 1\nexport const meta = {VALID}", 3, 4),
        ("export const meta = {name: 'a'", 1, 1),
        # No ASI before `(`: the object literal becomes a callee, as acorn also reads it.
        (f"export const meta = {VALID}\n(async () => 1)()", 1, 1),
    ],
)
def test_first_statement_errors(source: str, line: int | None, column: int | None) -> None:
    err = load_error(source)
    assert err.message == FIRST_STATEMENT
    assert FIRST_STATEMENT == (
        "`export const meta = { name, description, phases }` must be the FIRST "
        "statement in the script"
    )
    assert (err.path, err.line, err.column) == ("wf.js", line, column)


@pytest.mark.parametrize(
    "source",
    [
        f"export const meta = {VALID}",
        f"export const meta = ({VALID});",
        f"export const meta = (( /* c */ {VALID} ));",
        f"#!/usr/bin/env -S jshost run\n// c1\n/* c2\n*/\nexport const meta = {VALID}\n",
        f"export /* a */ const /* b */ meta = {VALID} // c\nphase('x')",
        f"export const meta = {VALID}\nphase('Scan')\nconst r = await agent('hi')\nreturn r\n",
    ],
)
def test_first_statement_accepted(source: str) -> None:
    meta, _ = parse_meta(source)
    assert (meta.name, meta.description) == ("a", "b")


# -- rule 2: a pure literal ------------------------------------------------------------

PURE = "meta must be a pure literal: "


@pytest.mark.parametrize(
    ("obj", "reason", "at"),
    [
        ("{...x, name: 'a'}", "only plain properties allowed in meta", "...x"),
        ("{[k]: 1}", "computed keys not allowed in meta", "[k]"),
        ("{['name']: 'a'}", "computed keys not allowed in meta", "['name']"),
        ("{[k]() {}}", "computed keys not allowed in meta", "[k]"),
        ("{f() {}}", "methods/accessors not allowed in meta", "f()"),
        ("{get x() { return 1 }}", "methods/accessors not allowed in meta", "get"),
        ("{set x(v) {}}", "methods/accessors not allowed in meta", "set"),
        ("{async f() {}}", "methods/accessors not allowed in meta", "async"),
        ("{*g() {}}", "methods/accessors not allowed in meta", "*g"),
        ("{async *g() {}}", "methods/accessors not allowed in meta", "async"),
        ("{#p: 1}", "unsupported key type in meta: PrivateIdentifier", "#p"),
        ("{1n: 1}", "unsupported key type in meta: Literal", "1n"),
        ("{__proto__: {}}", "reserved key name not allowed in meta: __proto__", "__proto__"),
        ("{'__proto__': 1}", "reserved key name not allowed in meta: __proto__", "'__proto__'"),
        ("{constructor: 1}", "reserved key name not allowed in meta: constructor", "constructor"),
        ('{"prototype": 1}', "reserved key name not allowed in meta: prototype", '"prototype"'),
        ("{constructor}", "reserved key name not allowed in meta: constructor", "constructor"),
        ("{a: [1,,2]}", "sparse arrays not allowed", ",2"),
        ("{a: [,]}", "sparse arrays not allowed", ","),
        ("{a: [1, 2,,]}", "sparse arrays not allowed", ",]"),
        ("{a: [...x]}", "spread not allowed in meta", "...x"),
        ("{a: [1, ...[2]]}", "spread not allowed in meta", "...["),
        ("{a: `x${y}z`}", "template interpolation not allowed in meta", "${"),
        ("{a: +1}", "only negative-number unary allowed in meta", "+1"),
        ("{a: !0}", "only negative-number unary allowed in meta", "!0"),
        ("{a: ~1}", "only negative-number unary allowed in meta", "~1"),
        ("{a: -x}", "only negative-number unary allowed in meta", "-x"),
        ("{a: -'1'}", "only negative-number unary allowed in meta", "-'1'"),
        ("{a: -(-1)}", "only negative-number unary allowed in meta", "-(-1)"),
        ("{a: -1n}", "only negative-number unary allowed in meta", "-1n"),
        ("{a: typeof 1}", "only negative-number unary allowed in meta", "typeof"),
        ("{a: void 0}", "only negative-number unary allowed in meta", "void"),
        ("{a: delete x.y}", "only negative-number unary allowed in meta", "delete"),
        ("{name}", "non-literal node type in meta: Identifier", "name"),
        ("{a: {b: [{c: f()}]}}", "non-literal node type in meta: CallExpression", "f()"),
        ("{a: (f())}", "non-literal node type in meta: CallExpression", "f()"),
    ],
)
def test_pure_literal_reasons(obj: str, reason: str, at: str) -> None:
    err = load_error(meta_src(obj))
    assert err.message == PURE + reason
    assert (err.line, err.column) == (1, len(PREFIX) + obj.index(at) + 1)


@pytest.mark.parametrize(
    ("expr", "node_type"),
    [
        ("x", "Identifier"),
        ("undefined", "Identifier"),
        ("NaN", "Identifier"),
        ("Infinity", "Identifier"),
        ("f(1)", "CallExpression"),
        ("import('x')", "ImportExpression"),
        ("a.b", "MemberExpression"),
        ("a['b']", "MemberExpression"),
        ("a?.b", "ChainExpression"),
        ("a?.b.c()", "ChainExpression"),
        ("1 + 2", "BinaryExpression"),
        ("'a' + 'b'", "BinaryExpression"),
        ("a && b", "LogicalExpression"),
        ("a ?? b", "LogicalExpression"),
        ("a ? 1 : 2", "ConditionalExpression"),
        ("() => 1", "ArrowFunctionExpression"),
        ("async () => 1", "ArrowFunctionExpression"),
        ("function () {}", "FunctionExpression"),
        ("function* () {}", "FunctionExpression"),
        ("new Date()", "NewExpression"),
        ("a = 1", "AssignmentExpression"),
        ("a += 1", "AssignmentExpression"),
        ("class {}", "ClassExpression"),
        ("tag`x`", "TaggedTemplateExpression"),
        ("(1, 2)", "SequenceExpression"),
        ("await p", "AwaitExpression"),
        ("this", "ThisExpression"),
        ("x++", "UpdateExpression"),
        ("--x", "UpdateExpression"),
        ("import.meta", "MetaProperty"),
    ],
)
def test_non_literal_node_types(expr: str, node_type: str) -> None:
    obj = "{" + BASE + ", x: " + expr + "}"
    err = load_error(meta_src(obj))
    assert err.message == PURE + "non-literal node type in meta: " + node_type
    # acorn drops parentheses, so `(1, 2)` is reported at the `1`.
    offset = len("{" + BASE + ", x: ") + (expr == "(1, 2)")
    assert err.column == len(PREFIX) + offset + 1


def test_first_offending_node_in_source_order_wins() -> None:
    err = load_error(meta_src("{a: [f(), , 1], b: ...x}"))
    assert err.message == PURE + "non-literal node type in meta: CallExpression"


# -- error positions --------------------------------------------------------------------


def test_error_position_on_a_later_line_after_non_ascii_text() -> None:
    source = (
        "// größe: 日本語 😀\n"
        "export const meta = {\n"
        "  name: 'ünïcödé 😀', description: 'd',\n"
        "  tags: ['é', 'ß', x],\n"
        "}\n"
    )
    err = load_error(source)
    assert err.message == PURE + "non-literal node type in meta: Identifier"
    assert (err.line, err.column) == (4, len("  tags: ['é', 'ß', ") + 1)
    assert str(err) == f"wf.js:4:20: {err.message}"


def test_error_position_on_line_one() -> None:
    before = "export const meta = {name: 'é', description: 'd', x: "
    err = load_error(before + "y}")
    assert (err.line, err.column) == (1, len(before) + 1)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028"])
def test_error_lines_count_every_js_line_terminator(newline: str) -> None:
    source = newline.join(["// a", "export const meta = {", "  x: y,", "}"])
    err = load_error(source)
    assert (err.line, err.column) == (3, 6)


# -- rule 3: fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "message", "at"),
    [
        ("{description: 'd'}", "meta.name must be a non-empty string", None),
        ("{name: '', description: 'd'}", "meta.name must be a non-empty string", "name"),
        ("{name: 1, description: 'd'}", "meta.name must be a non-empty string", "name"),
        ("{name: null, description: 'd'}", "meta.name must be a non-empty string", "name"),
        ("{name: ['a'], description: 'd'}", "meta.name must be a non-empty string", "name"),
        (
            "{name: 'a', name: '', description: 'd'}",
            "meta.name must be a non-empty string",
            "name: ''",
        ),
        ("{name: 'a'}", "meta.description must be a non-empty string", None),
        ("{name: 'a', description: ``}", "meta.description must be a non-empty string", "desc"),
        ("{'description': false, name: 'a'}", "meta.description must be a non-empty string", "'de"),
        # name is checked before description, whatever the source order.
        ("{description: '', name: ''}", "meta.name must be a non-empty string", "name"),
    ],
)
def test_field_errors(obj: str, message: str, at: str | None) -> None:
    err = load_error(meta_src(obj))
    assert err.message == message
    offset = obj.index(at) if at is not None else 0
    assert (err.line, err.column) == (1, len(PREFIX) + offset + 1)


def test_whitespace_name_and_duplicate_keys() -> None:
    meta, _ = parse_meta(meta_src("{name: '', name: '  ', description: 'd', description: ' x '}"))
    assert (meta.name, meta.description) == ("  ", " x ")


def test_full_meta() -> None:
    meta, _ = parse_meta(
        meta_src(
            "{name: 'n', description: 'd', title: 'T', whenToUse: 'w', other: [1],"
            " phases: [{title: 'A'}, {title: 'B', detail: 'x', model: 'opus', extra: 1}]}"
        )
    )
    assert meta == Meta(
        name="n",
        description="d",
        title="T",
        when_to_use="w",
        phases=(Phase("A"), Phase("B", detail="x", model="opus")),
        raw={
            "name": "n",
            "description": "d",
            "title": "T",
            "whenToUse": "w",
            "other": [1],
            "phases": [{"title": "A"}, {"title": "B", "detail": "x", "model": "opus", "extra": 1}],
        },
    )
    assert isinstance(hash(meta), int)


@pytest.mark.parametrize(
    ("extra", "title", "when_to_use"),
    [
        ("", None, None),
        ("title: '', whenToUse: ''", None, ""),
        ("title: 1, whenToUse: null", None, None),
        ("title: ['t'], whenToUse: {}", None, None),
        ("title: ' ', whenToUse: 'later'", " ", "later"),
    ],
)
def test_title_and_when_to_use(extra: str, title: str | None, when_to_use: str | None) -> None:
    meta, _ = parse_meta(meta_src("{" + BASE + ", " + extra + "}"))
    assert (meta.title, meta.when_to_use) == (title, when_to_use)


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ("'not an array'", ()),
        ("{title: 'x'}", ()),
        ("null", ()),
        ("[]", ()),
        (
            "[null, 1, 'a', [], {}, {title: 1}, {detail: 'd'}, {title: ''},"
            " {title: 'A', detail: 2, model: false}, {title: 'B', detail: 'd', model: 'm'}]",
            (Phase(""), Phase("A"), Phase("B", detail="d", model="m")),
        ),
    ],
)
def test_phases_filtering(phases: str, expected: tuple[Phase, ...]) -> None:
    meta, _ = parse_meta(meta_src("{" + BASE + ", phases: " + phases + "}"))
    assert meta.phases == expected


# -- allowed literals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("js", "expected"),
    [
        ("'single'", "single"),
        ('"double"', "double"),
        ("''", ""),
        (r"'a\nb\tc\rd'", "a\nb\tc\rd"),
        (r"'\b\f\v\0'", "\b\f\v\0"),
        (r"'it\'s \"q\" \\ done'", 'it\'s "q" \\ done'),
        (r"'\x41\u00e9\u{1F600}\u{41}'", "Aé😀A"),
        (r"'\uD83D\uDE00'", "😀"),
        (r"'\q\$'", "q$"),
        ("'line \\\ncontinued'", "line continued"),
        ("'line \\\r\ncontinued'", "line continued"),
        ("'raw é 😀 日本'", "raw é 😀 日本"),
        ("`template`", "template"),
        ("``", ""),
        ("`multi\nline`", "multi\nline"),
        ("`crlf\r\nline`", "crlf\nline"),
        (r"`esc \` \${x} \n \u0041`", "esc ` ${x} \n A"),
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("- 7", -7),
        ("-(7)", -7),
        ("-0", 0),
        ("1.5", 1.5),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("5.", 5),
        ("1.0", 1),
        ("1e3", 1000),
        ("1E-3", 0.001),
        ("2.5e+2", 250),
        ("0x1F", 31),
        ("0XfF", 255),
        ("0o17", 15),
        ("0b101", 5),
        ("1_000_000", 1000000),
        ("0xF_F", 255),
        ("1n", 1),
        ("9007199254740993", 9007199254740992),
        ("1e400", math.inf),
        ("true", True),
        ("false", False),
        ("null", None),
        ("/a+/g", "/a+/g"),
        ("/[/]\\d/", "/[/]\\d/"),
        ("[]", []),
        ("[1, 'a', [true, null],]", [1, "a", [True, None]]),
        ("[ /* c */ 1, // c\n 2 ]", [1, 2]),
        ("{}", {}),
        ("{a: {b: {c: []}}, 'd e': -1,}", {"a": {"b": {"c": []}}, "d e": -1}),
        ("((1))", 1),
        ("[('a'), (-(2))]", ["a", -2]),
    ],
)
def test_literal_values(js: str, expected: Any) -> None:
    value = raw_of(js)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("plain", "plain"),
        ("$_x1", "$_x1"),
        ("if", "if"),
        ("true", "true"),
        ("'quoted key'", "quoted key"),
        ('"dq"', "dq"),
        (r"'\u0041'", "A"),
        (r"a\u0062", "ab"),
        ("1", "1"),
        ("0", "0"),
        ("1.5", "1.5"),
        ("1.0", "1"),
        ("0x10", "16"),
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        (".000001", "0.000001"),
        ("0.0000001", "1e-7"),
        ("123e-20", "1.23e-18"),
        ("1_0", "10"),
    ],
)
def test_keys(key: str, expected: str) -> None:
    meta, _ = parse_meta(meta_src("{" + BASE + ", " + key + ": 1}"))
    assert expected in meta.raw
    assert meta.raw[expected] == 1


def test_raw_key_order_follows_js() -> None:
    meta, _ = parse_meta(meta_src("{name: 'n', 2: 'b', description: 'd', 1: 'a', name: 'm'}"))
    assert list(meta.raw) == ["1", "2", "name", "description"]
    assert meta.name == "m"


def test_syntax_errors_inside_the_literal_are_left_to_the_syntax_check() -> None:
    meta, _ = parse_meta(meta_src("{" + BASE + ", x: , y: 2}"))
    assert meta.raw == {"name": "n", "description": "d", "y": 2}


# -- span -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "statement", "after"),
    [
        ("", PREFIX + VALID, "\nreturn 1"),
        ("", PREFIX + VALID + ";", "\nreturn 1"),
        ("", PREFIX + VALID + " ;", ";\nreturn 1"),
        ("#!/usr/bin/env node\n// hi\n", PREFIX + "(" + VALID + ")", " // trailing\nx()"),
        ("/* é 😀 日本 */\n", PREFIX + "{name: 'ü😀', description: 'd'};", "\n"),
        ("", PREFIX + VALID + " /* c */ ;", ""),
    ],
)
def test_span(before: str, statement: str, after: str) -> None:
    source = before + statement + after
    _, span = parse_meta(source)
    assert span == MetaSpan(
        start=len(before),
        end=len(before) + len(statement),
        export_start=len(before),
        export_end=len(before) + len("export"),
    )
    assert source[span.start : span.end] == statement
    assert source[span.export_start : span.export_end] == "export"


def test_parser_is_built_once() -> None:
    assert _parser() is _parser()


# -- property: any JSON-like value round-trips ----------------------------------------

_RESERVED = {"__proto__", "constructor", "prototype"}
_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
_KEYS = st.one_of(st.from_regex(_IDENT_RE, fullmatch=True), _TEXT).filter(
    lambda k: k not in _RESERVED
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=25,
)


def to_js(value: Any, ascii_only: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, list):
        return "[" + ", ".join(to_js(v, ascii_only) for v in value) + "]"
    items = []
    for key, item in value.items():
        rendered = key if _IDENT_RE.fullmatch(key) else json.dumps(key, ensure_ascii=ascii_only)
        items.append(f"{rendered}: {to_js(item, ascii_only)}")
    return "{" + ", ".join(items) + "}"


@settings(max_examples=200, deadline=None)
@given(value=_VALUES, ascii_only=st.booleans())
def test_random_literals_round_trip(value: Any, ascii_only: bool) -> None:
    source = PREFIX + "{name:'x', description:'y', extra: " + to_js(value, ascii_only) + "}"
    meta, span = parse_meta(source)
    assert meta.raw["extra"] == value
    assert span.end == len(source)
