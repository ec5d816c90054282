"""Messages a new user meets (issue 14, items 6, 12, 13, 15, 16), through the real CLI.

Each test drives the click command in-process (``CliRunner``), as ``jshost`` would run it; the
confirmation's keys and rows are tested on a pseudo-terminal in ``test_confirm.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jshost.cli import cli

META = "export const meta = { name: 'msg', description: 'a message test' }\n"
FAST = ["--worker", "sim", "--sim-latency", "0.01", "--quiet"]
READS_ARGS = "the script reads args; pass --args or --args-file"


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository to work in (saved workflows are looked up there), and an empty home."""
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(root)
    return root


# -- item 6: a destructuring that fails is shown where it is -----------------------------------


@pytest.mark.parametrize(
    ("body", "line", "col"),
    [
        # The first statement: QuickJS's own position is the wrapper's start (was 1:1).
        ("const { servers } = args\nreturn servers\n", 2, 21),
        # After a plain statement (was 1:1 too).
        ("const x = 1\nconst { servers } = args\nreturn [x, servers]\n", 3, 21),
        # After a call: QuickJS's position is the call's (was the previous statement).
        ("log('start')\nconst { servers } = args\nreturn servers\n", 3, 21),
        # An array pattern, after an object pattern that destructured fine.
        ("log('a')\nconst { a } = { a: 1 }\nconst [first] = args\nreturn [a, first]\n", 4, 17),
        # A parameter pattern: the frame is the function's.
        ("function pick({ x }) { return x }\nreturn pick()\n", 2, 15),
        # Assigning to a pattern.
        ("let s\nlog(1)\n;({ s } = args)\nreturn s\n", 4, 11),
    ],
)
def test_a_failed_destructuring_is_reported_at_its_place(tmp_path, body, line, col):
    path = write(tmp_path / "flow.js", META + body)
    result = invoke("run", path, "--yes", *FAST)
    assert result.exit_code == 1
    first = next(x for x in result.stderr.splitlines() if x.startswith(f"jshost: {path}:"))
    assert re.match(rf"jshost: {re.escape(path)}:{line}:{col}: TypeError: ", first), first
    # The excerpt's caret is under the value that could not be destructured.
    source_line = (META + body).splitlines()[line - 1]
    lines = result.stderr.splitlines()
    at = lines.index(source_line)
    assert lines[at + 1] == " " * (col - 1) + "^"


def test_a_native_function_keeps_its_own_position(tmp_path):
    # Object.keys(undefined) fails with the same message, but QuickJS knows where: the call.
    body = "const { a } = { a: 1 }\nreturn Object.keys(args)\n"
    path = write(tmp_path / "flow.js", META + body)
    result = invoke("run", path, "--yes", *FAST)
    assert result.exit_code == 1
    assert f"jshost: {path}:3:" in result.stderr


def test_an_error_of_a_script_that_reads_args_says_to_pass_them(tmp_path):
    path = write(tmp_path / "flow.js", META + "const { servers } = args\nreturn servers\n")
    result = invoke("run", path, "--yes", *FAST)
    assert result.exit_code == 1
    assert f"jshost: {READS_ARGS}" in result.stderr.splitlines()
    # With args given, the hint has nothing to say.
    given = invoke("run", path, "--yes", *FAST, "--args", "null")
    assert given.exit_code == 1
    assert READS_ARGS not in given.stderr
    # A script that does not read args gets no hint either.
    other = write(tmp_path / "other.js", META + "const { a } = undefined\nreturn a\n")
    assert READS_ARGS not in invoke("run", other, "--yes", *FAST).stderr


def test_validate_notes_that_a_script_reads_args(tmp_path):
    reads = write(tmp_path / "reads.js", META + "return args.servers\n")
    result = invoke("validate", reads)
    assert result.exit_code == 0
    assert (
        f"{reads}: note: the script reads args (pass them with --args JSON or --args-file FILE)"
        in result.stdout.splitlines()
    )
    data = json.loads(invoke("validate", "--json", reads).stdout)
    assert data["files"][0]["reads_args"] is True
    # Its own parameter called args is not the global.
    own = write(tmp_path / "own.js", META + "const f = (args) => args\nreturn f(1)\n")
    assert "reads args" not in invoke("validate", own).stdout


def test_save_says_to_pass_args_when_the_script_reads_them(repo, tmp_path):
    reads = write(tmp_path / "reads.js", META.replace("'msg'", "'needs args'") + "return args\n")
    result = invoke("save", reads)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "run it with: jshost run 'needs args' --args JSON  "
        "(or --args-file FILE: the script reads args)"
    )
    plain = write(tmp_path / "plain.js", META + "return 1\n")
    assert invoke("save", plain).stdout.splitlines()[-1] == "run it with: jshost run msg"


# -- item 12: --help -------------------------------------------------------------------------


def test_run_help_says_what_json_prints_what_it_takes_and_the_exit_codes():
    text = " ".join(invoke("run", "--help").output.split())
    assert "Usage: cli run [OPTIONS] SCRIPT|NAME" in text or "run [OPTIONS] SCRIPT|NAME" in text
    assert "Stream the run's events as JSON lines on stdout, then one summary object." in text
    assert "final outcome" not in text
    assert (
        "Exit codes: 0 completed; 1 the script failed; 2 usage or validation error, an MCP "
        'server that cannot start, or No at the confirmation ("not run": nothing ran, nothing '
        "spent); 130 stopped (resumable)."
    ) in text


def test_resume_help_shows_no_defaults_it_does_not_use():
    text = " ".join(invoke("resume", "--help").output.split())
    for option in ("--concurrency", "--max-agents", "--cpu-limit", "--memory-limit"):
        after = text.split(option, 1)[1].split(" --", 1)[0]
        assert "default:" not in after, (option, after)
        assert "Default: the run's stored value." in after, (option, after)
    assert "[default: 16" not in text and "[default: 1000" not in text
    assert "Exit codes: 0 completed;" in text


def test_resume_without_caps_uses_the_stored_ones(tmp_path):
    path = write(tmp_path / "flow.js", META + "const r = await agent('hi')\nreturn r\n")
    first = invoke("run", path, "--yes", *FAST, "--concurrency", "3", "--max-agents", "7")
    assert first.exit_code == 0
    run_id = re.search(r"run (wf_[0-9a-f]+)", first.stderr).group(1)
    again = invoke("resume", run_id, "--yes", *FAST, "--json")
    assert again.exit_code == 0
    from jshost.store import Store

    with Store() as store:
        caps = store.get_run(run_id).caps
    assert caps["concurrency"] == 3 and caps["max_agents"] == 7
    assert caps["cpu_limit"] == 30.0 and caps["memory_limit"] == 256


@pytest.mark.parametrize("command", ["validate", "show", "save", "workers"])
def test_exit_codes_are_in_the_help(command):
    assert "Exit codes:" in invoke(command, "--help").output


def test_the_command_list_is_not_cut_mid_phrase():
    text = invoke("--help").output
    commands = text.split("Commands:", 1)[1].strip().splitlines()
    assert len(commands) == len(cli.commands)  # one line each
    for line in commands:
        assert not line.rstrip().endswith("..."), line
        assert line.rstrip().endswith("."), line


# -- item 13: validate and show take saved names ----------------------------------------------


def test_validate_and_show_take_a_saved_workflows_name(repo):
    saved = write(repo / ".claude" / "workflows" / "scan.js", META + "return 1\n")
    result = invoke("validate", "msg")
    assert result.exit_code == 0, result.output
    assert f"{saved}: note: fan-out:" in result.stdout
    shown = invoke("show", "msg", "--plain")
    assert shown.exit_code == 0
    assert saved in shown.stdout and "return 1" in shown.stdout
    by_file_name = invoke("validate", "scan")
    assert by_file_name.exit_code == 0


def test_an_unknown_name_lists_the_saved_ones_but_a_path_does_not(repo):
    write(repo / ".claude" / "workflows" / "scan.js", META + "return 1\n")
    name = invoke("show", "nope")
    assert name.exit_code == 2
    assert name.stderr.startswith(
        "jshost: no such file or saved workflow: 'nope'. Saved workflows: "
    )
    assert "msg" in name.stderr
    for path in ("nope.js", "dir/nope"):
        result = invoke("show", path)
        assert result.exit_code == 2
        assert result.stderr == f"jshost: no such file: {path!r}\n"
        validated = invoke("validate", path)
        assert validated.exit_code == 2
        assert "saved workflow" not in validated.stderr


# -- item 15: validate ----------------------------------------------------------------------


def test_validate_reports_every_problem_of_a_schema_at_its_place(tmp_path):
    body = (
        "const r = await agent('x', {\n"
        "  schema: {\n"
        "    type: 'object',\n"
        "    properties: { a: { type: 'strng' }, b: { minLength: -1 } },\n"
        "    required: 'a',\n"
        "  },\n"
        "})\n"
        "return r\n"
    )
    path = write(tmp_path / "flow.js", META + body)
    result = invoke("validate", path)
    # (Whether E506 is an error or a warning is the compat work's call; every problem shows.)
    found = [
        line for line in result.stdout.splitlines() if re.search(r" (error|warning) E506 ", line)
    ]
    assert [re.split(r": (?:error|warning)", line)[0] for line in found] == [
        f"{path}:5:30",  # 'strng'
        f"{path}:5:57",  # -1
        f"{path}:6:15",  # 'a'
    ]
    assert "(at $.properties.a.type)" in found[0]
    assert "-1 is less than the minimum of 0 (at $.properties.b.minLength)" in found[1]
    assert "'a' is not of type 'array' (at $.required)" in found[2]


def test_validate_checks_a_literal_script_path(tmp_path, monkeypatch):
    folder = tmp_path / "flows"
    write(folder / "child.js", META + "return 2\n")
    write(tmp_path / "elsewhere" / "here.js", META + "return 3\n")
    body = (
        "const a = await workflow({ scriptPath: 'child.js' })\n"  # beside the script
        "const b = await workflow({ scriptPath: 'missing.js' })\n"
        "const c = await workflow({ scriptPath: 'child.ts' })\n"
        "const d = await workflow({ scriptPath: 'here.js' })\n"  # in the current directory
        "const e = await workflow({ scriptPath: args.path })\n"  # computed: not checked
        "return [a, b, c, d, e]\n"
    )
    path = write(folder / "parent.js", META + body)
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = invoke("validate", path)
    assert result.exit_code == 0  # warnings: the file may be made before the run
    warnings = [line for line in result.stdout.splitlines() if " warning " in line]
    assert warnings == [
        f"{path}:3:40: warning W801 workflow({{scriptPath: 'missing.js'}}): no such file "
        f"(looked in the current directory and in {folder})",
        f"{path}:4:40: warning W801 workflow({{scriptPath}}): only .js files are workflows, "
        "not 'child.ts'",
    ]
    # The engine resolves as validate does: the ones validate accepts run.
    ok = write(folder / "ok.js", META + "return [await workflow({ scriptPath: 'child.js' })]\n")
    assert invoke("validate", ok).stdout.count("W801") == 0
    run = invoke("run", ok, "--yes", *FAST)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == [2]


def test_the_fan_out_note_is_in_plain_words(tmp_path):
    body = (
        "const names = args.names\n"
        "const plan = await agent('plan', { schema: { type: 'array' } })\n"
        "await parallel(names.map((n) => () => agent(n)))\n"
        "await parallel(plan.map((p) => () => agent(p)))\n"
    )
    path = write(tmp_path / "flow.js", META + body)
    note = [line for line in invoke("validate", path).stdout.splitlines() if "fan-out" in line]
    assert note == [
        f"{path}: note: fan-out: a run starts 1 + names.length + plan.length agents, where "
        "names.length depends on the args you pass; plan.length depends on what agents answer"
    ]
    none = write(tmp_path / "none.js", META + "return 1\n")
    assert f"{none}: note: fan-out: no agent() calls, so a run starts no agents" in (
        invoke("validate", none).stdout
    )
    assert "[" not in note[0]  # no bracket notation to decode


# -- item 16: list and save -------------------------------------------------------------------


def test_list_names_the_real_fault_of_a_broken_file(repo):
    d = repo / ".claude" / "workflows"
    write(d / "broken.js", "export const meta = { name: 'broken', description: 'x }\nreturn 1\n")
    write(d / "late.js", "return 1\nexport const meta = { name: 'late', description: 'x' }\n")
    result = invoke("list")
    assert result.exit_code == 0
    skipped = {
        Path(m.group(1)).name: m.group(2)
        for m in re.finditer(r"^skipped (\S+) \(project\): (.*)$", result.stderr, re.M)
    }
    assert skipped["broken.js"] == "1:52: SyntaxError: unexpected end of string"
    assert "FIRST statement" in skipped["late.js"]  # that one's fault is the meta's place


def test_list_reports_what_in_workflows_is_not_a_workflow(repo):
    write(repo / ".claude" / "workflows" / "ok.js", META + "return 1\n")
    write(repo / ".claude" / "workflows" / "notes.txt", "notes")
    write(repo / ".claude" / "workflows" / ".hidden.js.tmp", "half-saved")
    write(repo / ".claude" / "commands" / "deploy.md", "# a Claude Code command")
    write(repo / ".claude" / "commands" / "c.mjs", META)
    result = invoke("list")
    assert result.exit_code == 0
    assert result.stdout.startswith("msg  (project)")
    lines = result.stderr.splitlines()
    notes = repo / ".claude" / "workflows" / "notes.txt"
    mjs = repo / ".claude" / "commands" / "c.mjs"
    assert lines == [
        f"skipped {notes} (project): only .js files are workflows, not .txt files",
        f"skipped {mjs} (project): only .js files are workflows, not .mjs files",
    ]


def test_save_of_an_invalid_script_exits_2_like_run(repo, tmp_path):
    bad = write(tmp_path / "bad.js", META + "return Date.now()\n")
    saved = invoke("save", bad)
    ran = invoke("run", bad, "--yes", *FAST)
    assert saved.exit_code == ran.exit_code == 2
    assert "not saved" in saved.stderr
    assert not (repo / ".claude").exists()


def test_a_failed_destructuring_in_a_child_workflow_is_reported_at_its_place(tmp_path):
    write(
        tmp_path / "child.js",
        META.replace("'msg'", "'child'") + "log('child')\nconst { servers } = args\nreturn 1\n",
    )
    parent = write(
        tmp_path / "parent.js", META + "return await workflow({ scriptPath: 'child.js' })\n"
    )
    result = invoke("run", parent, "--yes", *FAST)
    assert result.exit_code == 1
    child = tmp_path / "child.js"
    assert f"jshost: {child}:3:21: TypeError: Cannot convert undefined or null to object" in (
        result.stderr.splitlines()
    )
