"""An API nobody answers (``--base-url`` to a closed loopback port): the reference's outcome
(every agent resolves to null with a failure line), but fast, and said once in the summary.

The real anthropic SDK and the real CLI; the port is one that was bound and closed again.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from click.testing import CliRunner

from jshost.cli import cli

SCRIPT = """export const meta = { name: 'unreachable', description: 'no API here' }
const first = await parallel([1, 2, 3, 4].map(i => () => agent('task ' + i, { label: 't' + i })))
const after = await agent('after', { label: 'after' })
return { first, after }
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closed_port_fails_every_agent_fast_and_says_so_once(tmp_path: Path):
    path = tmp_path / "flow.js"
    path.write_text(SCRIPT, encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}"
    t0 = time.monotonic()
    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--yes", "--base-url", url, "--concurrency", "2", "--no-interactive"],
        env={"ANTHROPIC_API_KEY": "sk-test"},
    )
    took = time.monotonic() - t0
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    # The reference's outcome: the run completes, every agent() resolved to null.
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"first": [None, None, None, None], "after": None}
    # Before: each agent spent ~35 s in the SDK's retry ladder (well over a minute in all).
    assert took < 15, f"took {took:.1f} s"
    err = result.stderr
    reason = f"cannot reach the API at {url}: connection refused"
    for label in ("t1", "t2", "t3", "t4", "after"):
        assert f"[{label}] failed: {reason}" in err
    summary = err[err.index("completed ·") :]
    assert summary.splitlines()[1] == f"{reason}: 5 agents failed without an answer"
    # Agents after the API refused every attempt were not sent at all.
    assert "[after] failed: " + reason + " (not tried again" in summary


def test_json_summary_names_the_problem(tmp_path: Path):
    path = tmp_path / "flow.js"
    path.write_text(SCRIPT, encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}"
    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--yes", "--base-url", url, "--json"],
        env={"ANTHROPIC_API_KEY": "sk-test"},
    )
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (
        summary["problem"]
        == f"cannot reach the API at {url}: connection refused: 5 agents failed without an answer"
    )
    assert summary["agents"]["failed"] == 5
