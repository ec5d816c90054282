# ruff: noqa: F811 - the fixtures env and script come from test_confirm
"""The plan at the confirmation, and the estimate beside what a run spent (summary, inspect).

Driven through a real pseudo-terminal with ``tests/test_confirm.py``'s ``Terminal``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from messages_server import MessagesServer
from test_confirm import Terminal, env, expect_question, script  # noqa: F401 - fixtures

from jshost.store import SCHEMA_VERSION, Store
from jshost.store.migrations import _MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
NGINX = ROOT / "samples" / "nginx-502-debug.js"
NGINX_ARGS = ROOT / "samples" / "nginx-502-debug.args.json"


def run_nginx(env: dict[str, str], cwd: Path, *extra: str) -> Terminal:
    args = ["run", str(NGINX), "--args-file", str(NGINX_ARGS), "--sim-latency", "0"]
    return Terminal([*args, "--no-interactive", *extra], cwd=cwd, env=env)


def test_confirmation_shows_the_plan_headline_and_the_run_compares_estimate_and_spend(
    env, tmp_path
):
    term = run_nginx(env, tmp_path, "--budget", "230k")
    term.expect("Review dynamic workflow before running")
    term.expect("estimate: 35 Haiku + 1 Opus agents · ~")
    term.expect("tokens (~")
    term.expect("budget: 230k output tokens · estimated ~37k · fits")
    term.expect("warning: Large workflow: 36 agents scheduled (more than 25)")
    term.expect("1. Yes, run it")  # the headline is above the choices
    term.expect("Choose 1-4 (")
    term.send("1\r")
    term.expect("usage by phase:")
    for line in (
        "20 Haiku agents, Scan: ",
        "10 Haiku agents, Check: ",
        "5 Haiku agents, Verify: ",
        "1 Opus agent, Report: ",
        "Total: ",
        "within budget 230k output tokens",
        "estimate → actual: agents ~36 → 36 · tokens ~",
    ):
        term.expect(line)
    assert term.wait() == 0
    assert "$" not in term.text  # the sim worker costs nothing: no dollars anywhere
    assert "one request per turn" not in term.text  # nor do its agents use tools
    with Store() as store:
        [run] = store.list_runs()
        estimate = store.estimate(run.id)
    assert estimate is not None and estimate["agents"] == 36
    assert estimate["agents_by_model"] == {"claude-haiku-5-5": 35, "claude-opus-5-5": 1}
    shown = subprocess.run(
        [sys.executable, "-m", "jshost", "inspect", run.id],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "20 Haiku agents, Scan: " in shown.stdout
    assert "estimate → actual: agents ~36 → 36" in shown.stdout
    data = json.loads(
        subprocess.run(
            [sys.executable, "-m", "jshost", "inspect", run.id, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        ).stdout
    )
    assert data["estimate"]["agents"] == 36
    assert [p["agents"] for p in data["usage_by_phase"]] == [20, 10, 5, 1]


def test_on_the_anthropic_worker_the_headline_has_a_cost_and_the_plan_sends_nothing(env, tmp_path):
    with MessagesServer() as server:
        env = dict(env, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=server.url)
        term = run_nginx(env, tmp_path)
        # The dry run counts one request per agent; agents with tools make one per turn, up
        # to --max-turns: the tokens and dollars are a floor, and the range is said.
        term.expect("estimate: 35 Haiku + 1 Opus agents · at least ~")
        term.expect(" out) · at least ~$0.0")
        term.expect("tools: each agent makes 1 to 50 model requests (--max-turns 50): 36 to 1,800")
        term.expect("budget: none (nothing caps what tool turns spend)")
        term.expect("Choose 1-4 (")
        term.send("4\r")
        assert term.wait() == 2
        assert server.requests == []  # neither the plan nor the question reached the API


def test_with_max_turns_and_a_budget_the_headline_says_the_range_and_what_caps_it(env, tmp_path):
    with MessagesServer() as server:
        env = dict(env, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=server.url)
        term = run_nginx(env, tmp_path, "--max-turns", "4", "--budget", "230k")
        term.expect("tools: each agent makes 1 to 4 model requests (--max-turns 4): 36 to 144")
        term.expect(
            "budget: 230k output tokens · estimated at least ~37k · fits one request per agent"
        )
        term.expect("Choose 1-4 (")
        term.send("4\r")
        assert term.wait() == 2
        no_tools = run_nginx(env, tmp_path, "--no-tools")
        no_tools.expect("estimate: 35 Haiku + 1 Opus agents · ~")  # one request each: no floor
        no_tools.expect("Choose 1-4 (")
        assert "tools: each agent" not in no_tools.text
        no_tools.send("4\r")
        assert no_tools.wait() == 2
        assert server.requests == []


def test_yes_runs_make_no_plan_and_keep_no_estimate(env, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jshost",
            "run",
            str(NGINX),
            "--args-file",
            str(NGINX_ARGS),
            "--sim-latency",
            "0",
            "--yes",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "usage by phase:" in done.stderr and "20 Haiku agents, Scan: " in done.stderr
    assert "estimate" not in done.stderr
    with Store() as store:
        [run] = store.list_runs()
        assert store.estimate(run.id) is None


def test_a_script_answered_no_spends_nothing_after_its_plan(env, script, tmp_path):
    term = Terminal(
        ["run", str(script), "--sim-latency", "0", "--no-interactive"], cwd=tmp_path, env=env
    )
    term.expect("estimate: 3 Sonnet agents")  # a phase's model is a label, not a default
    expect_question(term, script)
    term.send("4\r")
    assert term.wait() == 2
    log = tmp_path / "executed.log"
    assert not log.exists()  # the plan ran no agent on the sim worker the run uses


def test_a_version_4_store_gets_the_estimate_column(tmp_path):
    path = tmp_path / "jshost.db"
    db = sqlite3.connect(path)
    db.executescript("".join(_MIGRATIONS[v] for v in (1, 2, 3, 4)))
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, "
        "caps, worker) VALUES ('wf_old', 'old', 's', 'h', '{}', 'completed', 1, 1, '{}', 'sim')"
    )
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.estimate("wf_old") is None
        store.set_estimate("wf_old", {"agents": 2})
        assert store.estimate("wf_old") == {"agents": 2}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert os.path.exists(path)
