"""Crash safety of the run store, end to end: real ``jshost`` processes, real SQLite files.

The sim worker appends a line per execution to ``JSHOST_SIM_EXEC_LOG``, so these tests count
what really ran in each process, including processes killed with SIGKILL mid-run.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from procs import committed, executed, finish, jshost, kill_after, run_id_of

SCRIPT = """\
export const meta = {
  name: 'crash-test',
  description: 'three phases of sim agents',
  phases: [{ title: 'Scan' }, { title: 'Group' }, { title: 'Report' }],
}
phase('Scan')
const scans = await parallel(
  Array.from({ length: 24 }, (_, i) => () => agent(`item-${i} scan`, { label: `item-${i}` })),
)
phase('Group')
const groups = await parallel(
  Array.from({ length: 6 }, (_, g) => () =>
    agent(`item-${100 + g} group ${scans.slice(g * 4, g * 4 + 4).join(' | ')}`,
          { label: `item-${100 + g}` })),
)
phase('Report')
const report = await agent(`item-200 report ${groups.join(' | ')}`, { label: 'item-200' })
return { scans: scans.length, groups, report }
"""
AGENTS = 31


def test_sigkill_at_several_points_then_resume_replays_every_finished_agent(tmp_path):
    script = tmp_path / "crash.js"
    script.write_text(SCRIPT)
    common = ["--yes", "--json", "--concurrency", "4", "--sim-latency", "0.04"]

    # The uninterrupted run, in a store of its own.
    code, out, _ = finish(jshost(tmp_path / "ref", "run", str(script), *common))
    assert code == 0
    expected = json.loads(out.splitlines()[-1])["result"]

    home = tmp_path / "home"
    db = home / "jshost.db"
    before: set[int] = set()
    for session, kill_at in enumerate([2, 9, 7], 1):
        log = tmp_path / f"exec-{session}.log"
        args = ["run", str(script)] if session == 1 else ["resume", run_id_of(db)]
        kill_after(jshost(home, *args, *common, exec_log=log), log, kill_at, db, before)
        ran = set(executed(log))
        # Nothing whose result was stored before this process started ran again in it.
        assert not ran & before, sorted(ran & before)
        now = committed(db)
        assert before <= now
        before = now
    assert 0 < len(before) < AGENTS

    log = tmp_path / "exec-final.log"
    code, out, err = finish(jshost(home, "resume", run_id_of(db), *common, exec_log=log))
    assert code == 0, err
    final = json.loads(out.splitlines()[-1])
    assert final["result"] == expected
    assert not set(executed(log)) & before
    assert final["agents"]["cached"] == len(before)
    assert final["agents"]["done"] == AGENTS - len(before)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT status, sessions FROM runs").fetchone() == ("completed", 4)


def test_two_processes_running_at_once_share_the_store_without_corrupting_it(tmp_path):
    script = tmp_path / "many.js"
    script.write_text(
        "export const meta = { name: 'many', description: 'many agents' }\n"
        "return await parallel(Array.from({length: 120}, (_, i) => () => agent('p' + i)))\n"
    )
    home = tmp_path / "home"
    procs = [
        jshost(home, "run", str(script), "--yes", "--json", "--sim-latency", "0") for _ in range(2)
    ]
    outs = [finish(p) for p in procs]
    assert [code for code, _, _ in outs] == [0, 0]
    ids = {json.loads(out.splitlines()[-1])["run_id"] for _, out, _ in outs}
    con = sqlite3.connect(home / "jshost.db")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for run_id in ids:
        n = con.execute("SELECT count(*) FROM agents WHERE run_id = ?", (run_id,)).fetchone()[0]
        status = con.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        assert (n, status) == (120, "completed")


def _full_disk() -> None:
    # A file-size limit makes writes past 2 MB fail as they would on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))


def test_full_disk_stops_the_run_with_a_clear_error_and_keeps_what_was_saved(tmp_path):
    home = tmp_path / "home"
    small = tmp_path / "small.js"
    small.write_text("export const meta = { name: 'small', description: 'd' }\nreturn 1\n")
    assert finish(jshost(home, "run", str(small), "--yes"))[0] == 0  # an earlier run
    big = tmp_path / "big.js"
    big.write_text(
        "export const meta = { name: 'big', description: 'big results' }\n"
        "const out = []\n"
        "for (let i = 0; i < 300; i++)\n"
        "  out.push(await agent('item-' + i + ' ' + 'x'.repeat(20000)))\n"
        "return out.length\n"
    )
    code, _, err = finish(
        jshost(home, "run", str(big), "--yes", "--sim-latency", "0", preexec_fn=_full_disk)
    )
    assert code == 1
    assert "cannot save agent results, so the run stops" in err
    assert "(is the disk full?)" in err
    db = home / "jshost.db"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT status FROM runs WHERE name = 'small'").fetchone() == ("completed",)
    saved = committed(db)
    assert saved == set(range(len(saved)))  # a prefix, each committed before the next began
    (big_id,) = con.execute("SELECT id FROM runs WHERE name = 'big'").fetchone()
    con.close()
    # With room again, the run resumes from what was saved.
    code, out, err = finish(jshost(home, "resume", big_id, "--yes", "--json", "--sim-latency", "0"))
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["agents"]["cached"] == len(saved)


def _read_only(home: Path, *args: str) -> subprocess.Popen:
    if os.geteuid() != 0:
        for p in [home, *home.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return jshost(home, *args)
    # root ignores permissions: bind-mount the data dir read-only in a private mount namespace.
    assert shutil.which("unshare"), "root needs unshare(1) to make a read-only data dir"
    inner = (
        'mount --bind "$JSHOST_HOME" "$JSHOST_HOME" && '
        'mount -o remount,ro,bind "$JSHOST_HOME" "$JSHOST_HOME" && exec "$@"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    env["JSHOST_HOME"] = str(home)
    return subprocess.Popen(
        ["unshare", "-m", "sh", "-c", inner, "sh", sys.executable, "-m", "jshost", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("command", ["run", "runs"])
def test_read_only_data_dir_is_a_clear_error_and_earlier_runs_survive(tmp_path, command):
    home = tmp_path / "home"
    script = tmp_path / "s.js"
    script.write_text("export const meta = { name: 's', description: 'd' }\nreturn 1\n")
    assert finish(jshost(home, "run", str(script), "--yes"))[0] == 0
    args = ["run", str(script), "--yes"] if command == "run" else ["runs"]
    code, out, err = finish(_read_only(home, *args))
    if command == "run":
        assert code == 1
        assert re.search(r"jshost: the run store .*jshost\.db is read-only", err), err
    else:
        # Reading needs no writes: listing a read-only store works.
        assert code == 0, err
        assert " s " in out and "completed" in out
    con = sqlite3.connect(home / "jshost.db")
    assert con.execute("SELECT count(*), min(status) FROM runs").fetchone() == (1, "completed")
