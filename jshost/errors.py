"""Errors jshost raises, split by who is at fault.

    JshostError
    ├── ScriptError              the script itself is wrong (carries path, line, column)
    │   ├── ScriptLoadError      refused before anything ran: size, encoding, control
    │   │                        characters, syntax, meta
    │   └── WorkflowError        the script failed while running (an uncaught JS error,
    │                            a sandbox limit, a deadlock, the wall-clock timeout)
    ├── UsageError               bad command-line input: --args, caps, missing file
    ├── StoreError               the run store cannot be read or written (locked, read-only,
    │                            full disk, not a jshost database)
    └── WorkerError              a model worker could not produce a result
        └── RetryableWorkerError the same request may succeed if tried again

Messages are lowercase where they are ours; the texts the reference runtime gives verbatim
(meta errors, caps, budget, determinism) are kept word for word.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "JshostError",
    "RetryableWorkerError",
    "ScriptError",
    "ScriptLoadError",
    "StoreError",
    "UsageError",
    "WorkerError",
    "WorkflowError",
]


def format_location(path: str | None, line: int | None, column: int | None) -> str:
    """``path:line:col``, as much of it as is known (``<script>`` for a missing path)."""
    parts = [path or "<script>"]
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


class JshostError(Exception):
    """Raised for every error jshost reports to a user; the base of all others."""


class ScriptError(JshostError):
    """Raised when a workflow script is at fault.

    Args:
        message (str): what is wrong, in words a user can act on.
        path (str | None): the script's path as the user gave it.
        line (int | None): 1-based line in the user's file.
        column (int | None): 1-based column in the user's file.
        detail (str | None): extra lines shown under the message (an excerpt, a hint).

    ``diagnostics`` holds every finding when a script was refused by its checks
    (``jshost.load``, ``jshost.parse``); it is empty otherwise.
    """

    diagnostics: list[Any] = []  # noqa: RUF012 - replaced per instance, never mutated

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.detail = detail

    @property
    def location(self) -> str:
        """``path:line:col`` (as much of it as is known), or an empty string."""
        if not self.path and self.line is None:
            return ""
        return format_location(self.path, self.line, self.column)

    def __str__(self) -> str:
        loc = self.location
        return f"{loc}: {self.message}" if loc else self.message


class ScriptLoadError(ScriptError):
    """Raised when a script is refused before it runs (nothing was spent)."""


class WorkflowError(ScriptError):
    """Raised when a script fails while it runs.

    ``name`` is the JavaScript error name (``TypeError``, ``WorkflowAgentCapError``, …) or
    a name of ours for host-side failures (``TimeoutError``, ``DeadlockError``,
    ``InternalError`` for sandbox limits).
    """

    def __init__(self, message: str, *, name: str = "Error", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.name = name

    def __str__(self) -> str:
        loc = self.location
        text = f"{self.name}: {self.message}"
        return f"{loc}: {text}" if loc else text


class UsageError(JshostError):
    """Raised when command-line input is wrong: a bad --args value, a cap out of range."""


class StoreError(JshostError):
    """Raised when the run store cannot be opened, read or written."""


class WorkerError(JshostError):
    """Raised when a model worker fails to produce a result for an agent.

    A worker sets ``usage`` (a :class:`jshost.workers.Usage`), ``model`` and ``attempts`` on
    the exception when requests were made before the failure, so that the tokens they cost
    are counted and the record says what was tried, and ``transcript`` (the conversation so
    far, for people) when it has one.
    """

    usage: Any = None
    model: str = ""
    attempts: int = 0
    transcript: tuple[dict[str, Any], ...] = ()


class RetryableWorkerError(WorkerError):
    """Raised when a worker failed in a way that may pass on another attempt."""
