"""While tools run: catching what a command leaves behind, and keeping jshost's memory its own.

A ``Bash`` command runs in a process group of its own, killed whole when it ends, and every
process it starts carries a marker in its environment (:mod:`jshost.tools.builtin._proc`).
A command can still shed both: ``env -i setsid sh -c 'sleep 1000 &'`` starts a process in a
session of its own with an empty environment, and its parent exits at once. So while tools run,
jshost is a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): a process whose parent dies
is handed to jshost instead of init, and :meth:`Reaper.sweep` kills and reaps those orphans
after each ``Bash`` call and when the run ends or is stopped.

What a sweep never touches:

- a process jshost started on purpose and still owns: each spawn site records its pid
  (:meth:`Reaper.spawning`: ``Bash`` and ripgrep, MCP servers, the claude-code program), and
  a sweep waits for spawns in flight, so a process between its ``fork`` and its record is
  not mistaken for an orphan;
- what such a process still owns: an orphan in the session or process group of one, or whose
  environment holds the marker of a ``Bash`` call still running (another agent's call that
  backgrounded a server it talks to keeps it until the call ends);
- a child in jshost's own session (a pager, ``git``: nothing a tool starts can join it,
  since every tool starts in a session of its own);
- a child leading a session of its own that started before jshost became a subreaper: it can
  only be a direct child (a program that embeds jshost may have started helpers), never an
  orphan of a tool (SECURITY.md says what this leaves to such programs).

While held, jshost is also not dumpable (``PR_SET_DUMPABLE`` 0): a command the rules allow
to read ``/proc`` (``cat /proc/$PPID/environ``) cannot read jshost's environment, where the
API key is, or its memory, unless it runs as root.

Zombies of orphans are reaped (only by pid: never ``waitpid(-1)``, which would steal the exit
status of a process trio or the SDKs wait for). A sweep reads ``/proc`` on a worker thread,
at most :data:`SWEEP_SECONDS` of it; elsewhere than Linux all of this does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import trio

from . import prctl

__all__ = ["REAPER", "SWEEP_SECONDS", "Reaper"]

#: the longest one sweep may take (a run that is stopping waits for it, shielded)
SWEEP_SECONDS = 1.0
#: kill rounds per sweep: an orphan killed hands its own children to jshost for the next one
_ROUNDS = 8
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _boot_ticks() -> int:
    """Now, in the unit and origin of ``/proc/<pid>/stat``'s start time."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _CLOCK_TICKS)


def _child_pids(parent: int) -> list[str] | None:
    """``parent``'s children as its threads' ``children`` files list them (a few small reads
    instead of every process's ``stat``); None where the kernel has no such files."""
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as f:
            found = set(f.read().split())
        tids = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return None
    for tid in tids:
        if tid == str(parent):
            continue
        try:
            with open(f"/proc/{parent}/task/{tid}/children") as f:
                found.update(f.read().split())
        except OSError:
            continue  # the thread ended meanwhile
    return sorted(found)


def _children(parent: int) -> list[tuple[int, str, int, int, int]]:
    """(pid, state, process group, session, start time) of ``parent``'s children."""
    found: list[tuple[int, str, int, int, int]] = []
    names = _child_pids(parent)
    if names is None:
        try:
            names = os.listdir("/proc")
        except OSError:
            return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
        # stime cutime cstime priority nice threads itrealvalue starttime …; comm may hold
        # spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 20 or int(fields[1]) != parent:
            continue
        found.append(
            (int(name), fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19]))
        )
    return found


def _environ_holds(pid: int, needles: list[bytes]) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = b"\0" + f.read() + b"\0"
    except OSError:
        return False
    return any(n in env for n in needles)


class Reaper:
    """The process's one subreaper state and record of the processes jshost owns.

    :meth:`hold` makes the process a subreaper (reference-counted: a run's toolbox holds it
    while open, a ``Bash`` call while it runs); :meth:`release` sweeps, and the last release
    turns the flag off again. Thread-safe: spawns are recorded on trio's thread, sweeps run on
    worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sweeping = threading.Lock()
        self._holders = 0
        #: set the flag ourselves (a host program that made itself a subreaper keeps it, and
        #: its orphans are its own: we sweep nothing then)
        self._ours = False
        #: made the process not dumpable (and will make it dumpable again)
        self._undumped = False
        #: the start time (clock ticks since boot) from which a session leader may be an orphan
        self._since = 0
        #: pid → the environment marker of the ``Bash`` call it runs (None: another program)
        self._owned: dict[int, str | None] = {}
        self._inflight = 0
        self._epoch = 0

    # ---- what jshost starts --------------------------------------------------------------

    @contextlib.contextmanager
    def spawning(self) -> Iterator[Callable[..., None]]:
        """Around one spawn: ``with REAPER.spawning() as record: …; record(pid, marker=m)``.

        Until the block ends, sweeps wait (the new process exists before its pid is known);
        ``record`` marks the pid as owned until :meth:`forget`.
        """
        with self._lock:
            self._inflight += 1
            self._epoch += 1

        def record(pid: int, marker: str | None = None) -> None:
            with self._lock:
                self._owned[pid] = marker

        try:
            yield record
        finally:
            with self._lock:
                self._inflight -= 1

    def forget(self, pid: int) -> None:
        """``pid`` has been waited for by its owner (call it only then: a pid forgotten while
        its process is unreaped could be reaped by a sweep, stealing its exit status)."""
        with self._lock:
            self._owned.pop(pid, None)

    def owned(self) -> dict[int, str | None]:
        """A copy of the owned pids (for tests and diagnostics)."""
        with self._lock:
            return dict(self._owned)

    # ---- the subreaper flag --------------------------------------------------------------

    def hold(self) -> None:
        """Tools run from now on (until the matching :meth:`release`): be a subreaper, and
        not dumpable, so that no command of the same user can read jshost's environment (the
        API key) or memory through ``/proc`` (:mod:`jshost.tools.prctl`)."""
        with self._lock:
            self._holders += 1
            if self._holders > 1:
                return
            if prctl.child_subreaper() is False and prctl.set_child_subreaper(True):
                self._ours = True
                self._since = _boot_ticks()
            if prctl.dumpable() is True and prctl.set_dumpable(False):
                self._undumped = True

    async def release(self) -> int:
        """Sweep (shielded, bounded); the last release then turns the flag off. How many
        orphans were killed."""
        try:
            return await self.sweep()
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._ours:
                    prctl.set_child_subreaper(False)
                    self._ours = False
                if self._holders == 0 and self._undumped:
                    prctl.set_dumpable(True)  # for debuggers and core dumps, once tools are done
                    self._undumped = False

    @property
    def active(self) -> bool:
        """Whether jshost set the subreaper flag and holds it now."""
        with self._lock:
            return self._ours

    # ---- sweeping ------------------------------------------------------------------------

    async def sweep(self, *, ending: int | None = None) -> int:
        """Kill and reap the orphans jshost was handed (above), on a worker thread, shielded
        from cancellation and bounded by :data:`SWEEP_SECONDS`; how many were killed.

        ``ending``: an owned process that has exited but is not yet reaped (a ``Bash`` call
        ending): what it left behind is not spared for its sake.
        """
        if not self.active:
            return 0
        killed = 0
        with trio.CancelScope(shield=True), trio.move_on_after(SWEEP_SECONDS + 0.2):
            killed = await trio.to_thread.run_sync(
                self.sweep_sync, SWEEP_SECONDS, ending, abandon_on_cancel=True
            )
        return killed

    def _quiet(self, end: float) -> tuple[int, dict[int, str | None]] | None:
        """Once no spawn is in flight: the spawn count and the owned pids (None: time's up)."""
        while True:
            with self._lock:
                if not self._inflight:
                    return self._epoch, dict(self._owned)
            if time.monotonic() >= end:
                return None
            time.sleep(0.005)

    def _settled(self, epoch: int) -> bool:
        with self._lock:
            return self._epoch == epoch and not self._inflight

    def sweep_sync(self, budget: float = SWEEP_SECONDS, ending: int | None = None) -> int:
        """:meth:`sweep`'s work (blocking: call it off trio's thread)."""
        end = time.monotonic() + budget
        if not self._sweeping.acquire(timeout=budget):
            return 0
        try:
            if not self.active:
                return 0
            me, my_session, since = os.getpid(), os.getsid(0), self._since
            killed = 0
            for _ in range(_ROUNDS):
                state = self._quiet(end)
                if state is None:
                    break
                epoch, owned = state
                spared = {p: m for p, m in owned.items() if p != ending}
                markers = [f"\0JSHOST_TOOL_CALL={m}\0".encode() for m in spared.values() if m]
                doomed: list[int] = []
                dead: list[int] = []
                for pid, run_state, group, session, started in _children(me):
                    if pid in owned or session == my_session:
                        continue
                    if session == pid and started < since:
                        continue  # may be a host program's own helper (above)
                    if run_state in ("Z", "X"):
                        dead.append(pid)
                    elif session in spared or group in spared:
                        continue  # belongs to a process jshost still owns
                    elif markers and _environ_holds(pid, markers):
                        continue  # a Bash call still running started it
                    else:
                        doomed.append(pid)
                if not self._settled(epoch):
                    continue  # a spawn began while we looked: look again
                # Each is an unreaped child of ours, so its pid cannot have been reused.
                for pid in doomed:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                killed += len(doomed)
                _reap([*doomed, *dead], end)
                if not doomed:
                    break
                if time.monotonic() >= end:
                    break
            return killed
        finally:
            self._sweeping.release()


def _reap(pids: list[int], end: float) -> None:
    """waitpid each (a killed one within ~0.1 s); one still running is left to the next sweep."""
    waiting = list(pids)
    stop = min(end, time.monotonic() + 0.1)
    while waiting:
        left = []
        for pid in waiting:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if not done:
                left.append(pid)
        waiting = left
        if not waiting or time.monotonic() >= stop:
            return
        time.sleep(0.002)


#: the one per process (the subreaper flag is the process's)
REAPER = Reaper()
