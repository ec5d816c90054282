"""The interactive run view (textual): ``run --interactive`` and ``watch``.

Importing this package imports textual: the CLI imports it only for these two views.
"""

from .app import (
    EngineThread,
    HelpScreen,
    LiveSource,
    RunApp,
    SaveScreen,
    StopScreen,
    StoreSource,
    run_interactive,
    watch,
)

__all__ = [
    "EngineThread",
    "HelpScreen",
    "LiveSource",
    "RunApp",
    "SaveScreen",
    "StopScreen",
    "StoreSource",
    "run_interactive",
    "watch",
]
