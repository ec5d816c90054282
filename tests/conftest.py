"""Shared fixtures: isolated state, no network, and helpers that run a script on the sim worker."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import textwrap
from typing import Any

import pytest
import quickjs
import trio

from jshost._api import Workflow, prepare
from jshost.engine import NO_ARGS, Engine, Limits, RunOutcome
from jshost.script import parse_script
from jshost.script.validate import validate_source
from jshost.store import RunRecorder, Store
from jshost.workers.sim import SimWorker


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"sqlite {sqlite3.sqlite_version}; quickjs-ng binding {quickjs.__file__}"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("JSHOST_HOME", str(tmp_path / "jshost-home"))
    monkeypatch.setenv("JSHOST_RAISE_ERRORS", "1")
    # No installed worker plugin joins a test unless the test asks for it (tests/test_plugins.py).
    monkeypatch.setenv("JSHOST_LOAD_PLUGINS", "")
    for key in list(os.environ):
        if key.startswith("ANTHROPIC_"):
            monkeypatch.delenv(key)
    # The reference's settings too (jshost honours them): a developer's own must not leak in.
    for key in (
        "JSHOST_MAX_CONCURRENT_AGENTS",
        "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS",
        "MAX_STRUCTURED_OUTPUT_RETRIES",
        "CLAUDE_CODE_SUBAGENT_MODEL",
        "CLAUDE_CODE_SUBAGENT_MODEL_FORCE",
    ):
        monkeypatch.delenv(key, raising=False)


def _jshost_children() -> list[int]:
    """Pids of this process's children that run ``python -m jshost``."""
    me = str(os.getpid())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == me and b"jshost" in argv[:4]:
            pids.append(int(entry))
    return pids


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    """Kill any ``jshost`` child a test left running (a failed ``expect`` on a pseudo-terminal
    used to leave ``jshost watch`` spinning for hours, slowing every later test)."""
    yield
    for pid in _jshost_children():
        with contextlib.suppress(OSError):
            group = os.getpgid(pid)
            if group != os.getpgrp():  # its own session: take its children with it
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)


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


def begin(store: Store, script: Any, args_json: str | None = None) -> RunRecorder:
    """Record a new run of ``script`` in ``store``."""
    return store.begin_run(
        name=script.meta.name,
        path=script.path,
        script=script.source,
        sha256=script.sha256,
        args_json=args_json,
        meta=script.meta.raw,
        caps={"concurrency": 16, "max_agents": 1000, "budget": None},
        worker="sim",
        model=None,
    )


def run_once(
    path: Any,
    body: str,
    *,
    worker: Any = None,
    replay_from: str | None = None,
    source: str | None = None,
    **limits: Any,
) -> tuple[str, RunOutcome]:
    """Run ``body`` with a store at ``path``; resume run ``replay_from`` when given.

    The run goes through the pipeline the CLI and ``jshost.run`` use (``jshost._api``).
    """
    script = parse_script(source or script_source(body), path="flow.js")
    workflow = Workflow(script, validate_source(script.source, path="flow.js"))
    worker = worker or SimWorker(latency=0.001)

    async def main():
        with Store(path) as store:
            prepared = prepare(
                workflow,
                worker=worker,
                limits=Limits(**limits),
                args=NO_ARGS,
                store=store,
                resume_id=replay_from,
            )
            outcome = await prepared.serve(prepared.engine())
            save_error = prepared.finish(outcome)
            assert save_error is None, save_error
            return prepared.run_id, outcome

    return trio.run(main)
