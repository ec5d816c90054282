"""Shared fixtures: isolated state, no network, and helpers that run a script on the sim worker."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from typing import Any

import pytest
import quickjs
import trio

from jshost.engine import NO_ARGS, Engine, Limits, RunOutcome
from jshost.script import parse_script
from jshost.workers.sim import SimWorker


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"sqlite {sqlite3.sqlite_version}; quickjs-ng binding {quickjs.__file__}"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "jshost-home"))
    monkeypatch.setenv("JSHOST_RAISE_ERRORS", "1")
    for key in list(os.environ):
        if key.startswith("ANTHROPIC_"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("JSHOST_MAX_CONCURRENT_AGENTS", raising=False)


@pytest.fixture
def anyio_backend():
    return "trio"


META = "export const meta = { name: 'test', description: 'a test workflow' }\n"


def script_source(body: str, meta: str = META) -> str:
    """A script made of the standard test meta line and ``body`` (dedented)."""
    return meta + textwrap.dedent(body).strip("\n") + "\n"


async def arun(
    body: str,
    *,
    meta: str = META,
    worker: Any = None,
    limits: Limits | None = None,
    args: Any = NO_ARGS,
    sink: Any = None,
    path: str | None = "test.js",
    **limit_kw: Any,
) -> RunOutcome:
    """Run ``body`` (after the test meta) on the sim worker inside the current trio run."""
    script = parse_script(script_source(body, meta), path=path)
    if limits is None:
        limits = Limits(**limit_kw)
    worker = worker or SimWorker(latency=0.001)
    return await Engine(script, worker=worker, limits=limits, args=args, sink=sink).run()


def run(body: str, **kw: Any) -> RunOutcome:
    """Synchronous :func:`arun`."""
    return trio.run(lambda: arun(body, **kw))
