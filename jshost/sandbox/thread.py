"""The JS thread: every call into a run's QuickJS context, one at a time, on a thread of its own.

A hop there and back is the host's most frequent crossing (a chain of agents makes one per link),
so it is kept light (issue 22): a slotted job that the trio side waits for with
``wait_task_rescheduled``, and one watchdog task per thread for the CPU allowance rather than a
cancel scope per call. A *direct* job (:meth:`JsThread.start_direct`) skips trio's entry queue
on the way back: the thread writes a byte to its wake-up pipe, on which the waiting task is
parked with ``wait_readable``, so the outcome wakes that task itself (one trio task step, a
socket read and a re-arm fewer a hop).
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .._quickjs import start_thread
from .context import SandboxLimits, _timeout

__all__ = ["JsThread"]

T = TypeVar("T")

# How often the watchdog looks at the CPU time of the step in flight.
_WATCH_INTERVAL = 0.25
# How long a stopping run waits for the step in flight before abandoning it.
_STOP_GRACE = 0.3


class _Job:
    """One call queued for the JS thread, and how its caller learns the outcome.

    Lighter than a ``concurrent.futures.Future`` with a ``trio.Event`` and a cancel scope per
    call (issue 22: a chain of agents makes one of these hops per link): the JS thread fills
    in ``value``/``error`` and hands the job back to the trio thread, which reschedules the
    waiting task directly.
    """

    __slots__ = (
        "args", "direct", "done", "error", "fn", "given_up", "grace", "task", "token", "value",
        "waiting",
    )  # fmt: skip

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], task: Any, token: Any):
        self.fn: Callable[..., Any] | None = fn
        self.args: tuple[Any, ...] | None = args
        self.task = task  # the trio task waiting for it (None: none yet)
        self.token = token
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False  # set on the trio thread once the outcome has arrived there
        self.waiting = False  # the task is parked for it right now
        self.grace = False  # a stopping run gives the step its last moment: no CPU check
        #: the outcome is signalled on the thread's wake-up pipe (``done`` is then set on
        #: the JS thread, before the byte is written), not through trio's entry queue
        self.direct = False
        #: the watchdog gave up on a direct job: the error its waiter raises
        self.given_up: BaseException | None = None


class JsThread:
    """A dedicated thread that runs every call into one QuickJS context, one at a time.

    Calls are serialised by the single worker, so the context is never touched by two
    threads: a trio caller that is cancelled (the run is stopping) waits a moment for its
    step, then abandons it, and whatever comes next queues behind it. The worker holds the
    step's references while it runs, so the context is never freed mid-step either.

    QuickJS consults its CPU limit only every few thousand operations, and a native operation
    (a search through a 100 MB string, printing a huge BigInt) may take seconds: a script can
    chain them into a step that runs for hours past its limit. So a watchdog (one trio system
    task per thread, waking every ``_WATCH_INTERVAL``) stops waiting for a step once it has
    used ``4 × cpu_slice + 1`` CPU seconds: the step is *abandoned*, ``run`` raises the
    sandbox's timeout, and the thread, a daemon, finishes the step on its own (or dies with
    the process) without holding up the run or the process's exit.

    Args:
        limits (SandboxLimits | None): where the CPU slice comes from; None watches nothing.
    """

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self._limits = limits
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._step_cpu0 = 0.0
        self._current: _Job | None = None  # the job the thread runs now
        self._watchdog: Any = None  # the watchdog task's cancel scope, once it runs
        # Direct jobs' wake-up pipe: trio waits on the read end; the JS thread writes a byte
        # when a direct job ends (and the trio side itself, to wake a task parked on it).
        # Both ends non-blocking: a full pipe is readable already. The thread closes both as
        # it exits: an abandoned step may end (and write) long after close(), and a write
        # with the read end closed would be a SIGPIPE where a host program restored it.
        self._wake_r, self._wake_w = os.pipe()
        self._closing = False
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        #: a step ran past its CPU allowance and nobody waits for it any more
        self.abandoned = False
        # A C stack far above QuickJS's guard (the binding's THREAD_STACK).
        self._thread = start_thread(self._work, "jshost-js")
        try:
            clock = time.pthread_getcpuclockid(self._thread.ident)  # type: ignore[arg-type]
            self._cpu: Callable[[], float] = lambda: time.clock_gettime(clock)
        except (AttributeError, OSError):  # no per-thread CPU clocks here: use wall time
            self._cpu = time.monotonic
        self._uses_wall = self._cpu is time.monotonic

    def _work(self) -> None:
        try:
            self._serve()
        finally:
            os.close(self._wake_w)
            os.close(self._wake_r)  # trio let go of it in close()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._step_cpu0 = time.monotonic() if self._uses_wall else time.thread_time()
            self._current = job
            try:
                job.value = job.fn(*job.args)  # type: ignore[misc]
            except BaseException as exc:  # handed to the waiting caller
                job.error = exc
            self._current = None
            job.fn = job.args = None  # the step's references go here, on this thread
            if job.direct:
                job.done = True  # before the byte: the woken task reads the outcome
                self._write_wake()
            elif job.token is not None:
                # trio.RunFinishedError (a RuntimeError): an abandoned step ended late
                with contextlib.suppress(RuntimeError):
                    job.token.run_sync_soon(self._arrived, job)
            del job

    @staticmethod
    def _arrived(job: _Job) -> None:
        # On the trio thread: the outcome is here; wake the caller if it still waits.
        job.done = True
        if job.waiting:
            job.waiting = False
            _reschedule(job)

    async def run(self, fn: Callable[..., T], *args: Any, watch: bool = True) -> T:
        """Run ``fn(*args)`` on the JS thread and return its result.

        With ``watch`` (for steps that run script code), raises the sandbox's timeout once the
        step has used more CPU than any step may, and abandons it.
        """
        job = self.start(fn, *args)
        job.task = _trio().lowlevel.current_task()
        return await self.wait(job, watch=watch)

    def start(self, fn: Callable[..., Any], *args: Any, direct: bool = False) -> _Job:
        """Queue ``fn(*args)`` for a trio task to wait for (:meth:`wait`); on the trio thread.

        Until a task waits, the job's outcome is kept for it; a task parked elsewhere may
        take the job over by setting ``job.task`` and ``job.waiting``: it then gets the
        outcome as the value of its ``wait_task_rescheduled``, and calls :meth:`grace` if it
        is cancelled meanwhile. ``direct``: see :meth:`start_direct`.
        """
        trio = _trio()
        job = _Job(fn, args, None, trio.lowlevel.current_trio_token())
        if direct:
            # Set before the job is queued: the JS thread reads them as the job ends.
            job.direct = True
            job.waiting = True  # watched: someone waits for it from now on
        if self._watchdog is None and self._limits is not None:
            self._watchdog = trio.CancelScope()
            trio.lowlevel.spawn_system_task(self._watch, self._limits, self._watchdog)
        self._jobs.put(job)
        return job

    def start_direct(self, fn: Callable[..., Any], *args: Any) -> _Job:
        """Queue ``fn(*args)`` as a direct job: its end writes to :attr:`wake_fd`.

        For a task already parked with ``trio.lowlevel.wait_readable(wake_fd)`` that is
        watching for ``job.done`` (the engine's loop); it calls :meth:`grace_direct` if it is
        cancelled meanwhile, and raises ``job.given_up`` if the watchdog sets it.
        """
        return self.start(fn, *args, direct=True)

    @property
    def wake_fd(self) -> int:
        """The read end of the wake-up pipe, for ``trio.lowlevel.wait_readable``."""
        return self._wake_r

    def poke(self) -> None:
        """Make :attr:`wake_fd` readable; on the trio thread until :meth:`close`."""
        if not self._closing:
            self._write_wake()

    def _write_wake(self) -> None:
        # Also the JS thread's own write, before it closes the pipe as it exits.
        with contextlib.suppress(OSError):  # full: readable already
            os.write(self._wake_w, b"\0")

    def drain(self) -> None:
        """Take the bytes pokes left in the pipe (on the trio thread, after a wake-up)."""
        with contextlib.suppress(OSError):  # nothing there (a spurious wake-up)
            os.read(self._wake_r, 4096)

    @staticmethod
    def outcome(job: _Job) -> Any:
        """A finished job's value, or its error raised."""
        return _result(job)

    async def grace_direct(self, job: _Job, cancelled: BaseException) -> Any:
        """:meth:`grace` for a direct job whose waiter was cancelled."""
        trio = _trio()
        if not job.done:
            job.grace = True
            with trio.CancelScope(shield=True), trio.move_on_after(_STOP_GRACE):
                while not job.done:
                    await trio.lowlevel.wait_readable(self._wake_r)
                    self.drain()
        if not job.done:
            self.abandoned = True
            raise cancelled
        return _result(job)

    async def wait(self, job: _Job, *, watch: bool = True) -> Any:
        """The outcome of a job from :meth:`start`, waited for by the current task."""
        trio = _trio()
        job.task = trio.lowlevel.current_task()
        if not watch or self._limits is None:
            # Not cancellable, as a shielded wait: the step's outcome is always taken.
            return await _park(job, cancellable=False)
        try:
            return await _park(job, cancellable=True)
        except trio.Cancelled as exc:
            return await self.grace(job, exc)

    async def grace(self, job: _Job, cancelled: BaseException) -> Any:
        """A job's outcome once its waiter was cancelled: the step gets a last moment."""
        trio = _trio()
        # The run is stopping (Ctrl-C, SIGTERM, --timeout). A script step cannot be
        # interrupted from outside, and `while (true) {}` never ends by itself before
        # its CPU slice does: give the step a moment, then stop waiting for it, so a stop
        # lands within about a second whatever the script does. Later calls queue behind
        # the step, so the context is still never touched by two threads.
        job.task = trio.lowlevel.current_task()
        if not job.done:
            job.grace = True
            with trio.CancelScope(shield=True), trio.move_on_after(_STOP_GRACE):
                await _park(job, cancellable=True)
        if not job.done:
            self.abandoned = True
            raise cancelled
        # The step ended: its events are handled as usual (an agent it called is then
        # recorded as cancelled); the run's scope stays cancelled, so the caller's next
        # checkpoint raises again.
        return _result(job)

    async def _watch(self, limits: SandboxLimits, scope: Any) -> None:
        import trio

        allowance = 4 * limits.cpu_slice + 1
        with scope:
            while True:
                await trio.sleep(_WATCH_INTERVAL)
                job = self._current
                if job is None or not job.waiting or job.grace:
                    continue
                try:
                    used = self._cpu() - self._step_cpu0
                except OSError:  # the thread is gone: its step is over
                    continue
                if used > allowance and job is self._current and job.waiting:
                    self.abandoned = True
                    job.waiting = False
                    if job.direct:
                        job.given_up = _timeout(limits)
                        self.poke()
                    else:
                        _reschedule(job, _timeout(limits))

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` on the JS thread without waiting for it."""
        self._jobs.put(_Job(fn, args, None, None))

    def close(self) -> None:
        """End the thread once its queued calls are done; wait for it unless abandoned."""
        if self._watchdog is not None:
            self._watchdog.cancel()  # on the trio thread, where the engine closes it
        self._closing = True  # no poke from here on: the thread closes the pipe as it exits
        with contextlib.suppress(RuntimeError):  # outside trio: nothing waited on it
            _trio().lowlevel.notify_closing(self._wake_r)  # trio forgets it before it closes
        self._jobs.put(None)
        if not self.abandoned:
            self._thread.join()


def _trio() -> Any:
    # Imported at the first call, not at the top: `jshost validate` compiles scripts without
    # trio.
    import trio

    return trio


def _result(job: _Job) -> Any:
    if job.error is not None:
        raise job.error
    return job.value


def _reschedule(job: _Job, error: BaseException | None = None) -> None:
    import outcome
    import trio

    error = error or job.error
    if error is not None:
        trio.lowlevel.reschedule(job.task, outcome.Error(error))
    else:
        trio.lowlevel.reschedule(job.task, outcome.Value(job.value))


async def _park(job: _Job, *, cancellable: bool) -> Any:
    """Wait on the trio thread until ``job``'s outcome arrives (or, if cancellable, a cancel)."""
    import trio

    if job.done:
        await trio.lowlevel.checkpoint()
        return _result(job)

    def abort(_: Any) -> Any:
        if not cancellable:
            return trio.lowlevel.Abort.FAILED
        job.waiting = False
        return trio.lowlevel.Abort.SUCCEEDED

    job.waiting = True
    return await trio.lowlevel.wait_task_rescheduled(abort)
