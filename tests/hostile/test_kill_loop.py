"""Crash safety under repeated SIGKILL: a 200-agent sim run killed at 20 random moments (a
seeded RNG picks them) and resumed after each, then resumed to the end.

Each moment is a number of agent results the store must hold when the process is killed, so
the kills spread over the whole run, every phase included, and every session makes progress.
Checked after every kill: nothing whose result was stored before a session started ran again
in it (it was replayed from the store), and the store only grew. At the end: the result is the
uninterrupted run's, and the final session replayed every stored result.
"""

from __future__ import annotations

import json
import random
import sqlite3

import pytest
from procs import committed, executed, finish, jshost, kill_when, run_id_of

SCRIPT = """\
export const meta = {
  name: 'kill-loop',
  description: '200 sim agents: a wide scan, groups, a sequential chain, a report',
  phases: [{ title: 'Scan' }, { title: 'Group' }, { title: 'Chain' }, { title: 'Report' }],
}
phase('Scan')
const scans = await parallel(Array.from({ length: 120 }, (_, i) => () =>
  agent(`item-${i} scan`, { label: `item-${i}` })))
phase('Group')
const groups = await parallel(Array.from({ length: 60 }, (_, g) => () =>
  agent(`item-${200 + g} group ${scans[2 * g]} | ${scans[2 * g + 1]}`,
        { label: `item-${200 + g}` })))
phase('Chain')
let link = 'start'
for (let k = 0; k < 19; k++) {
  link = await agent(`item-${300 + k} chain after ${link.slice(0, 60)} ${groups[3 * k]}`,
                     { label: `item-${300 + k}` })
}
phase('Report')
const report = await agent(`item-400 report ${link}`, { label: 'item-400' })
return { scans, groups, link, report }
"""
AGENTS = 200
KILLS = 20
SEED = 20_260_611
COMMON = ["--yes", "--json", "--concurrency", "4", "--sim-latency", "0.01"]


@pytest.mark.slow
def test_twenty_sigkills_then_resume_replays_every_finished_agent_and_runs_none_twice(tmp_path):
    script = tmp_path / "kill-loop.js"
    script.write_text(SCRIPT)
    # The uninterrupted run, in a store of its own, alongside the first sessions.
    reference = jshost(tmp_path / "ref", "run", str(script), *COMMON)

    # The last agents form a sequential chain, so a moment below 190 always comes before the end.
    moments = sorted(random.Random(SEED).sample(range(1, 190), KILLS))
    home = tmp_path / "home"
    db = home / "jshost.db"
    stored: set[int] = set()
    ran_total: list[int] = []
    for session, moment in enumerate(moments, 1):
        log = tmp_path / f"exec-{session}.log"
        args = ["run", str(script)] if session == 1 else ["resume", run_id_of(db)]
        count = max(moment, len(stored) + 1)
        kill_when(
            jshost(home, *args, *COMMON, exec_log=log),
            lambda count=count: db.exists() and len(committed(db)) >= count,
            f"{count} stored results",
        )
        ran = executed(log)
        ran_total += ran
        # Nothing whose result was stored before this session ran again in it.
        assert not set(ran) & stored, (session, sorted(set(ran) & stored))
        now = committed(db)
        assert stored < now, f"session {session} stored nothing new"
        stored = now
    assert len(stored) < AGENTS

    log = tmp_path / "exec-final.log"
    code, out, err = finish(jshost(home, "resume", run_id_of(db), *COMMON, exec_log=log))
    assert code == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    ref_code, ref_out, _ = finish(reference)
    assert ref_code == 0
    assert final["result"] == json.loads(ref_out.strip().splitlines()[-1])["result"]
    ran = executed(log)
    assert not set(ran) & stored
    assert final["agents"]["cached"] == len(stored)
    assert final["agents"]["done"] == AGENTS - len(stored) == len(set(ran))
    # Every agent ran at least once over all the sessions; only ones cut off by a kill twice.
    assert set(ran_total) | set(ran) == set(committed(db)) and len(committed(db)) == AGENTS
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT status, sessions FROM runs").fetchone() == ("completed", KILLS + 1)
    con.close()
