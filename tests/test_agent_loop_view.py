"""The tool loop's ``ask`` in the interactive view: an anthropic agent's Bash call that the
rules say to ask about pauses that agent and puts the question to the person, through the real
view (textual's pilot) and its :class:`ViewAsker`, while the other agents go on; the answer
decides whether the real command runs. The loopback Messages server plays the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from messages_server import MessagesServer, Reply, result_text, tool_results
from test_interactive import until
from test_permission_prompt import Session, permission_entries, question

from jshost._api import ToolOptions, build_toolbox
from jshost.config import Config
from jshost.workers.anthropic import AnthropicWorker, RetryPolicy

FAST = RetryPolicy(backoff=0.001, max_backoff=0.004, retry_after_cap=0.05, stall=10.0)
BODY = """
return await parallel([
  () => agent('push it', { label: 'pusher' }),
  () => agent('lint it', { label: 'lint' }),
])
"""


def model(marker: Path):
    def reply(body: dict[str, Any]) -> Reply:
        prompt = body["messages"][0]["content"]
        if prompt == "lint it":
            return Reply(text="lint ok", delay=0.2)
        if len(body["messages"]) == 1:
            return Reply(calls=[("Bash", {"command": f"echo pushed > {marker.name}"})])
        return Reply(text=result_text(tool_results(body)[0]))

    return reply


@pytest.mark.parametrize(("press", "answer", "ran"), [("1", "once", True), ("3", "deny", False)])
def test_an_ask_pauses_that_agent_and_the_answer_decides(tmp_path, press, answer, ran):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "home").mkdir()
    marker = ws / "pushed.txt"
    with MessagesServer(model(marker)) as server:
        worker = AnthropicWorker(
            api_key="sk-test", base_url=server.url, policy=FAST, config=Config()
        )
        worker.toolbox = build_toolbox(ToolOptions(workspace=ws, home=tmp_path / "home"), worker)
        s = Session(BODY, worker=worker)
        worker.toolbox.asker = s.asker  # as prepare(asker=...) wires the view's asker

        async def scenario(pilot: Any) -> None:
            await question(pilot, f"Bash echo pushed > {marker.name}")
            await until(pilot, lambda: s.status(2) == "done", "the other agent")
            assert s.status(1) == "running" and not marker.exists()
            await pilot.press(press)
            await until(pilot, lambda: pilot.app.view.finished, "the run's end")
            await pilot.press("q")

        outcome = s.drive(scenario)
    assert outcome.status == "completed"
    [entry] = permission_entries(outcome, 1)
    assert entry["answer"] == answer
    assert marker.exists() is ran
    assert outcome.agents[0].last_tool.status == ("ok" if ran else "denied")
