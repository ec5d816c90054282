"""What loading a script reads and runs: never more of a file than a script may hold, and
nothing of the script itself, not even an escape the first parser cannot read."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from jshost.cli import cli
from jshost.sandbox import check_function_source
from jshost.sandbox import context as sandbox_mod
from jshost.script import PREFIX, SUFFIX


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_run_reads_no_more_of_a_file_than_the_size_limit(device):
    result = CliRunner().invoke(cli, ["run", device, "--yes"])
    assert result.exit_code == 2
    assert "Script exceeds 524288 bytes" in result.stderr


def wrapped(body: str) -> str:
    return PREFIX + body + SUFFIX


@pytest.mark.parametrize(
    "body",
    [
        # tree-sitter cannot parse these (an invalid escape in a tagged template is legal), so
        # only the compile-only check stands between them and the top level.
        "}); String.raw`\\unicode`; for (;;) {} (async function () {",
        # Escapes that are a single expression: they compile as the expression and as a
        # declaration followed by more code, but not as a method.
        "} + (() => { for (;;) {} })() + function () {",
        "} || (() => { for (;;) {} })() || function () {",
        # ... or as the expression and as a method, but not as a declaration.
        "}, (() => { for (;;) {} })(), function () {",
    ],
)
@pytest.mark.parametrize("likely_valid", [False, True])
def test_the_syntax_check_refuses_escapes_without_running_them(body, likely_valid):
    started = time.monotonic()
    assert check_function_source(wrapped(body), likely_valid=likely_valid) == sandbox_mod._ESCAPE
    # The scratch context has a 0.5 s CPU limit: a payload that ran would have used it up.
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    "body",
    [
        "return String.raw`\\unicode`",
        "const o = { a() { return 1 } }\nreturn o.a()",
        "class A { static #x = 1; static get x() { return A.#x } }\nreturn A.x",
        "label: for (;;) { break label }\nreturn /}\\)/.test('})')",
        "return `${'})'}` + '}' + \"})\" // })",
    ],
)
def test_the_syntax_check_accepts_real_bodies(body):
    assert check_function_source(wrapped("\n" + body)) is None
    assert check_function_source(wrapped("\n" + body), likely_valid=True) is None


def count_compiles(monkeypatch) -> list[str]:
    """The forms the syntax check compiles (the real compile, only counted)."""
    forms: list[str] = []
    compile_error = sandbox_mod._compile_error

    def counted(ctx, code):
        forms.append(code[:3])
        return compile_error(ctx, code)

    monkeypatch.setattr(sandbox_mod, "_compile_error", counted)
    return forms


def test_a_clean_body_is_checked_by_compiling_the_declaration_alone(monkeypatch):
    forms = count_compiles(monkeypatch)
    body = "// a comment/with slashes\nconst a = `x/${'/'}/y` + \"/\"\nreturn a"
    assert check_function_source(wrapped(body), likely_valid=True) is None
    # the declaration's function spans the whole text: no early close, and no / token that
    # would need the expression form
    assert forms == ["asy"]
    forms.clear()
    assert check_function_source(wrapped("return 6 / 2"), likely_valid=True) is None
    assert forms == ["asy", "(as"]


@pytest.mark.parametrize(
    "body",
    [
        # compiles as a declaration followed by more code: the function ends early
        "} + (() => { for (;;) {} })() + function () {",
        # ... and declares another function of the same name, which the global then holds
        "return 1 }\nasync function __workflow__() { return 2",
        # ... or rebinds the names the check reads the source text with
        "}; var Function = 1, Reflect = 2; async function __workflow__() {",
    ],
)
def test_a_declaration_that_ends_early_is_caught_by_the_method_form(monkeypatch, body):
    three = check_function_source(wrapped(body))
    assert three is not None  # refused: an escape, or the expression's own syntax error
    forms = count_compiles(monkeypatch)
    assert check_function_source(wrapped(body), likely_valid=True) == three
    assert forms[:2] == ["asy", "({ "]


@pytest.mark.parametrize("likely_valid", [False, True])
def test_quickjs_own_arrow_prescan_error_is_still_reported(likely_valid):
    # QuickJS's pre-scan of `(` reads `/'/` after `}` as a division, so a string starts there
    # and the brackets it counts end early, before a `=>`: it then refuses the expression,
    # which the declaration and the method forms accept. A run would refuse it as well.
    body = "{} /'/; let x = '})=>'"
    error = check_function_source(wrapped(body), likely_valid=likely_valid)
    assert error is not None and error.startswith("SyntaxError: Unexpected token 'function'")
