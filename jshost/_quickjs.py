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

from .errors import JshostError

__all__ = ["BindingMissingError", "Context", "JSException", "Object", "StackOverflow"]

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
