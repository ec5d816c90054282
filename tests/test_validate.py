"""Tests for jshost.script.validate: every check on small scripts, with exact positions.

Each fixture is the one-line test meta followed by a body, so body line N is script line N+1.
Positions are 1-based ``line:col`` in characters, as ``validate`` prints them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jshost.script import MAX_SCRIPT_CHARS, parse_script
from jshost.script.diagnostics import CODES, Diagnostic, SourceMap
from jshost.script.validate import format_text, validate_file, validate_source

META = "export const meta = { name: 'v', description: 'a validate test' }\n"
PHASED = (
    "export const meta = { name: 'v', description: 'd', "
    "phases: [{ title: 'Scan' }, { title: 'Report', detail: 'sum up' }] }\n"
)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def found(body: str, meta: str = META) -> list[tuple[int | None, int | None, str]]:
    """``(line, col, code)`` of every diagnostic for ``meta + body``."""
    report = validate_source(meta + body, path="t.js")
    return [(d.line, d.col, d.code) for d in report.diagnostics]


def codes(body: str, meta: str = META) -> list[str]:
    return [code for _, _, code in found(body, meta)]


def messages(body: str, meta: str = META) -> list[str]:
    return [d.message for d in validate_source(meta + body, path="t.js").diagnostics]


# -- a clean script ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.js")))
def test_samples_have_no_problems(sample):
    report = validate_file(SAMPLES / sample)
    assert report.diagnostics == []
    assert report.script is not None and report.errors == report.warnings == 0
    assert report.script.sha256 == report.sha256


def test_clean_script_with_every_construct():
    body = """\
const { hosts = ['a'], limit = 3 } = args ?? {}
function helper(x, { label } = {}, ...rest) { return agent(`scan ${x}`, { label, model: 'haiku' }) }
class Box { constructor(v) { this.v = v } get value() { return this.v } }
label: for (const [i, h] of hosts.entries()) { if (i > limit) break label }
try { JSON.parse('x') } catch ({ message }) { log(message) }
const results = await parallel(hosts.map((h) => () => helper(h)))
const piped = await pipeline(hosts, (h) => agent(h), async (r, h, i) => agent(`${r} ${h} ${i}`))
console.warn(new Box(results).value, piped, typeof undeclaredThing === 'undefined', budget.total)
setTimeout(() => {}, 10); clearTimeout(0)
return { results, date: new Date(2020, 1).toISOString(), n: Date.parse('2020') }
"""
    assert found(body) == []


# -- load checks: exactly what run refuses ---------------------------------------------------


def test_size_is_reported_and_other_checks_still_run():
    body = "const t = Date.now()\n//" + "x" * MAX_SCRIPT_CHARS + "\n"
    assert found(body) == [(None, None, "E101"), (2, 11, "E301")]
    assert messages(body)[0] == "Script exceeds 524288 bytes"


def test_every_control_character_is_reported():
    body = "const a = 'x\u202ey'\nconst b = 1 // \u200b\n"
    assert found(body) == [(2, 13, "E102"), (3, 16, "E102")]
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in messages(body)[0]


def test_many_control_characters_end_with_a_count():
    report = validate_source(META + "// " + "\x07" * 30 + "\n", path="t.js")
    e102 = [d for d in report.diagnostics if d.code == "E102"]
    assert len(e102) == 21
    assert e102[-1].message == "script contains 10 more control characters (not listed)"
    assert (e102[0].line, e102[0].col) == (2, 4)


def test_not_utf8_is_reported_with_position(tmp_path):
    path = tmp_path / "latin1.js"
    path.write_bytes(META.encode() + b"const s = 'caf\xe9'\n")
    report = validate_file(path)
    assert [(d.line, d.col, d.code) for d in report.diagnostics] == [(2, 15, "E103")]
    assert report.diagnostics[0].message == "script is not valid UTF-8: byte 0xe9 cannot be decoded"


def test_giant_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "giant.js"
    path.write_bytes(b"/" * (4 * MAX_SCRIPT_CHARS + 1))
    report = validate_file(path)
    assert [d.code for d in report.diagnostics] == ["E101"]
    assert report.fanout is None


def test_syntax_error_position_and_hint():
    report = validate_source(META + "const a = 1\nconst b = = 2\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code, d.severity) == (3, 11, "E104", "error")
    assert d.message.startswith("SyntaxError: ")
    assert "plain JavaScript" in (d.hint or "")


@pytest.mark.parametrize(
    ("body", "line", "col", "construct"),
    [
        ("const a: string = 'x'", 2, 8, "a type annotation"),
        ("function f(x: number) { return x }", 2, 13, "a type annotation"),
        ("function f(): Promise<string> { return 1 }", 2, 13, "a type annotation"),
        ("interface A { x: number }", 2, 1, "an interface declaration"),
        ("type T = { a: string }", 2, 6, "a type alias"),
        ("enum E { A }", 2, 1, "an enum"),
        ("const a = x as const", 2, 13, "a type assertion"),
        ("function g<T>(x) { return x }", 2, 11, "a generic function"),
        ("const m = new Map<string, number>()", 2, 33, "generic type arguments"),
        ("const a = <any>x", 2, 11, "a type cast"),
        ("class A { private x = 1 }", 2, 19, "a TypeScript-only keyword"),
        ("const a = b!", 2, 12, "a non-null assertion"),
    ],
)
def test_typescript_is_named(body, line, col, construct):
    report = validate_source(META + body + "\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (line, col, "E105")
    assert d.message.endswith(f"(this looks like TypeScript: {construct})")


def test_plain_syntax_error_is_not_called_typescript():
    assert codes("const s = 'a: string' +\n") == ["E104"]


def test_typescript_message_reaches_run_too():
    with pytest.raises(Exception, match="this looks like TypeScript: a type annotation"):
        parse_script(META + "let n: number = 1\n", path="t.js")


def test_meta_not_first():
    body = "const x = 1\n"
    assert found(body, meta="") == [(1, 1, "E106")]
    assert found("const y = 2\n", meta="log(1)\n" + META) == [(1, 1, "E106"), (2, 1, "E201")]


def test_every_non_literal_meta_value_is_reported():
    meta = "export const meta = { name: who, description: 'd', tags: [1, f(), ...more] }\n"
    assert found("return 1\n", meta=meta) == [
        (1, 29, "E107"),
        (1, 62, "E107"),
        (1, 67, "E107"),
    ]
    assert messages("return 1\n", meta=meta) == [
        "meta must be a pure literal: non-literal node type in meta: Identifier",
        "meta must be a pure literal: non-literal node type in meta: CallExpression",
        "meta must be a pure literal: spread not allowed in meta",
    ]


def test_name_and_description_are_both_reported():
    meta = "export const meta = {\n  name: '',\n  description: 5,\n}\n"
    assert found("return 1\n", meta=meta) == [(2, 3, "E108"), (3, 3, "E109")]
    assert messages("return 1\n", meta=meta) == [
        "meta.name must be a non-empty string",
        "meta.description must be a non-empty string",
    ]


def test_validate_finds_what_parse_script_raises():
    source = META + "const a = 1\nconst b = = 2\n"
    with pytest.raises(Exception) as info:
        parse_script(source, path="t.js")
    assert str(validate_source(source, path="t.js").diagnostics[0].to_error()) == str(info.value)


# -- features the sandbox does not have -------------------------------------------------------


def test_import_and_export_replace_the_bare_syntax_error():
    assert found("import fs from 'fs'\nreturn 1\n") == [(2, 1, "E201")]
    assert found("const a = 1\nexport { a }\n") == [(3, 1, "E201")]
    assert found("export const b = 2\n") == [(2, 1, "E201")]
    assert "not as a module" in messages("import fs from 'fs'\n")[0]


def test_with_statement():
    assert found("with (Math) { log(PI) }\n") == [(2, 1, "E202")]
    assert messages("with (Math) {}\n") == [
        "'with' statements are not supported in workflow scripts."
    ]


def test_dynamic_import():
    assert found("const m = await import('fs')\n") == [(2, 17, "E203")]
    assert messages("import('x')\n") == ["import() is not available in workflow scripts."]


def test_eval_and_function_constructor():
    body = "eval('1')\nconst e = eval\nnew Function('return 1')\nFunction('x')\nFunction.name\n"
    assert found(body) == [(2, 1, "E204"), (3, 11, "E204"), (4, 1, "E205"), (5, 1, "E205")]


@pytest.mark.parametrize(
    ("body", "code", "col"),
    [
        ("const fs = require('fs')", "E206", 12),
        ("log(process.env.HOME)", "E207", 5),
        ("const r = await fetch('https://x')", "E208", 17),
    ],
)
def test_node_and_browser_apis(body, code, col):
    assert found(body + "\n") == [(2, col, code)]


def test_typeof_guards_and_local_bindings_are_fine():
    body = """\
if (typeof process !== 'undefined') log('node')
if (typeof (require) === 'function') log('cjs')
const fetch = (url) => agent(`fetch ${url}`)
function f(process) { return process.cwd }
await fetch('x')
"""
    assert found(body) == []


# -- determinism ---------------------------------------------------------------------------------


def test_clock_and_randomness():
    body = """\
const a = Date.now()
const b = new Date()
const c = new Date
const d = Date()
const e = Math.random()
const f = Date.now
"""
    assert found(body) == [
        (2, 11, "E301"),
        (3, 11, "E302"),
        (4, 11, "E302"),
        (5, 11, "W304"),
        (6, 11, "E303"),
        (7, 11, "E301"),
    ]
    assert messages("Math.random()\n")[0].startswith("Math.random() is unavailable in workflow")
    assert messages("Date.now()\n")[0].startswith("Date.now() / new Date() are unavailable")


def test_determinism_not_in_strings_comments_or_shadowed():
    body = """\
const s = 'Date.now() Math.random() new Date()' // Date.now()
/* Math.random() */ const t = `new Date() ${'Date.now()'}`
const ok = [new Date(0), Date.parse('2020'), Date.UTC(2020), Math['random']]
function g(Math) { return Math.random() }
{ const Date = { now: () => 1 }; log(Date.now()) }
"""
    assert found(body) == []


# -- undefined names -------------------------------------------------------------------------------


def test_field_guide_globals_are_undefined_names():
    body = """\
const logs = await parallel(
  nginxServers.map(server => () => agent(`Scan ${server}`, { model: 'haiku' })))
const more = nginxServers.length + backendServices.length
return { logs, more }
"""
    report = validate_source(META + body, path="t.js")
    assert [(d.line, d.col, d.code) for d in report.diagnostics] == [
        (3, 3, "W401"),
        (4, 36, "W401"),
    ]
    first, second = report.diagnostics
    assert first.severity == "warning"
    assert first.message == (
        "'nginxServers' is not defined (used 2 times): pass it in args and read it as "
        "args.nginxServers"
    )
    assert "const { nginxServers } = args" in (first.hint or "")
    assert second.message.startswith("'backendServices' is not defined: pass it in args")


def test_scopes_hoisting_and_patterns():
    body = """\
function outer() { return inner() }
function inner() { return later }
var later = 1
const [a, { b, c: [d] = [] }, ...e] = [1, {}, 3]
const f = ({ g = a }, [h] = [], ...i) => g + h + i.length + b + d + e.length
for (const k in { x: 1 }) log(k)
for (let j = 0; j < 2; j++) log(j)
try { throw 1 } catch (err) { log(err) }
const C = class Named { m() { return Named } }
function args_(x) { return arguments.length + x }
log(outer(), f({}), C, globalThis, JSON, Promise, Symbol.iterator, NaN, Infinity)
"""
    assert found(body) == []


def test_block_scoped_names_do_not_leak():
    body = "{ const inner = 1 }\nfor (let i = 0; i < 1; i++) {}\nlog(inner, i)\n"
    assert found(body) == [(4, 5, "W401"), (4, 12, "W401")]


def test_names_inside_object_and_array_literals_are_seen():
    # The walk passes over objects and arrays that are only literals (keys, strings,
    # numbers, true, false, null); a name anywhere in one makes it no such literal.
    body = """\
const a = { k: 'x', 'q': [1, -2.5e3, null, { deep: [true, missingA] }] }
const b = [{ s: "it's" }, { missingB }, { [missingC]: 1 }, { t: `${missingD}` }]
const c = { u: 1, /* note */ v: missingE, w: undefined, x: 'a\\'b' }
log(a, b, c, { 'y': [[], {}], z: 0x1F }, [missingF])
"""
    assert found(body) == [
        (2, 59, "W401"),
        (3, 29, "W401"),
        (3, 44, "W401"),
        (3, 68, "W401"),
        (4, 33, "W401"),
        (5, 43, "W401"),
    ]


def test_deeply_nested_literals_are_walked_in_linear_time():
    # Each object or array is a candidate literal: the scans must not start over at every
    # level (quadratic in the nesting), whatever breaks the literal at the bottom.
    depth = 20_000
    body = "const x = " + "[{ a: " * depth + "missingName" + " }]" * depth + "\nlog(x)\n"
    started = time.process_time()
    report = validate_source(META + body, path="t.js")
    assert time.process_time() - started < 5
    assert any(d.code == "W401" and "missingName" in d.message for d in report.diagnostics)


def test_deeply_nested_agent_calls_are_estimated_in_linear_time():
    # The fan-out estimate climbs from each agent() call to its enclosing function; with
    # tree-sitter's Node.parent (a descent from the root) that was cubic in the nesting:
    # 500 levels took 30 s, and the 512 KiB limit allows some 14,000.
    depth = 3_000
    body = "const r = " + "await agent('p', { schema: { a: " * depth + "1" + " } })" * depth
    started = time.process_time()
    report = validate_source(META + body + "\nreturn r\n", path="t.js")
    assert time.process_time() - started < 5
    assert report.fanout.constant == depth and report.fanout.exact


@pytest.mark.parametrize(
    ("opening", "closing", "code", "count"),
    [
        ("Math.max(", ")", None, 0),
        ("Date.now(", ")", "E301", 10_000),
        ("process.cwd(", ")", "E207", 10_000),
        ("(typeof process === 'u' ? process : f(", "))", "E207", 0),
    ],
)
def test_reads_in_deeply_nested_expressions_are_checked_in_linear_time(
    opening, closing, code, count
):
    # Each read's parent (and, for a guarded global, each climb to a `typeof` test) was a
    # descent from the root: 10,000 levels took 5-8 s, the 512 KiB limit allows ~50,000.
    depth = 10_000
    body = "const r = " + opening * depth + "1" + closing * depth + "\nreturn r\n"
    started = time.process_time()
    report = validate_source(META + body, path="t.js")
    assert time.process_time() - started < 5
    if code is not None:
        assert sum(d.code == code for d in report.diagnostics) == count


def _cpu_of_validate(source: str) -> float:
    """The least CPU time of two ``validate_source`` runs (the lesser is less disturbed)."""
    times = []
    for _ in range(2):
        started = time.process_time()
        validate_source(source, path="t.js")
        times.append(time.process_time() - started)
    return min(times)


@pytest.mark.parametrize(
    ("opening", "middle", "closing"),
    [
        # each read climbed every scope around it to find its declaration (the chain now)
        ("if (a) { log(a)\n", "", "}"),
        ("{ var v = a\n", "", "}"),  # and each `var` climbed the blocks to its function
        # and each `args` was looked up from the root; each loop's fan-out term multiplied
        # the product of all the loops above it
        ("for (const x of args.xs) { log(x)\n", "await agent('p')", "}"),
        ("await parallel(args.xs.map(() => () => ", "agent('p')", "))"),
    ],
)
def test_deeply_nested_scopes_validate_in_time_linear_in_the_nesting(opening, middle, closing):
    # Judged against the same text unnested, on CPU time: before, 4,000 nested loops took
    # 40 times as long as 4,000 in a row, and the 512 KiB limit allows 20,000 (a minute).
    depth = 4_000
    head = META + "const a = 1\n"
    nested = head + opening * depth + middle + closing * depth + "\n"
    flat = head + (opening + middle + closing + "\n") * depth
    assert len(flat) >= len(nested)  # the reference has as much to read, or more
    validate_source(flat, path="t.js")  # warm: imports, the sandbox's names
    assert _cpu_of_validate(nested) < 4 * _cpu_of_validate(flat) + 0.05


def test_a_fan_out_term_of_deeply_nested_loops_is_bounded():
    # Each of thousands of nested loops multiplied its own copy of the product above it
    # (quadratic time and memory); past 32 factors the product is one unknown factor.
    loops = "for (const x of args.xs) " * 40
    report = validate_source(META + loops + "await agent('p')\n", path="t.js")
    fanout = report.fanout.to_json()
    assert fanout["agent_calls"] == 1 and not fanout["exact"]
    ((term),) = fanout["terms"]
    assert len(term["factors"]) <= 32
    assert any(f.startswith("loops nested over 32 deep at ") for f in term["factors"])
    assert "args.xs.length" in term["factors"]
    shallow = validate_source(META + "for (const x of args.xs) " * 3 + "await agent('p')\n")
    assert shallow.fanout.to_json()["terms"] == [
        {"coefficient": 1, "factors": ["args.xs.length"] * 3}
    ]


def test_a_name_read_in_its_own_declaration_is_traced_once_per_level(tmp_path):
    # The fan-out traces where `x.length` comes from through the names it reads, 40 levels
    # deep at most; with two reads of `x` in its own value that was 2**40 walks: `validate`
    # of this 3-line script never ended (a seeded mutant of a sample found it). Each origin's
    # sources are now remembered. A process, so that the old code fails instead of hanging.
    script = tmp_path / "self.js"
    script.write_text(
        META + "const x = args ? x.a + x.b : []\nfor (const y of x) await agent('p')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "jshost", "validate", "--json", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    fanout = json.loads(done.stdout)["files"][0]["fanout"] if done.stdout.startswith("{") else None
    assert fanout is not None, done.stdout + done.stderr
    assert fanout["terms"] == [{"coefficient": 1, "factors": ["x.length"]}]
    assert fanout["factors"] == {"x.length": "args"}


def test_meta_is_not_visible_to_the_body():
    report = validate_source(META + "log(meta.name)\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, 5, "W401")
    assert "cannot see its meta header" in d.message


def test_host_api_names_and_assignments():
    assert messages("log(Buffer.from('x'))\n") == [
        "'Buffer' is not defined: it is a Node.js or browser API, and workflow scripts run "
        "in a sandbox without them"
    ]
    assert messages("total = 1\n")[0].startswith("'total' is assigned but never declared")


def test_no_undefined_names_when_the_tree_is_broken():
    # tree-sitter's error recovery may drop declarations: better silent than wrong.
    assert codes("const x: string = y\n") == ["E105"]


# -- agent() -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "col", "got"),
    [
        ("await agent()", 7, "undefined"),
        ("await agent(42)", 13, "number"),
        ("await agent({ label: 'x' })", 13, "object"),
        ("await agent(() => 'x')", 13, "function"),
    ],
)
def test_agent_prompt(body, col, got):
    report = validate_source(META + body + "\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, col, "E501")
    assert d.message == f"agent() expects a prompt string as its first argument, got {got}"


def test_agent_prompt_may_be_any_string_expression():
    assert found("const p = 'x'\nawait agent(p)\nawait agent(`a ${p}`)\nawait agent(p + 1)\n") == []


def test_agent_unknown_option_with_suggestion():
    report = validate_source(META + "await agent('x', { lable: 'y', tools: [] })\n", path="t.js")
    first, second = report.diagnostics
    assert (first.line, first.col, first.code, first.severity) == (2, 20, "W502", "warning")
    assert first.message == "unknown agent() option 'lable' is ignored (did you mean 'label'?)"
    assert second.message == "unknown agent() option 'tools' is ignored"
    assert "known options: label, phase, schema" in (second.hint or "")


@pytest.mark.parametrize(
    ("options", "col", "message"),
    [
        ("'haiku'", 18, "agent() options must be an object, got string"),
        ("['haiku']", 18, "agent() options must be an object, not an array"),
        ("{ label: 5 }", 27, "agent() option 'label' must be a string, not a number"),
        ("{ model: true }", 27, "agent() option 'model' must be a string, not a boolean"),
        ("{ phase: {} }", 27, "agent() option 'phase' must be a string, not an object"),
        ("{ agentType: [] }", 31, "agent() option 'agentType' must be a string, not an array"),
        ("{ stallMs: '5000' }", 29, "agent() option 'stallMs' must be a number, not a string"),
        ("{ effort: true }", 28,
         "agent() option 'effort' must be a string or a number, not a boolean"),
        ("{ schema: 'object' }", 28,
         "agent() option 'schema' must be a JSON Schema object, not a string"),
    ],
)  # fmt: skip
def test_agent_option_types(options, col, message):
    report = validate_source(META + f"await agent('x', {options})\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, col, "E503")
    assert d.message == message


def test_agent_effort_values():
    report = validate_source(META + "await agent('x', { effort: 'extreme' })\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code, d.severity) == (2, 28, "E504", "warning")
    assert d.message == (
        "agent() option 'effort' 'extreme' is ignored: it must be one of 'low', 'medium', "
        "'high', 'xhigh', 'max' (or a number)"
    )
    for ok in ("'low'", "'medium'", "'high'", "'xhigh'", "'max'", "'med'", "3", "null", "e"):
        assert found(f"const e = 'low'\nawait agent('x', {{ effort: {ok} }})\n") == []


def test_agent_isolation():
    assert messages("await agent('x', { isolation: 'remote' })\n") == [
        "agent({isolation:'remote'}) is not available in this build"
    ]
    assert found("await agent('x', { isolation: 'sandbox' })\n") == [(2, 31, "E505")]
    assert found("await agent('x', { isolation: 'worktree' })\n") == []


def test_agent_schema_invalid():
    body = "await agent('x', {\n  schema: { properties: { a: { type: 'nope' } } },\n})\n"
    report = validate_source(META + body, path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (3, 38, "E506")  # at the bad value itself
    assert d.message.startswith("agent({schema}) received an invalid JSON Schema: ")
    assert "(at $.properties.a.type)" in d.message


def test_agent_schema_unsatisfiable():
    body = (
        "await agent('x', { schema: { type: 'object', properties: { a: {} }, "
        "required: ['a', 'b'], additionalProperties: false } })\n"
    )
    report = validate_source(META + body, path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, 28, "E507")
    assert d.message == (
        "agent({schema}) received an unusable JSON Schema — a required key is ruled out by "
        "additionalProperties: false: $.required[1] 'b' is not among the declared properties. "
        "The subagent was not started — fix the schema and call agent() again."
    )
    bounds = "{ type: 'string', minLength: 5, maxLength: 2 }"
    assert codes(f"await agent('x', {{ schema: {bounds} }})\n") == ["E507"]


def test_agent_schema_built_from_values_is_left_to_the_runtime():
    body = "const kinds = ['a']\nawait agent('x', { schema: { enum: kinds, required: 5 } })\n"
    assert found(body) == []
    assert found("await agent('x', { schema: true })\n") == []


def test_shadowed_agent_is_not_checked():
    body = "function agent(x) { return x }\nagent(42, 'nope')\n"
    assert found(body) == []


# -- parallel() and pipeline() ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "col"),
    [
        ("parallel()", 7),
        ("parallel('x')", 16),
        ("parallel({ a: () => 1 })", 16),
        ("parallel(agent('x'))", 16),
        ("parallel(() => agent('x'))", 16),
    ],
)
def test_parallel_not_an_array(call, col):
    report = validate_source(META + f"await {call}\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, col, "E601")
    assert d.message == "parallel() expects an array of functions"


def test_parallel_promises_instead_of_thunks():
    body = """\
await parallel([agent('a'), () => agent('b'), 'c', new Promise(() => {})])
await parallel(['a', 'b'].map((x) => agent(x)))
await parallel(['a'].map(async (x) => () => agent(x)))
await parallel(Array.from({ length: 3 }, (_, i) => agent(`${i}`)))
await parallel(['a'].map((x) => { if (x) return agent(x); return parallel([]) }))
"""
    assert found(body) == [
        (2, 17, "E602"),
        (2, 47, "E602"),
        (2, 52, "E602"),
        (3, 38, "E602"),
        (4, 26, "E602"),
        (5, 52, "E602"),
        (6, 49, "E602"),
    ]
    assert messages("await parallel([agent('a')])\n") == [
        "parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)"
    ]


def test_parallel_with_thunks_is_fine():
    body = """\
const make = (x) => () => agent(x)
const list = ['a', 'b']
await parallel([() => agent('a'), async () => agent('b'), make('c')])
await parallel(list.map((x) => () => agent(x)))
await parallel(list.map(make))
await parallel(list.map((x) => make(x)))
await parallel(list.map((x) => { if (!x) return () => null; return () => agent(x) }))
await parallel([...list.map(make)])
"""
    assert found(body) == []


def test_pipeline_items_and_stages():
    body = """\
await pipeline('abc', (x) => x)
await pipeline()
await pipeline(['a'], 'stage', (x) => agent(x), agent('y'), async (x) => agent(x))
"""
    assert found(body) == [(2, 16, "E603"), (3, 7, "E603"), (4, 23, "E604"), (4, 49, "E604")]
    assert messages("await pipeline(['a'], 1)\n") == [
        "pipeline() stages must be functions: pipeline(items, item => ..., result => ...)"
    ]
    assert messages("await pipeline('a')\n") == [
        "pipeline() expects an array as the first argument"
    ]


# -- phases and budget ---------------------------------------------------------------------------


def test_undeclared_and_unused_phases():
    body = "phase('Scan')\nphase('Verify')\nawait agent('x', { phase: 'Other' })\n"
    report = validate_source(PHASED + body, path="t.js")
    assert [(d.line, d.col, d.code) for d in report.diagnostics] == [
        (1, 89, "W702"),
        (3, 7, "W701"),
        (4, 27, "W701"),
    ]
    unused, verify, other = report.diagnostics
    assert unused.message == (
        "phase 'Report' is declared in meta.phases but never used by phase() or agent({phase})"
    )
    assert verify.message == "phase 'Verify' is not declared in meta.phases"
    assert verify.hint == "declared phases: 'Scan', 'Report'"
    assert other.message == "phase 'Other' is not declared in meta.phases"


def test_phases_used_through_agent_options_and_templates():
    body = "phase(`Scan`)\nawait agent('x', { phase: 'Report' })\n"
    assert found(body, meta=PHASED) == []


def test_dynamic_phase_titles_silence_the_unused_check():
    body = "for (const p of ['Scan', 'Report']) phase(p)\n"
    assert found(body, meta=PHASED) == []


def test_phase_without_declared_phases():
    report = validate_source(META + "phase('Scan')\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.code, d.hint) == ("W701", "declared phases: none")


def test_budget_called_as_a_function():
    report = validate_source(META + "if (budget() > 0) log(budget.remaining())\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code) == (2, 5, "E703")
    assert d.message == (
        "budget is not a function: use budget.remaining(), budget.spent() or budget.total"
    )


@pytest.mark.parametrize(
    "loop",
    [
        "while (budget.remaining() > 1000) { await agent('x') }",
        "while ((budget.remaining() > 0)) await agent('x')",
        "do { await agent('x') } while (budget.remaining() > 0)",
        "for (; budget.remaining() > 0;) { await agent('x') }",
        "while (true) { if (budget.remaining() < 1000) break; await agent('x') }",
        "for (;;) { if (budget.remaining() < 1) { break } await agent('x') }",
    ],
)
def test_budget_loops_without_a_bound(loop):
    report = validate_source(META + loop + "\n", path="t.js")
    (d,) = report.diagnostics
    assert (d.line, d.col, d.code, d.severity) == (2, 1, "W704", "warning")
    assert "runs on until the agent cap" in d.message


@pytest.mark.parametrize(
    "loop",
    [
        "for (let i = 0; i < 10 && budget.remaining() > 0; i++) await agent('x')",
        "let n = 0\nwhile (n++ < 5 && budget.remaining() > 0) await agent('x')",
        "while (budget.remaining() > 0) { const r = await agent('x'); if (r) break }",
        "while (budget.remaining() > 0) { if (await agent('x')) return 1 }",
        "while (true) { await agent('x'); break }",
        "if (budget.remaining() > 0) await agent('x')",
        "for (const x of [1, 2]) { if (budget.remaining() < 1) break; await agent('x') }",
        "while (budget.remaining() > 0) { for (;;) { break } await agent('x'); break }",
    ],
)
def test_bounded_budget_loops_are_fine(loop):
    assert found(loop + "\n") == []


# -- fan-out -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("return 1", "no agent() calls"),
        ("await agent('a')", "1 agent"),
        ("await agent('a')\nawait agent('b')\nawait agent('c')", "3 agents"),
        ("await parallel([() => agent('a'), () => agent('b'), () => agent('c')])", "3 agents"),
        ("await parallel(['a', 'b'].map((x) => () => agent(x)))", "2 agents"),
        ("const xs = ['a', 'b', 'c']\n"
         "for (const x of xs) { await agent(x); await agent(x) }", "6 agents"),
        ("for (let i = 0; i < 5; i++) await agent(`${i}`)", "5 agents"),
        ("for (let i = 1; i <= 5; i++) await agent(`${i}`)", "5 agents"),
        ("await parallel(Array.from({ length: 4 }, (_, i) => () => agent(`${i}`)))", "4 agents"),
        ("const ask = (q) => agent(q)\nawait ask('a')\nawait ask('b')", "2 agents"),
        ("function ask(q) { return agent(q) }\n"
         "await parallel(['a', 'b', 'c'].map((q) => () => ask(q)))", "3 agents"),
        ("await pipeline(['a', 'b', 'c'], (x) => agent(x), (y) => agent(y))", "6 agents"),
        ("await parallel([1, 2].map((x) => () =>\n"
         "  parallel([3, 4, 5].map((y) => () => agent(`${x}${y}`)))))", "6 agents"),
        ("const xs = [1, 2]\n"
         "await parallel([...xs, ...xs].map((x) => () => agent(`${x}`)))", "4 agents"),
    ],
)  # fmt: skip
def test_fanout_evident(body, text):
    report = validate_source(META + body + "\n", path="t.js")
    assert report.fanout is not None
    assert report.fanout.text() == text
    assert report.fanout.exact


def test_fanout_depends_on_args():
    body = """\
const { hosts } = args
await parallel(args.servers.map((s) => () => agent(s)))
for (const h of hosts) await agent(h)
await agent('sum')
"""
    report = validate_source(META + body, path="t.js")
    fanout = report.fanout
    assert fanout is not None and fanout.depends_on_args and not fanout.exact
    assert fanout.text() == "1 + args.servers.length + hosts.length agents (depends on args)"
    assert fanout.to_json()["terms"] == [
        {"coefficient": 1, "factors": ["args.servers.length"]},
        {"coefficient": 1, "factors": ["hosts.length"]},
    ]


def test_fanout_that_depends_on_answers():
    body = """\
const plan = await agent(`angles for ${args.q}`, { schema: { type: 'array' } })
await parallel(plan.map((a) => () => agent(a)))
"""
    fanout = validate_source(META + body, path="t.js").fanout
    assert fanout is not None and not fanout.depends_on_args
    assert fanout.factors == {"plan.length": "answers"}
    assert fanout.text() == ("1 + [plan.length] agents (depends on agents' answers: plan.length)")


def test_fanout_with_many_terms_says_how_many_it_leaves_out():
    body = "".join(f"for (const x of args.list{i}) await agent(x)\n" for i in range(14))
    fanout = validate_source(META + body, path="t.js").fanout
    assert fanout is not None and fanout.more_terms == 2 and len(fanout.terms) == 12
    assert fanout.text().endswith(" + (2 more terms) agents (depends on args)")
    assert not fanout.exact


def test_fanout_loops_are_not_evident():
    body = "let more = true\nwhile (more) { more = !!(await agent('x')) }\nawait agent('y')\n"
    fanout = validate_source(META + body, path="t.js").fanout
    assert fanout is not None and not fanout.depends_on_args
    assert fanout.text() == "1 + [loop at 3:1] agents (not evident: loop at 3:1)"


def test_fanout_of_the_samples():
    texts = {p.name: validate_file(p).fanout.text() for p in SAMPLES.glob("*.js")}
    assert texts == {
        "hello.js": "1 + names.length agents (depends on args)",
        "nginx-502-debug.js": "6 + groups.length + slices.length agents (depends on args)",
        "redis-bigkey-scan.js": (
            "1 + scanAgents + 3 × [suspects.length] agents "
            "(depends on args; not evident: suspects.length)"
        ),
        "release-notes.js": "2 × args.changes.length agents (depends on args)",
    }


# -- inputs that could exhaust a recursion ---------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "const x = " + "(" * 3000 + "1" + ")" * 3000,
        "const x = " + "[" * 3000 + "]" * 3000,
        "while (budget.remaining() > 0" + " && a" * 3000 + ") await agent('x')",
        "const f = " + "() => " * 600 + "agent('x')\nawait f()",
        "await agent('x', { schema: " + "{ a: " * 400 + "{}" + " }" * 400 + " })",
        "log(" + "x + " * 3000 + "1)",
    ],
)
def test_deep_nesting_never_crashes(body):
    report = validate_source(META + body + "\n", path="t.js")
    assert all(d.code in CODES for d in report.diagnostics)
    assert report.fanout is not None and report.fanout.text()


# -- the report and its formats ----------------------------------------------------------------


def test_diagnostics_are_sorted_and_formatted_like_a_compiler():
    report = validate_source(META + "log(x)\nconst t = Date.now()\n", path="flow.js")
    assert format_text(report) == [
        "flow.js:2:5: warning W401 'x' is not defined: pass it in args and read it as args.x",
        "    hint: for example: jshost run SCRIPT --args '{\"x\": …}' and `const { x } = args`",
        "flow.js:3:11: error E301 Date.now() / new Date() are unavailable in workflow scripts "
        "(breaks resume). Stamp results after the workflow returns, or pass timestamps via "
        "args.",
        "    const t = Date.now()",
        "              ^",
    ]
    assert (report.errors, report.warnings) == (1, 1)
    assert report.failed() and report.failed(strict=True)


def test_warnings_fail_only_when_strict():
    report = validate_source(META + "log(x)\n", path="t.js")
    assert not report.failed()
    assert report.failed(strict=True)


def test_report_json_shape():
    report = validate_source(META + "await agent('x', { lable: 1 })\n", path="t.js")
    data = json.loads(json.dumps(report.to_json()))
    assert data["path"] == "t.js" and data["name"] == "v"
    assert data["errors"] == 0 and data["warnings"] == 1
    assert data["diagnostics"] == [
        {
            "path": "t.js",
            "line": 2,
            "col": 20,
            "severity": "warning",
            "code": "W502",
            "name": "agent-unknown-option",
            "message": "unknown agent() option 'lable' is ignored (did you mean 'label'?)",
            "hint": "known options: label, phase, schema, model, effort, isolation, agentType, "
            "stallMs, disallowedTools, bashCommandClamp",
        }
    ]
    assert data["fanout"]["text"] == "1 agent"
    assert len(data["sha256"]) == 64


def test_positions_count_characters_not_bytes():
    body = "const s = 'héllo wörld 🎉'; log(unknownName)\n"
    assert found(body) == [(2, 32, "W401")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("const a = '\ud800'; Date.now(); log(zz)",
         [(2, 12, "E103"), (2, 16, "E301"), (2, 32, "W401")]),
        ("log(x\ud800y)", [(2, 6, "E103")]),
    ],
)  # fmt: skip
def test_lone_surrogates_in_memory_are_reported_not_compiled(body, expected):
    # No file decodes to a lone surrogate; a string passed in may hold one.
    assert found(body) == expected


def test_codes_are_well_formed_and_documented():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "validate.md").read_text()
    for code, name in CODES.items():
        assert code[0] in "EW" and code[1:].isdigit() and len(code) == 4
        assert f"`{code}`" in docs and f"`{name}`" in docs, code
    with pytest.raises(ValueError, match="unknown diagnostic code"):
        Diagnostic.make("E999", "x", path=None)


def test_source_map_positions():
    positions = SourceMap("ab\r\ncé\nx\u2028y")
    assert positions.pos(0) == (1, 1)
    assert positions.pos(4) == (2, 1)
    assert positions.byte_pos(len(b"ab\r\nc")) == (2, 2)
    assert positions.byte_pos(len("ab\r\ncé\n".encode())) == (3, 1)
    assert positions.pos(len("ab\r\ncé\nx\u2028")) == (4, 1)
    assert positions.index_of(2, 2) == 5
    assert positions.index_of(99, 99) == len(positions.source)
