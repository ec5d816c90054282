"""Compatibility with Claude Code's workflow runtime (shared/reference/claude-code-workflows.md).

`run` refuses before starting only what the reference refuses before starting; what the
reference reports at run time stays a run-time failure the script can catch, and `validate`
reports it as a warning (an error under `--strict`). Every script here goes through the real
CLI on the sim worker.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jshost.cli import cli

META = "export const meta = { name: 'compat', description: 'a compatibility probe' }\n"
FAST = ["--sim-latency", "0.001"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, body: str, name: str = "flow.js") -> str:
    path = tmp_path / name
    path.write_text(META + body, encoding="utf-8")
    return str(path)


def run_json(path: str, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = invoke("run", path, "--worker", "sim", "--yes", "--json", *FAST, *extra, env=env)
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    summary = json.loads(lines[-1])
    assert summary["event"] == "summary"
    return result.exit_code, summary


def codes(path: str) -> list[tuple[str, str]]:
    data = json.loads(invoke("validate", "--json", path).stdout)
    return [(d["code"], d["severity"]) for d in data["files"][0]["diagnostics"]]


# -- item 1: what the reference reports at run time runs here ----------------------------------

CAUGHT = [
    # (what, body, the result the reference's runtime gives, the warning validate gives)
    (
        "eval-in-try",
        "try { eval('1 + 1'); return 'ran' } catch (e) { return e.name + ': ' + e.message }\n",
        "EvalError: Code generation from strings disallowed for this context",
        "E204",
    ),
    (
        "function-constructor-in-try",
        "try { new Function('return 1'); return 'ran' } catch (e) { return e.name }\n",
        "EvalError",
        "E205",
    ),
    (
        "require-in-try",
        "try { require('fs'); return 'ran' } catch (e) { return e.name }\n",
        "ReferenceError",
        "E206",
    ),
    (
        "fetch-in-try",
        "try { await fetch('http://127.0.0.1:9'); return 'ran' } catch (e) { return e.name }\n",
        "ReferenceError",
        "E208",
    ),
    (
        "date-call",
        "try { Date(); return 'ran' } catch (e) { return e.message }\n",
        "Date.now() / new Date() are unavailable in workflow scripts (breaks resume). Stamp "
        "results after the workflow returns, or pass timestamps via args.",
        "W304",
    ),
    (
        "contradictory-schema-in-try",
        "try { await agent('x', { schema: { type: 'object', required: ['a'], properties: {},"
        " additionalProperties: false } }); return 'ran' }\n"
        "catch (e) { return e.name + (e.message.includes('unusable JSON Schema') ? ' ok' : '') }\n",
        "TypeError ok",
        "E507",
    ),
    (
        "parallel-of-promises-in-try",
        "try { await parallel([agent('a')]); return 'ran' } catch (e) { return e.message }\n",
        "parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)",
        "E602",
    ),
    (
        "pipeline-of-a-string-in-try",
        "try { await pipeline('abc', x => x); return 'ran' } catch (e) { return e.message }\n",
        "pipeline() expects an array as the first argument",
        "E603",
    ),
    (
        "budget-called-in-try",
        "try { budget(); return 'ran' } catch (e) { return e.name }\n",
        "TypeError",
        "E703",
    ),
    (
        "isolation-remote-in-try",
        "try { await agent('x', { isolation: 'remote' }); return 'ran' }\n"
        "catch (e) { return e.message }\n",
        "agent({isolation:'remote'}) is not available in this build",
        "E505",
    ),
    (
        "prompt-not-a-string-in-try",
        "try { await agent(42); return 'ran' } catch (e) { return e.name }\n",
        "TypeError",
        "E501",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected", "code"), [c[1:] for c in CAUGHT], ids=[c[0] for c in CAUGHT]
)
def test_runtime_failures_the_script_catches_run_to_completion(tmp_path, body, expected, code):
    path = write(tmp_path, body)
    status, summary = run_json(path)
    assert (status, summary["status"], summary["result"]) == (0, "completed", expected)
    # validate still tells: a warning, an error only under --strict
    assert (code, "warning") in codes(path)
    assert invoke("validate", path).exit_code == 0
    assert invoke("validate", "--strict", path).exit_code == 1


def test_unknown_effort_is_ignored_as_the_reference_ignores_it(tmp_path):
    path = write(tmp_path, "return await agent('hello', { effort: 'turbo' })\n")
    status, summary = run_json(path)
    assert (status, summary["status"]) == (0, "completed")
    assert summary["result"].startswith("[sim ") and "hello" in summary["result"]
    assert codes(path) == [("E504", "warning")]


def test_literal_option_of_the_wrong_type_is_ignored(tmp_path):
    # The reference ignores an `effort` that is neither a level nor a number.
    path = write(tmp_path, "return await agent('hello', { effort: true, stallMs: 9e9 })\n")
    status, summary = run_json(path)
    assert (status, summary["status"]) == (0, "completed")
    assert ("E503", "warning") in codes(path)


def test_typeof_process_guard_runs_and_is_not_reported(tmp_path):
    body = (
        "const home = typeof process !== 'undefined' ? process.env.HOME : 'no process'\n"
        "let mode = 'none'\n"
        "if (typeof process === 'object' && process.env) { mode = process.env.MODE }\n"
        "const f = typeof fetch === 'function' && fetch\n"
        "return [home, mode, f]\n"
    )
    path = write(tmp_path, body)
    status, summary = run_json(path)
    assert (status, summary["result"]) == (0, ["no process", "none", False])
    assert codes(path) == []
    # an unguarded read is still reported, as a warning
    bare = write(tmp_path, "return process.env.HOME\n", "bare.js")
    assert codes(bare) == [("E207", "warning")]


def test_an_uncaught_runtime_failure_fails_the_run_not_the_start(tmp_path):
    # The reference starts the script; the failure comes when the line runs (exit 1, not 2),
    # after what came before it ran.
    path = write(tmp_path, "const a = await agent('first')\nlog('before')\nreturn eval('1')\n")
    status, summary = run_json(path)
    assert status == 1 and summary["status"] == "failed"
    assert "EvalError: Code generation from strings disallowed" in summary["error"]
    assert summary["agents"]["done"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("const t = Date.now()\nreturn t\n", "E301"),
        ("try { return new Date() } catch (e) { return 1 }\n", "E302"),
        ("return Math.random()\n", "E303"),
        ("import fs from 'fs'\nreturn 1\n", "E201"),
        ("with (args) { log(x) }\n", "E202"),
        ("const m = await import('fs')\n", "E203"),
        ("const x: number = 1\n", "E105"),
        ("return 1 +\n", "E104"),
    ],
    ids=[
        "date-now",
        "argless-new-date",
        "math-random",
        "import",
        "with",
        "import-call",
        "ts",
        "syntax",
    ],
)
def test_what_the_reference_refuses_before_starting_is_refused(tmp_path, body, code):
    path = write(tmp_path, body)
    result = invoke("run", path, "--worker", "sim", "--yes", *FAST)
    assert result.exit_code == 2
    assert f"error {code}" in result.stderr
    assert "not run:" in result.stderr


#: tool options the reference rejects at the agent() call ("refusing the spawn", an unknown
#: agent type): a rejection the script can catch, never a refusal before the run starts; so
#: `validate` warns (the code, where it can see the literal) and `run` starts
CALL_TIME_REJECTIONS = [
    ("{ disallowedTools: ['Bash(git log'] }", "E508", "refusing the spawn"),
    ("{ bashCommandClamp: ['git log'] }", "E508", "refusing the spawn"),
    (
        "{ disallowedTools: ['StructuredOutput'], schema: { type: 'object' } }",
        None,
        "refusing the spawn",
    ),
    ("{ agentType: 'no-such-type' }", None, "agent type 'no-such-type' not found"),
    ("{ isolation: 'remote' }", "E505", "not available in this build"),
]


@pytest.mark.parametrize(("opts", "code", "message"), CALL_TIME_REJECTIONS)
def test_tool_options_rejected_at_the_call_are_warnings_not_refusals(tmp_path, opts, code, message):
    body = f"try {{ await agent('x', {opts}) }} catch (e) {{ return e.message }}\nreturn 'ran'\n"
    path = write(tmp_path, body)
    checked = invoke("validate", path)
    assert checked.exit_code == 0, checked.output  # no error: the reference starts this run
    if code is not None:
        assert f"warning {code}" in checked.output
    code_run, final = run_json(path)
    assert code_run == 0
    assert message in final["result"]


def test_meta_problems_are_refused(tmp_path):
    path = tmp_path / "flow.js"
    path.write_text("const x = 1\nexport const meta = { name: 'a', description: 'b' }\n")
    result = invoke("run", str(path), "--worker", "sim", "--yes")
    assert result.exit_code == 2 and "error E106" in result.stderr


def test_runtime_failures_run_through_a_real_process(tmp_path):
    body = (
        "const out = []\n"
        "try { eval('1') } catch (e) { out.push(e.name) }\n"
        "try { Date() } catch (e) { out.push('date') }\n"
        "out.push(typeof process !== 'undefined' ? process.env.HOME : 'guarded')\n"
        "try { await agent('x', { schema: { type: 'object', required: ['a'], properties: {},"
        " additionalProperties: false } }) } catch (e) { out.push(e.name) }\n"
        "out.push(typeof (await agent('y', { effort: 'turbo' })))\n"
        "return out\n"
    )
    path = write(tmp_path, body)
    proc = subprocess.run(
        [sys.executable, "-m", "jshost", "run", path, "--worker", "sim", "--yes", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["EvalError", "date", "guarded", "TypeError", "string"]
    assert "Traceback" not in proc.stderr


# -- script shape and lifecycle details the reference fixes ------------------------------------


def test_body_is_strict_async_with_top_level_await_and_return(tmp_path):
    # §2.2: the body runs inside `(async () => {'use strict'; <body>})()`.
    body = (
        "const strict = (function () { return this === undefined })()\n"
        "let assigned\n"
        "try { undeclared = 1; assigned = 'sloppy' } catch (e) { assigned = e.name }\n"
        "const waited = await Promise.resolve('awaited')\n"
        "if (strict) return { strict, assigned, waited }\n"
        "return 'not strict'\n"
    )
    status, summary = run_json(write(tmp_path, body))
    assert status == 0
    assert summary["result"] == {"strict": True, "assigned": "ReferenceError", "waited": "awaited"}


def test_run_id_has_the_reference_shape(tmp_path):
    # §1.5 / §5.3: run ids are `wf_…`, the shape resumeFromRunId accepts.
    _, summary = run_json(write(tmp_path, "return 1\n"))
    assert re.fullmatch(r"wf_[a-z0-9-]{6,}", summary["run_id"])


def test_comments_before_meta_are_fine_and_meta_is_not_a_global(tmp_path):
    # §2.1 rule 3: comments are not statements; §2.3: `meta` is not a runtime global.
    path = tmp_path / "flow.js"
    path.write_text(
        "// a header comment\n/* and a block */\n" + META + "return typeof meta\n",
        encoding="utf-8",
    )
    status, summary = run_json(str(path))
    assert (status, summary["result"]) == (0, "undefined")


def test_a_run_keeps_at_most_1000_log_lines():
    # §3.5 / §4: logs are kept per run up to 1000 entries.
    from conftest import run

    outcome = run("for (let i = 0; i < 1100; i++) log('line ' + i)\nreturn 1")
    assert outcome.status == "completed"
    assert len(outcome.logs) == 1000


def test_default_concurrency_is_16_whatever_the_cpu_count(tmp_path):
    # Difference D1: the reference derives its default from the CPU count; jshost uses 16.
    body = "return await parallel(Array.from({ length: 20 }, (_, i) => () => agent('a' + i)))"
    result = invoke(
        "run", write(tmp_path, body), "--worker", "sim", "--yes", "--json",
        "--sim-latency", "0.2",
    )  # fmt: skip
    out = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert out[0]["caps"]["concurrency"] == 16
    assert out[-1]["peak_concurrency"] == 16


def test_an_unknown_agent_type_throws_the_references_message(tmp_path, monkeypatch):
    # §3.1: an agentType that names no agent file (nor a built-in type) rejects, catchably.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    body = "return await agent('x', { agentType: 'nope' }).catch(e => e.message)\n"
    status, summary = run_json(write(tmp_path, body))
    assert (status, summary["status"]) == (0, "completed")
    assert summary["result"] == (
        "agent({agentType}): agent type 'nope' not found. "
        "Available agents: Explore, general-purpose"
    )


# -- docs/COMPATIBILITY.md cannot rot ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_compatibility_doc_names_only_real_tests():
    text = (ROOT / "docs" / "COMPATIBILITY.md").read_text(encoding="utf-8")
    cited = CITED.findall(text)
    assert cited
    missing = []
    functions: dict[str, set[str]] = {}
    for file, name in cited:
        path = ROOT / file
        if file not in functions:
            functions[file] = _test_functions(path) if path.is_file() else set()
        if name not in functions[file]:
            missing.append(f"{file}::{name}")
    assert missing == [], "COMPATIBILITY.md names tests that do not exist"


def test_compatibility_doc_covers_every_section_with_a_test_per_behaviour():
    text = (ROOT / "docs" / "COMPATIBILITY.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| (\d+\.\d+|D\d+) \|", line)]
    behaviours = [r for r in rows if not r.startswith("| D")]
    assert len(behaviours) > 60 and len(rows) - len(behaviours) >= 5
    for row in rows:
        assert CITED.search(row), f"no test for: {row[:80]}"
    # every section of the reference that describes behaviour (§1–§8) has its table
    reference_sections = {f"§{n} " for n in range(1, 9)}
    headings = {line[3:6] for line in text.splitlines() if line.startswith("## §")}
    assert {h.strip() + " " for h in headings} == reference_sections
    numbers = [r.split("|")[1].strip() for r in rows]
    assert len(numbers) == len(set(numbers)), "a behaviour number is used twice"
