"""The live view and the interactive view's agent list and detail name an isolated agent's
worktree (found missing by a new user of issue 20). Real engine, sim worker, real git."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import trio
from conftest import script_source
from rich.console import Console

from jshost.engine import Engine, Limits
from jshost.script import parse_script
from jshost.ui.dispatch import Stamped
from jshost.ui.interactive.widgets import _agent_cells, agent_detail
from jshost.ui.live import LiveView
from jshost.ui.state import _agent_from_record
from jshost.workers.sim import SimWorker


def _repo(path: Path) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(path)]
    path.mkdir()
    subprocess.run([*git, "init", "-q"], check=True)
    (path / "f.txt").write_text("hello\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return path


def test_the_views_name_a_running_agents_worktree(tmp_path):
    repo = _repo(tmp_path / "repo")
    view = LiveView(Console(file=io.StringIO(), force_terminal=True), run_id="wf_abc")
    body = "return await agent('fix it [[sim:hang]]', {label: 'fixer', isolation: 'worktree'})"
    script = parse_script(script_source(body), path="t.js")
    engine = Engine(
        script,
        worker=SimWorker(latency=0),
        sink=lambda event: view.handle([Stamped(time.monotonic(), event)]),
        limits=Limits(),
        workspace=repo,
    )
    seen: dict[str, str] = {}

    async def drive() -> None:
        with trio.fail_after(30):
            while not (engine.agents and engine.agents[0].worktree_path):
                await trio.sleep(0.01)
        rec = engine.agents[0]
        console = Console(record=True, width=100, force_terminal=True)
        console.print(view.render(time.monotonic()))
        seen["live"] = console.export_text()
        agent = _agent_from_record(rec)
        detail, _ = agent_detail(agent, time.monotonic(), selected=0, expanded=set())
        seen["detail"] = detail.plain
        seen["row"] = " ".join(str(c) for c in _agent_cells(agent, time.monotonic()))
        seen["path"], seen["branch"] = rec.worktree_path, rec.worktree_branch or ""
        engine.stop()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drive)
            await engine.run()

    trio.run(main)
    name = Path(seen["path"]).name
    assert f"fixer  ⎇ {name}" in seen["live"]
    assert f"worktree {seen['path']} ({seen['branch']})" in seen["detail"]
    assert "kept" not in seen["detail"]  # it is still running
    assert f"fixer  ⎇ {name}" in seen["row"]  # the interactive view's agent list
