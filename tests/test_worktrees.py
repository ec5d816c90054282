"""``isolation: 'worktree'`` with real git in temporary repositories, the sim worker's file
markers, the real engine, store and command line (issue 20, item 3; reference §6.5)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio
from conftest import run_once, script_source

from jshost._api import Workflow, prepare
from jshost.engine import NO_ARGS, Engine, Limits
from jshost.engine.worktrees import WorktreeIsolationError, Worktrees, worktree_note
from jshost.journal import cache_key
from jshost.script import parse_script
from jshost.script.validate import validate_source
from jshost.store import SCHEMA_VERSION, Store
from jshost.store.migrations import _MIGRATIONS
from jshost.workers.base import AgentRequest, AgentResult, Worker
from jshost.workers.sim import SimWorker
from jshost.worktree_paths import find_git_root, hidden_worktrees, worktree_name, worktrees_dir

ISO = "{isolation: 'worktree'}"


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit: notes.txt = "base"."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "notes.txt").write_text("base\n", encoding="utf-8")
    git(root, "add", "notes.txt")
    git(root, "commit", "-q", "-m", "base")
    return root


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/worktree-*").split()


def trees(repo: Path) -> list[str]:
    """Worktree directories under .claude/worktrees (the .gitignore left out)."""
    base = worktrees_dir(repo)
    return sorted(p.name for p in base.iterdir() if p.name != ".gitignore") if base.is_dir() else []


def engine_run(body: str, *, workspace: Path, worker: Worker | None = None, **kw):
    script = parse_script(script_source(body), path="flow.js")
    engine = Engine(script, worker=worker or SimWorker(latency=0.001), workspace=workspace, **kw)
    return trio.run(engine.run)


class Recording(Worker):
    """The sim worker, keeping each request it got (to see the cwd and prompt the engine set)."""

    name = "sim"

    def __init__(self) -> None:
        self.sim = SimWorker(latency=0.001)
        self.requests: list[AgentRequest] = []

    async def run(self, request: AgentRequest) -> AgentResult:
        self.requests.append(request)
        return await self.sim.run(request)


# ---- isolation ------------------------------------------------------------------------------

PAIR = """
const edit = (who) => agent(
  `[[sim:write=notes.txt:from ${who}]] [[sim:latency=0.3]] [[sim:read=notes.txt]]`,
  {label: who, ISO})
return await parallel([() => edit('A'), () => edit('B')])
"""


def test_two_parallel_agents_editing_one_file_each_see_only_their_own_change(repo):
    outcome = engine_run(PAIR.replace("ISO", "isolation: 'worktree'"), workspace=repo)
    assert outcome.status == "completed", outcome.error
    # Both wrote before either read (0.3 s apart): in a shared directory one would read the
    # other's text (the control below), in their own worktrees each reads its own.
    assert outcome.result == ["from A", "from B"]
    assert (repo / "notes.txt").read_text() == "base\n"
    # Changed, so both are kept, each on its own branch, listed on the outcome.
    kept = outcome.kept_worktrees
    assert [a.label for a in kept] == ["A", "B"]
    for a in kept:
        path = Path(a.worktree_path)
        assert path.parent == worktrees_dir(repo)
        assert (path / "notes.txt").read_text() == f"from {a.label}"
        assert git(path, "rev-parse", "--abbrev-ref", "HEAD").strip() == a.worktree_branch
    assert sorted(branches(repo)) == sorted(a.worktree_branch for a in kept)
    # Kept unlocked, as the reference does.
    assert "locked" not in git(repo, "worktree", "list", "--porcelain")
    # The main checkout's status stays clean: the worktrees are ignored by a .gitignore of `*`.
    assert git(repo, "status", "--porcelain") == ""
    assert (worktrees_dir(repo) / ".gitignore").read_text() == "*\n"


def test_without_isolation_the_same_agents_see_each_other(repo, monkeypatch):
    # The control for the test above: the markers really share a directory without worktrees.
    monkeypatch.chdir(repo)
    outcome = engine_run(PAIR.replace(", ISO", ""), workspace=repo)
    assert outcome.status == "completed"
    assert outcome.result[0] == outcome.result[1]  # both read whichever write came last
    assert trees(repo) == [] and branches(repo) == []


def test_a_clean_worktree_is_removed_with_its_branch_and_the_agent_worked_inside_it(repo):
    # The main checkout has an uncommitted edit: an agent in a worktree made from HEAD reads
    # the committed text, so it really worked there.
    (repo / "notes.txt").write_text("edited, not committed\n")
    worker = Recording()
    body = f"return await agent('[[sim:read=notes.txt]]', {ISO})"
    outcome = engine_run(body, workspace=repo, worker=worker)
    assert outcome.status == "completed", outcome.error
    assert outcome.result == "base\n"
    [request] = worker.requests
    assert request.cwd is not None and request.cwd.parent == worktrees_dir(repo)
    # <runId>-<index>; with no store to name the run, a random id of the store's form
    assert re.fullmatch(r"wf_[0-9a-f]{12}-1", request.cwd.name)
    # The worker's prompt ends with the worktree paragraph; the record and the cache key keep
    # the script's prompt, so resuming a run finds its results as before.
    assert request.prompt.startswith("[[sim:read=notes.txt]]\n\nYou are working in an isolated")
    assert str(request.cwd) in request.prompt and str(repo) in request.prompt
    [rec] = outcome.agents
    assert rec.prompt == "[[sim:read=notes.txt]]"
    assert rec.key == cache_key("", "[[sim:read=notes.txt]]", {"isolation": "worktree"})
    # Removed, branch and all; nothing kept, nothing locked, nothing left to prune.
    assert rec.worktree_path is None and outcome.kept_worktrees == []
    assert not request.cwd.exists()
    assert trees(repo) == [] and branches(repo) == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repo, "status", "--porcelain") == " M notes.txt\n"  # the user's edit, untouched


def test_the_repositorys_hooks_get_no_model_credentials(repo, tmp_path, monkeypatch):
    # git runs the repository's post-checkout hook as it makes the worktree.
    seen = tmp_path / "hook.env"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\nenv > {seen}\n")
    hook.chmod(0o755)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-hook-must-not-see")
    monkeypatch.setenv("JSHOST_HOOK_PROBE", "kept")
    outcome = engine_run(f"return await agent('[[sim:read=notes.txt]]', {ISO})", workspace=repo)
    assert outcome.status == "completed", outcome.error
    env = seen.read_text()
    assert "JSHOST_HOOK_PROBE=kept" in env  # the hook ran, with the rest of the environment
    assert "sk-ant-hook-must-not-see" not in env and "ANTHROPIC_API_KEY" not in env


def test_an_untracked_file_alone_keeps_the_worktree(repo):
    body = f"return await agent('[[sim:write=new/file.txt:hello]]', {{label: 'maker', {ISO[1:]})"
    outcome = engine_run(body, workspace=repo)
    [rec] = outcome.kept_worktrees
    assert (Path(rec.worktree_path) / "new" / "file.txt").read_text() == "hello"
    assert git(repo, "status", "--porcelain") == ""


def test_a_moved_head_keeps_the_worktree_and_a_clean_one_goes(repo):
    async def main():
        trees_ = Worktrees(repo, "wf_head")
        moved, clean = await trees_.create(1), await trees_.create(2)
        git(moved.path, "commit", "-q", "--allow-empty", "-m", "agent's commit")
        return await trees_.release(moved), await trees_.release(clean), moved, clean

    removed_moved, removed_clean, moved, clean = trio.run(main)
    assert (removed_moved, removed_clean) == (False, True)
    assert moved.path.is_dir() and not clean.path.exists()
    assert branches(repo) == [moved.branch]
    assert git(repo, "log", "-1", "--format=%s", moved.branch).strip() == "agent's commit"


def test_an_earlier_kept_worktree_and_branch_are_never_reused_or_reset(repo):
    # A resumed run keeps its id: agent #1's new worktree must not clobber the one kept before.
    async def main():
        first = await Worktrees(repo, "wf_same").create(1)
        (first.path / "notes.txt").write_text("kept work\n")
        again = Worktrees(repo, "wf_same")
        second = await again.create(1)
        released = await again.release(second)
        return first, second, released

    first, second, released = trio.run(main)
    assert first.path.name == "wf_same-1" and second.path.name == "wf_same-1-2"
    assert second.branch == "worktree-wf_same-1-2" and released
    assert (first.path / "notes.txt").read_text() == "kept work\n"
    assert branches(repo) == ["worktree-wf_same-1"]


@pytest.mark.parametrize(
    "run_id", ["wf_3f2a9c01b7de", "ü ../x~^:?*[\\.lock", "-lead", "...", "a/b@{c}", ""]
)
def test_an_odd_run_id_still_gives_a_valid_branch_and_a_path_inside(repo, run_id):
    async def main():
        trees_ = Worktrees(repo, run_id or None)
        tree = await trees_.create(7)
        return tree, await trees_.release(tree)

    tree, removed = trio.run(main)
    assert removed
    assert tree.path.parent == worktrees_dir(repo)
    assert tree.path.name.endswith("-7")
    git(repo, "check-ref-format", "--branch", tree.branch)  # raises if git refuses the name
    if run_id == "wf_3f2a9c01b7de":
        assert tree.branch == "worktree-wf_3f2a9c01b7de-7"


def test_an_odd_label_does_not_reach_the_name(repo):
    body = f"return await agent('[[sim:write=x:1]]', {{label: 'ü ../x~^ [y]', {ISO[1:]})"
    outcome = engine_run(body, workspace=repo)
    [rec] = outcome.kept_worktrees
    git(repo, "check-ref-format", "--branch", rec.worktree_branch)
    assert rec.worktree_branch.endswith("-1")


def test_a_claude_dir_linking_out_of_the_repository_is_refused(repo, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo / ".claude").symlink_to(outside)

    async def main():
        return await Worktrees(repo, "wf_x").create(1)

    with pytest.raises(WorktreeIsolationError, match="leads outside the repository"):
        trio.run(main)
    assert list(outside.iterdir()) == []  # nothing made there


# ---- the error ------------------------------------------------------------------------------

CATCH = f"""
try {{ await agent('x', {ISO}); return 'ran' }}
catch (e) {{ return [e.name, e.message] }}
"""


def test_outside_a_repository_the_call_rejects_with_a_catchable_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert find_git_root(plain) is None
    outcome = engine_run(CATCH, workspace=plain)
    name, message = outcome.result
    assert name == "WorktreeIsolationError"
    assert message == (
        f"agent({{isolation:'worktree'}}): {plain} is not inside a git repository — worktree "
        "isolation needs one (run `git init` and make a first commit, or drop the isolation "
        "option)"
    )
    # Inside parallel(): null and a failure line, the other agents unaffected.
    body = f"return await parallel([() => agent('x', {ISO}), () => agent('y')])"
    outcome = engine_run(body, workspace=plain)
    assert outcome.status == "completed"
    assert outcome.result[0] is None and outcome.result[1].startswith("[sim sim] y")
    assert outcome.failures == [f"parallel[0] failed: {message}"]
    assert [a.status for a in outcome.agents] == ["failed", "done"]


def test_a_repository_without_commits_says_a_worktree_needs_one(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    name, message = engine_run(CATCH, workspace=empty).result
    assert name == "WorktreeIsolationError"
    assert f"the git repository at {empty} has no commits yet" in message
    assert "make a first commit, or drop the isolation option" in message


def test_no_git_on_path_is_the_same_error_saying_so(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    name, message = engine_run(CATCH, workspace=repo).result
    assert name == "WorktreeIsolationError"
    assert "git was not found on PATH" in message and "install git" in message


def test_the_pipelines_workspace_not_the_current_directory_decides_the_repository(
    repo, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not a repository: the run's workspace must win
    script = parse_script(
        script_source(f"return await agent('[[sim:write=w.txt:x]]', {ISO})"), path="flow.js"
    )
    workflow = Workflow(script, validate_source(script.source, path="flow.js"))
    prepared = prepare(workflow, worker=SimWorker(latency=0.001), limits=Limits(), args=NO_ARGS)
    prepared.workspace = repo
    outcome = trio.run(lambda: prepared.serve(prepared.engine()))
    assert outcome.status == "completed", outcome.error
    [rec] = outcome.kept_worktrees
    assert Path(rec.worktree_path).parent == worktrees_dir(repo)


def test_a_workspace_inside_the_repository_uses_its_top(repo):
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    body = f"return await agent('[[sim:write=out.txt:x]]', {ISO})"
    [rec] = engine_run(body, workspace=sub).kept_worktrees
    assert Path(rec.worktree_path).parent == worktrees_dir(repo)


# ---- stopping -------------------------------------------------------------------------------


def test_stopping_mid_agent_removes_clean_worktrees_and_keeps_dirty_ones(repo):
    body = f"""
    return await parallel([
      () => agent('[[sim:hang]]', {{label: 'clean', {ISO[1:]}),
      () => agent('[[sim:write=notes.txt:half done]] [[sim:hang]]', {{label: 'dirty', {ISO[1:]}),
    ])
    """
    script = parse_script(script_source(body), path="flow.js")
    engine = Engine(script, worker=SimWorker(latency=0.001), workspace=repo)

    def written() -> bool:
        path = engine.agents[1].worktree_path if len(engine.agents) > 1 else None
        return path is not None and (Path(path) / "notes.txt").read_text() == "half done"

    async def main():
        async with trio.open_nursery() as nursery:
            result = {}

            async def go():
                result["outcome"] = await engine.run()

            nursery.start_soon(go)
            with trio.fail_after(10):
                while not (len(trees(repo)) == 2 and written()):
                    await trio.sleep(0.01)
            stopped_at = time.monotonic()
            engine.stop()
        return result["outcome"], time.monotonic() - stopped_at

    outcome, took = trio.run(main)
    assert outcome.status == "stopped"
    assert took < 2.0, f"the stop took {took:.2f} s"
    clean, dirty = outcome.agents
    assert (clean.status, dirty.status) == ("cancelled", "cancelled")
    assert clean.worktree_path is None
    assert dirty.worktree_path is not None and Path(dirty.worktree_path).is_dir()
    assert trees(repo) == [Path(dirty.worktree_path).name]
    assert branches(repo) == [dirty.worktree_branch]
    assert git(repo, "status", "--porcelain") == ""


def test_stopping_while_git_checks_out_kills_git_and_its_hook_and_leaves_nothing(repo, tmp_path):
    # A post-checkout hook that hangs: git is mid `worktree add` when the run stops.
    pid_file = tmp_path / "hook.pid"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    hook.chmod(0o755)
    script = parse_script(script_source(f"return await agent('x', {ISO})"), path="flow.js")
    engine = Engine(script, worker=SimWorker(latency=0.001), workspace=repo)

    async def main():
        async with trio.open_nursery() as nursery:
            result = {}

            async def go():
                result["outcome"] = await engine.run()

            nursery.start_soon(go)
            with trio.fail_after(20):
                while not pid_file.exists() or not pid_file.read_text().strip():
                    await trio.sleep(0.01)
            stopped_at = time.monotonic()
            engine.stop()
        return result["outcome"], time.monotonic() - stopped_at

    outcome, took = trio.run(main)
    assert outcome.status == "stopped" and took < 2.0, took
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{sleeper}").exists() and (
        Path(f"/proc/{sleeper}/stat").read_text().split()[2] != "Z"
    ):
        assert time.monotonic() < deadline, "the hook's child outlived the stop"
        time.sleep(0.02)
    # The half-made checkout and its branch are gone: no agent ever worked there.
    assert trees(repo) == [] and branches(repo) == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    [rec] = outcome.agents
    assert rec.status == "cancelled" and rec.worktree_path is None


def _jshost(*args: str) -> list[str]:
    return [sys.executable, "-m", "jshost", *args]


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_cleans_up_and_the_store_lists_what_was_kept(repo, tmp_path):
    flow = tmp_path / "flow.js"
    flow.write_text(
        script_source(f"""
        return await parallel([
          () => agent('[[sim:hang]]', {{label: 'idle', {ISO[1:]}),
          () => agent('[[sim:write=a.txt:x]] [[sim:hang]]', {{label: 'busy', {ISO[1:]}),
        ])
        """)
    )
    proc = subprocess.Popen(
        _jshost("run", str(flow), "--yes", "--json", "--worker", "sim"),
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while len(trees(repo)) < 2 or not list(worktrees_dir(repo).glob("*/a.txt")):
            assert time.monotonic() < deadline, "the worktrees never appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert took < 5, f"the stop took {took:.1f} s"
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "stopped"
    [kept] = summary["kept_worktrees"]
    assert kept["agent"] == 2 and Path(kept["path"]).name in trees(repo)
    assert len(trees(repo)) == 1 and branches(repo) == [kept["branch"]]
    stored = subprocess.run(
        _jshost("inspect", summary["run_id"], "--json"),
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
        check=True,
    )
    data = json.loads(stored.stdout)
    assert data["kept_worktrees"] == [kept]
    assert [a["worktree"] for a in data["agents"]] == [
        None,
        {"path": kept["path"], "branch": kept["branch"]},
    ]


# ---- the command line, the store, resume --------------------------------------------------


def test_the_summary_and_inspect_list_kept_worktrees(repo, tmp_path):
    flow = tmp_path / "flow.js"  # outside the repository: the checkout stays as it was
    flow.write_text(
        script_source(f"""
        return await parallel([
          () => agent('[[sim:write=notes.txt:changed]]', {{label: 'writer', {ISO[1:]}),
          () => agent('[[sim:read=notes.txt]]', {{label: 'reader', {ISO[1:]}),
        ])
        """)
    )
    env = dict(os.environ)
    done = subprocess.run(
        _jshost("run", str(flow), "--yes", "--worker", "sim"),
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    [name] = trees(repo)
    path, branch = worktrees_dir(repo) / name, f"worktree-{name}"
    lines = done.stderr.splitlines()  # the summary goes to stderr, the result to stdout
    at = lines.index("kept worktrees (1) — review and merge:")
    assert lines[at + 1] == f"  {path} ({branch}) · [writer]"
    run_id = name.rsplit("-", 1)[0]
    shown = subprocess.run(
        _jshost("inspect", run_id), capture_output=True, text=True, timeout=30, env=env
    )
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout.splitlines()
    at = out.index("kept worktrees (review and merge)")
    assert out[at + 1] == f"  #1 {path} ({branch}) [writer]"
    agent = subprocess.run(
        _jshost("inspect", run_id, "--agent", "1"),
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert f"  worktree {path} ({branch}) — review and merge" in agent.stdout.splitlines()
    assert git(repo, "status", "--porcelain") == ""


def test_resume_reuses_a_cached_agents_result_and_makes_no_worktree_for_it(
    repo, tmp_path, monkeypatch
):
    monkeypatch.chdir(repo)
    body = f"""
    const a = await agent('[[sim:write=notes.txt:by a]]', {{label: 'a', {ISO[1:]});
    const b = await agent('[[sim:write=b.txt:by b]] [[sim:read=notes.txt]]',
                          {{label: 'b', {ISO[1:]});
    if (b === null) throw new Error('b failed');
    return [a, b]
    """
    log = tmp_path / "exec.log"
    store = tmp_path / "store.db"
    flaky = SimWorker(latency=0.001, exec_log=str(log), fail=lambda r: "down" * (r.label == "b"))
    run_id, first = run_once(store, body, worker=flaky)
    assert first.status == "failed"
    kept_a, kept_b = first.kept_worktrees  # b failed, but it had written a file: kept too
    assert [Path(k.worktree_path).name for k in (kept_a, kept_b)] == [
        f"{run_id}-1",
        f"{run_id}-2",
    ]

    _, second = run_once(
        store, body, worker=SimWorker(latency=0.001, exec_log=str(log)), replay_from=run_id
    )
    assert second.status == "completed"
    assert second.result[1] == "base\n"  # b's own checkout: a's edit is in a's worktree
    a, b = second.agents
    assert (a.status, b.status) == ("cached", "done")
    # a ran once (the first session), b twice; a got no new worktree and keeps pointing at the
    # one its result was made in, which stays where it was.
    assert [line.split("\t")[1] for line in log.read_text().splitlines()] == ["a", "b", "b"]
    assert (a.worktree_path, a.worktree_branch) == (kept_a.worktree_path, kept_a.worktree_branch)
    # b ran again: its earlier worktree stays untouched, it got a new one beside it, and the
    # log says so.
    assert Path(b.worktree_path).name == f"{run_id}-2-2"
    assert (Path(kept_b.worktree_path) / "b.txt").read_text() == "by b"
    assert trees(repo) == [f"{run_id}-1", f"{run_id}-2", f"{run_id}-2-2"]
    assert f"[b] the worktree an earlier session kept stays at {kept_b.worktree_path} " in (
        "\n".join(second.logs)
    )
    from jshost.ui.summary import format_summary

    lines = format_summary(second, run_id)
    assert f"  {a.worktree_path} ({a.worktree_branch}) · [a] · kept by an earlier session" in lines
    assert f"  {b.worktree_path} ({b.worktree_branch}) · [b]" in lines
    with Store(store) as s:
        stored = [r.worktree_path for r in s.agents(run_id)]
    assert stored == [a.worktree_path, b.worktree_path]


def test_a_version_5_store_gains_the_worktree_columns(tmp_path):
    path = tmp_path / "jshost.db"
    db = sqlite3.connect(path)
    db.executescript("".join(_MIGRATIONS[v] for v in range(1, 6)))
    db.execute(
        "INSERT INTO runs (id, name, script, sha256, meta, status, created_at, started_at, "
        "caps, worker) VALUES ('wf_old', 'old', 's', 'h', '{}', 'completed', 1, 1, '{}', 'sim')"
    )
    db.execute(
        "INSERT INTO agents (run_id, idx, session, key, label, prompt, options, status) "
        "VALUES ('wf_old', 1, 1, 'k', 'a', 'p', '{}', 'done')"
    )
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()
    with Store(path) as store:
        [agent] = store.agents("wf_old")
    assert SCHEMA_VERSION >= 7
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert (agent.worktree_path, agent.worktree_branch) == (None, None)
    assert agent.to_json()["worktree"] is None


# ---- the sim worker's file markers ----------------------------------------------------------


def test_sim_file_markers_stay_inside_the_agents_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = """
    return await parallel([
      () => agent('[[sim:write=../escape.txt:x]]'),
      () => agent('[[sim:write=/etc/evil:x]]'),
      () => agent('[[sim:read=missing.txt]]'),
      () => agent('[[sim:write=sub/ok.txt:fine]] [[sim:read=sub/ok.txt]]'),
    ])
    """
    outcome = engine_run(body, workspace=tmp_path)
    assert outcome.result == [None, None, "[sim] missing.txt: no such file", "fine"]
    assert not (tmp_path.parent / "escape.txt").exists()
    assert any("a file marker needs a relative path inside" in f for f in outcome.failures)
    assert (tmp_path / "sub" / "ok.txt").read_text() == "fine"


def test_the_worktree_note_names_the_worktree_and_the_main_directory(tmp_path):
    from jshost.engine.worktrees import Worktree

    note = worktree_note(Worktree(tmp_path / "w", "worktree-x-1", "abc", tmp_path), tmp_path)
    assert f"isolated git worktree at {tmp_path / 'w'} (branch worktree-x-1)" in note
    assert f"main working directory ({tmp_path})" in note
    assert "deleted if you changed nothing" in note and "kept for the user to review" in note


def test_worktrees_dir_and_find_git_root(repo, tmp_path):
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert find_git_root(deep) == repo.resolve()
    # What the toolbox hides from Glob/Grep: the worktrees, for agents in the main checkout;
    # nothing for an agent inside a worktree (hiding its own parent would hide all it has).
    hidden = worktrees_dir(repo.resolve())
    assert hidden_worktrees(repo, repo) == (hidden,)
    assert hidden_worktrees(deep, deep) == (hidden,)
    assert hidden_worktrees(hidden / "wf_1-1", repo) == ()
    assert hidden_worktrees(tmp_path, tmp_path) == ()  # not a repository
    assert worktrees_dir(repo) == repo / ".claude" / "worktrees"
    assert worktree_name("wf_1", 3) == "wf_1-3"
