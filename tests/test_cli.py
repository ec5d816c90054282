"""Tests for the ``jshost run`` command: arguments, output streams, exit codes, signals.

Most tests drive the real click command through ``CliRunner``; the signal tests and a few others
start a real ``python -m jshost`` process, because Ctrl-C handling and the absence of tracebacks
only show end to end. Exit codes (DESIGN §4): 0 completed, 1 failed, 2 usage, 130 stopped.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jshost import __version__
from jshost.cli import cli

META = "export const meta = { name: 'cli-test', description: 'a cli test workflow' }\n"
FAST = ["--sim-latency", "0.01"]


def write_script(tmp_path: Path, body: str, name: str = "flow.js", meta: str = META) -> str:
    path = tmp_path / name
    path.write_text(meta + body + "\n", encoding="utf-8")
    return str(path)


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run the CLI in-process; any exception other than SystemExit is a bug in the command."""
    result = CliRunner().invoke(cli, list(args), env=env, input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def run_script(tmp_path: Path, body: str, *extra: str, env: dict[str, str] | None = None) -> Result:
    return invoke("run", write_script(tmp_path, body), "--yes", *FAST, *extra, env=env)


def summary_of(stdout: str) -> dict:
    """The summary object that ends ``run --json`` output (every line is a JSON object)."""
    objects = [json.loads(line) for line in stdout.strip().splitlines()]
    assert objects[-1]["event"] == "summary"
    assert [o["event"] for o in objects].count("summary") == 1
    return objects[-1]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# -- help and version ------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["run", "--help"], ["run", "-h"]])
def test_help_exits_zero(args):
    result = invoke(*args)
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_run_help_lists_the_options():
    out = invoke("run", "--help").stdout
    for option in ("--args", "--args-file", "--concurrency", "--max-agents", "--budget"):
        assert option in out
    for option in ("--timeout", "--yes", "--json", "--quiet"):
        assert option in out


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout
    assert "jshost" in result.stdout


# -- a successful run ------------------------------------------------------------------------


def test_run_string_result_is_raw_on_stdout(tmp_path):
    result = run_script(tmp_path, "await agent('hello')\nreturn 'line one\\nline \"two\"'")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'line one\nline "two"\n'


def test_run_object_result_is_indented_json(tmp_path):
    value = {"a": [1, 2], "b": {"c": "é"}}
    result = run_script(tmp_path, f"return {json.dumps(value)}")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == value
    assert result.stdout == json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def test_run_summary_on_stderr(tmp_path):
    result = run_script(
        tmp_path,
        "await parallel([() => agent('a'), () => agent('b'), () => agent('[[sim:fail]] c')])\n"
        "return 1",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    err = result.stderr
    assert "completed" in err
    assert "2 done" in err and "1 failed" in err
    assert "tokens" in err
    assert "sim: injected failure" in err


def test_run_progress_lines_and_quiet(tmp_path):
    body = "log('narrating')\nawait agent('hello', { label: 'greeter' })\nreturn 'r'"
    loud = run_script(tmp_path, body)
    assert loud.exit_code == 0
    assert "narrating" in loud.stderr
    assert "greeter" in loud.stderr
    quiet = run_script(tmp_path, body, "--quiet")
    assert quiet.exit_code == 0
    assert quiet.stdout == "r\n"
    assert "narrating" not in quiet.stderr
    assert "greeter" not in quiet.stderr
    assert "completed" in quiet.stderr


def test_run_json_ends_with_the_summary_object(tmp_path):
    result = run_script(
        tmp_path,
        "const a = await agent('x')\nawait agent('[[sim:fail]] y', { label: 'Y' })\n"
        "return { a: a.length > 0 }",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = summary_of(result.stdout)
    assert data["status"] == "completed"
    assert data["result"] == {"a": True}
    assert data["agents"]["total"] == 2
    assert data["agents"]["done"] == 1
    assert data["agents"]["failed"] == 1
    assert data["tokens"]["input"] > 0 and data["tokens"]["output"] > 0
    assert data["failures"] == ["[Y] failed: sim: injected failure"]


def test_run_json_for_a_failed_run(tmp_path):
    result = run_script(tmp_path, "throw new RangeError('nope')", "--json")
    assert result.exit_code == 1
    data = summary_of(result.stdout)
    assert data["status"] == "failed"
    assert data["result"] is None
    assert "RangeError" in data["error"] and "nope" in data["error"]


# -- --args / --args-file --------------------------------------------------------------------


def test_args_json_reaches_the_script(tmp_path):
    value = {"servers": ["a", "b"], "n": 2, "u": "✓"}
    result = run_script(tmp_path, "return args", "--args", json.dumps(value))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == value


def test_args_file_reaches_the_script(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps([1, {"k": "v"}]), encoding="utf-8")
    result = run_script(tmp_path, "return args", "--args-file", str(args_file))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [1, {"k": "v"}]


def test_args_absent_is_undefined(tmp_path):
    result = run_script(tmp_path, "return typeof args")
    assert result.stdout == "undefined\n"


def test_args_json_null_is_null(tmp_path):
    """`--args null` gives the JSON value null; only a missing --args means undefined."""
    result = run_script(tmp_path, "return args === null ? 'null' : typeof args", "--args", "null")
    assert result.exit_code == 0, result.output
    assert result.stdout == "null\n"


@pytest.mark.parametrize("bad", ["{bad", "[1,", "", "{'a': 1}", "NaNx"])
def test_invalid_args_json(tmp_path, bad):
    result = run_script(tmp_path, "return 1", "--args", bad)
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "--args" in line
    assert "JSON" in line
    assert result.stdout == ""


@pytest.mark.parametrize("bad", ["NaN", '{"x": Infinity}', "-Infinity", "[1, NaN]"])
def test_non_json_constants_in_args_are_usage_errors(tmp_path, bad):
    """Python's json accepts NaN and Infinity; JSON (and the sandbox's JSON.parse) does not."""
    result = run_script(tmp_path, "return args", "--args", bad)
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert "--args" in line
    assert "internal error" not in line


def test_out_of_range_number_in_args_is_not_an_internal_error(tmp_path):
    """1e999 is valid JSON syntax (JS parses it as Infinity): run it or refuse it, never crash."""
    result = run_script(tmp_path, "return String(args)", "--args", "1e999")
    assert result.exit_code in (0, 2), result.output
    assert "internal error" not in result.output
    if result.exit_code == 0:
        assert result.stdout == "Infinity\n"


def test_invalid_args_file_json(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text('{"a": }', encoding="utf-8")
    result = run_script(tmp_path, "return 1", "--args-file", str(args_file))
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "args.json" in line
    assert "JSON" in line


def test_args_and_args_file_are_mutually_exclusive(tmp_path):
    args_file = tmp_path / "args.json"
    args_file.write_text("1", encoding="utf-8")
    result = run_script(tmp_path, "return 1", "--args", "1", "--args-file", str(args_file))
    assert result.exit_code == 2
    assert "mutually exclusive" in result.stderr


def test_missing_args_file(tmp_path):
    result = run_script(tmp_path, "return 1", "--args-file", str(tmp_path / "none.json"))
    assert result.exit_code == 2
    assert "none.json" in one_line(result.stderr)


# -- bad scripts -----------------------------------------------------------------------------


def test_missing_script_file(tmp_path):
    result = invoke("run", str(tmp_path / "missing.js"), "--yes")
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "missing.js" in result.stderr


def test_directory_instead_of_script(tmp_path):
    result = invoke("run", str(tmp_path), "--yes")
    assert result.exit_code == 2
    assert "directory" in result.stderr


def test_syntax_error_exit_2_with_location(tmp_path):
    path = write_script(tmp_path, "const a = 1\nconst b = = 2\nreturn b")
    result = invoke("run", path, "--yes")
    assert result.exit_code == 2
    assert f"{path}:3:11" in result.stderr
    assert "SyntaxError" in result.stderr
    assert result.stdout == ""


def test_meta_error_exit_2(tmp_path):
    path = write_script(tmp_path, "return 1", meta="export const meta = { name: 'x' }\n")
    result = invoke("run", path, "--yes")
    assert result.exit_code == 2
    assert "meta.description must be a non-empty string" in result.stderr
    assert f"{path}:1:" in result.stderr


def test_runtime_error_exit_1_with_location(tmp_path):
    path = write_script(tmp_path, "const a = null\nreturn a.foo")
    result = invoke("run", path, "--yes", *FAST)
    assert result.exit_code == 1
    assert "TypeError" in result.stderr
    assert f"{path}:3:8" in result.stderr
    assert "failed" in result.stderr
    assert result.stdout == ""


def test_deadlock_exit_1(tmp_path):
    result = run_script(tmp_path, "await new Promise(() => {})")
    assert result.exit_code == 1
    assert "DeadlockError" in result.stderr


# -- confirmation ----------------------------------------------------------------------------


def test_without_yes_and_without_tty_refuses(tmp_path):
    path = write_script(tmp_path, "await agent('x')\nreturn 1")
    result = invoke("run", path, *FAST)
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert result.stdout == ""
    assert "completed" not in result.stderr


# -- caps --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "257", "-1", "many"])
def test_concurrency_out_of_range(tmp_path, value):
    result = run_script(tmp_path, "return 1", "--concurrency", value)
    assert result.exit_code == 2
    assert "--concurrency" in result.stderr


@pytest.mark.parametrize("value", ["1", "256"])
def test_concurrency_bounds_accepted(tmp_path, value):
    assert run_script(tmp_path, "return 1", "--concurrency", value).exit_code == 0


def test_concurrency_env_is_honoured(tmp_path):
    body = "return await parallel([1, 2, 3, 4].map(i => () => agent('p' + i)))"
    result = run_script(tmp_path, body, "--json", env={"JSHOST_MAX_CONCURRENT_AGENTS": "1"})
    assert result.exit_code == 0, result.output
    assert summary_of(result.stdout)["peak_concurrency"] == 1
    default = run_script(tmp_path, body, "--json")
    assert summary_of(default.stdout)["peak_concurrency"] == 4


def test_concurrency_option_beats_env(tmp_path):
    body = "return await parallel([1, 2, 3, 4].map(i => () => agent('p' + i)))"
    result = run_script(
        tmp_path, body, "--json", "--concurrency", "2", env={"JSHOST_MAX_CONCURRENT_AGENTS": "1"}
    )
    assert summary_of(result.stdout)["peak_concurrency"] == 2


def test_concurrency_env_out_of_range(tmp_path):
    result = run_script(tmp_path, "return 1", env={"JSHOST_MAX_CONCURRENT_AGENTS": "0"})
    assert result.exit_code == 2


def test_max_agents_cap_message(tmp_path):
    result = run_script(
        tmp_path, "for (let i = 0; i < 3; i++) await agent('p' + i)\nreturn 1", "--max-agents", "2"
    )
    assert result.exit_code == 1
    assert "Workflow agent() call cap reached (2)." in result.stderr
    assert "WorkflowAgentCapError" in result.stderr
    assert "2 done" in result.stderr


@pytest.mark.parametrize("budget", ["230k", "1.5m", "5000", "230K"])
def test_budget_accepted(tmp_path, budget):
    expected = {"230k": 230_000, "1.5m": 1_500_000, "5000": 5000, "230K": 230_000}[budget]
    result = run_script(tmp_path, "return budget.total", "--budget", budget)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{expected}\n"


@pytest.mark.parametrize("budget", ["lots", "-5", "0", "1.5x", ""])
def test_budget_rejected(tmp_path, budget):
    result = run_script(tmp_path, "return 1", "--budget", budget)
    assert result.exit_code == 2
    assert "--budget" in one_line(result.stderr)


def test_budget_exceeded_fails_run(tmp_path):
    result = run_script(
        tmp_path,
        "await agent('[[sim:tokens=200]] a')\nawait agent('b')\nreturn 1",
        "--budget",
        "200",
    )
    assert result.exit_code == 1
    assert "Workflow token budget exceeded (200 / 200 output tokens)." in result.stderr


def test_timeout_with_hanging_agent(tmp_path):
    t0 = time.monotonic()
    result = run_script(tmp_path, "await agent('[[sim:hang]] x')\nreturn 1", "--timeout", "0.5")
    assert result.exit_code == 1
    assert time.monotonic() - t0 < 5
    assert "TimeoutError" in result.stderr
    assert "cancelled" in result.stderr


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_timeout_must_be_positive(tmp_path, value):
    assert run_script(tmp_path, "return 1", "--timeout", value).exit_code == 2


# -- real processes --------------------------------------------------------------------------


def jshost(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jshost", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def test_subprocess_exit_codes(tmp_path):
    good = write_script(tmp_path, "return await agent('hi')", "good.js")
    bad = write_script(tmp_path, "null.x", "bad.js")
    done = jshost("run", good, "--yes", *FAST, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[sim sim] hi")
    failed = jshost("run", bad, "--yes", *FAST, cwd=tmp_path)
    assert failed.returncode == 1
    assert f"{bad}:2:1" in failed.stderr
    usage = jshost("run", str(tmp_path / "nope.js"), "--yes", cwd=tmp_path)
    assert usage.returncode == 2
    for proc in (done, failed, usage):
        assert "Traceback" not in proc.stderr


def test_subprocess_usage_errors_have_no_traceback(tmp_path):
    path = write_script(tmp_path, "return 1")
    for args in (
        ["run", path, "--yes", "--args", "{oops"],
        ["run", path, "--yes", "--budget", "lots"],
        ["run", path],
        ["run", path, "--yes", "--concurrency", "0"],
    ):
        proc = jshost(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stdout == ""


class Watched:
    """A ``jshost run`` process whose stderr lines are collected by a reader thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jshost", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} not seen in {self.lines}"
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"process ended before {text!r}: {self.lines}"
            self.lines.append(line)

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._thread.join(timeout=5)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


HANG = """await agent('first', { label: 'first' })
await agent('[[sim:hang]] forever', { label: 'forever' })
return 'not reached'"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_run_with_130(tmp_path, sig):
    path = write_script(tmp_path, HANG, "hang.js")
    watched = Watched(["run", path, "--yes", *FAST], tmp_path)
    try:
        watched.wait_for("agent #1 done")
        t0 = time.monotonic()
        watched.proc.send_signal(sig)
        code = watched.finish(timeout=10)
        assert code == 130
        assert time.monotonic() - t0 < 10
        err = watched.stderr
        assert "stopping" in err
        assert "stopped" in err
        assert "1 done" in err and "1 cancelled" in err
        assert "Traceback" not in err
        assert watched.proc.stdout is not None
        assert watched.proc.stdout.read() == ""
    finally:
        watched.kill()


def test_second_sigint_exits_at_once(tmp_path):
    """The first Ctrl-C waits for the busy JS slice; the second one must not wait for it."""
    path = write_script(
        tmp_path, "await agent('first', { label: 'first' })\nwhile (true) {}", "busy.js"
    )
    watched = Watched(["run", path, "--yes", *FAST, "--cpu-limit", "60"], tmp_path)
    try:
        watched.wait_for("agent #1 done")
        time.sleep(0.3)  # let the endless loop start
        watched.proc.send_signal(signal.SIGINT)
        watched.wait_for("stopping")
        time.sleep(0.3)
        assert watched.proc.poll() is None  # still stuck in the synchronous loop
        t0 = time.monotonic()
        watched.proc.send_signal(signal.SIGINT)
        code = watched.finish(timeout=5)
        assert code == 130
        assert time.monotonic() - t0 < 3
    finally:
        watched.kill()


def test_a_ctrl_c_handed_back_in_an_exception_group_exits_130_without_a_traceback(
    monkeypatch, capsys
):
    # A second Ctrl-C that lands as the run ends reaches main() inside a BaseExceptionGroup
    # (trio's doing); it used to escape as a traceback with exit 1.
    import jshost.cli as cli_pkg

    def interrupted(**_: object) -> None:
        raise BaseExceptionGroup("run", [KeyboardInterrupt()])

    monkeypatch.setattr(cli_pkg.cli, "main", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli_pkg.main()
    assert exit_info.value.code == 130
    assert "jshost: stopped" in capsys.readouterr().err
