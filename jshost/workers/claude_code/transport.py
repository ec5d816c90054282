"""The SDK's subprocess transport, started in a session of its own and stopped at once.

The SDK spawns the program in jshost's own process group and, on close, waits up to 5 s for
it to exit, then 5 s more after SIGTERM (measured: ~6 s from Ctrl-C to return while a tool
ran). A run that is stopping cannot wait that long, and the program's own children (a
``Bash`` tool's command) must not outlive it. So this transport starts the program as the
leader of a new session and, when it is closed, notes every process the program started (its
descendants, and its session), sends it SIGTERM (it removes its entry in ``~/.claude/sessions``
then), waits at most ``STOP_GRACE`` and kills all of them: ~0.05–0.45 s in all. Nothing the
program writes is lost by this: the worker has read every message it needs, and
``--no-session-persistence`` means there is no session file to flush.

This subclasses the SDK's ``SubprocessCLITransport`` and reuses its command building and
stderr reading (private names, pinned by the ``<0.3`` bound and checked by the fake-program
tests).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from subprocess import PIPE

import anyio
from anyio.streams.text import TextReceiveStream, TextSendStream
from claude_agent_sdk import CLIConnectionError
from claude_agent_sdk._internal._task_compat import spawn_detached
from claude_agent_sdk._internal.transport import subprocess_cli
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport
from claude_agent_sdk._version import __version__ as _SDK_VERSION

from ...tools.reaper import REAPER

__all__ = ["STOP_GRACE", "SessionTransport", "process_tree", "session_members"]

_PROC = Path("/proc")
#: seconds the program has after SIGTERM before it and its children are killed
STOP_GRACE = 0.4


def _processes() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, session id) of every process (Linux ``/proc``; elsewhere: none)."""
    found: dict[int, tuple[int, int]] = {}
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        # pid (comm) state ppid pgrp session …; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3:
            found[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return found


def session_members(sid: int) -> list[int]:
    """Pids of the processes in session ``sid``."""
    return [pid for pid, (_, session) in _processes().items() if session == sid]


def process_tree(root: int) -> list[int]:
    """``root``'s descendants, and every process in the session ``root`` leads.

    Both, because the program starts its ``Bash`` commands in sessions of their own (so a
    session kill misses them) and a child whose parent died is no longer in the tree.
    """
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = {pid for pid, (_, sid) in table.items() if sid == root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(root)
    return sorted(found)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


class SessionTransport(SubprocessCLITransport):
    """The SDK's transport, with the program in its own session, stopped promptly."""

    _doomed: list[int] | None = None  # what the program had started when it was stopped

    async def connect(self) -> None:
        if self._process:
            return
        cmd = self._build_command()
        # The same environment the SDK's own connect() builds (minus its tracing and app
        # label extras), over os.environ: the user's Claude Code login keeps working.
        env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
        env["CLAUDE_CODE_ENTRYPOINT"] = "sdk-py"
        env.update(self._options.env)
        env["CLAUDE_AGENT_SDK_VERSION"] = _SDK_VERSION
        env.setdefault("CLAUDE_CODE_SDK_READS_SESSION_STATE", "1")
        if self._cwd:
            env["PWD"] = self._cwd
        try:
            # jshost's own until closed: no orphan sweep may take it (jshost/tools/reaper.py)
            with REAPER.spawning() as record:
                process = await anyio.open_process(
                    cmd,
                    stdin=PIPE,
                    stdout=PIPE,
                    stderr=PIPE,
                    cwd=self._cwd,
                    env=env,
                    start_new_session=True,
                )
                record(process.pid)
        except OSError as exc:
            if self._cwd and not Path(self._cwd).is_dir():
                raise CLIConnectionError(f"working directory does not exist: {self._cwd}") from exc
            raise CLIConnectionError(f"cannot start {self._cli_path}: {exc}") from exc
        self._process = process
        # The SDK's atexit reaper, for a jshost that dies before closing.
        subprocess_cli._ACTIVE_CHILDREN.add(process)
        assert process.stdout is not None and process.stdin is not None
        assert process.stderr is not None
        self._stdout_stream = TextReceiveStream(process.stdout)
        self._stderr_stream = TextReceiveStream(process.stderr)
        self._stderr_task = spawn_detached(self._handle_stderr())
        self._stdin_stream = TextSendStream(process.stdin)
        self._ready = True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Start stopping the program now (no await): note what it started, then SIGTERM it,
        so it can remove its entry in ``~/.claude/sessions``; :meth:`close` kills the rest."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        if self._doomed is None:
            self._doomed = process_tree(process.pid)
        _signal(process.pid, signal.SIGTERM)

    def _kill_all(self) -> None:
        process = self._process
        if process is None:
            return
        pids = {*(self._doomed or ()), *process_tree(process.pid)}
        if process.returncode is None:
            _signal(process.pid, signal.SIGKILL)
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        # Where /proc cannot be read: at least the process group the program leads.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    async def close(self) -> None:
        # The worker has what it needs by the time the SDK closes the transport (a result,
        # or a reason to stop): nothing is gained by the SDK's 5 s + 5 s grace. The program
        # gets STOP_GRACE after SIGTERM to tidy up, then it and all it started are killed.
        process = self._process
        if process is not None:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    self.stop()
                    with anyio.move_on_after(STOP_GRACE):
                        await process.wait()
                self._kill_all()
        await super().close()
        if process is not None and process.returncode is not None:
            REAPER.forget(process.pid)
            # what the program's commands shed (`env -i setsid …`) was handed to jshost
            await REAPER.sweep()
