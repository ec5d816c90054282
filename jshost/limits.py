"""The caps of a run, validated: ``Limits`` (agents, budget, timeout) and ``SandboxLimits``.

Plain values, checked when made: the command line, the Python API, the engine and the sandbox all
take them from here. This module imports nothing of jshost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MAX_CONCURRENCY", "Limits", "SandboxLimits"]

MAX_CONCURRENCY = 256
_MAX_JS_STACK = 8 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one context.

    Args:
        memory (int): bytes of JS heap.
        stack (int): bytes of JS stack (never 0: 0 means unlimited, and a segfault).
        cpu_slice (float): seconds one synchronous slice may run before it is interrupted.
    """

    memory: int = 256 << 20
    stack: int = 4 << 20
    cpu_slice: float = 30.0

    def __post_init__(self) -> None:
        if self.memory < (8 << 20):
            raise ValueError("memory limit must be at least 8 MiB")
        if not (64 << 10) <= self.stack <= _MAX_JS_STACK:
            raise ValueError("stack limit must be between 64 KiB and 8 MiB")
        if self.cpu_slice <= 0:
            raise ValueError("cpu_slice must be positive")


@dataclass(frozen=True)
class Limits:
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
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if self.max_agents < 1:
            raise ValueError("max_agents must be at least 1")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be a positive number of tokens")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
