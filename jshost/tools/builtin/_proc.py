"""Running a program in a process group of its own, and taking the whole group down after.

``Bash`` and ripgrep run this way. The program starts in a new session (its own process
group, no controlling terminal), with stdin on ``/dev/null``. When it ends, when its caller
stops reading, when a timeout fires or when trio cancels the call (Ctrl-C, a stopped run), every
process left in the group gets SIGKILL at once, so nothing it started is left running.

The group is killed while its leader is still unreaped (a zombie keeps its pid, and with it the
group id, from being reused), so the kill can never reach an unrelated process. A process that
leaves the group on purpose (``setsid``, a double-forking daemon) is beyond that reach; reading
its output stops :data:`DRAIN_SECONDS` after the program itself ends. For those, a caller may
give a ``marker``: the program's environment gets ``JSHOST_TOOL_CALL=<marker>``, which every
process it starts inherits, and when the program ends (or is stopped) every process of this
user whose environment holds it is killed too (:func:`kill_marked`, Linux's ``/proc``). A
process that starts with an environment of its own (``env -i``) escapes that too; for it, a
call with a marker also holds jshost as a child subreaper (:mod:`jshost.tools.reaper`) from
before its fork, so every process the call leaves behind is handed to jshost when its parent
exits, and the sweep when the program ends (before the output is drained: a daemon holding
the pipe costs no :data:`DRAIN_SECONDS`) and the one after the call kill it; the marker scan
is then not needed, and runs only where jshost could not become a subreaper. Every program
started here is recorded as jshost's own until it has been waited for, so no sweep takes it
for an orphan.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import trio

from ...config import CREDENTIAL_VARS
from ..reaper import REAPER

__all__ = [
    "CALL_MARKER",
    "DRAIN_SECONDS",
    "kill_marked",
    "off_loop",
    "run_in_group",
    "tool_env",
]

T = TypeVar("T")

#: after the program exits, how long its output may stay open (held by a process that left
#: the group) before reading stops
DRAIN_SECONDS = 2.0
_CHUNK = 65536
#: the environment variable that names one call's processes (see ``marker``)
CALL_MARKER = "JSHOST_TOOL_CALL"
#: sweeps of /proc after a marked program ends: a process may fork while one runs
_SWEEPS = 5


def tool_env() -> dict[str, str]:
    """This process's environment without the model service's credentials
    (``jshost.config.CREDENTIAL_VARS``), for every program a tool runs: a command's output is
    stored and sent to the model, and a program's ``/proc/<pid>/environ`` is readable by any
    command of the same user while it runs (a concurrent ``Bash`` call's)."""
    return {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args, stop=event)`` on a worker thread; a cancelled call returns at once.

    The thread is abandoned on cancellation (trio cannot interrupt it) and ``event`` is set,
    so ``fn``, which checks it between files or lines, stops soon after instead of running to
    its caps in the background.
    """
    stop = threading.Event()
    try:
        return await trio.to_thread.run_sync(
            functools.partial(fn, *args, stop=stop), abandon_on_cancel=True
        )
    finally:
        stop.set()


def kill_marked(marker: str) -> int:
    """SIGKILL every process of this user whose environment holds ``CALL_MARKER=marker``;
    how many were killed. Each is held by a pidfd before its environment is read, so the
    signal cannot reach a process that reused the pid."""
    if not os.path.isdir("/proc") or not hasattr(signal, "pidfd_send_signal"):
        return 0
    needle = f"\0{CALL_MARKER}={marker}\0".encode()
    uid, me, killed = os.getuid(), os.getpid(), 0
    for _ in range(_SWEEPS):
        found = 0
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            try:
                fd = os.pidfd_open(int(name))
            except OSError:
                continue
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                with open(f"/proc/{name}/environ", "rb") as f:
                    env = b"\0" + f.read() + b"\0"
                if needle in env:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                    found += 1
            except OSError:
                continue
            finally:
                os.close(fd)
        killed += found
        if not found:
            break
    return killed


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _pump(stream: trio.abc.ReceiveStream, sink: Callable[[bytes], bool]) -> bool:
    """Feed ``stream`` to ``sink`` until EOF (True) or until ``sink`` says stop (False)."""
    while True:
        chunk = await stream.receive_some(_CHUNK)
        if not chunk:
            return True
        if sink(chunk) is False:
            return False


async def run_in_group(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_stdout: Callable[[bytes], bool | None],
    on_stderr: Callable[[bytes], bool | None] | None = None,
    marker: str | None = None,
) -> int | None:
    """Run ``argv``; its exit status, or None when a sink returned False (it was stopped).

    Without ``on_stderr``, stderr goes into the same pipe as stdout (interleaved as written).
    Cancellation kills the group and re-raises once every process of it is gone. With
    ``marker``, the processes that left the group are looked for and killed too (above).
    """
    if marker is not None:
        env = {**env, CALL_MARKER: marker}
        REAPER.hold()  # from before the fork: only then are its orphans handed to jshost
    try:
        with REAPER.spawning() as record:
            proc = await trio.lowlevel.open_process(
                list(argv),
                cwd=os.fspath(cwd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if on_stderr is not None else subprocess.STDOUT,
                start_new_session=True,
            )
            record(proc.pid, marker)
    except BaseException:
        if marker is not None:
            await REAPER.release()
        raise
    pgid = proc.pid  # a new session's leader: its pid is the group's id
    pidfd: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(proc.pid)
    stopped = False
    try:
        async with trio.open_nursery() as nursery:
            pumps_done = trio.Event()
            remaining = [1 if on_stderr is None else 2]

            async def pump(stream: trio.abc.ReceiveStream, sink: Callable) -> None:
                nonlocal stopped
                try:
                    if not await _pump(stream, sink):
                        stopped = True
                        nursery.cancel_scope.cancel()
                finally:
                    remaining[0] -= 1
                    if not remaining[0]:
                        pumps_done.set()

            assert proc.stdout is not None
            nursery.start_soon(pump, proc.stdout, on_stdout)
            if on_stderr is not None:
                assert proc.stderr is not None
                nursery.start_soon(pump, proc.stderr, on_stderr)
            if pidfd is not None:
                await trio.lowlevel.wait_readable(pidfd)  # exited, not yet reaped
            else:  # pragma: no cover (Linux before 5.3)
                await proc.wait()
            # what the program left behind (a `cmd &`) would hold the pipe open: gone now
            _kill_group(pgid)
            if marker is not None:  # and what left the group, before waiting on the pipe
                await REAPER.sweep(ending=proc.pid)
            with trio.move_on_after(DRAIN_SECONDS):
                await pumps_done.wait()
            nursery.cancel_scope.cancel()
    finally:
        _kill_group(pgid)
        if marker is not None and not REAPER.active:  # else every one is handed to jshost
            with trio.CancelScope(shield=True), trio.move_on_after(0.5):
                await trio.to_thread.run_sync(kill_marked, marker, abandon_on_cancel=True)
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await proc.wait()
        if proc.returncode is not None:
            REAPER.forget(proc.pid)
        if pidfd is not None:
            os.close(pidfd)
        if marker is not None:
            # what shed the group and the marker (`env -i setsid …`) was handed to jshost
            await REAPER.release()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with trio.CancelScope(shield=True):
                    await stream.aclose()
    return None if stopped else proc.returncode
