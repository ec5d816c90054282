"""Steer a running engine from another thread, or host one there.

Interfaces (the interactive view, the Python API) never touch the engine directly: each action
is handed to the engine's trio thread and waited for (:class:`EngineControl`). The Python API's
``start()`` and the interactive view run the engine under ``trio.run`` on a thread of its own
(:class:`EngineThread`), so that the caller's thread (plain Python, an asyncio program, a
textual app) never waits on the engine and the engine never waits on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ..records import RunOutcome

if TYPE_CHECKING:
    from .run import Engine

__all__ = ["EngineControl", "EngineThread"]


class EngineControl:
    """Steer a running engine from another thread (an interactive view).

    Every method hands the action to the engine's trio thread and waits for it; once the run
    has ended they do nothing and return False.

    Args:
        engine (Engine): the engine to steer.
        token (trio.lowlevel.TrioToken): the token of the trio run the engine runs in.
    """

    def __init__(self, engine: Engine, token: trio.lowlevel.TrioToken) -> None:
        self.engine = engine
        self._token = token

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return trio.from_thread.run_sync(fn, *args, trio_token=self._token)
        except trio.RunFinishedError:
            return False

    def set_paused(self, paused: bool) -> bool:
        return self._call(self.engine.set_paused, paused) is None

    def skip_agent(self, index: int) -> bool:
        return bool(self._call(self.engine.skip_agent, index))

    def restart_agent(self, index: int) -> bool:
        return bool(self._call(self.engine.restart_agent, index))

    def stop(self) -> bool:
        return self._call(self.engine.stop) is None


class EngineThread:
    """Runs an engine under ``trio.run`` on a thread of its own.

    Args:
        engine (Engine): the engine to run; its sink must never block (an EventQueue's put).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outcome: RunOutcome | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._ready = threading.Event()
        self._control: EngineControl | None = None
        self._thread = threading.Thread(target=self._main, name="jshost-engine", daemon=True)

    def start(self) -> EngineThread:
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def _main(self) -> None:
        async def main() -> RunOutcome:
            self._control = EngineControl(self.engine, trio.lowlevel.current_trio_token())
            self._ready.set()
            async with self.engine.worker:  # its connections close with the run
                return await self.engine.run()

        try:
            self.outcome = trio.run(main)
        except BaseException as exc:  # handed to the thread that waits for the outcome
            self.error = exc
        finally:
            self._ready.set()
            self.done.set()

    @property
    def control(self) -> EngineControl | None:
        """The engine's remote control, once its trio run is up (blocks until then)."""
        self._ready.wait()
        return self._control

    def stop(self) -> bool:
        """Stop the run as Ctrl-C does; False when it has already ended."""
        control = self.control
        return control.stop() if control is not None else False

    def wait(self, timeout: float | None = None) -> RunOutcome:
        """The outcome, once the run has ended.

        A first Ctrl-C (KeyboardInterrupt) while waiting stops the run and the wait goes on; a
        second is re-raised, the run left running on its daemon thread: the caller decides
        whether to exit (the CLI exits at once with 130).

        Raises:
            TimeoutError: ``timeout`` seconds passed and the run has not ended.
        """
        interrupts = 0
        waited = 0.0
        while not self.done.is_set():
            if timeout is not None and waited >= timeout:
                raise TimeoutError(f"the run did not end within {timeout:g} s")
            try:
                self.done.wait(0.2)
                waited += 0.2
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 1:
                    raise
                self.stop()
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome
