"""The reference runtime's environment settings (reference §8.4), honoured by `jshost run`:
CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS, MAX_STRUCTURED_OUTPUT_RETRIES,
CLAUDE_CODE_SUBAGENT_MODEL and CLAUDE_CODE_SUBAGENT_MODEL_FORCE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from messages_server import MessagesServer, Reply

from jshost.cli import cli
from jshost.errors import UsageError
from jshost.settings import ModelPolicy, structured_output_retries

META = "export const meta = { name: 'settings', description: 'reference settings' }\n"
KEY = "sk-ant-test-0123456789-SECRET"
CAUSE = {"type": "object", "properties": {"cause": {"type": "string"}}, "required": ["cause"]}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "flow.js"
    path.write_text(META + body + "\n", encoding="utf-8")
    return str(path)


def events(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


def run_sim(tmp_path: Path, body: str, *extra: str, env: dict[str, str]) -> list[dict]:
    path = write(tmp_path, body)
    result = invoke("run", path, "--worker", "sim", "--yes", "--json", *extra, env=env)
    assert result.exit_code == 0, result.stderr
    return events(result)


# -- CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS ----------------------------------------------

WIDE = "return await parallel(Array.from({ length: 6 }, (_, i) => () => agent('a' + i)))"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "2"}, 2),
        ({"JSHOST_MAX_CONCURRENT_AGENTS": "3"}, 3),
        # ours wins when both are set
        (
            {
                "JSHOST_MAX_CONCURRENT_AGENTS": "3",
                "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "1",
            },
            3,
        ),
    ],
    ids=["reference", "ours", "both"],
)
def test_max_concurrent_agents_from_the_reference_variable(tmp_path, env, expected):
    out = run_sim(tmp_path, WIDE, "--sim-latency", "0.05", env=env)
    assert out[0]["event"] == "run_started" and out[0]["caps"]["concurrency"] == expected
    assert out[-1]["peak_concurrency"] == expected


def test_the_option_beats_both_variables(tmp_path):
    env = {"JSHOST_MAX_CONCURRENT_AGENTS": "3", "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "1"}
    out = run_sim(tmp_path, WIDE, "--concurrency", "5", env=env)
    assert out[0]["caps"]["concurrency"] == 5


def test_max_concurrent_agents_out_of_range_is_a_usage_error(tmp_path):
    path = write(tmp_path, WIDE)
    env = {"CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "300"}
    result = invoke("run", path, "--worker", "sim", "--yes", env=env)
    assert result.exit_code == 2
    assert "--concurrency" in result.stderr and "300" in result.stderr


def test_help_names_the_reference_settings():
    out = invoke("run", "--help").stdout
    for name in (
        "JSHOST_MAX_CONCURRENT_AGENTS",
        "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS",
        "CLAUDE_CODE_SUBAGENT_MODEL",
        "CLAUDE_CODE_SUBAGENT_MODEL_FORCE",
    ):
        assert name in out.replace("\n", " ").replace("  ", " ").replace("- ", "-"), name


# -- MAX_STRUCTURED_OUTPUT_RETRIES -------------------------------------------------------------


def test_structured_output_retry_cap_from_the_environment(tmp_path):
    bad = Reply(tool_input={"reason": "x"}, usage=(10, 3, 0, 0))
    with MessagesServer() as server:
        server.enqueue(bad, bad, bad)
        path = write(
            tmp_path,
            f"try {{ return await agent('why?', {{ schema: {json.dumps(CAUSE)} }}) }}"
            " catch (e) { return e.message }",
        )
        env = {
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": server.url,
            "MAX_STRUCTURED_OUTPUT_RETRIES": "2",
        }
        result = invoke("run", path, "--yes", "--quiet", env=env)
        posts = len(server.posts)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "agent({schema}): StructuredOutput retry cap (2) exceeded — 2 failed calls with no "
        "valid output — last StructuredOutput error: Output does not match required schema"
    )
    assert posts == 2  # not the default 5


def test_structured_output_retry_cap_names_the_cap_on_sim(tmp_path):
    body = (
        "try { await agent('x', { schema: { type: 'string', minLength: 3, maxLength: 3,"
        " pattern: '^[0-9]{5}$' } }) } catch (e) { return e.message }"
    )
    out = run_sim(tmp_path, body, env={"MAX_STRUCTURED_OUTPUT_RETRIES": "7"})
    assert out[-1]["result"].startswith("agent({schema}): StructuredOutput retry cap (7) exceeded")


@pytest.mark.parametrize("value", ["0", "-1", "five", "2.5"])
def test_a_bad_structured_output_retry_cap_is_a_usage_error(tmp_path, value):
    path = write(tmp_path, "return 1")
    result = invoke(
        "run", path, "--worker", "sim", "--yes", env={"MAX_STRUCTURED_OUTPUT_RETRIES": value}
    )
    assert result.exit_code == 2
    assert "MAX_STRUCTURED_OUTPUT_RETRIES must be a whole number of at least 1" in result.stderr


def test_structured_output_retries_default():
    assert structured_output_retries({}) == 5
    assert structured_output_retries({"MAX_STRUCTURED_OUTPUT_RETRIES": " 9 "}) == 9
    with pytest.raises(UsageError):
        structured_output_retries({"MAX_STRUCTURED_OUTPUT_RETRIES": "0"})


# -- CLAUDE_CODE_SUBAGENT_MODEL and _FORCE (reference §6.4) ------------------------------------

TWO = "return [await agent('a', { model: 'opus' }), await agent('b')]"


def models_of(out: list[dict]) -> list[str]:
    return [text.split("]")[0].removeprefix("[sim ") for text in out[-1]["result"]]


def test_without_settings_opts_model_then_the_run_model(tmp_path):
    out = run_sim(tmp_path, TWO, "--model", "sonnet", env={})
    assert models_of(out) == ["opus", "sonnet"]


def test_subagent_model_beats_opts_model_and_the_run_model(tmp_path):
    out = run_sim(tmp_path, TWO, "--model", "sonnet", env={"CLAUDE_CODE_SUBAGENT_MODEL": "haiku"})
    assert models_of(out) == ["haiku", "haiku"]
    # what the script asked for is still what the events report as asked
    queued = [e for e in out if e["event"] == "agent_queued"]
    assert [e["model"] for e in queued] == ["opus", None]


def test_subagent_model_inherit_changes_nothing(tmp_path):
    out = run_sim(tmp_path, TWO, "--model", "sonnet", env={"CLAUDE_CODE_SUBAGENT_MODEL": "inherit"})
    assert models_of(out) == ["opus", "sonnet"]


def test_force_ignores_opts_model_with_a_log_line(tmp_path):
    env = {"CLAUDE_CODE_SUBAGENT_MODEL_FORCE": "1"}
    out = run_sim(tmp_path, TWO, "--model", "sonnet", env=env)
    assert models_of(out) == ["sonnet", "sonnet"]
    logs = [e["message"] for e in out if e["event"] == "log"]
    assert "[a] model 'opus' ignored: CLAUDE_CODE_SUBAGENT_MODEL_FORCE is set" in logs
    assert not any(m.startswith("[b]") for m in logs)


def test_force_off_values_do_not_force(tmp_path):
    out = run_sim(tmp_path, TWO, env={"CLAUDE_CODE_SUBAGENT_MODEL_FORCE": "0"})
    assert models_of(out)[0] == "opus"


def test_subagent_model_reaches_the_api(tmp_path):
    with MessagesServer() as server:
        path = write(tmp_path, TWO)
        env = {
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": server.url,
            "CLAUDE_CODE_SUBAGENT_MODEL": "haiku",
        }
        result = invoke("run", path, "--yes", "--quiet", env=env)
        models = [post["model"] for post in server.posts]
    assert result.exit_code == 0, result.stderr
    assert models == ["claude-haiku-5-5", "claude-haiku-5-5"]


def test_model_policy_precedence():
    assert ModelPolicy().choose("opus", "sonnet") == ("opus", None)
    assert ModelPolicy().choose(None, "sonnet") == ("sonnet", None)
    assert ModelPolicy("haiku").choose("opus", None) == ("haiku", None)
    assert ModelPolicy.from_env({"CLAUDE_CODE_SUBAGENT_MODEL": "INHERIT"}) == ModelPolicy()
    forced = ModelPolicy.from_env({"CLAUDE_CODE_SUBAGENT_MODEL_FORCE": "true"})
    assert forced.choose("opus", None)[0] is None
