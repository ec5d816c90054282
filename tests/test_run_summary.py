"""What the user reads at the end of a run: the agent cap once, the budget, one model name.

Through the real ``jshost run`` (click's CliRunner) on the sim worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio
from click.testing import CliRunner, Result

from jshost import events as ev
from jshost.cli import cli
from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.workers.sim import SimWorker

META = "export const meta = { name: 'summary', description: 'summary lines' }\n"
CAP_TEXT = (
    "Workflow agent() call cap reached (3). This usually means a loop using budget.remaining() "
    "never terminates because no token budget was set — remaining() returns Infinity when "
    "budget.total is null. Add a hard iteration cap to the loop, or pass a token budget."
)

# Ten calls against a cap of 3: seven are refused inside parallel(), and one more outside,
# whose error the script catches and returns.
CAPPED = """
const got = await parallel(Array.from({ length: 10 }, (_, i) => () => agent(`task ${i}`)))
try { await agent('one more') } catch (e) {
  return { ok: got.filter(x => x !== null).length, seen: e.message }
}
return 'not refused'
"""


def _run(tmp_path: Path, body: str, *args: str) -> Result:
    path = tmp_path / "flow.js"
    path.write_text(META + body, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["run", str(path), "--yes", "--sim-latency", "0.01", "--no-interactive", *args]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_agent_cap_is_told_once_with_the_count_and_the_flag(tmp_path):
    result = _run(tmp_path, CAPPED, "--max-agents", "3", "--no-live")
    assert result.exit_code == 0, result.stderr
    # The script still sees the reference's exact text.
    value = json.loads(result.stdout)
    assert value == {"ok": 3, "seen": CAP_TEXT}
    err = result.stderr
    # Once in progress, once in the summary: not once per refused call.
    assert err.count(CAP_TEXT) == 2, err
    summary = err[err.index("completed ·") :]
    assert summary.count(CAP_TEXT) == 1
    assert "7 agent() calls refused: " + CAP_TEXT in summary
    assert "--max-agents 3" in summary
    # The counts agree with the failure lines: 0 failed agents, 7 refused calls, one line.
    assert "agents 3 done, 0 failed, 0 skipped, 7 refused" in summary
    assert "failures (1):" in summary


def test_agent_cap_in_json_summary_and_store(tmp_path):
    result = _run(tmp_path, CAPPED, "--max-agents", "3", "--json")
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    summary = objects[-1]
    assert summary["agents"]["refused"] == 7
    assert summary["agents"]["failed"] == 0
    assert len(summary["failures"]) == 1
    assert summary["failures"][0].startswith("7 agent() calls refused: ")
    failure_events = [o for o in objects if o["event"] == "failure"]
    assert len(failure_events) == 1
    inspected = CliRunner().invoke(cli, ["inspect", summary["run_id"], "--json"])
    assert json.loads(inspected.stdout)["failures"] == summary["failures"]


def test_summary_shows_the_budget_used(tmp_path):
    result = _run(tmp_path, "await agent('[[sim:tokens=120]] a')\nreturn 1", "--budget", "1k")
    assert result.exit_code == 0, result.stderr
    assert "budget 120 / 1,000 output tokens used" in result.stderr
    as_json = _run(
        tmp_path, "await agent('[[sim:tokens=120]] a')\nreturn 1", "--budget", "1k", "--json"
    )
    summary = json.loads(as_json.stdout.splitlines()[-1])
    assert summary["budget"] == {"spent": 120, "total": 1000}
    without = _run(tmp_path, "await agent('a')\nreturn 1")
    assert "output tokens used" not in without.stderr


def test_one_model_name_for_an_agent_that_names_none(tmp_path):
    body = "await agent('a')\nawait agent('[[sim:fail]] b')\nreturn 1"
    result = _run(tmp_path, body, "--json")
    summary = json.loads(result.stdout.splitlines()[-1])
    # One script, one model: its tokens are not split between "default" and "sim".
    assert list(summary["tokens_by_model"]) == ["sim"]
    assert summary["tokens_by_model"]["sim"]["input"] == summary["tokens"]["input"]
    plain = _run(tmp_path, body)
    assert "tokens by model" not in plain.stderr
    assert "default" not in plain.stderr


def test_running_agent_shows_the_model_it_will_report():
    # What a live view reads while the agent runs is the name the finished agent reports.
    seen: dict[str, list[str | None]] = {"started": [], "finished": []}

    def sink(event: ev.Event) -> None:
        if isinstance(event, ev.AgentStarted):
            seen["started"].append(event.agent.model_used)
        elif isinstance(event, ev.AgentFinished):
            seen["finished"].append(event.agent.model_used)

    script = parse_script(META + "await agent('a')\nreturn 1\n", path="m.js")

    async def main() -> None:
        await Engine(script, worker=SimWorker(latency=0), limits=Limits(), sink=sink).run()

    trio.run(main)
    assert seen == {"started": ["sim"], "finished": ["sim"]}
