"""What a script hands the host, and how much the host keeps of it: through the real CLI.

Each test runs ``python -m jshost`` in a process of its own, so what a terminal or a pipe would
get (an unencodable string, a traceback) and the process's own peak memory are what is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from procs import run_id_of

from jshost.bounds import MAX_STORED_LOG_BYTES

MIB = 1 << 20


# A small launcher starts jshost and reports its peak RSS: a child forked straight from this
# test process would count this process's memory, which it holds until its exec, as its own.
_LAUNCHER = """
import os, signal, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "jshost", *sys.argv[3:]], os.environ)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))  # never left behind
signal.alarm(int(sys.argv[2]))
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run(home: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 120):
    """``python -m jshost ARGS`` → (exit code, stdout, stderr, its peak RSS in bytes)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    full.pop("PYTHONIOENCODING", None)  # what a plain UTF-8 pipe takes, nothing more lenient
    full["JSHOST_HOME"] = str(home)
    full.update(env or {})
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rss"
        proc = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), str(timeout), *args],
            env=full,
            capture_output=True,
            timeout=timeout + 30,
        )
        peak = int(report.read_text())
    stdout, stderr = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-3000:]
    return proc.returncode, stdout, stderr, peak


def script(tmp_path: Path, body: str, name: str = "flow.js") -> str:
    path = tmp_path / name
    path.write_text(
        "export const meta = { name: 'bounds', description: 'a hostile value' }\n" + body + "\n",
        encoding="utf-8",
    )
    return str(path)


# -- class 4: values that used to crash the engine or the store ---------------------------------

HOSTILE_TEXT = r"""
log('log \uD800 line', { k: '\uDBFF' })
phase('phase \uDC00 title')
const first = await agent('a fine prompt', { label: 'fine' })
const refused = []
for (const opts of [{ model: 'm\uD800' }, { label: '\uDC00' }, { agentType: '\uDFFF' }]) {
  try { await agent('p', opts) } catch (e) { refused.push(e.name) }
}
for (const ref of [{ scriptPath: '~nosuchuser/x.js' }, { scriptPath: 'a\u0000.js' },
                   { scriptPath: '\uD800.js' }, { scriptPath: 'x'.repeat(100000) + '.js' }]) {
  try { await workflow(ref) } catch (e) { refused.push(e.name) }
}
await parallel([() => { throw new Error('boom \uD800') }])
if (args && args.fail) throw new Error('the end \uDFFF ' + refused.join(','))
return { ['k\uD800']: ['v\uDC00', first], refused }
"""


@pytest.mark.parametrize("fail", [False, True], ids=["completed", "failed"])
def test_every_command_reads_a_run_full_of_lone_surrogates(tmp_path, fail):
    home = tmp_path / "home"
    path = script(tmp_path, HOSTILE_TEXT)
    flags = ("--yes", "--worker", "sim", "--json", "--args", json.dumps({"fail": fail}))
    code, out, err, _ = run(home, "run", path, *flags)
    assert code == (1 if fail else 0), err
    summary = json.loads(out.strip().splitlines()[-1])
    run_id = summary["run_id"]
    refused = ["TypeError"] * 3 + ["Error", "TypeError", "TypeError", "RangeError"]
    if fail:
        assert summary["error"].endswith("Error: the end \udfff " + ",".join(refused))
    else:
        assert summary["result"]["k\ud800"][0] == "v\udc00"  # the exact value
        assert summary["result"]["refused"] == refused
    # The finished agent was stored, whatever the script sent after it.
    assert summary["agents"]["done"] == 1

    for argv in (
        ["runs"],
        ["runs", "--json"],
        ["inspect", run_id],
        ["inspect", run_id, "--json"],
        ["inspect", run_id, "--agent", "1"],
        ["inspect", run_id, "--journal"],
        ["inspect", run_id, "--result"] if not fail else ["inspect", run_id],
    ):
        code, out, err, _ = run(home, *argv)
        assert code == 0, (argv, err)
    shown = json.loads(run(home, "inspect", run_id, "--json")[1])
    assert "log \\ud800 line" in shown["logs"][0]  # the store keeps it as that text
    # Resume replays the stored agent and meets the same refusals, as catchable errors again.
    code, out, err, _ = run(home, "resume", run_id, "--yes", "--worker", "sim", "--json")
    assert code == (1 if fail else 0), err
    resumed = json.loads(out.strip().splitlines()[-1])
    assert resumed["agents"]["cached"] == 1


# -- class 6: what the host keeps, in memory and in the store ---------------------------------


def test_prompts_the_host_keeps_are_held_to_the_sandbox_memory_limit(tmp_path):
    """Host memory and store growth for big prompts stay within the bound SECURITY.md states."""
    home = tmp_path / "home"
    baseline = run(home, "run", script(tmp_path, "return 1", "one.js"), "--yes", "--worker", "sim")
    limit = 16  # MiB: the sandbox's memory limit for this run
    body = """
const base = 'p'.repeat(600000)
let ok = 0, last = ''
for (let i = 0; i < 80; i++) {
  try { await agent(i + base); ok++ } catch (e) { last = e.name + ': ' + e.message }
}
return { ok, last }
"""
    code, out, err, peak = run(
        home,
        "run",
        script(tmp_path, body),
        "--yes",
        "--worker",
        "sim",
        "--sim-latency",
        "0",
        "--memory-limit",
        str(limit),
        "--json",
    )
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])["result"]
    # 80 × 600 kB is 48 MB: only the first 16 MiB of prompts are taken, the rest refused.
    assert 20 <= result["ok"] <= 28, result
    assert result["last"].startswith(
        "RangeError: agent(): the prompts of this run would total more than 16 MiB"
    )
    # The bound: the process's baseline, plus 3 × the sandbox's limit.
    assert peak <= baseline[3] + 3 * limit * MIB, (peak / MIB, baseline[3] / MIB)
    db = home / "jshost.db"
    assert db.stat().st_size <= 2 * limit * MIB + 8 * MIB


def test_a_huge_prompt_is_refused_before_it_crosses(tmp_path):
    body = """
try { await agent('x'.repeat(4000001)) } catch (e) { return e.name + ': ' + e.message }
"""
    code, out, err, _ = run(tmp_path / "home", "run", script(tmp_path, body), "--yes", "-q")
    assert code == 0, err
    assert "RangeError: agent() prompt is 4000001 characters long; the limit is 4000000" in out


def test_the_store_s_log_volume_per_run_is_capped_in_bytes(tmp_path):
    """A 300-byte script used to write 661 MB of log lines into the store in seconds."""
    home = tmp_path / "home"
    body = """
const line = 'x'.repeat(64 * 1024)
for (let i = 0; i < 1500; i++) {
  log(line)
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 0))
}
return 'ok'
"""
    code, _, err, peak = run(home, "run", script(tmp_path, body), "--yes", "-q", "--json")
    assert code == 0, err
    db = home / "jshost.db"
    assert db.stat().st_size <= MAX_STORED_LOG_BYTES + 4 * MIB  # 1500 × 64 KiB is 96 MiB
    shown = json.loads(run(home, "inspect", run_id_of(db), "--json")[1])
    assert shown["dropped_logs"] > 900
    assert peak <= 256 * MIB


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_args_file_must_be_a_regular_file(tmp_path, special):
    if special == "fifo":
        special = str(tmp_path / "args.json")
        os.mkfifo(special)
    code, _, err, peak = run(
        tmp_path / "home", "run", script(tmp_path, "return args"), "--yes", "--args-file", special
    )
    assert code == 2
    assert err == f"jshost: --args-file: {special!r} is not a regular file\n"
    assert peak < 200 * MIB


def test_args_file_size_is_checked_before_it_is_read(tmp_path):
    big = tmp_path / "args.json"
    with big.open("wb") as f:  # sparse: nothing is written, the size is what counts
        f.truncate(1 << 30)
    code, _, err, peak = run(
        tmp_path / "home", "run", script(tmp_path, "return args"), "--yes", "--args-file", str(big)
    )
    assert code == 2
    assert "is 1,073,741,824 bytes; the limit is 33,554,432 bytes (32 MiB)" in err
    assert peak < 200 * MIB


def test_args_that_cannot_fit_in_the_sandbox_are_refused_before_python_builds_them(tmp_path):
    # 3 bytes of `{},` are about 70 bytes of Python objects: parse them where they must fit.
    args = tmp_path / "args.json"
    args.write_text("[" + "{}," * 2_000_000 + "{}]")
    code, _, err, peak = run(
        tmp_path / "home",
        *("run", script(tmp_path, "return args.length"), "--yes"),
        *("--args-file", str(args), "--memory-limit", "32"),
    )
    assert code == 2
    assert "the run's args do not fit in the sandbox's memory (32 MiB; see --memory-limit)" in err
    assert peak < 250 * MIB


# -- weak spots ---------------------------------------------------------------------------------

DATES = """
const d = new Date(0)
return [d.toString(), d.getTimezoneOffset(), d.getHours(), String(new Date(2020, 5, 1, 12)),
  new Date('2020-06-01T12:00').toISOString(), Date.parse('2020-06-01T12:00:00'),
  new Date('2020-06-01T12:00:00+02:00').toISOString(), d.toLocaleString(), d.toTimeString(),
  new Date(0).getYear(), String(new Date(NaN))]
"""
UTC = [
    "Thu Jan 01 1970 00:00:00 GMT+0000",
    0,
    0,
    "Mon Jun 01 2020 12:00:00 GMT+0000",
    "2020-06-01T12:00:00.000Z",
    1591012800000,
    "2020-06-01T10:00:00.000Z",
    "01/01/1970, 12:00:00 AM",
    "00:00:00 GMT+0000",
    70,
    "Invalid Date",
]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_sandbox_runs_in_utc_whatever_the_host_zone(tmp_path, zone):
    code, out, err, _ = run(
        tmp_path / "home",
        *("run", script(tmp_path, DATES), "--yes", "--json"),
        env={"TZ": zone},
    )
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["result"] == UTC
