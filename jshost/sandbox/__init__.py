"""2 · Isolate: one QuickJS context per run, with the runtime.js prelude and the outbox bridge.

Only the engine runs a sandbox; checking a script (``jshost.script``) uses it to compile, never to
run. The sandbox imports neither workers nor the store.
"""

from .context import (
    CHILD_LINE_BASE,
    RUNTIME_LINE_BASE,
    SURE_GLOBALS,
    Sandbox,
    SandboxLimitError,
    SandboxLimits,
    check_function_source,
    global_names,
    line_base,
    parse_frames,
)
from .thread import JsThread

__all__ = [
    "CHILD_LINE_BASE",
    "RUNTIME_LINE_BASE",
    "SURE_GLOBALS",
    "JsThread",
    "Sandbox",
    "SandboxLimitError",
    "SandboxLimits",
    "check_function_source",
    "global_names",
    "line_base",
    "parse_frames",
]
