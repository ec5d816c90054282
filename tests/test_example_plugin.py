"""The example plugin (examples/jshost-openai-compat) against a chat-completions server on
127.0.0.1: in-process (text, schema answers checked and repaired, usage, cancellation, errors,
the worker contract), then pip-installed offline into a fresh virtualenv and used from the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from conftest import script_source
from openai_server import ChatServer, Reply, last_user_text

from jshost.engine import Engine, Limits
from jshost.errors import UsageError, WorkerError
from jshost.script import parse_script
from jshost.testing import check_worker
from jshost.workers import AgentRejectedError, AgentRequest, Usage
from jshost.workers.registry import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "jshost-openai-compat"
BROKEN = ROOT / "tests" / "plugins" / "jshost-broken-plugin"
KEY = "sk-test-key"

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


@pytest.fixture
def plugin(monkeypatch) -> Any:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import jshost_openai_compat

    return jshost_openai_compat


def responder(body: dict[str, Any]) -> Reply:
    """Text: an echo. Schema: a value that validates. Markers steer the rest."""
    prompt = last_user_text(body)
    first = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "[[hang]]" in prompt:
        return Reply(hang=True)
    if body.get("response_format") or any(m["role"] == "system" for m in body["messages"]):
        if "[[always-wrong]]" in first:
            return Reply(content="not json at all")
        # A model that follows the schema: integers are the prompt's length, strings "ok".
        schema = body["response_format"]["json_schema"]["schema"]
        value = {
            key: len(prompt) if spec.get("type") == "integer" else "ok"
            for key, spec in schema["properties"].items()
        }
        return Reply(content=f"```json\n{json.dumps(value)}\n```", usage=(100, 7, 40))
    return Reply(content=f"echo: {prompt}", usage=(12, 3, 0))


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer(responder) as srv:
        yield srv


def make(plugin: Any, server: ChatServer, **kw: Any) -> Any:
    return plugin.OpenAICompatWorker(base_url=server.url, api_key=KEY, model="local-model", **kw)


def ask(plugin: Any, server: ChatServer, request: AgentRequest, **kw: Any) -> Any:
    async def main() -> Any:
        with trio.fail_after(20):
            async with make(plugin, server, **kw) as worker:
                return await worker.run(request)

    return trio.run(main)


def req(prompt: str, **kw: Any) -> AgentRequest:
    return AgentRequest(index=1, prompt=prompt, label="l", **kw)


def test_text_answer_usage_model_and_key(plugin, server):
    result = ask(plugin, server, req("hello", model="sonnet"))
    assert result.value == "echo: hello"
    assert result.usage == Usage(input_tokens=12, output_tokens=3)
    assert result.model == "local-model"  # a Claude alias means the run's model
    (sent,) = server.requests
    assert sent["model"] == "local-model"
    assert "response_format" not in sent
    assert server.state.headers[0]["Authorization"] == f"Bearer {KEY}"
    # A model name that is not Claude's is the script's choice, sent as is.
    assert ask(plugin, server, req("x", model="qwen-7b")).model == "qwen-7b"


def test_schema_answer_asks_for_json_schema_and_is_checked(plugin, server):
    result = ask(plugin, server, req("count me", schema=SCHEMA))
    assert result.value == {"n": len("count me")}
    # cached prompt tokens are cache reads, not plain input
    assert result.usage == Usage(input_tokens=60, output_tokens=7, cache_read_input_tokens=40)
    sent = server.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert json.dumps(SCHEMA) in sent["messages"][0]["content"]


def test_a_wrong_schema_answer_gets_a_repair_turn(plugin):
    replies = iter([Reply(content='{"n": "seven"}'), Reply(content='{"n": 7}')])
    with ChatServer(lambda body: next(replies)) as srv:
        result = ask(plugin, srv, req("seven", schema=SCHEMA))
        assert result.value == {"n": 7}
        assert result.attempts == 2
        assert result.usage == Usage(input_tokens=20, output_tokens=10)
        repair = srv.requests[1]["messages"]
        assert repair[-2] == {"role": "assistant", "content": '{"n": "seven"}'}
        assert "$.n: 'seven' is not of type 'integer'" in repair[-1]["content"]


def test_the_retry_cap_rejects_as_the_reference_does(plugin, server):
    with pytest.raises(AgentRejectedError) as caught:
        ask(plugin, server, req("[[always-wrong]]", schema=SCHEMA), structured_output_cap=3)
    assert str(caught.value).startswith(
        "agent({schema}): StructuredOutput retry cap (3) exceeded — 3 failed calls"
    )
    assert "the reply is not JSON" in str(caught.value)
    assert len(server.requests) == 3


def test_a_server_without_response_format_gets_the_instruction_alone(plugin):
    def strict(body: dict[str, Any]) -> Reply:
        if "response_format" in body:
            return Reply(status=400, error="unknown field response_format")
        return Reply(content='{"n": 1}')

    with ChatServer(strict) as srv:
        assert ask(plugin, srv, req("one", schema=SCHEMA)).value == {"n": 1}
        assert ["response_format" in r for r in srv.requests] == [True, False]


def test_http_errors_retry_then_fail_with_the_server_s_message(plugin):
    replies = iter([Reply(status=503), Reply(content="fine")])
    with ChatServer(lambda body: next(replies)) as srv:
        assert ask(plugin, srv, req("x")).value == "fine"
    with ChatServer(lambda body: Reply(status=401, error="bad key")) as srv:
        with pytest.raises(WorkerError, match=r"HTTP 401: bad key$"):
            ask(plugin, srv, req("x"))
        assert len(srv.requests) == 1  # not retried


def test_cancellation_closes_the_http_request(plugin, server):
    async def main() -> float:
        async with make(plugin, server) as worker:
            start = trio.current_time()
            with trio.move_on_after(0.3) as scope:
                await worker.run(req("[[hang]]"))
            assert scope.cancelled_caught
            return trio.current_time() - start

    assert trio.run(main) < 1.3  # 0.3 s until the cancel, then at once
    assert server.wait_hangups(1)  # the server saw the client hang up


def test_the_example_keeps_the_worker_contract(plugin, server):
    report = check_worker(lambda: make(plugin, server), slow_prompt="[[hang]]")
    assert report.concurrent == 4 and report.schema_checked
    assert report.cancel_seconds < 1.0
    assert report.usage_reports >= 1


def test_a_workflow_runs_on_it_with_its_token_totals(plugin, server):
    body = """
        const SCHEMA = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }
        const [a, b] = await parallel([
          () => agent('first'),
          () => agent('second', { schema: SCHEMA }),
        ])
        return { a, b }
    """
    script = parse_script(script_source(body), path="flow.js")

    async def main() -> Any:
        with trio.fail_after(20):
            async with make(plugin, server) as worker:
                return await Engine(script, worker=worker, limits=Limits()).run()

    outcome = trio.run(main)
    assert outcome.status == "completed", outcome.error
    assert outcome.result == {"a": "echo: first", "b": {"n": len("second")}}
    assert outcome.tokens_out == 3 + 7


def test_factory_settings_and_messages(plugin):
    settings = WorkerSettings(key=KEY)
    with pytest.raises(UsageError, match="set OPENAI_COMPAT_BASE_URL or pass --base-url"):
        plugin.make_worker(settings, {})
    with pytest.raises(UsageError, match="set OPENAI_COMPAT_MODEL or pass --model"):
        plugin.make_worker(settings, {"OPENAI_COMPAT_BASE_URL": "http://127.0.0.1:1/v1"})
    env = {"OPENAI_COMPAT_BASE_URL": "http://127.0.0.1:1/v1", "OPENAI_COMPAT_MODEL": "m"}
    worker = plugin.make_worker(settings, env)
    assert worker.describe() == "openai-compat worker (m at http://127.0.0.1:1/v1)"
    worker = plugin.make_worker(WorkerSettings(key=KEY, base_url="http://h:2/v1", model="n"), env)
    assert (worker.base_url, worker.model) == ("http://h:2/v1", "n")
    trio.run(worker.aclose)


# -- installed for real: a fresh virtualenv, pip offline, the CLI as a subprocess --------------


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A virtualenv with the example and the broken plugin pip-installed from their folders.

    It sees this test environment's packages (jshost, httpx2, hatchling) through a ``.pth``
    that adds our site-packages as a site dir, so pip needs no index, no build isolation and
    no dependency downloads: nothing leaves the machine.
    """
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120
    )
    python = env_dir / "bin" / "python"
    target_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(target_site, "_jshost_test_env.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    for package in (EXAMPLE, BROKEN):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--quiet",
                "--no-index",
                "--no-deps",
                "--no-build-isolation",
                "--disable-pip-version-check",
                str(package),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=root,
        )
        assert done.returncode == 0, done.stderr
    return python


def run_jshost(
    python: Path, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "JSHOST_", "OPENAI_COMPAT_", "PYTHON"))
    }
    full["JSHOST_HOME"] = str(home)
    full.update(env or {})
    done = subprocess.run(
        [str(python), "-m", "jshost", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home.parent,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.slow
def test_installed_plugin_is_listed_from_its_entry_point(venv, tmp_path):
    home = tmp_path / "home"
    # the package really is installed in the new environment, not found on our path
    dist = subprocess.run(
        [
            str(venv),
            "-c",
            "from importlib.metadata import distribution as d; "
            "print(d('jshost-openai-compat').locate_file(''))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(dist).resolve().is_relative_to(venv.parent.parent.resolve())

    done = run_jshost(venv, home, "workers")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        "openai-compat  (jshost-openai-compat) not ready: no API key: set OPENAI_COMPAT_API_KEY"
    ) in lines
    assert (
        "               Any OpenAI-compatible /v1/chat/completions endpoint "
        "(OPENAI_COMPAT_BASE_URL)."
    ) in lines
    broken = [line for line in lines if line.startswith("broken ")]
    assert broken and "not ready: ImportError: jshost_broken_plugin needs libmissing" in broken[0]

    done = run_jshost(venv, home, "workers", "--json", env={"OPENAI_COMPAT_API_KEY": KEY})
    rows = {row["name"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert rows["openai-compat"]["ready"] is True
    assert rows["openai-compat"]["package"] == "jshost-openai-compat"
    assert rows["broken"]["ready"] is False


@pytest.mark.slow
def test_installed_plugin_runs_a_workflow_from_the_cli(venv, tmp_path, server):
    home = tmp_path / "home"
    flow = tmp_path / "flow.js"
    flow.write_text(
        script_source(
            """
            const text = await agent('hello from the cli')
            const schema = { type: 'object', properties: { n: { type: 'integer' } } }
            const data = await agent('give n', { schema })
            return { text, data }
            """
        )
    )
    env = {
        "OPENAI_COMPAT_API_KEY": KEY,
        "OPENAI_COMPAT_BASE_URL": server.url,
        "OPENAI_COMPAT_MODEL": "local-model",
    }
    done = run_jshost(venv, home, "run", str(flow), "--worker", "openai-compat", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "echo: hello from the cli" in done.stdout
    assert '"n": 6' in done.stdout
    assert [r["model"] for r in server.requests] == ["local-model", "local-model"]
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.state.headers)

    # --model from the command line reaches the plugin's factory
    done = run_jshost(
        venv,
        home,
        "run",
        str(flow),
        "--worker",
        "openai-compat",
        "--model",
        "other-model",
        "--yes",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert server.requests[-1]["model"] == "other-model"

    # no key: one line, exit 2, nothing sent
    sent = len(server.requests)
    no_key = {k: v for k, v in env.items() if k != "OPENAI_COMPAT_API_KEY"}
    done = run_jshost(
        venv, home, "run", str(flow), "--worker", "openai-compat", "--yes", env=no_key
    )
    assert done.returncode == 2
    assert done.stderr == "jshost: no API key: set OPENAI_COMPAT_API_KEY or use --worker sim\n"
    assert len(server.requests) == sent


@pytest.mark.slow
def test_load_plugins_filters_installed_plugins(venv, tmp_path):
    home = tmp_path / "home"
    only = run_jshost(venv, home, "workers", env={"JSHOST_LOAD_PLUGINS": "jshost-openai-compat"})
    names = [line.split()[0] for line in only.stdout.splitlines() if not line.startswith(" ")]
    assert names == ["sim", "anthropic", "claude-code", "openai-compat"]
    none = run_jshost(venv, home, "workers", env={"JSHOST_LOAD_PLUGINS": ""})
    names = [line.split()[0] for line in none.stdout.splitlines() if not line.startswith(" ")]
    assert names == ["sim", "anthropic", "claude-code"]

    flow = tmp_path / "flow.js"
    flow.write_text(script_source("return 1"))
    done = run_jshost(
        venv,
        home,
        "run",
        str(flow),
        "--worker",
        "openai-compat",
        "--yes",
        env={"JSHOST_LOAD_PLUGINS": "broken"},
    )
    assert done.returncode == 2
    known = "sim, anthropic, claude-code"
    assert done.stderr == f"jshost: unknown worker 'openai-compat' (known: {known})\n"


@pytest.mark.slow
def test_a_broken_plugin_never_breaks_the_cli(venv, tmp_path):
    home = tmp_path / "home"
    flow = tmp_path / "flow.js"
    flow.write_text(script_source("return await agent('x')"))
    done = run_jshost(venv, home, "run", str(flow), "--worker", "sim", "--yes")
    assert done.returncode == 0, done.stderr
    done = run_jshost(venv, home, "run", str(flow), "--worker", "broken", "--yes")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "jshost: worker 'broken' (jshost-broken-plugin) failed to load: ImportError: "
        "jshost_broken_plugin needs libmissing"
    )
