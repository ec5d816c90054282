"""The interactive permission prompt, the agent detail's transcript, and ``watch`` showing an
agent that waits for an answer.

A real engine runs a script on the sim worker on its own thread and records it in a real store,
as ``jshost run --interactive`` wires it; the view is driven by textual's pilot. The asking
agent's ``[[sim:tool=… => ask]]`` call goes through the real :class:`ViewAsker`: that agent's
trio task waits while the others go on, and the pilot answers as a user would (keys, mouse).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import trio
from click.testing import CliRunner
from conftest import script_source
from test_confirm import env  # noqa: F401 - the terminal's environment, a fixture
from test_interactive import DEADLINE, screen, shown, until

from jshost.cli import cli
from jshost.engine import Engine, EngineThread, Limits
from jshost.permissions.decision import Decision, PermissionRequest
from jshost.script import parse_script
from jshost.store import Store
from jshost.ui.asker import ViewAsker
from jshost.ui.dispatch import EventQueue
from jshost.ui.interactive import LiveSource, RunApp, StoreSource
from jshost.ui.interactive.permission import PermissionScreen
from jshost.workers.sim import SimWorker

META = "export const meta = { name: 'acting', description: 'agents that ask' }\n"

# The pusher asks; two others finish while the question is up; the last starts only after.
ONE_ASKS = """
const [push, others] = await parallel([
  () => agent('[[sim:tool=Read README.md]] [[sim:tool=Bash git push origin main => ask]] push',
              { label: 'pusher' }),
  () => parallel([
    () => agent('[[sim:latency=0.2]] lint', { label: 'lint' }),
    () => agent('[[sim:latency=0.3]] test', { label: 'test' }),
  ]),
])
return { push, others }
"""


class Session:
    """A run as ``jshost run --interactive`` wires it, with the view's asker."""

    def __init__(self, body: str, *, worker: Any = None, **limits: Any) -> None:
        script = parse_script(script_source(body, META), path="acting.js")
        self.store = Store()
        self.recorder = self.store.begin_run(
            name=script.meta.name,
            path="acting.js",
            script=script.source,
            sha256=script.sha256,
            args_json=None,
            meta=script.meta.raw,
            caps={},
            worker="sim",
            model=None,
        )
        self.run_id = self.recorder.run_id
        self.asker = ViewAsker()
        self.worker = worker or SimWorker(latency=0, asker=self.asker)
        queue = EventQueue()
        self.engine = Engine(
            script,
            worker=self.worker,
            limits=Limits(**limits),
            sink=queue.put,
            recorder=self.recorder,
        )
        self.source = LiveSource(self.engine, queue, run_id=self.run_id, asker=self.asker)
        self.app = RunApp(self.source)

    def drive(self, scenario: Any, size: tuple[int, int] = (100, 32)) -> Any:
        async def main() -> None:
            async with self.app.run_test(size=size) as pilot:
                await scenario(pilot)

        asyncio.run(main())
        outcome = self.source.runner.wait(DEADLINE)
        self.recorder.finish(outcome)
        self.store.close()
        return outcome

    def status(self, index: int) -> str:
        return self.engine.agents[index - 1].status if len(self.engine.agents) >= index else ""


def asking(app: RunApp) -> PermissionScreen | None:
    return app.screen if isinstance(app.screen, PermissionScreen) else None


async def question(pilot: Any, tool: str) -> PermissionScreen:
    """Wait until the prompt asks about ``tool``; the prompt."""
    await until(pilot, lambda: asking(pilot.app) is not None, "the permission prompt")
    text = await shown(pilot, tool)
    assert "asks to use a tool" in text
    prompt = asking(pilot.app)
    assert prompt is not None
    return prompt


def permission_entries(outcome: Any, index: int) -> list[dict[str, Any]]:
    return [e for e in outcome.agents[index - 1].transcript if e["kind"] == "permission"]


def tool_uses(outcome: Any, index: int) -> list[str]:
    return [f"{e['tool']} {e['input']}" for e in outcome.agents[index - 1].transcript
            if e["kind"] == "tool_use"]  # fmt: skip


def test_allow_once_lets_the_call_go_on_while_the_other_agents_never_waited():
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        prompt = await question(pilot, "Bash git push origin main")
        text = screen(pilot.app)
        assert "Agent #1 pusher asks to use a tool" in text
        assert '"command": "git push origin main"' in text
        assert "allow for this run adds the rule Bash(git push origin main)" in text
        assert "1 Allow once" in text and "2 Allow for this run" in text and "3 Deny" in text
        # the others go on while it waits: both finish with the question still up
        await until(pilot, lambda: s.status(2) == s.status(3) == "done", "lint and test")
        assert s.status(1) == "running" and asking(pilot.app) is prompt
        assert s.engine.agents[0].last_tool.status == "waiting"
        await pilot.press("1")
        await until(pilot, lambda: s.status(1) == "done", "the pusher")
        assert asking(pilot.app) is None
        assert "allowed once: Bash(git push origin main) for #1 [pusher]" in pilot.app.message
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    outcome = s.drive(scenario)
    assert outcome.status == "completed"
    [entry] = permission_entries(outcome, 1)
    assert entry["answer"] == "once" and entry["tool"] == "Bash"
    result = [e for e in outcome.agents[0].transcript if e["kind"] == "tool_result"][-1]
    assert result["is_error"] is False
    assert outcome.agents[0].last_tool.status == "ok"


@pytest.mark.parametrize(
    ("press", "answer", "status"),
    [("2", "run", "ok"), ("a", "run", "ok"), ("3", "deny", "denied"), ("escape", "deny", "denied")],
)
def test_keys_answer_allow_for_this_run_or_deny(press, answer, status):
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        await question(pilot, "Bash git push origin main")
        await pilot.press(press)
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    outcome = s.drive(scenario)
    [entry] = permission_entries(outcome, 1)
    assert entry["answer"] == answer
    assert outcome.agents[0].last_tool.status == status


def test_the_buttons_answer_with_the_mouse_and_enter_alone_denies():
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        await question(pilot, "Bash git push origin main")
        assert pilot.app.focused is not None and pilot.app.focused.id == "deny"
        await pilot.click("#run")
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    assert permission_entries(s.drive(scenario), 1)[0]["answer"] == "run"

    s = Session(ONE_ASKS)

    async def stray_enter(pilot):
        await question(pilot, "Bash git push origin main")
        await pilot.press("enter")  # the focused button, Deny: a stray Enter allows nothing
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    assert permission_entries(s.drive(stray_enter), 1)[0]["answer"] == "deny"


def test_arrows_and_tab_move_between_the_buttons_and_enter_takes_the_focused_one():
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        await question(pilot, "Bash git push origin main")
        seen = [pilot.app.focused.id]
        for key in ("left", "left", "left", "tab", "shift+tab", "right"):
            await pilot.press(key)
            seen.append(pilot.app.focused.id)
        assert seen == ["deny", "run", "once", "deny", "once", "deny", "once"]
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    assert permission_entries(s.drive(scenario), 1)[0]["answer"] == "once"


TWO_ASK = """
return await parallel([
  () => agent('[[sim:tool=Bash rm -rf build => ask]] clean', { label: 'cleaner' }),
  () => agent('[[sim:latency=0.1]] [[sim:tool=Write notes.md => ask]] note', { label: 'writer' }),
])
"""


def test_questions_queue_and_are_asked_one_after_the_other():
    s = Session(TWO_ASK)

    async def scenario(pilot):
        await question(pilot, "Bash rm -rf build")
        await until(pilot, lambda: len(s.asker.pending()) == 2, "the second question")
        await shown(pilot, "1 more question after this one")
        await pilot.press("3")
        prompt = await question(pilot, "Write notes.md")
        assert "Agent #2 writer" in screen(pilot.app)
        assert "more question" not in screen(pilot.app)
        assert prompt.pending.request.label == "writer"
        await pilot.press("1")
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    outcome = s.drive(scenario)
    assert permission_entries(outcome, 1)[0]["answer"] == "deny"
    assert permission_entries(outcome, 2)[0]["answer"] == "once"


def test_ctrl_c_denies_every_open_question_at_once_and_the_run_stops():
    s = Session(TWO_ASK)

    async def scenario(pilot):
        await question(pilot, "Bash rm -rf build")
        await until(pilot, lambda: len(s.asker.pending()) == 2, "both questions")
        started = time.monotonic()
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not pilot.app.is_running, "the view to close")
        assert time.monotonic() - started < 5
        assert s.asker.closed and s.asker.pending() == []

    outcome = s.drive(scenario)
    assert outcome.status == "stopped"
    assert s.app.return_code == 130


def test_a_question_whose_agent_is_skipped_goes_away_by_itself():
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        await question(pilot, "Bash git push origin main")
        # skipped from elsewhere (the view's keys belong to the prompt while it is up)
        await asyncio.to_thread(s.source.steer, "skip_agent", 1)
        await until(pilot, lambda: asking(pilot.app) is None, "the prompt to go")
        assert s.asker.pending() == [] and not s.asker.closed
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    outcome = s.drive(scenario)
    assert outcome.agents[0].status == "skipped"
    assert outcome.result == {"push": None, "others": [outcome.agents[1].result,
                                                       outcome.agents[2].result]}  # fmt: skip


def test_the_agent_row_says_waiting_and_the_detail_shows_the_transcript_once_it_ends():
    s = Session(ONE_ASKS)

    async def scenario(pilot):
        app = pilot.app
        await question(pilot, "Bash git push origin main")
        # the question comes straight from the asker; the view's events a poll later
        await until(pilot, lambda: app.view.agent(1) is not None and app.view.agent(1).waiting)
        view_agent = app.view.agent(1)
        assert view_agent.tool_calls == (
            "Read README.md",
            "waiting for your answer: Bash(git push origin main)",
        )
        await pilot.press("2")
        await until(pilot, lambda: app.view.finished, "the run's end")
        await pilot.press("enter")  # all agents
        await pilot.press("enter")  # #1 in detail
        text = await shown(pilot, "▸ transcript")
        assert "→ Read README.md" in text
        assert "→ Bash git push origin main" in text
        assert "? Bash: allowed for this run by you (rule Bash(git push origin main))" in text
        await pilot.press("q")

    s.drive(scenario, size=(110, 50))


def test_without_the_view_nobody_is_asked_and_ask_means_deny():
    # The plain view, --json, --yes: the pipeline gets no asker.
    script = parse_script(script_source(ONE_ASKS, META), path="acting.js")
    worker = SimWorker(latency=0)
    thread = EngineThread(Engine(script, worker=worker, limits=Limits())).start()
    outcome = thread.wait(DEADLINE)
    [entry] = permission_entries(outcome, 1)
    assert entry["answer"] is None and outcome.agents[0].last_tool.status == "denied"
    assert outcome.status == "completed"


def test_watch_shows_an_agent_waiting_for_an_answer(tmp_path):
    s = Session(ONE_ASKS)
    runner = EngineThread(s.engine).start()  # no view here: the question stays open
    deadline = time.monotonic() + DEADLINE
    while not s.asker.pending():
        assert time.monotonic() < deadline, "nobody asked"
        time.sleep(0.02)
    store = Store(reading=True)
    app = RunApp(StoreSource(store, s.run_id), cwd=tmp_path)

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.view is not None and app.view.agent(1) is not None)
            await until(pilot, lambda: app.view.agent(1).waiting, "the stored waiting state")
            assert asking(app) is None  # a watcher answers nothing
            await shown(pilot, "agents 1 running (1 waiting for an answer) · 0 queued")
            await pilot.press("enter")  # all agents
            text = await shown(pilot, "waiting for your answer: Bash(git push origin main)")
            row = next(line for line in text.splitlines() if "pusher" in line)
            assert "#1 waiting" in " ".join(row.split())
            await pilot.press("enter")  # the detail
            text = await shown(pilot, "paused: waiting for your answer")
            # and inspect, meanwhile, says what the running agent waits on
            out = CliRunner().invoke(cli, ["inspect", s.run_id, "--agent", "1"]).stdout
            assert "latest tool call: Bash git push origin main (waiting)" in out
            [pending] = s.asker.pending()
            s.asker.answer(pending.id, "once")
            await until(pilot, lambda: not app.view.agent(1).waiting, "the answer to be stored")
            await pilot.press("q")

    try:
        asyncio.run(scenario())
        outcome = runner.wait(DEADLINE)
    finally:
        s.asker.close()
        store.close()
    s.recorder.finish(outcome)
    s.store.close()
    assert outcome.status == "completed"


def test_the_asker_answers_across_threads_and_close_denies_what_is_open():
    asker = ViewAsker()
    request = PermissionRequest(1, "a", "Bash", {"command": "ls"}, Decision("ask", "why"))
    answers: dict[int, str] = {}

    def answer_from_another_thread() -> None:
        deadline = time.monotonic() + DEADLINE
        while len(asker.pending()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        first, _second = asker.pending()
        assert asker.answer(first.id, "run") and not asker.answer(first.id, "once")
        assert asker.close() == 1  # the second one, denied at once

    async def main() -> None:
        helper = threading.Thread(target=answer_from_another_thread)
        helper.start()
        async with trio.open_nursery() as nursery:

            async def ask(n: int) -> None:
                answers[n] = await asker.ask(request)

            nursery.start_soon(ask, 1)
            await trio.sleep(0.05)
            nursery.start_soon(ask, 2)
        await trio.to_thread.run_sync(helper.join)
        with trio.fail_after(1):
            answers[3] = await asker.ask(request)  # closed: deny without waiting

    trio.run(main)
    assert answers == {1: "run", 2: "deny", 3: "deny"}
    with pytest.raises(ValueError, match="answer must be"):
        asker.answer(1, "always")  # type: ignore[arg-type]


@pytest.mark.slow
def test_jshost_run_on_a_terminal_asks_and_records_the_answer(tmp_path, env):  # noqa: F811
    from test_confirm import Terminal

    path = tmp_path / "acting.js"
    path.write_text(script_source(ONE_ASKS, META), encoding="utf-8")
    env["COLUMNS"], env["LINES"] = "80", "30"
    term = Terminal(["run", str(path), "--yes", "--sim-latency", "0"], cwd=tmp_path, env=env)
    term.expect("asks to use a tool")
    term.expect("Bash git push origin main")
    term.send("2")
    term.expect("q leaves")
    term.send("q")
    assert term.wait() == 0
    with Store(reading=True) as store:
        [run] = store.list_runs()
        pusher = store.agents(run.id)[0]
    [entry] = [e for e in pusher.transcript if e["kind"] == "permission"]
    assert entry["answer"] == "run"
    assert pusher.last_tool is not None and pusher.last_tool["status"] == "ok"


def test_the_prompt_shows_the_models_input_inert():
    s = Session(
        "return await agent('[[sim:tool=Bash printf \\u001b[2J\\u001b[31mboo\\u0007 => ask]]',"
        " { label: 'sly\\u202e' })"
    )

    async def scenario(pilot):
        await question(pilot, "Bash printf")
        text = screen(pilot.app)
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "Bash printf ⟨U+001B⟩[2J⟨U+001B⟩[31mboo⟨U+0007⟩" in text
        assert "Agent #1 sly⟨U+202E⟩ asks to use a tool" in text
        await pilot.press("3")
        await until(pilot, lambda: pilot.app.view.finished, "the run's end")
        await pilot.press("q")

    assert permission_entries(s.drive(scenario), 1)[0]["answer"] == "deny"
