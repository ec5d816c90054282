"""``jshost plan`` and ``run --plan``: a dry run on the sim worker, through the real CLI.

Each test runs the command line in a subprocess (``python -m jshost``), as a user would, with
its own ``JSHOST_HOME``; what the store holds afterwards is read with the real ``Store``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from messages_server import MessagesServer

from jshost.store import Store

ROOT = Path(__file__).resolve().parent.parent
NGINX = ROOT / "samples" / "nginx-502-debug.js"
NGINX_ARGS = ROOT / "samples" / "nginx-502-debug.args.json"


def jshost(*args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None):
    env = dict(os.environ)
    env.pop("JSHOST_RAISE_ERRORS", None)  # as users run it: no traceback
    env.update(PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "jshost", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def plan_json(*args: str, **kw) -> dict:
    done = jshost("plan", *args, "--json", **kw)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nginx_sample_plan_counts_35_haiku_and_1_opus_per_phase_with_cost_fast():
    done = jshost("plan", str(NGINX), "--args-file", str(NGINX_ARGS), "--budget", "230k")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for line in (
        "20 Haiku agents, Scan: ~",
        "10 Haiku agents, Check: ~",
        "5 Haiku agents, Verify: ~",
        "1 Opus agent, Report: ~",
        "within budget 230k output tokens",
        "Agents: 36 agents (35 Haiku + 1 Opus)",
        "Agent cap 1,000: not reached",
        "Budget 230k output tokens: not reached",
        "workflow() children: none",
        "Cost (estimate): Haiku $",
        "Warning: Large workflow: 36 agents scheduled (more than 25)",
    ):
        assert line in out, out
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS))
    assert plan["agents"] == 36 and plan["agents_exact"] is True
    assert plan["agents_by_model"] == {"claude-haiku-5-5": 35, "claude-opus-5-5": 1}
    assert [(p["phase"], p["agents"]) for p in plan["phases"]] == [
        ("Scan", 20),
        ("Check", 10),
        ("Verify", 5),
        ("Report", 1),
    ]
    # Output tokens are the typical figures (1000 a Haiku agent, 2000 an Opus one); input
    # tokens come from the prompts: the Verify prompts carry the evidence, so they are longer.
    assert plan["tokens_by_model"]["claude-haiku-5-5"]["output"] == 35_000
    assert plan["tokens_by_model"]["claude-opus-5-5"]["output"] == 2_000
    verify = plan["phases"][2]["tokens"]["input"] / 5
    scan = plan["phases"][0]["tokens"]["input"] / 20
    assert verify > 2 * scan
    # $ per MTok: Haiku 5.5 0.10 in / 0.50 out, Opus 5.5 4 / 20.
    haiku = plan["tokens_by_model"]["claude-haiku-5-5"]
    assert plan["cost_usd"]["claude-haiku-5-5"] == pytest.approx(
        (haiku["input"] * 0.10 + haiku["output"] * 0.50) / 1e6, abs=1e-6
    )
    # About 0.15-0.3 s on 2 shared cores (docs/plan.md); the bound here only catches a dry run
    # that waits on sim latency or timers, and holds on a machine loaded many times over.
    assert plan["dry_run"]["elapsed_s"] < 5.0, plan["dry_run"]


def test_plan_writes_nothing_to_the_store_and_run_plan_starts_nothing(tmp_path):
    home = Path(os.environ["JSHOST_HOME"])
    done = jshost("plan", str(NGINX), "--args-file", str(NGINX_ARGS))
    assert done.returncode == 0, done.stderr
    assert not home.exists() or not any(home.iterdir())
    log = tmp_path / "executed.log"
    done = jshost(
        "run",
        str(NGINX),
        "--args-file",
        str(NGINX_ARGS),
        "--plan",
        env_extra={"JSHOST_SIM_EXEC_LOG": str(log)},
    )
    assert done.returncode == 0, done.stderr
    assert "Agents: 36 agents (35 Haiku + 1 Opus)" in done.stdout
    assert not log.exists()  # not one agent ran on the real sim worker
    assert not home.exists() or not any(home.iterdir())
    done = jshost("run", str(NGINX), "--args-file", str(NGINX_ARGS), "--plan", "--json")
    assert json.loads(done.stdout)["agents"] == 36


def test_plan_never_touches_the_network_even_with_an_api_key(tmp_path):
    with MessagesServer() as server:
        plan = plan_json(
            str(NGINX),
            "--args-file",
            str(NGINX_ARGS),
            env_extra={"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": server.url},
        )
        assert plan["agents"] == 36
        assert server.posts == [] and server.requests == []


def test_budget_and_agent_cap_that_would_stop_the_run_are_reported():
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS), "--budget", "12k")
    assert plan["stopped_by_budget"] is True and plan["stopped_by_agent_cap"] is False
    # 16 at once: the first 16 Haiku agents run, then 12k estimated output tokens are spent.
    assert plan["agents"] < 36
    done = jshost("plan", str(NGINX), "--args-file", str(NGINX_ARGS), "--budget", "12k")
    assert "Budget 12k output tokens: would stop the run" in done.stdout
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS), "--max-agents", "10")
    assert plan["stopped_by_agent_cap"] is True and plan["agents"] == 10
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS), "--max-agents", "36")
    assert plan["stopped_by_agent_cap"] is False


BRANCHY = """\
export const meta = { name: 'branchy', description: 'how many follow-ups depends on an answer',
  phases: [{ title: 'Decide' }, { title: 'Follow up' }] }
phase('Decide')
const d = await agent('how many follow-ups?', { model: 'haiku', schema: {
  type: 'object', properties: { n: { type: 'integer', minimum: 0, maximum: 40 } },
  required: ['n'] } })
phase('Follow up')
for (let i = 0; i < d.n; i++) await agent(`follow-up ${i}`, { model: 'sonnet' })
return d.n
"""


def test_counts_that_depend_on_answers_are_marked_at_least(tmp_path):
    path = tmp_path / "branchy.js"
    path.write_text(BRANCHY)
    plan = plan_json(str(path))
    assert plan["agents_exact"] is False
    follow = [p for p in plan["phases"] if p["phase"] == "Follow up"]
    assert follow and follow[0]["depends_on_answers"] is True
    assert plan["phases"][0]["depends_on_answers"] is False  # one Decide agent, always
    done = jshost("plan", str(path))
    assert "Follow up: ~" in done.stdout and "(at least / as run by the sim)" in done.stdout
    assert "Agents: at least " in done.stdout
    # The nginx sample's counts depend on args only: exact.
    assert plan_json(str(NGINX), "--args-file", str(NGINX_ARGS))["agents_exact"] is True


def test_workflow_children_are_listed_and_their_agents_counted(tmp_path):
    (tmp_path / "child.js").write_text(
        "export const meta = { name: 'child-flow', description: 'c' }\n"
        "return await parallel([1, 2, 3].map((i) => () => agent(`c${i}`, { model: 'haiku' })))\n"
    )
    (tmp_path / "parent.js").write_text(
        "export const meta = { name: 'parent', description: 'p' }\n"
        "await agent('first', { model: 'opus' })\n"
        "return await workflow({ scriptPath: 'child.js' })\n"
    )
    plan = plan_json(str(tmp_path / "parent.js"), cwd=tmp_path)
    assert plan["workflow_children"] == ["child-flow"]
    assert plan["agents"] == 4
    assert plan["agents_by_model"] == {"claude-opus-5-5": 1, "claude-haiku-5-5": 3}
    done = jshost("plan", str(tmp_path / "parent.js"), cwd=tmp_path)
    assert "workflow() children: child-flow" in done.stdout


def test_sim_test_markers_cannot_hang_the_plan(tmp_path):
    path = tmp_path / "hang.js"
    path.write_text(
        "export const meta = { name: 'hang', description: 'h' }\n"
        "await agent('never answers [[sim:hang]]')\n"
        "await agent('slow [[sim:latency=60]]')\n"
    )
    started = time.monotonic()
    plan = plan_json(str(path))
    assert plan["agents"] == 2 and plan["dry_run"]["status"] == "completed"
    assert time.monotonic() - started < 30


def test_a_script_waiting_on_long_timers_is_cut_off_and_says_so(tmp_path):
    path = tmp_path / "timers.js"
    path.write_text(
        "export const meta = { name: 'timers', description: 't' }\n"
        "await agent('one')\n"
        "await new Promise((r) => setTimeout(r, 3600000))\n"
        "await agent('two')\n"
    )
    env = {"JSHOST_PLAN_SECONDS": "1"}
    done = jshost("plan", str(path), env_extra=env)
    assert done.returncode == 0, done.stderr
    assert "the dry run was cut off after 1 s: counts are at least" in done.stdout
    assert "Agents: at least 1 agent" in done.stdout


def test_output_figures_chars_per_token_and_prices_come_from_the_config_file():
    home = Path(os.environ["JSHOST_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        "[estimate]\nchars_per_token = 1\n"
        "[estimate.output_tokens]\nhaiku = 10\n'claude-opus-5-5' = 7\n"
        "[prices.'claude-haiku-5-5']\ninput = 1000000\noutput = 0\n"
    )
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS))
    assert plan["tokens_by_model"]["claude-haiku-5-5"]["output"] == 350
    assert plan["tokens_by_model"]["claude-opus-5-5"]["output"] == 7
    haiku_in = plan["tokens_by_model"]["claude-haiku-5-5"]["input"]
    # One token a character: each Scan prompt's characters plus the system prompt's.
    assert haiku_in > 35 * 400
    assert plan["cost_usd"]["claude-haiku-5-5"] == pytest.approx(haiku_in, rel=1e-9)
    (home / "config.toml").write_text("[estimate.output_tokens]\nhaiku = 'lots'\n")
    done = jshost("plan", str(NGINX))
    assert done.returncode == 2
    assert "estimate.output_tokens.haiku must be a non-negative integer" in done.stderr
    assert "Traceback" not in done.stderr


def test_plan_refuses_a_script_with_errors_and_an_unknown_name():
    done = jshost("plan", "no-such-workflow")
    assert done.returncode == 2 and "no such file or saved workflow" in done.stderr
    done = jshost("plan", str(NGINX), "--args", "{nope")
    assert done.returncode == 2 and "--args: not valid JSON" in done.stderr


def test_size_warning_thresholds_follow_the_reference_variables():
    env = {"CLAUDE_CODE_WORKFLOW_SIZE_WARNING_AGENTS": "100"}
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS), env_extra=env)
    assert plan["size_warning"] is None
    env = {
        "CLAUDE_CODE_WORKFLOW_SIZE_WARNING_AGENTS": "100",
        "CLAUDE_CODE_WORKFLOW_SIZE_WARNING_TOKENS": "20000",
    }
    plan = plan_json(str(NGINX), "--args-file", str(NGINX_ARGS), env_extra=env)
    assert plan["size_warning"].startswith("Large workflow: ~")
    assert "tokens projected (more than 20k)" in plan["size_warning"]


def test_stored_plan_json_round_trips_through_the_store(tmp_path):
    with Store(tmp_path / "s.db") as store:
        rec = store.begin_run(
            caps={},
            worker="sim",
            model=None,
            script="s",
            sha256="h",
            path=None,
            name="n",
            meta={},
            args_json=None,
        )
        assert store.estimate(rec.run_id) is None
        store.set_estimate(rec.run_id, {"agents": 3, "tokens": {"input": 1, "output": 2}})
        assert store.estimate(rec.run_id) == {"agents": 3, "tokens": {"input": 1, "output": 2}}


def test_validate_warns_of_a_large_workflow_where_the_fan_out_is_known(tmp_path):
    items = ", ".join(str(i) for i in range(26))
    big = tmp_path / "big.js"
    big.write_text(
        "export const meta = { name: 'big', description: 'b' }\n"
        f"return await parallel([{items}].map((i) => () => agent(`item ${{i}}`)))\n"
    )
    small = tmp_path / "small.js"
    small.write_text(big.read_text().replace(f"[{items}]", "[1, 2, 3]"))
    done = jshost("validate", str(big), str(small))
    assert done.returncode == 0, done.stdout + done.stderr  # advice, not an error
    assert f"{big}: note: Large workflow: 26 agents scheduled (more than 25)" in done.stdout, (
        done.stdout
    )
    assert f"{small}: note: Large" not in done.stdout
    # Where the count depends on args, validate cannot know it and says nothing.
    done = jshost("validate", str(NGINX))
    assert "Large workflow" not in done.stdout
    done = jshost(
        "validate", "--json", str(big), env_extra={"CLAUDE_CODE_WORKFLOW_SIZE_WARNING_AGENTS": "26"}
    )
    assert json.loads(done.stdout)["files"][0]["size_warning"] is None
    done = jshost("validate", "--json", str(big))
    assert json.loads(done.stdout)["files"][0]["size_warning"].startswith("Large workflow: 26")


def test_run_json_summary_has_the_usage_by_phase_and_no_dollars_on_sim():
    done = jshost(
        "run", str(ROOT / "samples" / "hello.js"), "--yes", "--json", "--sim-latency", "0"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["event"] == "summary"
    phases = summary["usage_by_phase"]
    assert [(p["phase"], p["agents"]) for p in phases] == [("Greet", 3), ("Sum up", 1)]
    assert sum(p["tokens"]["output"] for p in phases) == summary["tokens"]["output"]
    assert summary["estimate"] is None  # --yes: no plan was made
    assert "cost_usd_estimate" not in summary


def test_a_count_validate_cannot_bound_is_noted_as_run_by_the_sim():
    redis = ROOT / "samples" / "redis-bigkey-scan.js"
    args = ROOT / "samples" / "redis-bigkey-scan.args.json"
    plan = plan_json(str(redis), "--args-file", str(args))
    # The suspects come from the scans' answers; validate cannot say so, both sim runs agree.
    assert plan["unknown_factors"] == ["suspects.length"] and plan["agents"] == 17
    done = jshost("plan", str(redis), "--args-file", str(args))
    assert "Note: validate cannot bound suspects.length: the counts are as run by the sim" in (
        done.stdout
    )


def test_the_plan_follows_claude_codes_subagent_model_variable_as_the_run_does():
    hello = str(ROOT / "samples" / "hello.js")
    plan = plan_json(hello, env_extra={"CLAUDE_CODE_SUBAGENT_MODEL": "opus"})
    assert plan["agents_by_model"] == {"claude-opus-5-5": 4}


def test_plan_reads_the_caps_as_run_does_including_claude_codes_concurrency_variable(tmp_path):
    # plan and run share one definition of the cap options: an env setting run honours is
    # honoured (and checked) by plan too.
    from click.testing import CliRunner

    from jshost.cli import cli

    script = tmp_path / "c.js"
    script.write_text("export const meta = {name: 'c', description: 'c'}\nreturn 1\n")
    env = {"CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "0"}
    for argv in (["run", str(script), "--yes"], ["plan", str(script)]):
        result = CliRunner().invoke(cli, argv, env=env)
        assert result.exit_code == 2, (argv, result.output)
        assert "--concurrency" in result.output and "0 is not in the range" in result.output
    assert (
        "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS"
        in CliRunner().invoke(cli, ["plan", "--help"]).output
    )


ISOLATED = """export const meta = { name: 'iso', description: 'an isolated agent' }
await agent('look', { model: 'sonnet' })
await agent('look again')
try { await agent('fix', { model: 'sonnet', isolation: 'worktree' }) } catch (e) { log(e.name) }
return 1
"""


def test_a_dry_run_makes_no_worktree_and_counts_isolated_agents_by_their_model(tmp_path):
    # Found as a new user: the dry run made (and removed) a real worktree per isolated agent
    # and left .claude/worktrees/.gitignore behind; where none could be made, the agent was
    # counted under the alias it asked for ("2 Sonnet + 1 Sonnet", "no price for sonnet").
    script = tmp_path / "iso.js"
    script.write_text(ISOLATED)
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "f.txt").write_text("hello\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    done = jshost("plan", str(script), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Agents: 3 agents (3 Sonnet)" in done.stdout
    assert not (repo / ".claude").exists()
    listed = subprocess.run([*git, "worktree", "list"], capture_output=True, text=True).stdout
    assert len(listed.splitlines()) == 1
    outside = tmp_path / "plain"
    outside.mkdir()
    done = jshost("plan", str(script), cwd=outside)
    assert done.returncode == 0, done.stderr
    assert "Agents: 3 agents (3 Sonnet)" in done.stdout, done.stdout
    assert "no price for" not in done.stdout
    # what the estimate cannot know, said rather than guessed
    assert "Note: each agent is counted as one request. Agents with tools" in done.stdout
