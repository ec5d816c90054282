"""The QuickJS binding: the one place jshost imports it from.

jshost depends on the ``quickjs-ng`` distribution, whose ``quickjs`` package is a thin layer
over the C extension ``_quickjs`` that it also installs: four names re-exported, plus a
``Function`` helper that jshost does not use. Importing that package costs every
``jshost run`` ``concurrent.futures`` (and its ``thread`` module) and a worker thread started
at import, whose 8 MiB stack the helper needs because it runs JS on it (issue 22: ~2 ms of
a one-agent run's start-up). jshost runs each context on threads of its own instead (the
run's ``JsThread`` sets its own C stack, far above QuickJS's limit), so the extension is
imported directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import JshostError

__all__ = [
    "THREAD_STACK",
    "BindingMissingError",
    "Context",
    "JSException",
    "Object",
    "StackOverflow",
    "on_a_large_stack",
    "start_thread",
]

T = TypeVar("T")

#: the C stack of a thread jshost runs QuickJS on: far above any stack limit it gives a context
THREAD_STACK = 64 << 20

#: what pyproject.toml requires; named in the error when the binding cannot be imported
REQUIREMENT = "quickjs-ng>=0.17,<0.18"


class BindingMissingError(JshostError, ImportError):
    """Raised on import when the QuickJS binding is not installed (or does not load).

    An ``ImportError`` for code that imports jshost's sandbox, and a :class:`JshostError`
    for the command line, which shows its message as one line instead of a traceback.
    """


try:
    import _quickjs

    Context = _quickjs.Context
    Object = _quickjs.Object
    JSException = _quickjs.JSException
    StackOverflow = _quickjs.StackOverflow
except (ImportError, AttributeError) as exc:  # not installed, or not the binding jshost knows
    raise BindingMissingError(
        f"cannot import the QuickJS binding ({exc}); jshost needs the package "
        f"{REQUIREMENT}: pip install '{REQUIREMENT}'"
    ) from exc


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread running ``target`` on a C stack of :data:`THREAD_STACK`, started.

    ``threading.stack_size`` is process-wide: it is set for this thread's start only.
    """
    old = threading.stack_size()
    try:
        threading.stack_size(THREAD_STACK)
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
    finally:
        threading.stack_size(old)
    return thread


def on_a_large_stack(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` where QuickJS's own stack guard fires before the C stack runs out.

    A context's stack limit (1 MiB and more) is above the default stack of a thread on some
    platforms (512 KiB on macOS, 128 KiB with musl): a deeply nested script compiled there
    overflows the C stack, which kills the process, where the guard would have raised
    ``StackOverflow``. The main thread's stack (8 MiB on Linux and macOS) is large enough:
    ``fn`` runs there as it is; on any other thread (``trio.to_thread``, ``asyncio.to_thread``)
    it runs on a thread of its own with :data:`THREAD_STACK`, which is waited for.
    """
    if threading.current_thread() is threading.main_thread():
        return fn(*args)
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append((False, exc))

    start_thread(work, "jshost-js-check").join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
