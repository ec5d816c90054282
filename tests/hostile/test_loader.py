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
def test_the_syntax_check_refuses_escapes_without_running_them(body):
    started = time.monotonic()
    assert check_function_source(wrapped(body)) == sandbox_mod._ESCAPE
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
