"""Host work on untrusted input stays bounded (issue 15, class 2), through the real CLI.

Schemas come from scripts and answers from models: a backtracking-prone ``pattern``, a huge
schema, a tiny schema that asks for a huge value, a ``$ref`` cycle, or a script that misses
``workflow('name')`` in a loop among many saved workflows must each end quickly with a clear
message, and a stop must still land meanwhile. Before the fix each of these held the run loop
for tens of seconds or for ever.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from messages_server import MessagesServer, Reply
from procs import jshost

META = "export const meta = { name: 'attack', description: 'untrusted input for the host' }\n"
EVIL = "^(a+)+b$"  # exponential for a backtracking engine on 'aaaa…c'


def _run(tmp_path: Path, body: str, *extra: str, timeout: float = 60) -> tuple[float, dict, str]:
    flow = tmp_path / "flow.js"
    flow.write_text(META + body, encoding="utf-8")
    t0 = time.monotonic()
    proc = jshost(tmp_path / "home", "run", str(flow), "--yes", "--json", *extra)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    took = time.monotonic() - t0
    assert "Traceback" not in err, err
    assert "RecursionError" not in out + err
    return took, json.loads(out.splitlines()[-1]), err


def _caught(schema: Any) -> str:
    """A script that reports what agent({schema}) did: its value or its error.

    The schema is parsed at run time, so ``validate``'s check of literal schemas (which
    refuses some of these before the run) does not get in the way.
    """
    text = json.dumps(json.dumps(schema))
    return (
        f"try {{ return {{ ok: await agent('item-1 x', {{ schema: JSON.parse({text}) }}) }} }}\n"
        "catch (e) { return { name: e.name, message: e.message } }\n"
    )


@pytest.mark.parametrize(
    "schema",
    [
        # The sim must build a string two patterns accept: the check of a candidate against
        # the second pattern backtracks exponentially in Python's `re`.
        {"type": "string", "allOf": [{"pattern": "^a{30}$"}, {"pattern": EVIL}]},
        {"type": "string", "allOf": [{"pattern": "^a{30}"}, {"pattern": EVIL}]},
        {
            "type": "object",
            "patternProperties": {EVIL: {"type": "integer"}},
            "properties": {"k": {"type": "string", "pattern": "^a{40}$"}},
            "required": ["k"],
            "additionalProperties": False,
        },
    ],
    ids=["unsatisfiable", "satisfiable", "pattern-properties"],
)
def test_sim_schema_with_a_catastrophic_pattern_answers_at_once(tmp_path, schema):
    took, summary, _ = _run(tmp_path, _caught(schema), timeout=60)
    assert took < 20, f"took {took:.1f} s"
    result = summary["result"]
    if "ok" in result:
        assert result["ok"] is not None
    else:
        assert "StructuredOutput retry cap" in result["message"]


def test_lookahead_pattern_is_matched_as_ecma_262(tmp_path):
    """Patterns RE2 refuses run on QuickJS's ECMA-262 engine, with a time limit."""
    schema = {"type": "string", "pattern": "^(?=.*\\d)(?=.*[A-Z])[A-Za-z\\d]{8,12}$"}
    _, summary, _ = _run(tmp_path, _caught(schema))
    value = summary["result"]["ok"]
    assert 8 <= len(value) <= 12 and any(c.isdigit() for c in value)
    assert any(c.isupper() for c in value)


def test_a_schema_that_is_too_large_is_refused_quickly(tmp_path):
    body = (
        "const props = {}\nfor (let i = 0; i < 100000; i++) props['p' + i] = { type: 'string' }\n"
        "try { await agent('item-1 x', { schema: { type: 'object', properties: props } }) }\n"
        "catch (e) { return { name: e.name, message: e.message } }\n"
    )
    took, summary, _ = _run(tmp_path, body)
    assert took < 20, f"took {took:.1f} s"
    assert summary["result"]["name"] == "TypeError"
    assert "too large" in summary["result"]["message"]
    assert "limit is 65,536" in summary["result"]["message"]


def test_a_small_schema_cannot_make_the_sim_build_a_huge_value(tmp_path):
    schema = {
        "type": "array",
        "minItems": 10000,
        "items": {"type": "array", "minItems": 10000, "items": {"type": "string"}},
    }
    schema2 = {"type": "array", "minItems": 10000, "items": {"type": "string", "minLength": 10000}}
    body = (
        f"const r = []\nfor (const s of [{json.dumps(schema)}, {json.dumps(schema2)}]) {{\n"
        "  try { r.push(await agent('item-1 x', { schema: s })) }\n"
        "  catch (e) { r.push(e.message) } }\nreturn r\n"
    )
    took, summary, _ = _run(tmp_path, body)
    assert took < 30, f"took {took:.1f} s"
    for message in summary["result"]:
        assert isinstance(message, str), message
        assert "too large to generate" in message or "generation steps" in message, message


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {
            "$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}},
            "$ref": "#/$defs/a",
        },
        {"anyOf": [{"type": "string"}, {"not": {"$ref": "#"}}]},
    ],
    ids=["self", "two-step", "anyOf-not"],
)
def test_ref_cycles_are_a_clear_schema_error(tmp_path, schema):
    _, summary, _ = _run(tmp_path, _caught(schema))
    assert summary["result"]["name"] == "TypeError"
    assert "a $ref cycle" in summary["result"]["message"]


def test_a_literal_ref_cycle_is_a_warning_then_a_clear_error_at_the_call(tmp_path):
    # The reference reports a bad schema when agent() is called (a failure the script can
    # catch), so `run` starts the script and `validate` warns at the schema's place.
    flow = tmp_path / "flow.js"
    flow.write_text(META + "return await agent('x', { schema: { $ref: '#' } })\n")
    proc = jshost(tmp_path / "home", "validate", str(flow))
    out, err = proc.communicate(timeout=60)
    assert "flow.js:2:35: warning" in out + err and "a $ref cycle" in out + err, out + err
    proc = jshost(tmp_path / "home", "run", str(flow), "--yes")
    _, run_err = proc.communicate(timeout=60)
    assert proc.returncode == 1, run_err
    assert "flow.js:2:14: TypeError" in run_err and "a $ref cycle" in run_err, run_err
    for text in (err, out, run_err):
        assert "RecursionError" not in text and "Traceback" not in text


def test_recursive_schema_that_descends_still_works(tmp_path):
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                "required": ["kids"],
            }
        },
        "$ref": "#/$defs/node",
    }
    _, summary, _ = _run(tmp_path, _caught(schema))
    assert isinstance(summary["result"]["ok"]["kids"], list)


def test_workflow_misses_read_the_saved_workflows_once(tmp_path):
    """100 misses among 200 saved workflows: discovery runs once per run, not per miss."""
    repo = tmp_path / "repo"
    saved = repo / ".claude" / "workflows"
    saved.mkdir(parents=True)
    (repo / ".git").mkdir()
    for i in range(200):
        (saved / f"w{i}.js").write_text(
            f"export const meta = {{ name: 'w{i}', description: 'saved {i}' }}\n"
            + "// a line of a long saved workflow\n" * 400
            + "return 1\n",
            encoding="utf-8",
        )
    flow = repo / "flow.js"
    flow.write_text(
        META + "let misses = 0\nfor (let i = 0; i < 100; i++) {\n"
        "  try { await workflow('nope' + i) } catch (e) { misses++ } }\n"
        "return { misses, hit: await workflow('w7') }\n",
        encoding="utf-8",
    )
    t0 = time.monotonic()
    proc = jshost(tmp_path / "home", "run", str(flow), "--yes", "--json", cwd=repo)
    out, err = proc.communicate(timeout=120)
    took = time.monotonic() - t0
    assert "Traceback" not in err, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["result"] == {"misses": 100, "hit": 1}
    assert took < 20, f"took {took:.1f} s"


# ---- the anthropic worker: a model's answer checked against a catastrophic pattern


def test_model_answer_against_a_catastrophic_pattern_is_checked_at_once(tmp_path):
    """Every StructuredOutput answer fails the pattern; each check is linear, so the agent
    reaches the retry cap in moments, and a SIGTERM meanwhile would land too."""
    flow = tmp_path / "flow.js"
    schema = {
        "type": "object",
        "properties": {"v": {"type": "string", "pattern": EVIL}},
        "required": ["v"],
    }
    flow.write_text(META + _caught(schema), encoding="utf-8")

    def responder(body: dict[str, Any]) -> Reply:
        return Reply(tool_input={"v": "a" * 60 + "c"})

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env.update(JSHOST_HOME=str(tmp_path / "home"), ANTHROPIC_API_KEY="sk-test")
    with MessagesServer(responder) as server:
        env["ANTHROPIC_BASE_URL"] = server.url
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "jshost", "run", str(flow), "--yes", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        took = time.monotonic() - t0
    assert "Traceback" not in err, err
    result = json.loads(out.splitlines()[-1])["result"]
    assert "StructuredOutput retry cap" in result["message"]
    assert "does not match '^(a+)+b$'" in result["message"]
    assert took < 30, f"took {took:.1f} s"
