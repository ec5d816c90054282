"""EngineThread: an engine under ``trio.run`` on a thread of its own.

The view owns the main thread and the terminal while the run goes on on this thread (the
package's docstring says why).
"""

from __future__ import annotations

import os
import threading

import trio

from ...engine import Engine, EngineControl, RunOutcome

__all__ = ["EngineThread"]


EXIT_STOPPED = 130


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

    def wait(self) -> RunOutcome:
        """The outcome, once the run has ended; Ctrl-C stops it, a second one exits at once."""
        interrupts = 0
        while not self.done.is_set():
            try:
                self.done.wait(0.2)
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 1:
                    os._exit(EXIT_STOPPED)
                control = self.control
                if control is not None:
                    control.stop()
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome
