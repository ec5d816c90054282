"""The confirmation before a run, driven through a real pseudo-terminal.

Each test starts ``python -m jshost`` on a pty (``pty.fork``: the terminal is the child's stdin,
stdout, stderr and controlling terminal), reads what it draws and types answers, as a user
would. "Don't ask again" is checked across processes sharing one ``JSHOST_HOME``, and after
the script is edited. The unit tests at the end drive :func:`jshost.ui.confirm.ask` directly.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from jshost.script.validate import validate_source
from jshost.store import Store
from jshost.ui.confirm import Choice, ask

SCRIPT = """\
export const meta = {
  name: 'greet',
  description: 'Two agents greet, one sums up',
  whenToUse: 'when a greeting is due',
  phases: [{ title: 'Greet', detail: 'say hello', model: 'haiku' }, { title: 'Sum up' }],
}
phase('Greet')
const hellos = await parallel(['Ada', 'Alan'].map((n) => () => agent(`greet ${n}`, { label: n })))
phase('Sum up')
await agent('sum up', { lable: 'typo' })
return 'all done'
"""
CHOICES = [
    "1. Yes, run it",
    "2. Yes, and don't ask again for greet in {where}",
    "3. View raw script",
    "4. No",
]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


class Terminal:
    """A ``jshost`` process on a pseudo-terminal, with ``expect``/``send`` like a user."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: exec at once, touching nothing of the parent's
            try:
                os.chdir(cwd)
                os.execve(sys.executable, [sys.executable, "-m", "jshost", *args], env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.raw = b""
        self.seen = 0  # expect() looks for text after what it matched last
        self.returncode: int | None = None

    @property
    def text(self) -> str:
        """Everything drawn so far, without colours or carriage returns."""
        return _ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: every copy of the terminal is closed
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            at = self.text.find(needle, self.seen)
            if at >= 0:
                self.seen = at + len(needle)
                return
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not shown; the terminal has:\n{self.text}"
            if not self._read(min(left, 0.5)):
                assert needle in self.text[self.seen :], f"exited before {needle!r}:\n{self.text}"

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            assert time.monotonic() < deadline, f"still running:\n{self.text}"
        while True:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"still running:\n{self.text}")
            time.sleep(0.05)
        os.close(self.fd)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)  # JSHOST_HOME and friends from conftest's fixture
    env.pop("JSHOST_RAISE_ERRORS", None)  # as users run it: no traceback, ever
    env.update(
        COLUMNS="120",
        LINES="60",
        TERM="xterm-256color",
        JSHOST_SIM_EXEC_LOG=str(tmp_path / "executed.log"),
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    env.pop("NO_COLOR", None)
    return env


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "flows" / "greet.js"
    path.parent.mkdir()
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def start(script: Path, env: dict[str, str], *extra: str, view: bool = False) -> Terminal:
    """``jshost run`` on a terminal; the interactive view that follows the question (tested on
    its own elsewhere) is off unless ``view``, so the run ends by itself."""
    args = ["run", str(script), "--sim-latency", "0.01", *extra]
    if not view:
        args.append("--no-interactive")
    return Terminal(args, cwd=script.parent, env=env)


def executed(tmp_path: Path) -> int:
    log = tmp_path / "executed.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def where(script: Path) -> str:
    folder = script.resolve().parent
    try:
        return "~/" + str(folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


PROMPT = "Choose 1-4 (y: run it, n: No), or ↑/↓ then Enter:"
UP, DOWN = "\x1b[A", "\x1b[B"


def expect_question(term: Terminal, script: Path) -> None:
    for choice in CHOICES:
        term.expect(choice.format(where=where(script)))
    term.expect(PROMPT)


# -- the four choices ------------------------------------------------------------------------


def test_yes_run_it_shows_everything_then_runs_and_asks_again_next_time(script, env, tmp_path):
    term = start(script, env, "--budget", "50k", "--concurrency", "4")
    term.expect("Review dynamic workflow before running")
    for shown in (
        "name  greet",
        "description  Two agents greet, one sums up",
        "when to use  when a greeting is due",
        "1. Greet — say hello (haiku)",
        "2. Sum up",
        f"file  {script}",
        "sha256  ",
        "agents  3 agents",
        "caps: 4 agents at once · at most 1,000 agents",
        "budget: 50,000 output tokens",
        "worker: sim",
        "1 validation warning(s):",
        "warning W502 unknown agent() option 'lable' is ignored (did you mean 'label'?)",
    ):
        term.expect(shown)
    expect_question(term, script)
    assert executed(tmp_path) == 0  # nothing runs while the question is open
    term.send("1\r")
    term.expect("all done")
    assert term.wait() == 0
    # The four choices are exactly these, numbered 1 to 4, and nothing else.
    menu = [line.strip("❯ ") for line in term.text.splitlines() if re.match(r"[❯ ]\s*\d\. ", line)]
    menu = [m for m in menu if m[3:].startswith(("Yes", "View", "No"))]
    assert menu == [c.format(where=where(script)) for c in CHOICES]
    assert executed(tmp_path) == 3

    again = start(script, env)  # "Yes, run it" is for this once
    expect_question(again, script)
    again.send("4\r")
    assert again.wait() == 2


def test_dont_ask_again_persists_across_processes_until_the_script_changes(script, env, tmp_path):
    first = start(script, env)
    expect_question(first, script)
    first.send("2\r")
    first.expect("all done")
    assert first.wait() == 0
    with Store() as store:
        sha = validate_source(SCRIPT, path=str(script)).sha256
        assert store.is_approved(str(script.resolve()), sha)

    second = start(script, env)  # another process, the same file and content: no question
    second.expect("all done")
    assert second.wait() == 0
    assert "Choose 1-4" not in second.text
    assert executed(tmp_path) == 6

    # Not even a terminal is needed for an approved script.
    piped = subprocess.run(
        [sys.executable, "-m", "jshost", "run", str(script), "--sim-latency", "0.01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.strip() == "all done"

    script.write_text(SCRIPT.replace("'sum up'", "'sum it all up'"), encoding="utf-8")
    edited = start(script, env)  # one edit, and the question is back
    expect_question(edited, script)
    edited.send("4\r")
    assert edited.wait() == 2
    assert executed(tmp_path) == 9

    refused = subprocess.run(
        [sys.executable, "-m", "jshost", "run", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--yes" in refused.stderr


def test_the_interactive_view_follows_the_question(script, env, tmp_path):
    term = start(script, env, view=True)
    expect_question(term, script)
    term.send("1\r")
    term.expect("q leaves")  # the run's view, once the run has finished
    term.send("q")
    term.expect("all done")
    assert term.wait() == 0
    assert executed(tmp_path) == 3


def test_view_raw_script_pages_the_highlighted_script_then_asks_again(script, env, tmp_path):
    pager = tmp_path / "pager.sh"
    received = tmp_path / "paged.txt"
    pager.write_text(f"#!/bin/sh\ncat > {received}\necho PAGER-DONE\n")
    pager.chmod(0o755)
    env["PAGER"] = str(pager)
    term = start(script, env)
    expect_question(term, script)
    term.send("3\r")
    term.expect("PAGER-DONE")
    expect_question(term, script)  # the choices again
    paged = received.read_text()
    plain = _ANSI.sub("", paged)
    assert "\x1b[" in paged  # highlighted
    assert re.search(r"^ +1 export const meta = \{$", plain, re.M)
    assert re.search(r"^ +11 return 'all done'$", plain, re.M)
    assert not re.search(r"^ +12", plain, re.M)
    assert "sha256" in plain and "Two agents greet" in plain
    term.send("1\r")
    term.expect("all done")
    assert term.wait() == 0


def test_view_raw_script_without_a_pager_draws_on_the_terminal(script, env):
    env["PAGER"] = "cat"
    term = start(script, env)
    expect_question(term, script)
    term.send("3\r")
    term.expect("10 await agent('sum up', { lable: 'typo' })")
    expect_question(term, script)
    term.send("4\r")
    assert term.wait() == 2


def test_no_runs_nothing(script, env, tmp_path):
    term = start(script, env)
    expect_question(term, script)
    term.send("4\r")
    term.expect("jshost: not run")
    assert term.wait() == 2
    assert executed(tmp_path) == 0
    with Store() as store:
        assert store.list_runs() == []
        assert not store.is_approved(str(script.resolve()), validate_source(SCRIPT).sha256)


def test_the_question_fits_an_80_column_terminal_with_the_sha256_whole(script, env):
    env["COLUMNS"] = "80"
    term = start(script, env)
    term.expect(PROMPT)
    term.send("4\r")
    assert term.wait() == 2
    sha = validate_source(SCRIPT, path=str(script)).sha256
    box = term.text[: term.text.index("╰")].splitlines()
    row = next(line for line in box if "sha256" in line)
    assert re.fullmatch(rf"│ +sha256  {sha}│? *", row.rstrip()), row  # on one line, whole
    assert all(len(line.rstrip()) <= 80 for line in box), "\n".join(box)


def test_other_answers_are_asked_again_and_end_of_input_is_no(script, env, tmp_path):
    term = start(script, env)
    expect_question(term, script)
    term.send("x")
    term.expect("press 1-4, y or n, or ↑/↓ then Enter")
    term.send("5")
    term.expect("press 1-4, y or n, or ↑/↓ then Enter")
    term.send("\x04")  # Ctrl-D: end of input
    term.expect("not run")
    assert term.wait() == 2
    assert executed(tmp_path) == 0


def test_y_runs_and_n_does_not(script, env, tmp_path):
    term = start(script, env)
    expect_question(term, script)
    term.send("n")  # one key, no Enter
    term.expect("jshost: not run")
    assert term.wait() == 2
    assert executed(tmp_path) == 0
    term = start(script, env)
    expect_question(term, script)
    term.send("y")
    term.expect("all done")
    assert term.wait() == 0
    assert executed(tmp_path) == 3


def test_arrow_keys_move_the_marker_and_enter_takes_it(script, env, tmp_path):
    term = start(script, env)
    expect_question(term, script)
    assert "❯ 1. Yes, run it" in term.text  # the marker starts on "Yes, run it"
    term.send(DOWN)
    term.expect("❯ 2. Yes, and don't ask again")
    term.expect(PROMPT)
    term.send(DOWN)
    term.expect("❯ 3. View raw script")
    term.expect(PROMPT)
    term.send(DOWN)
    term.expect("❯ 4. No")
    term.expect(PROMPT)
    term.send(DOWN)  # round to the top
    term.expect("❯ 1. Yes, run it")
    term.expect(PROMPT)
    term.send(UP)
    term.expect("❯ 4. No")
    term.expect(PROMPT)
    term.send("\r")
    term.expect("jshost: not run")
    assert term.wait() == 2
    assert executed(tmp_path) == 0
    with Store() as store:
        assert store.list_runs() == []


def test_enter_takes_the_marked_choice_after_view(script, env, tmp_path):
    env["PAGER"] = "cat"
    term = start(script, env)
    expect_question(term, script)
    term.send(UP)  # round to the bottom: No
    term.expect("❯ 4. No")
    term.expect(PROMPT)
    term.send(UP)
    term.expect("❯ 3. View raw script")
    term.expect(PROMPT)
    term.send("\r")
    term.expect("10 await agent('sum up', { lable: 'typo' })")
    expect_question(term, script)
    term.send("\r")  # after the view the marker is back on "Yes, run it"
    term.expect("all done")
    assert term.wait() == 0
    assert executed(tmp_path) == 3


def test_ctrl_c_at_the_question_stops_without_running(script, env, tmp_path):
    term = start(script, env)
    expect_question(term, script)
    term.send("\x03")
    assert term.wait() == 130
    assert "Traceback" not in term.text
    assert executed(tmp_path) == 0


def test_validation_errors_stop_the_run_before_the_question(script, env, tmp_path):
    script.write_text(SCRIPT.replace("return 'all done'", "return Date.now()"), encoding="utf-8")
    term = start(script, env)
    term.expect(f"{script}:10:25: warning W502")
    term.expect(f"{script}:11:8: error E301 Date.now() / new Date() are unavailable")
    term.expect("not run: 1 error")
    assert term.wait() == 2
    assert "Choose" not in term.text
    assert executed(tmp_path) == 0


def test_yes_skips_the_question(script, env, tmp_path):
    term = start(script, env, "--yes")
    term.expect("all done")
    assert term.wait() == 0
    assert "Choose" not in term.text
    assert executed(tmp_path) == 3


def test_show_on_a_terminal_goes_through_the_pager(script, env, tmp_path):
    pager = tmp_path / "pager.sh"
    received = tmp_path / "paged.txt"
    pager.write_text(f"#!/bin/sh\ncat > {received}\n")
    pager.chmod(0o755)
    env["PAGER"] = str(pager)
    term = Terminal(["show", str(script)], cwd=tmp_path, env=env)
    assert term.wait() == 0
    paged = received.read_text()
    assert "\x1b[" in paged
    assert re.search(r"^ +8 const hellos = await parallel\(", _ANSI.sub("", paged), re.M)


# -- the question itself, without a terminal ------------------------------------------------------


def _ask(answers: list[str | None], views: list[int]) -> tuple[Choice, str]:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    report = validate_source(SCRIPT, path="flows/greet.js")
    feed = iter(answers)

    def read_key(prompt: str) -> str | None:
        out.write(prompt)
        return next(feed)

    choice = ask(
        report,
        run_rows=[("caps", "16 agents at once")],
        where="~/flows",
        console=console,
        read_key=read_key,
        view=lambda: views.append(1),
    )
    return choice, out.getvalue()


@pytest.mark.parametrize(
    ("answers", "choice"),
    [
        (["1"], Choice.RUN),
        (["2"], Choice.RUN_AND_REMEMBER),
        (["4"], Choice.NO),
        (["y"], Choice.RUN),
        (["N"], Choice.NO),
        (["enter"], Choice.RUN),
        (["down", "enter"], Choice.RUN_AND_REMEMBER),
        (["up", "enter"], Choice.NO),
        (["down", "down", "down", "down", "enter"], Choice.RUN),
        ([None], Choice.NO),
        (["x", "5", "1"], Choice.RUN),
    ],
)
def test_ask_answers(answers, choice):
    views: list[int] = []
    got, screen = _ask(answers, views)
    assert got is choice
    assert views == []
    assert "2. Yes, and don't ask again for greet in ~/flows" in screen


def test_ask_view_then_choose():
    views: list[int] = []
    choice, screen = _ask(["3", "down", "down", "enter", "1"], views)
    assert choice is Choice.RUN
    assert views == [1, 1]
    # drawn at first, after each view and after each move of the marker
    assert screen.count("3. View raw script") == 5


def test_ask_makes_hidden_characters_visible():
    out = io.StringIO()
    report = validate_source(SCRIPT.replace("'greet'", "'gr\u202eeet'"), path="g.js")
    # The load checks refuse such a script; the name would still be shown safely.
    assert report.errors
    console = Console(file=out, width=200, color_system=None)
    ask(
        report,
        run_rows=[],
        where="here",
        console=console,
        read_key=lambda prompt: "4",
        view=lambda: None,
    )
    assert "\u202e" not in out.getvalue()


# -- what the question says about args, resumes and lapsed approvals (issue 14) --------------


def test_the_question_sums_up_the_args(script, env):
    term = start(script, env, "--args", '{"servers": ["a", "b"], "note": "' + "x" * 200 + '"}')
    row = 'args: object with 2 keys (235 characters): {"servers": ["a", "b"], "note": "x…'
    term.expect(row)
    assert len(row) <= 78
    expect_question(term, script)
    term.send("n")
    assert term.wait() == 2


def test_the_question_says_when_a_script_reads_args_and_none_were_given(tmp_path, env):
    path = tmp_path / "needs.js"
    path.write_text(
        "export const meta = { name: 'needs', description: 'reads args' }\n"
        "const { servers } = args\nreturn servers\n",
        encoding="utf-8",
    )
    term = Terminal(["run", str(path), "--no-interactive"], cwd=tmp_path, env=env)
    term.expect("args: none (the script reads args; pass --args or --args-file)")
    term.expect(PROMPT)
    term.send("y")
    # On a terminal the error line wraps at words (80 columns).
    term.expect(f"{path}:2:21: TypeError: Cannot convert")
    term.expect("undefined or null to object")
    term.expect("jshost: the script reads args; pass --args or --args-file")
    assert term.wait() == 1


def test_the_question_on_resume_says_how_many_agents_are_cached(script, env, tmp_path):
    first = subprocess.run(
        [sys.executable, "-m", "jshost", "run", str(script), "--yes", "--sim-latency", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    run_id = re.search(r"run (wf_[0-9a-f]+)", first.stderr).group(1)
    term = Terminal(["resume", run_id, "--no-interactive"], cwd=tmp_path, env=env)
    term.expect(f"resume: {run_id}: 3 agents cached (returned at once, not paid again)")
    expect_question(term, script)
    term.send("n")
    term.expect("jshost: not run")
    assert term.wait() == 2


def test_without_a_terminal_a_lapsed_approval_is_named(script, env, tmp_path):
    first = start(script, env)
    expect_question(first, script)
    first.send("2")
    first.expect("all done")
    assert first.wait() == 0
    script.write_text(SCRIPT.replace("'sum up'", "'sum it all up'"), encoding="utf-8")
    piped = subprocess.run(
        [sys.executable, "-m", "jshost", "run", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 2
    assert piped.stderr == (
        "jshost: not running without confirmation: the script changed since you chose "
        '"don\'t ask again" for it (that holds for one content only), and stdin is not a '
        "terminal to ask on. Review the script (jshost show SCRIPT), then pass --yes to run it.\n"
    )
    # On a terminal the question comes back, and says why.
    term = start(script, env)
    term.expect('note: the script changed since you chose "don\'t ask again" for it')
    expect_question(term, script)
    term.send("4")
    assert term.wait() == 2
