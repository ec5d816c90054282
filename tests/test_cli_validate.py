"""Tests for ``jshost validate``, ``jshost show`` and the checks ``jshost run`` makes first.

In-process through click's ``CliRunner`` (never a terminal there, so ``show`` is plain text
and ``run`` needs ``--yes``), plus a few real processes for start-up cost and tracebacks.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jshost.cli import cli
from jshost.store import Store

META = "export const meta = { name: 'cli-v', description: 'a validate cli test' }\n"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, body: str, name: str = "flow.js", meta: str = META) -> str:
    path = tmp_path / name
    path.write_text(meta + body, encoding="utf-8")
    return str(path)


# -- validate ------------------------------------------------------------------------------


def test_validate_clean_script(tmp_path):
    path = write(tmp_path, "return await agent('hi')\n")
    result = invoke("validate", path)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{path}: note: fan-out: a run starts 1 agent",
        "0 errors, 0 warnings in 1 file",
    ]
    assert result.stderr == ""


def test_validate_errors_exit_1_compiler_style(tmp_path):
    path = write(tmp_path, "const t = Date.now()\nlog(x)\n")
    result = invoke("validate", path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:2:11: error E301 Date.now() / new Date() are unavailable")
    assert lines[1:3] == ["    const t = Date.now()", "              ^"]
    assert lines[3] == (
        f"{path}:3:5: warning W401 'x' is not defined: pass it in args and read it as args.x"
    )
    assert lines[-1] == "1 error, 1 warning in 1 file"


def test_validate_warnings_pass_unless_strict(tmp_path):
    path = write(tmp_path, "log(x)\n")
    assert invoke("validate", path).exit_code == 0
    assert invoke("validate", "--strict", path).exit_code == 1


def test_validate_several_files_reports_each(tmp_path):
    good = write(tmp_path, "return 1\n", "good.js")
    bad = write(tmp_path, "Math.random()\n", "bad.js")
    result = invoke("validate", good, bad)
    assert result.exit_code == 1
    assert f"{good}: note: fan-out: no agent() calls" in result.stdout
    assert f"{bad}:2:1: error E303" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 error, 0 warnings in 2 files"


def test_validate_unreadable_files_are_usage_errors(tmp_path):
    good = write(tmp_path, "return 1\n")
    result = invoke("validate", str(tmp_path / "missing.js"), good, str(tmp_path))
    assert result.exit_code == 2
    assert f"jshost: no such file: '{tmp_path / 'missing.js'}'" in result.stderr
    assert "is a directory" in result.stderr
    assert f"{good}: note: fan-out" in result.stdout  # the readable one is still checked


def test_validate_of_only_a_missing_file_says_just_that(tmp_path):
    result = invoke("validate", str(tmp_path / "missing.js"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"jshost: no such file: '{tmp_path / 'missing.js'}'\n"


def test_validate_needs_a_file():
    result = invoke("validate")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_validate_json(tmp_path):
    path = write(tmp_path, "await agent('x', { effort: 'huge' })\n")
    result = invoke("validate", "--json", path, str(tmp_path / "nope.js"))
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["errors"] == 0 and data["warnings"] == 1
    assert data["unreadable"] == [
        {"path": str(tmp_path / "nope.js"), "error": f"no such file: '{tmp_path / 'nope.js'}'"}
    ]
    (entry,) = data["files"]
    assert entry["path"] == path and entry["name"] == "cli-v"
    assert entry["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    (d,) = entry["diagnostics"]
    assert (d["line"], d["col"], d["code"], d["name"]) == (2, 28, "E504", "agent-effort")
    assert entry["fanout"]["text"] == "1 agent"


def test_validate_json_ok(tmp_path):
    data = json.loads(invoke("validate", "--json", str(SAMPLES / "hello.js")).stdout)
    assert data["ok"] is True
    assert data["files"][0]["fanout"]["depends_on_args"] is True


def test_validate_help():
    out = invoke("validate", "--help").stdout
    assert "--json" in out and "--strict" in out and "Example usage" in out


# -- show ----------------------------------------------------------------------------------------


def test_show_plain_header_and_numbered_source():
    path = str(SAMPLES / "nginx-502-debug.js")
    result = invoke("show", path)
    assert result.exit_code == 0
    source = Path(path).read_text(encoding="utf-8")
    lines = result.stdout.splitlines()
    header = lines[: lines.index("")]
    assert header == [
        "       name  nginx-502-debug",
        "description  Find the cause of a spike of Nginx 502 errors across many machines",
        "when to use  Production Nginx reports many 502s and the cause is unknown",
        "     phases  1. Scan — Scan Nginx error logs (haiku)",
        "             2. Check — Check backend services (haiku)",
        "             3. Verify — Cross-check evidence (haiku)",
        "             4. Report — Combined analysis (opus)",
        f"       file  {path}",
        f"       size  {len(source):,} characters · {len(source.encode()):,} bytes · "
        f"{source.count(chr(10))} lines",
        f"     sha256  {hashlib.sha256(source.encode()).hexdigest()}",
        "     agents  6 + groups.length + slices.length agents (depends on args)",
        "     checks  no problems found",
    ]
    body = lines[lines.index("") + 1 :]
    assert body == [f"{n:>2} │ {line}" for n, line in enumerate(source.splitlines(), 1)]
    assert "\x1b[" not in result.stdout
    assert invoke("show", "--plain", path).stdout == result.stdout


def test_show_never_hides_code(tmp_path):
    long_line = "const x = '" + "a" * 400 + "'; evil()"
    path = write(tmp_path, f"const s = 'ok\u202e' // \u200b\n{long_line}\nreturn 1\n")
    out = invoke("show", path).stdout
    assert "\u202e" not in out and "\u200b" not in out
    assert "const s = 'ok⟨U+202E⟩' // ⟨U+200B⟩" in out
    assert long_line in out
    assert "checks  2 errors, 1 warning" in out  # the two characters, and `evil`


def test_show_a_script_whose_meta_is_broken(tmp_path):
    path = write(tmp_path, "return 1\n", meta="export const meta = { name: x }\n")
    result = invoke("show", path)
    assert result.exit_code == 0
    assert "name  unknown: the meta header is invalid" in result.stdout
    assert "1 │ export const meta = { name: x }" in result.stdout


def test_show_refuses_a_giant_file(tmp_path):
    path = tmp_path / "giant.js"
    path.write_bytes(b"/" * (4 * 524_288 + 1))
    result = invoke("show", str(path))
    assert result.exit_code == 1
    assert result.stderr == f"jshost: {path}: Script exceeds 524288 bytes: too large to show\n"


def test_show_missing_file(tmp_path):
    result = invoke("show", str(tmp_path / "gone.js"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


# -- run checks first -------------------------------------------------------------------------


def test_run_refuses_errors_with_the_diagnostics_of_validate(tmp_path):
    path = write(tmp_path, "log(x)\nawait agent('a')\nreturn Math.random()\n")
    run = invoke("run", path, "--yes", "--sim-latency", "0")
    assert run.exit_code == 2
    assert run.stdout == ""
    validate = invoke("validate", path).stdout.splitlines()
    diagnostics = [line for line in validate if not line.startswith(path + ": note")][:-1]
    assert run.stderr.splitlines() == [
        *diagnostics,
        "jshost: not run: 1 error (nothing was spent; check with jshost validate)",
    ]
    with Store() as store:
        assert store.list_runs() == []


def test_run_refuses_load_errors_too(tmp_path):
    path = write(tmp_path, "const a = 1\nconst b = = 2\nreturn b")
    run = invoke("run", path, "--yes")
    assert run.exit_code == 2
    assert f"{path}:3:11: error E104 SyntaxError:" in run.stderr


def test_run_with_warnings_and_yes_runs(tmp_path):
    path = write(tmp_path, "await agent('x', { lable: 1 })\nreturn 'ran'\n")
    run = invoke("run", path, "--yes", "--sim-latency", "0")
    assert run.exit_code == 0
    assert run.stdout.strip() == "ran"


def test_run_approved_script_needs_no_terminal(tmp_path):
    path = write(tmp_path, "return 'approved'\n")
    source = Path(path).read_text(encoding="utf-8")
    sha = hashlib.sha256(source.encode()).hexdigest()
    with Store() as store:
        store.approve(str(Path(path).resolve()), sha, "cli-v")
    run = invoke("run", path, "--sim-latency", "0")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == "approved"
    Path(path).write_text(source.replace("approved", "changed"), encoding="utf-8")
    run = invoke("run", path, "--sim-latency", "0")
    assert run.exit_code == 2
    assert "pass --yes" in run.stderr


# -- real processes ------------------------------------------------------------------------------


def test_validate_process_does_not_import_the_sdk_or_trio(tmp_path):
    path = write(tmp_path, "await agent('x', { schema: { type: 'object' } })\n")
    code = (
        "import sys\n"
        "from jshost.cli import main\n"
        "code = 0\n"
        f"sys.argv = ['jshost', 'validate', {path!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print(code, 'anthropic' in sys.modules, 'trio' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "0 False False", proc.stderr


@pytest.mark.parametrize(
    ("content", "where"),
    [(b"\xff\xfe\x00garbage", ":1:1"), (b"", ""), (b"export const meta = {", ":1:1")],
)
def test_validate_process_never_shows_a_traceback(tmp_path, content, where):
    path = tmp_path / "odd.js"
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "jshost", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{path}{where}: error" in proc.stdout
