"""The sandbox is a security boundary: what a workflow script can and cannot reach.

Every test runs real scripts through the real engine on the offline sim worker (conftest ``run``),
so what is checked is what a user's script would see. Script bodies start on line 2 of the file
(line 1 is the test meta), which is why error locations below are body line + 1.

CPU, memory and stack limits live in test_limits.py.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import META, run, script_source

from jshost.engine import RunOutcome
from jshost.errors import ScriptLoadError
from jshost.script import MAX_SCRIPT_CHARS, load_script, parse_script

CODEGEN = "Code generation from strings disallowed for this context"
DATE_MSG = (
    "Date.now() / new Date() are unavailable in workflow scripts (breaks resume). "
    "Stamp results after the workflow returns, or pass timestamps via args."
)
RANDOM_MSG = (
    "Math.random() is unavailable in workflow scripts (breaks resume). "
    "For N independent samples, include the index in the agent label or prompt."
)
META_LINE = META.rstrip("\n")


def failed(outcome: RunOutcome) -> tuple[str, str]:
    """(name, message) of a run that must have failed."""
    assert outcome.status == "failed", (outcome.status, outcome.result)
    assert outcome.error is not None
    return outcome.error.name, outcome.error.message


def completed(outcome: RunOutcome) -> object:
    """The result of a run that must have completed."""
    assert outcome.status == "completed", outcome.error
    return outcome.result


def load_error(source: str, path: str | None = "wf.js") -> ScriptLoadError:
    with pytest.raises(ScriptLoadError) as info:
        parse_script(source, path=path)
    return info.value


# -- code generation from strings ------------------------------------------------------------

# Every way to reach a string-compiling constructor: the globals, each function kind's
# constructor through an instance or its prototype, and reflection.
CODEGEN_PATHS = [
    "eval('1')",
    "(0, eval)('1')",
    "globalThis['ev' + 'al']('1')",
    "new Function('return 1')",
    "Function('return 1')",
    "(function () {}).constructor('return 1')",
    "(async () => {}).constructor('return 1')",
    "(function* () {}).constructor('')",
    "(async function* () {}).constructor('')",
    "Object.getPrototypeOf(async function () {}).constructor('')",
    "Reflect.construct(Function, ['return 1'])",
    "(() => { class A {}; return A.constructor('return 1') })()",
    "[].map.constructor('return 1')",
    "Function.prototype.constructor('return 1')",
    "Reflect.apply(Function, null, ['return 1'])",
    "Object.getOwnPropertyDescriptor(class { get x() { return 1 } }.prototype, 'x')"
    ".get.constructor('return 1')",
    "Object.getPrototypeOf(function* () {}).constructor('yield 1')",
]


@pytest.mark.parametrize("expr", CODEGEN_PATHS)
def test_code_generation_from_strings_throws_eval_error(expr):
    """Each path throws EvalError with the reference's text, located on the user's line."""
    out = run(f"const r = {expr}\nreturn 'ran'")
    assert failed(out) == ("EvalError", CODEGEN)
    assert out.error.line == 2


@pytest.mark.parametrize("expr", CODEGEN_PATHS)
def test_code_generation_error_is_catchable(expr):
    """The refusal is an ordinary exception: the script can catch it and go on."""
    out = run(
        f"try {{ {expr} }} catch (e) {{ return [e.name, e.message, e instanceof EvalError] }}"
    )
    assert completed(out) == ["EvalError", CODEGEN, True]


def test_function_identity_still_works():
    """Locking the constructors down must not break instanceof / typeof on ordinary functions."""
    out = run(
        """
        return [
          typeof Function,
          (function () {}) instanceof Function,
          (() => 1) instanceof Function,
          (async () => 1) instanceof Function,
          (function* () {}) instanceof Function,
          (class {}) instanceof Function,
          Math.max instanceof Function,
          agent instanceof Function,
          Object.getPrototypeOf(function () {}) === Function.prototype,
          (function () {}).constructor === Function,
        ]
        """
    )
    assert completed(out) == ["function"] + [True] * 9


def test_code_generation_lockdown_cannot_be_undone():
    """The blocked constructors are non-writable and non-configurable: no way to restore them."""
    out = run(
        """
        const tries = [
          () => { delete Function.prototype.constructor },
          () => { Function.prototype.constructor = null },
          () => { globalThis.eval = (s) => s },
          () => { globalThis.Function = null },
          () => Object.defineProperty(Object.getPrototypeOf(async function () {}),
                                      'constructor', { value: null }),
        ]
        const attempt = (t) => { try { t(); return 'allowed' } catch (e) { return e.name } }
        const outcome = tries.map(attempt)
        const still = attempt(() => (function () {}).constructor('return 1'))
        return [outcome, still]
        """
    )
    assert completed(out) == [["TypeError"] * 5, "EvalError"]


# -- absent APIs -------------------------------------------------------------------------------

ABSENT = [
    "require",
    "process",
    "fetch",
    "Buffer",
    "module",
    "exports",
    "__dirname",
    "__filename",
    "setInterval",
    "setImmediate",
    "performance",
    "queueMicrotask",
    "WeakRef",
    "FinalizationRegistry",
    "SharedArrayBuffer",
    "Atomics",
    "WebAssembly",
    "std",
    "os",
    "print",
    "scriptArgs",
    "gc",
    "atob",
    "btoa",
    "DOMException",
    "structuredClone",
    "crypto",
    "URL",
    "TextEncoder",
    "navigator",
    "ShadowRealm",
]


@pytest.mark.parametrize("name", ABSENT)
def test_absent_global(name):
    """Host, clock, scheduler and GC-observer APIs are not reachable by name at all."""
    out = run(f"return [typeof {name}, '{name}' in globalThis]")
    assert completed(out) == ["undefined", False]


# Standard ECMAScript built-ins of quickjs-ng 0.17 that the sandbox keeps.
ECMASCRIPT_GLOBALS = {
    "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "BigInt", "BigInt64Array",
    "BigUint64Array", "Boolean", "DataView", "Date", "DisposableStack", "Error", "EvalError",
    "Float16Array", "Float32Array", "Float64Array", "Function", "Infinity", "Int16Array",
    "Int32Array", "Int8Array", "InternalError", "Iterator", "JSON", "Map", "Math", "NaN",
    "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp",
    "Set", "String", "SuppressedError", "Symbol", "SyntaxError", "TypeError", "URIError",
    "Uint16Array", "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakSet",
    "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval",
    "globalThis", "isFinite", "isNaN", "parseFloat", "parseInt", "undefined", "unescape",
}  # fmt: skip
PUBLIC_GLOBALS = {
    "agent", "parallel", "pipeline", "phase", "log", "console", "workflow", "budget",
    "setTimeout", "clearTimeout", "args",
}  # fmt: skip


def test_global_object_is_exactly_ecmascript_plus_the_public_api():
    """Allow-list: anything else on globalThis (a new clock, a host hook) is a leak."""
    out = run("return Object.getOwnPropertyNames(globalThis)")
    names = set(completed(out))
    assert names - ECMASCRIPT_GLOBALS == PUBLIC_GLOBALS
    assert not {n for n in names if n.startswith("__")}


@pytest.mark.parametrize(
    "specifier", ["std", "os", "qjs:os", "qjs:std", "./x.js", "x.js", "{tmp}/x.js", "/etc/passwd"]
)
def test_dynamic_import_rejects_and_reads_no_file(specifier, tmp_path, monkeypatch):
    """import() has no module loader behind it: it rejects, and a module file next to the
    script (or named by absolute path) is never evaluated."""
    (tmp_path / "x.js").write_text("globalThis.pwned = 1\nexport default 1\n")
    monkeypatch.chdir(tmp_path)
    spec = specifier.format(tmp=tmp_path)
    out = run(
        f"""
        let err = null
        try {{ await import({spec!r}) }} catch (e) {{ err = e.name + ': ' + e.message }}
        return [err, typeof pwned]
        """
    )
    err, pwned = completed(out)
    assert err is not None
    assert pwned == "undefined"


@pytest.mark.parametrize("specifier", ["std", "os", "./x.js"])
def test_uncaught_dynamic_import_fails_the_run(specifier):
    out = run(f"await import({specifier!r})\nreturn 'loaded'")
    _, message = failed(out)
    # quickjs-ng's own text, or the reference's "import() is not available in workflow scripts."
    assert re.search(r"could not load module|import\(\) is not available", message), message


def test_set_timeout_with_a_code_string_throws_type_error():
    """The string form of setTimeout is eval in disguise."""
    out = run("setTimeout('globalThis.x = 1', 0)")
    assert failed(out)[0] == "TypeError"
    assert out.error.line == 2
    out = run(
        """
        let name = null
        try { setTimeout('globalThis.x = 1', 0) } catch (e) { name = e.name }
        await new Promise((r) => setTimeout(r, 5))
        return [name, typeof x]
        """
    )
    assert completed(out) == ["TypeError", "undefined"]


def test_prepare_stack_trace_can_never_be_installed():
    """A V8-style prepareStackTrace would receive call sites whose getFunction() hands out the
    bridge's own functions. No way of installing one may take effect."""
    out = run(
        """
        let called = 0
        const hook = (err, sites) => { called++; return sites }
        const attempts = [
          () => { Error.prepareStackTrace = hook },
          () => Object.defineProperty(Error, 'prepareStackTrace', { value: hook, writable: true }),
          () => { if (!Reflect.set(Error, 'prepareStackTrace', hook)) throw new TypeError('no') },
          () => { class E extends Error {}; E.prepareStackTrace = hook; return new E('x').stack },
          () => { delete Error.prepareStackTrace; Error.prepareStackTrace = hook },
        ].map((f) => { try { f(); return 'installed' } catch (e) { return e.name } })
        const stacks = [new Error('probe').stack]
        const o = {}
        Error.captureStackTrace(o)
        stacks.push(o.stack)
        try { null.x } catch (e) { stacks.push(e.stack) }
        try { await agent(42) } catch (e) { stacks.push(e.stack) }
        return { attempts, called, kinds: stacks.map((s) => typeof s),
                 now: typeof Error.prepareStackTrace }
        """
    )
    res = completed(out)
    assert res["called"] == 0
    assert res["kinds"] == ["string"] * 4
    assert res["now"] == "undefined"
    # In strict mode a plain assignment to the locked property throws.
    assert res["attempts"][0] == "TypeError"


def test_prepare_stack_trace_assignment_fails_the_run_in_strict_mode():
    out = run("Error.prepareStackTrace = (e, sites) => sites\nreturn new Error('x').stack")
    assert failed(out)[0] == "TypeError"
    assert out.error.line == 2


# -- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("Date.now()", DATE_MSG),
        ("new Date()", DATE_MSG),
        ("Date()", DATE_MSG),
        ("Date('2020-01-01')", DATE_MSG),
        ("Date(0)", DATE_MSG),
        ("Date.call(null, 0)", DATE_MSG),
        ("Reflect.construct(Date, [])", DATE_MSG),
        ("new Date(0).constructor.now()", DATE_MSG),
        ("new Date(0).constructor()", DATE_MSG),
        ("Date.prototype.constructor.now()", DATE_MSG),
        ("Object.getPrototypeOf(new Date(0)).constructor.now()", DATE_MSG),
        ("(() => { class D extends Date {}; return new D() })()", DATE_MSG),
        ("Math.random()", RANDOM_MSG),
        ("Math.random.call(Math)", RANDOM_MSG),
        ("[3, 1, 2].sort(() => Math.random() - 0.5)", RANDOM_MSG),
    ],
)
def test_clock_and_randomness_throw_the_reference_message(expr, message):
    """Resume replays the script, so reading the clock or randomness must fail loudly."""
    out = run(f"const v = {expr}\nreturn String(v)")
    assert failed(out)[1] == message
    assert out.error.line == 2


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("new Date(0).toISOString()", "1970-01-01T00:00:00.000Z"),
        ("new Date('2024-01-02T03:04:05Z').getTime()", 1704164645000),
        ("Date.parse('2024-01-02T03:04:05Z')", 1704164645000),
        ("Date.UTC(2020, 0, 1)", 1577836800000),
        ("new Date(Date.UTC(2020, 0, 1)).toISOString()", "2020-01-01T00:00:00.000Z"),
        ("new Date(new Date(0)).getTime()", 0),
        ("(() => { class D extends Date {}; return new D(0).getTime() })()", 0),
        ("(() => { class D extends Date {}; return new D(0) instanceof Date })()", True),
        ("new Date(0) instanceof Date", True),
        ("new Date(0).constructor === Date", True),
        ("typeof Date", "function"),
        ("JSON.stringify({ at: new Date(0) })", '{"at":"1970-01-01T00:00:00.000Z"}'),
    ],
)
def test_dates_from_explicit_values_still_work(expr, expected):
    assert completed(run(f"return {expr}")) == expected


# -- bridge internals and the public globals ---------------------------------------------------

BRIDGE = ["__jshost_take", "__jshost_settle", "__jshost_child", "__jshost_watch", "__jshost_stop"]


@pytest.mark.parametrize("name", BRIDGE)
def test_bridge_functions_are_unreachable(name):
    """The host's side of the bridge was read once and deleted: a script cannot settle its own
    agents, forge a done event, or fire timers."""
    out = run(
        f"""
        return [typeof {name}, '{name}' in globalThis,
                Reflect.ownKeys(globalThis).filter((k) => String(k).startsWith('__jshost'))]
        """
    )
    assert completed(out) == ["undefined", False, []]


def test_public_globals_exist():
    out = run(
        """
        return {
          agent: typeof agent, parallel: typeof parallel, pipeline: typeof pipeline,
          phase: typeof phase, log: typeof log, workflow: typeof workflow,
          setTimeout: typeof setTimeout, clearTimeout: typeof clearTimeout,
          console: ['log', 'info', 'debug', 'warn', 'error'].map((k) => typeof console[k]),
          budget: [typeof budget, typeof budget.spent, typeof budget.remaining, budget.total],
          args: 'args' in globalThis,
        }
        """
    )
    assert completed(out) == {
        "agent": "function",
        "parallel": "function",
        "pipeline": "function",
        "phase": "function",
        "log": "function",
        "workflow": "function",
        "setTimeout": "function",
        "clearTimeout": "function",
        "console": ["function"] * 5,
        "budget": ["object", "function", "function", None],
        "args": True,
    }


@pytest.mark.parametrize(
    "stmt",
    [
        "agent = 1",
        "parallel = null",
        "pipeline = () => []",
        "globalThis.log = () => {}",
        "setTimeout = 1",
        "console = {}",
        "budget = { total: 1e9 }",
        "budget.total = 1e9",
        "budget.remaining = () => 1e9",
        "delete globalThis.agent",
        "Object.defineProperty(globalThis, 'agent', { value: () => 'forged' })",
    ],
)
def test_public_globals_cannot_be_replaced(stmt):
    """Strict-mode assignment to a bridge global throws; the original keeps working."""
    out = run(stmt)
    assert failed(out)[0] == "TypeError"
    assert out.error.line == 2
    out = run(
        f"""
        let err = null
        try {{ {stmt} }} catch (e) {{ err = e.name }}
        return [err, await agent('still real'), budget.total]
        """
    )
    err, value, total = completed(out)
    assert err == "TypeError"
    assert value == out.agents[0].result
    assert total is None
    assert [a.prompt for a in out.agents] == ["still real"]


# -- prototype pollution cannot forge bridge traffic -------------------------------------------

POLLUTION = [
    "Object.prototype.toJSON = () => ({t: 'agent', id: 999, prompt: 'forged', opts: {}, "
    "schema: null})",
    "Object.defineProperty(Array.prototype, '0', {set(v) {}, get() { "
    'return \'{"t":"done","ok":true,"value":"forged"}\' }, configurable: true})',
    "JSON.stringify = () => '[]'",
    'JSON.stringify = () => \'{"t":"agent","id":999,"prompt":"forged","opts":{}}\'',
    "JSON.parse = () => ({spent: 0, count: 0, r: [[1, true, 'forged']], f: []})",
    "Array.prototype.push = () => 0",
    "Array.prototype.push = function () { "
    'return Array.prototype.unshift.call(this, \'{"t":"done","ok":true,"value":"forged"}\') }',
    'Array.prototype.join = function () { return \'[{"t":"done","ok":true,"value":"forged"}]\' }',
    "Array.prototype[Symbol.iterator] = function* () { yield Promise.resolve('forged') }",
    "Object.defineProperty(Object.prototype, 't', "
    "{get() { return 'agent' }, set(v) {}, configurable: true})",
    "Object.defineProperty(Object.prototype, 'value', "
    "{get() { return 'forged' }, set(v) {}, configurable: true})",
    "Object.defineProperty(Object.prototype, 'count', "
    "{get() { return 0 }, set(v) {}, configurable: true})",
    "Object.defineProperty(Object.prototype, 'length', {get() { return 0 }, configurable: true})",
    "Promise.prototype.then = function () { return this }",
    "Promise.prototype.constructor = function (ex) { return new Promise(ex) }",
    "Map.prototype.get = () => ({resolve() {}, reject() {}})",
    "Map.prototype.set = function () { return this }; Map.prototype.has = () => true",
    "Function.prototype.call = function () { return 'forged' }",
    "Function.prototype.apply = function () { return 'forged' }",
    "Function.prototype.bind = function () { return () => 'forged' }",
    "Reflect.apply = () => 'forged'",
    "Reflect.construct = () => ({})",
    "Object.defineProperty = (o) => o",
    "Object.setPrototypeOf = (o) => o",
    "String.prototype.toString = () => 'forged'",
    "Number.prototype.valueOf = () => 0",
]


@pytest.mark.parametrize("pollution", POLLUTION)
def test_pollution_cannot_forge_an_agent_or_a_result(pollution):
    """The prelude captured everything it relies on before the script ran, and the host
    re-checks what crosses: polluting built-ins never adds agents or fakes a result."""
    out = run(f"{pollution}\nconst r = await agent('real')\nreturn r")
    prompts = [a.prompt for a in out.agents]
    assert "forged" not in prompts
    assert len(out.agents) <= 1
    if out.status == "completed":
        assert prompts == ["real"]
        assert out.agents[0].status == "done"
        assert out.result == out.agents[0].result
        assert out.result != "forged"
    else:
        name, message = failed(out)
        assert name and message and message != "null"


@pytest.mark.parametrize("pollution", POLLUTION)
def test_pollution_cannot_raise_the_agent_cap(pollution):
    """With max_agents=2, a polluted script that keeps calling agent() gets at most 2."""
    out = run(
        f"""
        {pollution}
        const got = []
        for (let i = 0; i < 5; i++) {{
          try {{ got.push(await agent('seq ' + i)) }} catch (e) {{ got.push(e.name) }}
        }}
        let rs = null
        try {{ rs = await parallel([() => agent('a'), () => agent('b'), () => agent('c')]) }}
        catch (e) {{ rs = e.name }}
        return [got, rs]
        """,
        max_agents=2,
    )
    assert len(out.agents) <= 2
    assert "forged" not in [a.prompt for a in out.agents]
    assert out.result != "forged"
    if out.status == "failed":
        assert out.error.message and out.error.message != "null"


def test_cap_errors_reach_a_polluted_script_as_the_reference_error():
    """Sanity for the table above: without pollution the 3rd..5th calls get the cap error."""
    out = run(
        """
        const got = []
        for (let i = 0; i < 5; i++) {
          try { await agent('seq ' + i); got.push('ok') } catch (e) { got.push(e.name) }
        }
        return got
        """,
        max_agents=2,
    )
    assert completed(out) == ["ok", "ok"] + ["WorkflowAgentCapError"] * 3
    assert len(out.agents) == 2


# -- script loading ----------------------------------------------------------------------------


def test_size_cap_exact_boundary():
    """524,288 characters are allowed; one more is refused with the reference's message."""
    filler = MAX_SCRIPT_CHARS - len(META) - 2
    parse_script(META + "//" + "x" * filler)
    parse_script(META + "//" + "é" * filler)  # characters, not UTF-8 bytes
    err = load_error(META + "//" + "x" * (filler + 1))
    assert err.message == "Script exceeds 524288 bytes"


def test_size_cap_applies_to_files(tmp_path):
    big = tmp_path / "big.js"
    big.write_text(META + "//" + "x" * MAX_SCRIPT_CHARS)
    with pytest.raises(ScriptLoadError, match="Script exceeds 524288 bytes"):
        load_script(big)
    huge = tmp_path / "huge.js"
    huge.write_bytes(META.encode() + b"//" + b"x" * (5 * MAX_SCRIPT_CHARS))
    with pytest.raises(ScriptLoadError, match="Script exceeds 524288 bytes"):
        load_script(huge)


CONTROL_MSG = "script contains control characters that would be hidden in the approval dialog"


@pytest.mark.parametrize(
    "ch",
    [
        "\x00",
        "\x07",
        "\x1b",
        "\x7f",
        "\x85",
        "\u202e",  # RIGHT-TO-LEFT OVERRIDE (Trojan Source)
        "\u2066",  # LEFT-TO-RIGHT ISOLATE
        "\u200b",  # ZERO WIDTH SPACE
        "\u00ad",  # SOFT HYPHEN
        "\ufeff",  # a BOM that is not at the start
        "\u2028",  # LINE SEPARATOR: a line break the dialog may not show
        "\u2029",
    ],
)
@pytest.mark.parametrize(
    ("template", "line", "column"),
    [
        (META + "const a = 1\nconst s = 'ab{ch}c'\n", 3, 14),
        (META + "// a comment{ch}\nreturn 1\n", 2, 13),
        (META_LINE + "{ch}\nreturn 1\n", 1, len(META_LINE) + 1),
    ],
)
def test_control_characters_refused_with_location(ch, template, line, column):
    """Hidden characters are refused wherever they are, even in strings and comments."""
    err = load_error(template.replace("{ch}", ch))
    assert CONTROL_MSG in err.message
    assert (err.line, err.column) == (line, column)


def test_tabs_crlf_and_bom_are_accepted_and_run(tmp_path):
    src = META.replace("\n", "\r\n") + "\tconst a = 1\r\n\t\treturn a + 1\r\n"
    parse_script(src)
    parse_script("\ufeff" + src)
    f = tmp_path / "bom.js"
    f.write_bytes(b"\xef\xbb\xbf" + src.encode())
    assert load_script(f).meta.name == "test"
    assert completed(run("\tconst a = 1\r\n\t\treturn a + 1\r\n")) == 2


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [
        (b"const a = 1\nconst s = 'ab\xffc'\n", 3, 14),
        (b"const s = '\xc3'\n", 2, 12),  # truncated 2-byte sequence
        (b"const s = '\xe2\x82'\n", 2, 12),  # truncated 3-byte sequence
        (b"const s = '\xed\xa0\x80'\n", 2, 12),  # an encoded surrogate
        (b"const \xc0\xaf = 1\n", 2, 7),  # overlong encoding of '/'
    ],
)
def test_non_utf8_file_refused_with_location(tmp_path, data, line, column):
    f = tmp_path / "bad.js"
    f.write_bytes(META.encode() + data)
    with pytest.raises(ScriptLoadError) as info:
        load_script(f)
    err = info.value
    assert "UTF-8" in err.message
    assert (err.path, err.line, err.column) == (str(f), line, column)


ESCAPES = [
    "}); globalThis.pwned = 1; (async function(){",
    "})\nglobalThis.pwned = 1\n;(async function(){",
    "}), globalThis.pwned = 1, (async function(){",
    "})(); globalThis.pwned = 1; (function(){",
    "}, globalThis.pwned = 1, function(){",
]


@pytest.mark.parametrize("body", ESCAPES)
def test_body_closing_the_wrapper_is_refused(body):
    err = load_error(script_source(body))
    assert err.message.startswith("SyntaxError")
    # A fresh run does not see anything the refused body tried to do.
    assert completed(run("return typeof pwned")) == "undefined"


def test_escape_payload_is_not_executed_by_the_syntax_check():
    """script/load.py promises that nothing in loading runs the script. An escaping body's
    top-level code must not run even in the scratch context: a payload that spins must not
    cost its 2-second CPU slice before being refused."""
    started = time.monotonic()
    err = load_error(script_source("}); for (;;) {} (async function(){"))
    elapsed = time.monotonic() - started
    assert err.message.startswith("SyntaxError")
    assert elapsed < 1.0, f"the escaped payload ran for {elapsed:.2f} s during the syntax check"


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        # An error on line 1, after the meta on the same line: columns are the user's.
        (META_LINE + "; const x = ;\n", 1, len(META_LINE) + 13),
        (META + "const a = 1\nconst b = 2\nconst c = 3\nconst d = ;\n", 5, 11),
        # An unclosed brace is reported at the end of the user's file, not the wrapper's.
        (META + "if (true) {\n  log(1)", 3, 9),
        (META + "if (true) {\n  log(1)\n", 4, 1),
    ],
)
def test_syntax_errors_report_the_users_line_and_column(source, line, column):
    err = load_error(source)
    assert err.message.startswith("SyntaxError")
    assert (err.path, err.line, err.column) == ("wf.js", line, column)


@pytest.mark.parametrize("tail", ["const a = agent('p'\n", "if (true) {\n  log(1)", "log([1, 2\n"])
def test_an_unclosed_construct_says_the_script_ends_too_soon_not_the_wrappers_token(tail):
    err = load_error(META + tail)
    assert err.message.startswith("SyntaxError: the script ends too soon"), err.message
    assert "'}'" not in err.message and "')'" not in err.message


@pytest.mark.parametrize(
    "body",
    [
        "const x: number = 1",
        "interface A {}",
        "function f(a: string): string { return a }",
        "type T = { a: number }",
        "const xs = [] as string[]",
    ],
)
def test_typescript_refused_with_a_hint(body):
    err = load_error(script_source(body))
    assert err.message.startswith("SyntaxError")
    assert err.line == 2
    assert "TypeScript" in (err.detail or "")


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("return 1\nexport const y = 2", 3),
        ("export default 1", 2),
        ("const y = 1\nexport { y }", 3),
        ("export function f() {}", 2),
        ("import x from 'y'", 2),
        ("import * as std from 'std'", 2),
        ("import 'os'", 2),
    ],
)
def test_module_syntax_after_meta_refused(body, line):
    """Only the leading `export const meta` is module syntax; any other import/export is a
    syntax error (the body is a function body)."""
    err = load_error(script_source(body))
    assert err.message.startswith("SyntaxError")
    assert err.line == line


# -- runtime error locations -------------------------------------------------------------------


def test_uncaught_type_error_location():
    out = run("const a = 1\nconst b = null\nconst c = b.deep\nreturn c")
    assert failed(out) == ("TypeError", "cannot read property 'deep' of null")
    assert (out.error.path, out.error.line, out.error.column) == ("test.js", 4, 11)


def test_throw_on_first_body_line():
    out = run("throw new Error('boom')")
    assert failed(out) == ("Error", "boom")
    assert out.error.line == 2


def test_error_on_the_meta_line_has_the_users_column():
    """Line 1 shares the wrapper's prefix: the column must still be the user's.

    (A `throw` is used because quickjs-ng itself reports some line-1 columns, e.g. of a
    property read on null, one less than on other lines.)
    """
    src = META_LINE + "; throw new Error('on line 1')\n"
    out = run("", meta=src)
    assert failed(out) == ("Error", "on line 1")
    assert (out.error.line, out.error.column) == (1, src.index("Error(") + 1)


def test_error_inside_a_function_reports_the_throw_site():
    out = run(
        """
        const x = 1
        function f() { throw new Error('in f') }
        // line 4
        // line 5
        f()
        """
    )
    assert failed(out) == ("Error", "in f")
    assert out.error.line == 3


@pytest.mark.parametrize(
    ("stmt", "name", "message"),
    [
        ("await parallel('x')", "TypeError", "parallel() expects an array of functions"),
        (
            "await parallel([Promise.resolve(1)])",
            "TypeError",
            "parallel() expects an array of functions, not promises. "
            "Wrap each call: () => agent(...)",
        ),
        (
            "await pipeline('x')",
            "TypeError",
            "pipeline() expects an array as the first argument",
        ),
        (
            "await agent(5)",
            "TypeError",
            "agent() expects a prompt string as its first argument, got number",
        ),
        (
            "setTimeout('x', 1)",
            "TypeError",
            "setTimeout() expects a function (code strings are not supported in workflow scripts)",
        ),
        ("const d = Date.now()", "Error", DATE_MSG),
        ("eval('1')", "EvalError", CODEGEN),
    ],
)
@pytest.mark.parametrize("before", ["", "await agent('first')\n"], ids=["sync", "after-await"])
def test_runtime_misuse_errors_point_at_the_users_line(stmt, name, message, before):
    """Errors thrown by the prelude carry the user's call site, never a runtime.js line, also
    after the script has yielded to the host."""
    lines = ["log('start')", "const xs = 'x'"]
    if before:
        lines.append(before.strip())
    lines.append(stmt)
    out = run("\n".join(lines))
    assert failed(out) == (name, message)
    assert out.error.line == len(lines) + 1
    assert out.error.column is not None
    assert out.error.column <= len(stmt)


def test_runtime_line_numbers_never_leak():
    """No location reported for an error can be one of the prelude's far-away lines."""
    for body in ["await parallel('x')", "await agent(5)", "return JSON.parse('{')"]:
        out = run(body)
        assert out.status == "failed"
        assert out.error.line is None or out.error.line < 1000
        assert not re.search(r"\b6\d{5}\b", str(out.error))


def test_an_error_on_the_last_line_of_the_largest_script_is_placed_there():
    """The prelude's frames are told from the script's by line number: the largest script, all
    line breaks, still ends below the prelude's line base, so its last line is its own."""
    head = META + "void 0"
    tail = "\nthrow new Error('last')\n"
    filler = MAX_SCRIPT_CHARS - len(head) - len(tail)
    source = head + "\n" * filler + tail
    assert len(source) == MAX_SCRIPT_CHARS
    outcome = run(source[len(META) :].rstrip("\n"))
    assert failed(outcome) == ("Error", "last")
    small = run("void 0\nthrow new Error('last')")  # the same last line, two lines in
    assert outcome.error is not None and small.error is not None
    assert (small.error.line, small.error.column) == (META.count("\n") + 2, 11)
    assert (outcome.error.line, outcome.error.column) == (source.count("\n"), 11)


@pytest.mark.parametrize("sep", ["\n", "\r", "\r\n", "\u2028", "\u2029", "\n\r\u2028"])
def test_a_runs_line_base_is_past_every_line_quickjs_counts_in_its_script(sep: str) -> None:
    """Each run's prelude starts after its own script's lines, not after the largest script's
    (the base's lines cost QuickJS ~19 instructions each at every start-up: issue 22). QuickJS
    ends a line at LF, CR, U+2028 and U+2029: a base that missed one would give the script's
    last frames to the prelude."""
    from jshost import _quickjs
    from jshost.sandbox import RUNTIME_LINE_BASE, line_base, parse_frames

    wrapped = "(function f() {" + sep.join(["void 0"] * 5) + sep + "throw new Error('x')})"
    ctx = _quickjs.Context()
    with pytest.raises(_quickjs.JSException) as caught:
        ctx.eval(wrapped + "()")
    lines = [line for _, line, _ in parse_frames(str(caught.value))]
    assert lines and max(lines) < line_base(wrapped) <= 6 * len(sep) + 2
    assert line_base("\n" * (2 * RUNTIME_LINE_BASE)) == RUNTIME_LINE_BASE


def test_the_prelude_starts_after_the_line_base_its_sandbox_was_given() -> None:
    from jshost.sandbox import CHILD_LINE_BASE, Sandbox, SandboxLimits, parse_frames

    sandbox = Sandbox(SandboxLimits(), {"maxAgents": 1, "budget": None, "args": None}, 3)
    assert sandbox.line_base == 3
    ctx = sandbox._ctx
    ctx.eval("var stack = null; parallel(1).catch((e) => { stack = e.stack }); undefined")
    while ctx.execute_pending_job():
        pass
    stack = ctx.eval("stack")
    lines = [line for _, line, _ in parse_frames(stack)]
    assert lines[-1] == 1  # the call, on the first line of what was evaluated
    assert lines[:-1] and all(3 < line < CHILD_LINE_BASE for line in lines[:-1]), stack
    with pytest.raises(ValueError):
        Sandbox(SandboxLimits(), {"maxAgents": 1, "budget": None, "args": None}, 0)


@pytest.mark.parametrize("sep", ["\n", "\r\n"])
def test_an_error_the_prelude_throws_is_placed_on_a_short_scripts_last_line(sep: str) -> None:
    outcome = run(sep.join(["const a = 1", "const b = 2", "return parallel(1)"]))
    name, _ = failed(outcome)
    assert name == "TypeError"
    assert outcome.error is not None and outcome.error.line == META.count("\n") + 3


SMALL_STACK_LOAD = """
import sys, threading
import jshost
from jshost.sandbox import check_function_source

body = "return " + "[" * 20000 + "]" * 20000
path = sys.argv[1]
with open(path, "w", encoding="utf-8") as f:
    f.write("export const meta = {{ name: 'deep', description: 'd' }}\\n" + body + "\\n")
out = []

def work():
    out.append(check_function_source("(async function f() {{ " + body + "\\n}})"))
    try:
        jshost.load(path)
    except jshost.ScriptError as exc:
        out.append(str(exc))

threading.stack_size({stack})
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(out)
"""


@pytest.mark.parametrize("stack", [128 << 10, 512 << 10])  # musl's and macOS's thread stacks
def test_a_deeply_nested_script_checked_on_a_small_thread_stack_is_refused(
    tmp_path, stack: int
) -> None:
    """The load checks compile under a 1 MiB QuickJS stack limit: on a thread whose C stack
    is smaller (``jshost.arun`` loads a script on ``trio.to_thread``/``asyncio.to_thread``),
    they run on a thread with a large enough stack, so QuickJS refuses the script instead of
    the process dying of a stack overflow."""
    import subprocess
    import sys

    code = SMALL_STACK_LOAD.format(stack=stack)
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deep.js")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, (out.returncode, out.stderr[-500:])
    assert "nested too deeply to compile" in out.stdout
    assert "not run: 1 error" in out.stdout
