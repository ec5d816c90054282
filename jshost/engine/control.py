"""Host a run from another thread: the engine under ``trio.run`` on a thread of its own.

The Python API's ``start()`` and the interactive view both run an engine this way, so that the
caller's thread (plain Python, an asyncio program, a textual app) never waits on the engine and
the engine never waits on it. Steering goes through :class:`EngineControl`.
"""

from __future__ import annotations

import threading

import trio

from ..records import RunOutcome
from .run import Engine, EngineControl

__all__ = ["EngineThread"]


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
