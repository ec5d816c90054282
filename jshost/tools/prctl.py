"""Two Linux process attributes jshost sets while tools run, through ``prctl(2)``.

- **Child subreaper** (``PR_SET_CHILD_SUBREAPER``): a process whose parent dies is handed to
  jshost instead of init, so a command that double-forks a daemon with an environment of its
  own cannot leave it running where jshost cannot see it (:mod:`jshost.tools.reaper`).
- **Not dumpable** (``PR_SET_DUMPABLE`` 0): ``/proc/<jshost>/environ``, ``mem``, ``maps``,
  ``fd`` … become readable only by root (and ``ptrace`` by another process of the same user is
  refused), so a command an agent runs cannot read the API key from jshost's environment. A
  program jshost starts is dumpable again after its ``execve`` (the kernel resets the flag),
  so its own ``/proc`` files work as usual.

Elsewhere (macOS, Windows, a Linux whose seccomp policy refuses ``prctl``) each call returns
False and changes nothing: SECURITY.md says what that leaves open. ``ctypes`` is imported on
the first call, not with the module.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["child_subreaper", "dumpable", "set_child_subreaper", "set_dumpable"]

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37

_libc: Any = None


def _prctl() -> Any:
    """libc's ``prctl``, or None where there is none."""
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    if _libc is None:
        import ctypes

        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.prctl.restype = ctypes.c_int
        except (OSError, AttributeError):
            _libc = False
    return _libc.prctl if _libc else None


def _set_flag(option: int, on: bool) -> bool:
    prctl = _prctl()
    if prctl is None:
        return False
    import ctypes

    return prctl(option, ctypes.c_ulong(1 if on else 0), 0, 0, 0) == 0


def set_child_subreaper(on: bool) -> bool:
    """Make this process a child subreaper (or stop being one); whether it took effect."""
    return _set_flag(_PR_SET_CHILD_SUBREAPER, on)


def child_subreaper() -> bool | None:
    """Whether this process is a child subreaper (None: cannot tell on this system)."""
    prctl = _prctl()
    if prctl is None:
        return None
    import ctypes

    value = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0) != 0:
        return None
    return bool(value.value)


def set_dumpable(on: bool) -> bool:
    """Set this process's dumpable flag; whether it took effect."""
    return _set_flag(_PR_SET_DUMPABLE, on)


def dumpable() -> bool | None:
    """This process's dumpable flag (None: cannot tell on this system)."""
    prctl = _prctl()
    if prctl is None:
        return None
    result = prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)
    return None if result < 0 else bool(result)
