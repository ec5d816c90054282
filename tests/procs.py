"""Helpers for tests that drive real ``python -m jshost`` processes and read their store.

Agents are told apart by an ``item-<n>`` tag in their prompt: the sim worker's exec log
(``JSHOST_SIM_EXEC_LOG``, one line per execution) and its results both quote the prompt.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["committed", "executed", "finish", "jshost", "kill_after", "kill_when", "run_id_of"]

_ITEM = re.compile(r"item-(\d+)")


def jshost(
    home: Path,
    *args: str,
    exec_log: Path | None = None,
    env: dict[str, str] | None = None,
    **kw,
) -> subprocess.Popen:
    """Start ``python -m jshost ARGS`` with its store in ``home`` and no API key or JSHOST_*."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "JSHOST_"))}
    full["JSHOST_HOME"] = str(home)
    if exec_log is not None:
        full["JSHOST_SIM_EXEC_LOG"] = str(exec_log)
    full.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "jshost", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """Wait for ``proc``; its exit code, stdout and stderr (which must hold no traceback)."""
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def executed(log: Path) -> list[int]:
    """Items the sim worker ran, in order, one per execution."""
    if not log.exists():
        return []
    return [int(_ITEM.search(line).group(1)) for line in log.read_text().splitlines()]


def committed(db: Path) -> set[int]:
    """Items whose result the store holds (results quote the prompt, which names the item)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT result FROM journal WHERE type = 'result'").fetchall()
    except sqlite3.OperationalError as exc:  # a store still being created has no tables yet
        if "no such table" not in str(exc):
            raise
        rows = []
    finally:
        con.close()
    return {int(_ITEM.search(json.loads(r)).group(1)) for (r,) in rows}


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], what: str) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` (checked every 2 ms); ``what`` it waits for."""
    end = time.monotonic() + 30
    while not ready():
        assert proc.poll() is None, f"finished before {what}: {proc.stderr.read()}"
        assert time.monotonic() < end, "no progress"
        time.sleep(0.002)
    proc.kill()
    proc.wait()


def kill_after(
    proc: subprocess.Popen, log: Path, executions: int, db: Path, saved: set[int]
) -> None:
    """SIGKILL ``proc`` once it has started ``executions`` agents and saved a new result."""

    def ready() -> bool:
        return len(executed(log)) >= executions and db.exists() and bool(committed(db) - saved)

    kill_when(proc, ready, f"{executions} executions")


def run_id_of(db: Path) -> str:
    """The id of the only run in the store ``db``."""
    con = sqlite3.connect(db)
    try:
        (run_id,) = con.execute("SELECT id FROM runs").fetchone()
    finally:
        con.close()
    return run_id
