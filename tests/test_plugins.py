"""Worker plugins: the registry, the ``jshost.workers`` entry points, ``jshost workers``,
and the example openai-compat plugin installed into a fresh virtualenv and run from the CLI.

In-process tests register plugins as real installed distributions (a ``*.dist-info`` folder
with ``entry_points.txt`` on ``sys.path``), read by ``importlib.metadata`` as pip-installed
ones are. The end-to-end tests pip-install the example from its folder into a temporary
virtualenv, offline (``--no-index --no-deps --no-build-isolation``), and run ``jshost`` there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from jshost.cli import cli
from jshost.errors import UsageError
from jshost.workers import registry
from jshost.workers.registry import WorkerSettings, get_worker, worker_infos, worker_names
from jshost.workers.sim import SimWorker

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "jshost-openai-compat"
BROKEN = ROOT / "tests" / "plugins" / "jshost-broken-plugin"


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch):
    # Plugins load once per process; each test starts from nothing loaded.
    monkeypatch.delenv("JSHOST_LOAD_PLUGINS", raising=False)
    registry._PLUGINS.clear()
    yield
    registry._PLUGINS.clear()


def install_fake_dist(
    site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A distribution as pip leaves it: ``<dist>.dist-info`` with its entry points, and modules."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[jshost.workers]\n{lines}")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
    from jshost.workers import AgentResult, Worker
    from jshost.workers.base import report_usage, Usage

    class EchoWorker(Worker):
        '''Echoes the prompt back (a test plugin).'''

        name = "echo"
        needs_key = True
        key_env_var = "ECHO_KEY"

        def __init__(self, key):
            self.key = key

        async def run(self, request):
            report_usage(Usage(input_tokens=1))
            return AgentResult(f"echo[{self.key}]: {request.prompt}", usage=Usage(1, 1))

    def make(settings, env):
        return EchoWorker(settings.key)

    make.worker_class = EchoWorker

    def not_a_worker(settings, env):
        return "a string"

    def crashes(settings, env):
        raise RuntimeError("boom")
"""


@pytest.fixture
def plugin_site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    install_fake_dist(
        site,
        "jshost-echo",
        {
            "echo": "echo_plugin:make",
            "notworker": "echo_plugin:not_a_worker",
            "crashes": "echo_plugin:crashes",
            "sim": "echo_plugin:make",
        },
        {"echo_plugin": GOOD},
    )
    install_fake_dist(
        site,
        "jshost-broken",
        {"broken": "broken_plugin:make"},
        {"broken_plugin": "raise ImportError('needs libmissing')\n"},
    )
    monkeypatch.syspath_prepend(str(site))
    return site


# -- the registry ------------------------------------------------------------------------------


def test_builtins_need_no_metadata_and_empty_load_plugins_loads_none(plugin_site):
    env = {"JSHOST_LOAD_PLUGINS": ""}
    assert worker_names(env) == ["sim", "anthropic", "claude-code"]
    assert [i.name for i in worker_infos(env)] == ["sim", "anthropic", "claude-code"]
    assert isinstance(get_worker("sim", WorkerSettings(), env), SimWorker)
    with pytest.raises(
        UsageError, match=r"^unknown worker 'echo' \(known: sim, anthropic, claude-code\)$"
    ):
        get_worker("echo", WorkerSettings(), env)


def test_entry_point_plugin_is_listed_and_built_with_the_host_resolved_key(plugin_site):
    env = {"ECHO_KEY": " k1 "}
    assert worker_names(env) == ["sim", "anthropic", "claude-code", "echo", "notworker", "crashes"]
    info = {i.name: i for i in worker_infos(env)}
    echo = info["echo"]
    assert (echo.package, echo.ready, echo.needs_key, echo.key_env_var) == (
        "jshost-echo",
        True,
        True,
        "ECHO_KEY",
    )
    assert echo.description == "Echoes the prompt back (a test plugin)."
    worker = get_worker("echo", WorkerSettings(), env)
    assert worker.key == "k1"  # looked up and stripped by the host, not by the factory

    # Without the key: listed, not ready, and building it says which variable to set.
    info = {i.name: i for i in worker_infos({})}
    assert (info["echo"].ready, info["echo"].problem) == (False, "no API key: set ECHO_KEY")
    with pytest.raises(UsageError, match=r"^no API key: set ECHO_KEY or use --worker sim$"):
        get_worker("echo", WorkerSettings(), {})


def test_a_plugin_that_fails_to_import_is_listed_with_its_error(plugin_site):
    info = {i.name: i for i in worker_infos({})}
    broken = info["broken"]
    assert (broken.package, broken.ready) == ("jshost-broken", False)
    assert broken.problem.startswith("ImportError: needs libmissing (")
    assert "broken_plugin.py:1)" in broken.problem
    assert "broken" not in worker_names({})
    with pytest.raises(UsageError, match=r"^worker 'broken' \(jshost-broken\) failed to load: "):
        get_worker("broken", WorkerSettings(), {})


def test_a_plugin_cannot_take_a_builtin_name(plugin_site):
    taken = [i for i in worker_infos({}) if i.name == "sim" and i.package == "jshost-echo"]
    assert len(taken) == 1 and not taken[0].ready
    assert "taken by a built-in worker" in taken[0].problem
    assert isinstance(get_worker("sim", WorkerSettings(), {}), SimWorker)


def test_a_factory_that_crashes_or_returns_no_worker_is_a_usage_error(plugin_site):
    with pytest.raises(UsageError, match=r"could not be built: RuntimeError: boom \("):
        get_worker("crashes", WorkerSettings(), {})
    with pytest.raises(UsageError, match=r"returned str, not a jshost Worker$"):
        get_worker("notworker", WorkerSettings(), {})


def test_load_plugins_restricts_by_entry_point_or_package_name(plugin_site):
    by_package = {"JSHOST_LOAD_PLUGINS": "jshost-broken"}
    assert [i.name for i in worker_infos(by_package)] == [
        "sim",
        "anthropic",
        "claude-code",
        "broken",
    ]
    by_name = {"JSHOST_LOAD_PLUGINS": " echo , nothing"}
    assert worker_names(by_name) == ["sim", "anthropic", "claude-code", "echo"]


def test_anthropic_registration_mirrors_the_worker_class():
    from jshost.workers.anthropic import AnthropicWorker

    entry = registry._BUILTINS["anthropic"]
    assert (entry.needs_key, entry.key_env_var) == (
        AnthropicWorker.needs_key,
        AnthropicWorker.key_env_var,
    )


# -- the command line --------------------------------------------------------------------------


def test_jshost_workers_lists_plugins_and_their_state(plugin_site, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", "x")
    result = CliRunner().invoke(cli, ["workers"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "sim          (jshost) ready"
    assert "anthropic    (jshost) not ready: no API key: set ANTHROPIC_API_KEY" in lines
    assert "echo         (jshost-echo) ready" in lines
    assert "             Echoes the prompt back (a test plugin)." in lines
    assert any(
        line.startswith("broken       (jshost-broken) not ready: ImportError: needs libmissing")
        for line in lines
    )

    result = CliRunner().invoke(cli, ["workers", "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    echo = next(r for r in rows if r["name"] == "echo")
    assert echo == {
        "name": "echo",
        "description": "Echoes the prompt back (a test plugin).",
        "package": "jshost-echo",
        "ready": True,
        "problem": None,
        "needs_key": True,
        "key_env_var": "ECHO_KEY",
    }


def test_jshost_workers_never_shows_a_plugin_s_control_characters(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install_fake_dist(
        site, "jshost-evil", {"evil": "evil_plugin:make"}, {"evil_plugin": EVIL_PLUGIN}
    )
    monkeypatch.syspath_prepend(str(site))
    result = CliRunner().invoke(cli, ["workers"])
    assert result.exit_code == 0
    assert "\x1b" not in result.output
    assert "⟨U+001B⟩[2J" in result.output


EVIL_PLUGIN = """
    raise ImportError("\\x1b[2Jgotcha")
"""


def test_run_with_a_plugin_worker_and_an_unknown_one(plugin_site, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", "k")
    flow = tmp_path / "flow.js"
    flow.write_text(
        "export const meta = { name: 'p', description: 'plugin run' }\n"
        "return await agent('hi there')\n"
    )
    result = CliRunner().invoke(cli, ["run", str(flow), "--worker", "echo", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert "echo[k]: hi there" in result.output

    result = CliRunner().invoke(cli, ["run", str(flow), "--worker", "nope", "--yes"])
    assert result.exit_code == 2
    assert result.output.endswith(
        "jshost: unknown worker 'nope' "
        "(known: sim, anthropic, claude-code, echo, notworker, crashes)\n"
    )


def test_cli_import_help_and_builtin_runs_never_read_plugins(tmp_path):
    """A plugin module that leaves a mark when imported: only listing or naming it imports it."""
    site = tmp_path / "site"
    mark = tmp_path / "imported"
    install_fake_dist(
        site,
        "jshost-marker",
        {"marker": "marker_plugin:make"},
        {"marker_plugin": f"open({str(mark)!r}, 'a').write('x')\ndef make(s, e): pass\n"},
    )
    flow = tmp_path / "flow.js"
    flow.write_text("export const meta = { name: 'm', description: 'd' }\nreturn 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSHOST_")}
    env["JSHOST_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])

    def jshost(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jshost", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for args in (["--help"], ["run", "--help"], ["run", str(flow), "--worker", "sim", "--yes"]):
        done = jshost(*args)
        assert done.returncode == 0, done.stderr
        assert not mark.exists(), f"jshost {' '.join(args)} imported the plugin"
    done = jshost("workers")
    assert done.returncode == 0 and "marker" in done.stdout
    assert mark.exists()
