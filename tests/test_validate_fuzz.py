"""Property tests: ``validate`` never fails on any input, and agrees with what ``run`` refuses.

Inputs are real scripts (the samples and a script that trips every check) mutated by inserting
JavaScript fragments, deleting, duplicating and truncating; then arbitrary text; then arbitrary
bytes read from a file. Derandomized, so CI sees the same three thousand scripts every time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jshost.errors import ScriptLoadError
from jshost.sandbox import check_function_source
from jshost.sandbox.lexing import slash_free
from jshost.script.diagnostics import CODES, REFUSED
from jshost.script.load import (
    _META_HEAD,
    _UNCOMPILABLE,
    PREFIX,
    SUFFIX,
    _clearly_escapes,
    parse_script,
)
from jshost.script.meta import js_parser
from jshost.script.validate import format_text, validate_file, validate_source

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

EVERY_CHECK = """\
export const meta = { name: 'all', description: 'd', phases: [{ title: 'A', detail: 'x' }] }
const { hosts = [], n = 3 } = args ?? {}
function helper(x, { label } = {}) { return agent(`scan ${x}`, { label, model: 'haiku' }) }
phase('A'); phase('B')
const t = Date.now() + new Date().getTime() + Math.random()
const r = await parallel([agent('a'), () => helper('b'), ...hosts.map((h) => () => agent(h))])
const p = await pipeline(hosts, (h) => agent(h), 'bad', async (x, h, i) => agent(`${x}${i}`))
await agent(42, { lable: 1, effort: 'extreme', isolation: 'remote', stallMs: 'x',
  schema: { type: 'object', properties: { a: {} }, required: ['b'], additionalProperties: false } })
while (budget.remaining() > 1000) { await agent('loop') }
for (let i = 0; i < n && budget.remaining() > 0; i++) { await agent(`${i}`) }
try { eval('1'); new Function('x') } catch (e) { log(e.message, missingName) }
const m = await import('x'); log(require, process, fetch, typeof window)
budget()
return { r, p, t, m }
"""
SEEDS = [EVERY_CHECK] + [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.js"))]
FRAGMENTS = [
    "{", "}", "(", ")", "[", "]", "'", '"', "`", "${", "/*", "*/", "//", "\n", ";", ",",
    "=>", "async ", "await ", "function ", "class ", "return ", "yield ", "new ", "this.",
    "agent(", "parallel(", "pipeline(", "phase(", "workflow(", "budget.remaining()", "budget(",
    "Date.now()", "new Date()", "Math.random()", "import(", "import x from 'y'\n", "export ",
    "with (o) ", "eval(", "require(", "process.", "fetch(", "typeof ", "meta.", "args.",
    "...", "?.", "??", "#", "@", "\\", "\\u0061", "0x", "1e", "08", "1n", "/re/g",
    ": string", "interface ", "<T>", " as const", "!.", "enum ",
    "for (", "while (", "do ", "if (", "} else {", "label: ", "break ", "continue ",
    "x = ", "const ", "let ", "var ", "{ a, b }", "[a, , b]",
    "schema: {", "effort: 'x'", "label: 5", "type: 'nope'", "required: ['z']",
    "\u202e", "\x00", "\ufeff", "\u200b", "é", "🎉", "\r", "\u2028", "\ud800",
]  # fmt: skip

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated_scripts(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(source)))
        if op == "insert":
            source = source[:at] + draw(st.sampled_from(FRAGMENTS)) + source[at:]
        elif op == "delete":
            source = source[:at] + source[at + draw(st.integers(1, 30)) :]
        elif op == "duplicate":
            piece = source[at : at + draw(st.integers(1, 60))]
            source = source[:at] + piece + source[at:]
        else:
            source = source[:at]
    return source


def check_no_escape_from_a_clean_script(source: str) -> None:
    """A script tree-sitter parses cleanly never closes the wrapper early (script/load.py relies
    on it to skip the second parse)."""
    if js_parser().parse(source.encode("utf-8", "surrogatepass")).root_node.has_error:
        return
    head = _META_HEAD.match(source)
    body = (
        source
        if head is None
        else source[: head.start("head")] + "void" + source[head.end("head") :]
    )
    assert not _clearly_escapes(PREFIX + body + SUFFIX), source


def check_report(source: str, report) -> None:
    """Every diagnostic is well formed and every output format renders."""
    lines = len(source.splitlines()) + 2
    for d in report.diagnostics:
        assert d.code in CODES
        assert d.severity == ("error" if d.code in REFUSED else "warning")
        assert d.message
        if d.line is not None:
            assert 1 <= d.line <= lines, d
            assert d.col is not None and d.col >= 1, d
    format_text(report)
    json.dumps(report.to_json())
    if report.fanout is not None:
        assert report.fanout.text()


@settings(FUZZ, max_examples=1000)
@given(mutated_scripts())
def test_mutated_scripts_never_crash_and_agree_with_run(source):
    report = validate_source(source, path="fuzz.js")
    check_report(source, report)
    check_no_escape_from_a_clean_script(source)
    load_errors = [d for d in report.diagnostics if d.code[1] == "1"]
    try:
        parse_script(source, path="fuzz.js")
    except ScriptLoadError as exc:
        # run refuses it: validate says so, with the same message (a bare syntax error may
        # have been replaced by the import/export/with error that explains it).
        explained = any(d.code in ("E201", "E202") for d in report.diagnostics)
        assert load_errors or explained, exc
        assert exc.message in {d.message for d in load_errors} or explained, exc
        assert report.script is None
    else:
        assert not load_errors, load_errors
        assert report.script is not None


@settings(FUZZ, max_examples=1000)
@given(st.lists(st.sampled_from(list("{}()[];,.=>'\"`$ \n\tabcx0123") + FRAGMENTS)).map("".join))
def test_arbitrary_text_never_crashes(text):
    for source in (text, "export const meta = { name: 'f', description: 'd' }\n" + text):
        check_report(source, validate_source(source, path="fuzz.js"))
        check_no_escape_from_a_clean_script(source)


@settings(FUZZ, max_examples=150)
@given(st.binary(max_size=300), st.sampled_from(SEEDS))
def test_arbitrary_bytes_never_crash(tmp_path_factory, data, seed):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.js"
    path.write_bytes(seed.encode()[: len(data)] + data)
    report = validate_file(path)
    check_report(report.source, report)


def check_fast_path_agrees(source: str) -> None:
    """The syntax check's fast path (``likely_valid``: the declaration, its function's source
    text, the method only when that text does not prove the end, the expression only for a
    ``/`` token) says what all three compiles say, escapes and QuickJS's own quirks included."""
    head = _META_HEAD.match(source)
    body = (
        source
        if head is None
        else source[: head.start("head")] + "void" + source[head.end("head") :]
    )
    if _UNCOMPILABLE.search(body):
        return  # the binding cannot take it; the load checks report it instead
    wrapped = PREFIX + body + SUFFIX
    assert check_function_source(wrapped, likely_valid=True) == check_function_source(wrapped)


SLASH_FRAGMENTS = ["/", "/'/", "'/'", "/`/", "`/`", "/re/", "a / b", "} /", ") /", "//", "/*", "*/"]


@settings(FUZZ, max_examples=400)
@given(mutated_scripts())
def test_the_syntax_checks_fast_path_agrees_with_three_compiles(source):
    check_fast_path_agrees(source)


@settings(FUZZ, max_examples=400)
@given(
    st.lists(st.sampled_from(list("{}()[];,.=>'\"`$ \nx0") + FRAGMENTS + SLASH_FRAGMENTS)).map(
        "".join
    )
)
def test_the_syntax_checks_fast_path_agrees_on_arbitrary_text(text):
    for source in (text, "x = 1\n" + text + "\n"):
        check_fast_path_agrees(source)


@settings(FUZZ, max_examples=400)
@given(
    st.lists(st.sampled_from(list("{}()[];,.=+'\"`$ \n\\x") + SLASH_FRAGMENTS + ["${"])).map(
        "".join
    )
)
def test_slash_free_text_has_no_slash_token_for_tree_sitter(text):
    """Where ``slash_free`` says no ``/`` is a token, tree-sitter's clean parse agrees."""
    tree = js_parser().parse(text.encode("utf-8", "surrogatepass"))
    if not slash_free(text) or tree.root_node.has_error:
        return
    cursor, kinds = tree.walk(), set()
    while True:
        kinds.add(cursor.node.type)
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                break
        else:
            continue
        break
    assert not kinds & {"regex", "/", "/="}, text


@pytest.mark.parametrize(
    ("text", "free"),
    [
        ("x = 1 // a comment / with slashes\ny = 2", True),
        ("x = 1 // a comment\ny = a / b", False),
        ("x = 1 // a comment\ry = a / b", False),  # CR ends a line comment too
        # QuickJS ends a line comment at U+2028 and U+2029 as well: what follows is code
        ("x = 1 // a comment\u2028y = a / b", False),
        ("x = 1 // a comment\u2029y = a / b", False),
        ("x = '\u2028' // no slash token at all", False),  # such a text is not read
        ("s = 'a / b'; t = \"c / d\"; /* e / f */ u = `g / h`", True),
    ],
)
def test_slash_free_reads_line_comments_to_their_end(text: str, free: bool) -> None:
    assert slash_free(text) is free
