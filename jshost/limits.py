"""The caps of a run, validated: ``Limits`` (agents, budget, timeout) and ``SandboxLimits``.

Plain values, checked when made: the command line, the Python API, the engine and the sandbox all
take them from here. This module imports nothing of jshost but ``_data``.
"""

from __future__ import annotations

from ._data import Frozen, set_field

__all__ = ["MAX_CONCURRENCY", "Limits", "SandboxLimits"]

MAX_CONCURRENCY = 256
_MAX_JS_STACK = 8 << 20


class SandboxLimits(Frozen):
    """Resource limits of one context.

    Args:
        memory (int): bytes of JS heap.
        stack (int): bytes of JS stack (never 0: 0 means unlimited, and a segfault).
        cpu_slice (float): seconds one synchronous slice may run before it is interrupted.
    """

    memory: int = 256 << 20
    stack: int = 4 << 20
    cpu_slice: float = 30.0

    _fields = ("memory", "stack", "cpu_slice")

    def __init__(
        self, memory: int = 256 << 20, stack: int = 4 << 20, cpu_slice: float = 30.0
    ) -> None:
        set_field(self, "memory", memory)
        set_field(self, "stack", stack)
        set_field(self, "cpu_slice", cpu_slice)
        self.__post_init__()

    def __post_init__(self) -> None:
        if self.memory < (8 << 20):
            raise ValueError("memory limit must be at least 8 MiB")
        if not (64 << 10) <= self.stack <= _MAX_JS_STACK:
            raise ValueError("stack limit must be between 64 KiB and 8 MiB")
        if self.cpu_slice <= 0:
            raise ValueError("cpu_slice must be positive")


class Limits(Frozen):
    """Caps of one run.

    Args:
        concurrency (int): agents running at once, 1–256.
        max_agents (int): ``agent()`` calls per run, child workflows included.
        budget (int | None): output tokens; no new agent starts once they are spent.
        timeout (float | None): wall-clock seconds for the whole run.
        sandbox (SandboxLimits): memory, stack and CPU-slice limits of the JS context.
    """

    concurrency: int = 16
    max_agents: int = 1000
    budget: int | None = None
    timeout: float | None = None
    sandbox: SandboxLimits

    _fields = ("concurrency", "max_agents", "budget", "timeout", "sandbox")

    def __init__(
        self,
        concurrency: int = 16,
        max_agents: int = 1000,
        budget: int | None = None,
        timeout: float | None = None,
        sandbox: SandboxLimits | None = None,
    ) -> None:
        set_field(self, "concurrency", concurrency)
        set_field(self, "max_agents", max_agents)
        set_field(self, "budget", budget)
        set_field(self, "timeout", timeout)
        set_field(self, "sandbox", SandboxLimits() if sandbox is None else sandbox)
        self.__post_init__()

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if self.max_agents < 1:
            raise ValueError("max_agents must be at least 1")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be a positive number of tokens")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
