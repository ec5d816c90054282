"""The exit codes every ``jshost`` command uses, written once (``run --help`` lists them)."""

from __future__ import annotations

#: The command did what it was asked (``run``: the script completed).
EXIT_OK = 0
#: It ran and failed: the script threw, a run was not found, a save could not be written.
EXIT_FAILED = 1
#: Usage or validation error: nothing ran, nothing was spent.
EXIT_USAGE = 2
#: Stopped by Ctrl-C or ``stop`` (128 + SIGINT, as shells report it); the run is resumable.
EXIT_STOPPED = 130

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_STOPPED", "EXIT_USAGE"]
