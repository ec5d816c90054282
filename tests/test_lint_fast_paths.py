"""Property tests: the lint's fast paths (issue 22) answer what the general code answers.

Each fast path skips work only where the tree proves it unneeded: the walk steps over leading
tokens and the rest of a member expression in a tree without errors, literal values are read by
kind id (``literals.py``) with the meta reader as the fallback, and the fan-out's sources come
from pass 1's references when the code holds no function and no agent-like call. Here each one
is compared with the general code on the mutated scripts of ``test_validate_fuzz`` and on
literal-rich ones.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_validate_fuzz import FRAGMENTS, FUZZ, mutated_scripts

from jshost.script.diagnostics import SourceMap
from jshost.script.lint import fanout, literals, scopes
from jshost.script.lint.linter import _Linter, _Scope
from jshost.script.meta import js_parser, literal_value

LITERAL_PARTS = [
    "{", "}", "[", "]", ",", ":", " ", "\n", "a", "b: ", "'k': ", '"k": ', "0: ", "'1': ",
    "'x'", '"y"', "'a\\'b'", "'\\u0041'", "'\\n'", "`t`", "`${a}`", "1", "-1", "1.5", "1e3",
    "0x10", "1n", "1_0", "01", ".5", "1e400", "-0", "12345678901234567890", "true", "false",
    "null", "undefined", "x", "...a", "/r/", "// c\n", "/* c */", "__proto__: 1",
    "constructor: 2", "prototype: 3", "(1)", "+1", "a() {}", "get a() { return 1 }", "[k]: 1",
    "\\u0061: 1", "é: 'é'", "'\u2028'",
]  # fmt: skip


def _linter(source: str, *, clean: bool | None = None) -> tuple[_Linter, Any]:
    tree = js_parser().parse(source.encode("utf-8", "surrogatepass"))
    linter = _Linter(source, tree, "t.js", SourceMap(source), None, None)
    if clean is not None:
        linter.clean = clean
    return linter, tree


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1, 1.0 and True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)


def _nodes(tree: Any) -> list[Any]:
    out, cursor = [], tree.walk()
    while True:
        out.append(cursor.node)
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return out


def check_literals_agree(source: str) -> None:
    linter, tree = _linter(source)
    for node in _nodes(tree):
        if node.is_named:
            fast = literals.literal(linter, node)
            slow = literal_value(node, linter.positions)
            assert fast[0] == slow[0] and _same(fast[1], slow[1]), (node.text, fast, slow)


def _walked(source: str, clean: bool) -> tuple[Any, ...]:
    linter, tree = _linter(source, clean=clean)
    scopes.walk(linter, tree.root_node, _Scope(None, function=True))
    return (
        linter.ref_starts,
        [(s.depth, sorted(s.names)) for s in linter.ref_scopes],
        sorted(linter.declared),
        sorted(linter.calls_at),
        [n.start_byte for n, _ in linter.loops],
        linter.function_starts,
        [str(d) for d in linter.out],
    )


def check_walk_skips_nothing(source: str) -> None:
    """The walk's skips in a tree without errors find what the walk without them finds."""
    linter, _tree = _linter(source)
    if not linter.clean:
        return
    assert _walked(source, True) == _walked(source, False), source


def _estimate(source: str, plain: bool) -> dict[str, Any]:
    linter, tree = _linter(source)
    scopes.walk(linter, tree.root_node, _Scope(None, function=True))
    scopes.resolve(linter)
    if not plain:
        linter.plain_reads = lambda start, end: None  # type: ignore[method-assign]
    return fanout.estimate(linter).to_json()


def check_sources_agree(source: str) -> None:
    """The fan-out's sources read from the references agree with the walk below a value."""
    assert _estimate(source, True) == _estimate(source, False), source


SOURCES_SEED = """\
const { hosts = [], n = 3 } = args ?? {}
const picked = hosts.slice(n % hosts.length, (n % hosts.length) + 4)
const answers = await parallel(picked.map((h) => () => agent(h)))
const again = answers.filter(Boolean).map((a) => a.x)
for (const a of again) await agent(`${a}`)
for (const h of picked.concat(args.more ?? [])) await agent(h)
const made = [1, 2].map(() => hosts)
for (const m of made) await agent('m')
const w = { get m() { return args.z } }
for (const x of w.m) await agent('x')
const c = class { static k = args.k }
for (const y of c.k) await agent('y')
for (const z of [agent('q')]) await agent('z')
"""


TRICKY_LITERALS = [
    "{ type: 'object', properties: { a: { type: 'array', items: {} } }, required: ['a'] }",
    "{ __proto__: 1 }", "{ 'constructor': 1 }", "{ a: { prototype: [] } }",
    "{ '2': 1, b: 2, '1': 3 }",
    "{ '01': 1, '4294967295': 2, '4294967294': 3 }", "{ a: 1, a: 2, b: 3 }", "[1, , 2]", "[, 1]",
    "[1, 2, ]", "{ a: 1, }", "[1 /* c */, 2]", "{ a /* c */: 1 }", "{ a: 1 // c\n }",
    "{ a: 'x\\'y', b: \"\\u0041\\u{1F600}\", c: '\\ud83d\\ude00' }", "{ \\u0061: 1 }",
    "{ a: 1e3, b: 1.5, c: -0, d: 0x10, e: 1_000, f: 017, g: 1n, h: 1e400, i: .5, j: 5. }",
    "{ a: 12345678901234567890, b: -1, c: - 1, d: +1, e: -(1) }", "{ a: (1), b: ((('x'))) }",
    "{ a: `t`, b: /r/g, c: undefined, d: null, e: true, f: false }", "{ 1: 'a', 1.5: 'b' }",
    "{ [k]: 1 }", "{ ...a }", "{ a }", "{ a() {} }", "{ get a() { return 1 } }", "{ 'é': 'é' }",
    "[" * 199 + "]" * 199, "[" * 201 + "]" * 201, "{ a: " * 201 + "1" + " }" * 201,
]  # fmt: skip


def test_literals_read_by_kind_id_agree_on_tricky_literals():
    for text in TRICKY_LITERALS:
        check_literals_agree("x = " + text)


@settings(FUZZ, max_examples=300)
@given(st.lists(st.sampled_from(LITERAL_PARTS), max_size=40).map("".join))
def test_literals_read_by_kind_id_agree_with_the_meta_reader(text):
    check_literals_agree("x = " + text)
    check_literals_agree("agent('p', { schema: " + text + " })")


@settings(FUZZ, max_examples=300)
@given(mutated_scripts())
def test_literals_in_mutated_scripts_agree_with_the_meta_reader(source):
    check_literals_agree(source)


@settings(FUZZ, max_examples=400)
@given(mutated_scripts())
def test_the_walks_skips_lose_nothing(source):
    check_walk_skips_nothing(source)


@settings(FUZZ, max_examples=300)
@given(st.lists(st.sampled_from(list("{}()[];,.=>'`$ \nx0") + FRAGMENTS)).map("".join))
def test_the_walks_skips_lose_nothing_on_arbitrary_text(text):
    check_walk_skips_nothing(text)


@settings(FUZZ, max_examples=300)
@given(st.sampled_from([SOURCES_SEED]), st.data())
def test_sources_from_references_agree_with_the_walk(seed, data):
    source = seed
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(source)))
        piece = data.draw(st.sampled_from([*FRAGMENTS, "args.", "() => ", "agent(", "{ m() {"]))
        source = source[:at] + piece + source[at:]
    check_sources_agree(source)


def test_the_fast_paths_are_taken_on_a_clean_script():
    """The comparisons above compare something: on a clean script each fast path answers."""
    linter, tree = _linter(SOURCES_SEED + "agent('p', { schema: { type: 'object', a: [1] } })")
    assert linter.clean
    scopes.walk(linter, tree.root_node, _Scope(None, function=True))
    scopes.resolve(linter)
    start = SOURCES_SEED.index("hosts.slice")
    end = SOURCES_SEED.index("\n", start)
    assert linter.plain_reads(start, end)  # `hosts` and `n`, found without a walk
    at = len(SOURCES_SEED + "agent('p', { schema: ")
    obj = tree.root_node.descendant_for_byte_range(at, at + 1).parent
    assert literals._Read(linter).value(obj, 0) == {"type": "object", "a": [1]}
