"""Worker faults, injected with the sim worker's knobs: the run ends with the right nulls and
failure lines, and every result that was finished is in the store.

Knobs: prompt markers ``[[sim:fail]]`` (terminal failure, ``agent()`` resolves to null),
``[[sim:throw]]`` (``agent()`` rejects), ``[[sim:hang]]``, ``[[sim:latency=s]]``, and
``SimWorker(fail=...)`` for failures decided in Python. (Faults of the anthropic worker, from its
loopback Messages-API server, are in ``test_api_faults.py``.)
"""

from __future__ import annotations

import re

from conftest import run_once

from jshost.store import Store
from jshost.workers.sim import SimWorker

# 40 agents in a parallel, then a pipeline over the survivors: every fourth fails terminally,
# every fourth (offset 1) rejects, every fourth (offset 2) is slow, and the Python hook fails
# the 11th and 31st. One agent hangs and is never awaited.
STORM = """
const mark = (i) => ['[[sim:fail=down ' + i + ']]', '[[sim:throw=refused ' + i + ']]',
                     '[[sim:latency=0.03]]', ''][i % 4]
agent('item-999 [[sim:hang]]', { label: 'hung' })
phase('Scan')
const scans = await parallel(Array.from({ length: 40 }, (_, i) => () =>
  agent(`item-${i} scan ${mark(i)}`, { label: `item-${i}` })))
phase('Refine')
const refined = await pipeline(
  scans.map((s, i) => (s === null ? null : i)),
  (i) => agent(`item-${100 + i} refine`, { label: `item-${100 + i}` }),
  (text, i) => (i === 6 ? agent(`item-${200 + i} [[sim:throw=late ${i}]]`) : text.length),
)
log('scans done: ' + scans.filter((s) => s !== null).length)
return { scans, refined }
"""
FLAKY = {11, 31}


def flaky(request):
    item = re.match(r"item-(\d+) ", request.prompt)
    return "flaky upstream" if item and int(item.group(1)) in FLAKY else None


def test_a_storm_of_faults_gives_nulls_failure_lines_and_keeps_every_result(tmp_path):
    path = tmp_path / "s.db"
    worker = SimWorker(latency=0.001, fail=flaky)
    run_id, out = run_once(path, STORM, worker=worker)
    assert out.status == "completed", out.error
    scans, refined = out.result["scans"], out.result["refined"]

    failed = {i for i in range(40) if i % 4 == 0} | FLAKY
    rejected = {i for i in range(40) if i % 4 == 1}
    assert [i for i, s in enumerate(scans) if s is None] == sorted(failed | rejected)
    assert all(f"item-{i} scan" in scans[i] for i in range(40) if i not in failed | rejected)
    # The pipeline drops null items, and item 6 whose second stage rejected.
    assert [i for i, r in enumerate(refined) if r is None] == sorted(failed | rejected | {6})

    lines = out.failures
    for i in sorted(failed - FLAKY):
        assert f"[item-{i}] failed: down {i}" in lines
    for i in sorted(FLAKY):
        assert f"[item-{i}] failed: flaky upstream" in lines
    for i in sorted(rejected):
        assert f"parallel[{i}] failed: refused {i}" in lines
    assert "pipeline[6] failed: late 6" in lines
    assert "[hung] cancelled: the script ended before this agent finished" in lines

    with Store(path) as store:
        agents = {a.label: a for a in store.agents(run_id)}
        journal = store.journal(run_id)
        logs = store.logs(run_id)
    results = {e.key: e.result for e in journal if e.type == "result"}
    failed_keys = {e.key for e in journal if e.type == "failed"}
    counts = {s: sum(a.status == s for a in out.agents) for s in ("done", "failed", "cancelled")}
    survivors = 40 - len(failed | rejected)
    # scans and refines that worked; scans that failed or rejected, and item 206; the hung one
    assert counts == {"done": 2 * survivors, "failed": 40 - survivors + 1, "cancelled": 1}
    for rec in out.agents:
        row = agents[rec.label]
        assert row.status == rec.status
        if rec.status == "done":  # every finished result is stored, as the script got it
            assert results[rec.key] == rec.result == row.result
        else:
            assert rec.key not in results
        if rec.status == "failed":
            assert rec.key in failed_keys
    assert agents["hung"].status == "cancelled"
    assert [t for kind, t in logs if kind == "failure"] == lines
    assert ("log", f"scans done: {survivors}") in logs


def test_resume_after_worker_faults_replays_what_finished_and_reruns_the_rest(tmp_path):
    """The first failed agent and every agent after it run again; nothing before it does."""
    path = tmp_path / "s.db"
    body = """
    const first = await parallel(Array.from({ length: 12 }, (_, i) => () =>
      agent(`item-${i} first`, { label: `item-${i}` })))
    const second = []
    for (let i = 12; i < 16; i++) {
      second.push(await agent(`item-${i} second`, { label: `item-${i}` }))
    }
    return [...first, ...second]
    """
    down = {5, 13}
    worker = SimWorker(latency=0.001, fail=lambda r: "down" if int(r.label[5:]) in down else None)
    run_id, first = run_once(path, body, worker=worker)
    assert [i for i, v in enumerate(first.result) if v is None] == [5, 13]

    down.clear()
    ran: list[str] = []
    worker = SimWorker(latency=0.001, fail=lambda r: ran.append(r.label))
    _, second = run_once(path, body, worker=worker, replay_from=run_id)
    assert second.status == "completed"
    assert None not in second.result
    # Agents 1-5 of the parallel were called before #6 (item-5) in call order: cached.
    assert [a.status for a in second.agents[:5]] == ["cached"] * 5
    assert sorted(ran, key=lambda s: int(s[5:])) == [f"item-{i}" for i in range(5, 16)]
    fresh = run_once(tmp_path / "fresh.db", body)[1]
    assert second.result == fresh.result


def test_a_hung_agent_ends_with_the_wall_clock_and_finished_ones_stay_stored(tmp_path):
    path = tmp_path / "s.db"
    body = """
    const quick = await parallel([1, 2, 3].map((i) => () => agent(`item-${i} quick`)))
    log('quick ones are in')
    const slow = await parallel([() => agent('item-4 [[sim:hang]]'), () => agent('item-5')])
    return [quick, slow]
    """
    run_id, out = run_once(path, body, timeout=0.5)
    assert out.status == "failed"
    assert out.error.name == "TimeoutError"
    statuses = {a.prompt.split()[0]: a.status for a in out.agents}
    assert statuses == {
        f"item-{i}": s for i, s in enumerate(["done"] * 3 + ["cancelled", "done"], 1)
    }
    with Store(path) as store:
        stored = {e.agent: e.result for e in store.journal(run_id) if e.type == "result"}
        assert sorted(stored) == [1, 2, 3, 5]
        assert stored == {a.index: a.result for a in out.agents if a.status == "done"}
        assert store.get_run(run_id).status == "failed"
