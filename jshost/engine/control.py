"""Steer a running engine from another thread: pause, skip, restart, stop.

Interfaces (the interactive view, the Python API) never touch the engine directly: each action
is handed to the engine's trio thread and waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .run import Engine

__all__ = ["EngineControl"]


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
