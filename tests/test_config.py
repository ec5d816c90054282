"""Tests for the user configuration: model aliases and worker settings (``jshost.config``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from jshost.config import DEFAULT_MODELS, Config, config_path, load_config
from jshost.errors import UsageError
from jshost.workers.registry import WorkerSettings, choose_worker, make_worker


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")
    return {"JSHOST_HOME": str(home)}


def test_config_lives_in_jshost_home_or_the_user_config_dir(tmp_path, monkeypatch):
    assert config_path({"JSHOST_HOME": str(tmp_path)}) == tmp_path / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path({}) == tmp_path / "xdg" / "jshost" / "config.toml"


def test_no_file_gives_the_defaults(tmp_path):
    config = load_config({"JSHOST_HOME": str(tmp_path)})
    assert config == Config()
    assert config.path is None
    assert dict(config.models) == dict(DEFAULT_MODELS)
    assert config.resolve_model(None) == "claude-sonnet-5-5"


def test_file_overrides_and_adds_aliases_and_settings(tmp_path):
    env = write_config(
        tmp_path,
        """
        [models]
        default = "fast"
        haiku = "claude-haiku-4-5"
        fast = "claude-fast-1"

        [anthropic]
        max_tokens = 4096
        max_retries = 3
        retry_after_cap = 12.5
        """,
    )
    config = load_config(env)
    assert config.path == Path(env["JSHOST_HOME"]) / "config.toml"
    assert config.resolve_model("haiku") == "claude-haiku-4-5"
    assert config.resolve_model("opus") == "claude-opus-5-5"
    assert config.resolve_model(None) == config.resolve_model("inherit") == "claude-fast-1"
    assert (config.max_tokens, config.max_retries, config.retry_after_cap) == (4096, 3, 12.5)


def test_environment_wins_over_the_file(tmp_path):
    env = write_config(tmp_path, '[models]\nsonnet = "from-file"\n')
    env |= {"JSHOST_MODEL_SONNET": "claude-from-env", "JSHOST_MODEL_DEFAULT": "opus"}
    config = load_config(env)
    assert config.resolve_model("sonnet") == "claude-from-env"
    assert config.resolve_model(None) == "claude-opus-5-5"


def test_full_ids_pass_through_and_bare_typos_are_refused():
    config = Config()
    assert config.resolve_model(" Opus ") == "claude-opus-5-5"
    assert config.resolve_model("claude-opus-4-8") == "claude-opus-4-8"
    assert config.resolve_model("us.anthropic.claude-x:0") == "us.anthropic.claude-x:0"
    with pytest.raises(ValueError, match=r"^unknown model 'opsu' \(known: fable, haiku"):
        config.resolve_model("opsu")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models\n", "not valid TOML"),
        ("models = 3\n", "[models] must be a table"),
        ("[models]\nhaiku = 4\n", "models.haiku must be a non-empty string"),
        ('[models]\n"Big Model" = "x"\n', "an alias is a lowercase word"),
        ('[models]\ninherit = "x"\n', "an alias is a lowercase word"),
        ("[anthropic]\nmax_tokens = 0\n", "max_tokens must be at least 1"),
        ('[anthropic]\nmax_retries = "many"\n', "max_retries must be an integer"),
        ("[anthropic]\nmax_tokens = 1.5\n", "max_tokens must be an integer"),
        ("[anthropic]\nretry_after_cap = true\n", "retry_after_cap must be a number"),
    ],
)
def test_bad_config_is_a_usage_error_naming_the_file(tmp_path, text, message):
    env = write_config(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(env)
    assert str(info.value).startswith(str(Path(env["JSHOST_HOME"]) / "config.toml"))
    assert message in str(info.value)


def test_worker_choice_follows_the_key():
    assert choose_worker(None, {"ANTHROPIC_API_KEY": "k"}) == ("anthropic", "")
    assert choose_worker(None, {"ANTHROPIC_API_KEY": " "}) == (
        "sim",
        "using the offline sim worker (no API key configured; its agents run no tools)",
    )
    assert choose_worker("sim", {"ANTHROPIC_API_KEY": "k"}) == ("sim", "")


def test_make_worker_checks_key_model_and_name(tmp_path):
    env = {"JSHOST_HOME": str(tmp_path), "ANTHROPIC_API_KEY": "k"}
    with pytest.raises(UsageError, match=r"^unknown worker 'gpt' "):
        make_worker("gpt", WorkerSettings(), env)
    with pytest.raises(
        UsageError, match=r"^no API key: set ANTHROPIC_API_KEY or use --worker sim$"
    ):
        make_worker("anthropic", WorkerSettings(), {"JSHOST_HOME": str(tmp_path)})
    with pytest.raises(UsageError, match=r"^--model: unknown model 'sonet'"):
        make_worker("anthropic", WorkerSettings(model="sonet"), env)
    env_bad_default = env | {"JSHOST_MODEL_DEFAULT": "sonet"}
    with pytest.raises(UsageError, match=r"^the default model \(models.default\): unknown"):
        make_worker("anthropic", WorkerSettings(), env_bad_default)
    worker = make_worker("anthropic", WorkerSettings(model="opus", base_url="http://x.test"), env)
    assert worker.describe() == "anthropic worker (default model claude-opus-5-5, http://x.test)"
    trio.run(worker.aclose)
    assert make_worker("sim", WorkerSettings(sim_latency=0.25), env).describe() == (
        "sim worker (offline, 0.25 s simulated latency)"
    )
