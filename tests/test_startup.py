"""What `jshost run` imports on its plainest path: start-up is most of a short run's cost.

Issue 22 measured `jshost run` of a one-agent workflow at 2.4 × a bare-trio process doing the
same schedule, most of it imports. A run on the sim worker with no tools, MCP servers, schemas
or views configured must not pay for the packages only those need. Each name below is a package
whose import costs milliseconds; the test names the one that slipped back onto the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: never imported by a plain sim run: model SDKs, tools, MCP, settings files, full-screen views
NOT_ON_A_PLAIN_RUN = (
    "anthropic",
    "claude_agent_sdk",
    "mcp",
    "pathspec",
    "yaml",
    "textual",
    "httpx",
    # JSON Schema checking: only when an agent() passes a schema
    "jsonschema",
    "referencing",
    "re2",
)

PROBE = """
import sys
from jshost.cli import main
sys.argv = ["jshost", "run", {script!r}, "--worker", "sim", "--sim-latency", "0",
            "--yes", "--quiet", "--no-live", "--no-interactive"]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print(f"EXIT {{code}} LOADED [{{','.join(loaded)}}]")
"""


def _run_probe(script: Path, home: Path) -> tuple[str, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env["JSHOST_HOME"] = str(home)
    env["HOME"] = str(home)  # no user settings, agent types or MCP config from the real home
    code = PROBE.format(script=str(script), heavy=NOT_ON_A_PLAIN_RUN)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    exit_part, _, loaded = last.partition(" LOADED ")
    return exit_part, {name for name in loaded.strip("[]").split(",") if name}


def test_a_plain_sim_run_imports_no_sdk_tools_mcp_schema_checker_or_full_screen_view(
    tmp_path: Path,
) -> None:
    script = tmp_path / "one.js"
    script.write_text(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "return await agent('say hello', { label: 'hello' })\n",
        encoding="utf-8",
    )
    exit_part, loaded = _run_probe(script, tmp_path / "home")
    assert exit_part == "EXIT 0"
    assert loaded == set(), f"a plain `jshost run` imported {sorted(loaded)}"


@pytest.mark.slow
def test_an_agent_with_a_schema_still_gets_its_schema_checked(tmp_path: Path) -> None:
    """The lazy import is a deferral, not a removal: a schema still loads the checker."""
    script = tmp_path / "schema.js"
    script.write_text(
        "export const meta = { name: 'schema', description: 'one agent with a schema' }\n"
        "return await agent('count', { label: 'n', schema: { type: 'object', properties: "
        "{ n: { type: 'integer', pattern: 'x' } }, required: ['n'] } })\n",
        encoding="utf-8",
    )
    exit_part, loaded = _run_probe(script, tmp_path / "home")
    assert exit_part == "EXIT 0"
    assert "jsonschema" in loaded


def test_the_globals_the_linter_takes_without_a_sandbox_are_all_real_globals() -> None:
    """``SURE_GLOBALS`` lets the linter skip building a sandbox; it must never name a global
    that the real sandbox lacks, or `validate` would pass a script that fails at run time."""
    from jshost.sandbox import SURE_GLOBALS, global_names

    assert global_names() >= SURE_GLOBALS, sorted(SURE_GLOBALS - global_names())


def test_validating_a_plain_script_builds_no_sandbox(tmp_path: Path) -> None:
    from jshost.sandbox import context
    from jshost.script.validate import validate_source

    context.global_names.cache_clear()
    report = validate_source(
        "export const meta = { name: 'one', description: 'one agent' }\n"
        "const r = await parallel([1, 2].map(n => () => agent(`n ${JSON.stringify(n)}`)))\n"
        "log(String(r.length)); return Math.max(...r.map(x => x.length))\n"
    )
    assert not report.errors, report.diagnostics
    assert context.global_names.cache_info().currsize == 0
    # a name outside the sure set still gets the real answer: an undefined one is reported
    report = validate_source(
        "export const meta = { name: 'one', description: 'one agent' }\nreturn frobnicate(1)\n"
    )
    assert any("'frobnicate' is not defined" in d.message for d in report.diagnostics)
    assert context.global_names.cache_info().currsize == 1
