"""Which worker a run uses, and how it is built: the one place the command line asks.

Workers register a factory by name, the path a plugin would take too. Factories import their
worker's module only when called, so choosing ``sim`` (or running ``--help``) never imports
the anthropic SDK, which takes about a second to import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import final

from ..config import load_config
from ..errors import UsageError
from ..settings import structured_output_retries
from .base import Worker

__all__ = ["WorkerSettings", "choose_worker", "make_worker", "register", "worker_names"]


@final
@dataclass(frozen=True)
class WorkerSettings:
    """What the command line says about the worker.

    Args:
        model (str | None): ``--model``, the run's model for agents that name none.
        base_url (str | None): ``--base-url``; ``ANTHROPIC_BASE_URL`` when None.
        sim_latency (float): seconds each sim agent takes.
    """

    model: str | None = None
    base_url: str | None = None
    sim_latency: float = 0.05


Factory = Callable[[WorkerSettings, Mapping[str, str]], Worker]
_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make ``--worker name`` build its worker with ``factory(settings, environ)``."""
    _FACTORIES[name] = factory


def worker_names() -> list[str]:
    """The registered worker names, in registration order."""
    return list(_FACTORIES)


def choose_worker(requested: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The worker to use, and a note for the user when it was chosen for them (else "").

    ``anthropic`` when ``ANTHROPIC_API_KEY`` is set, else the offline ``sim`` worker.
    """
    env = os.environ if env is None else env
    if requested:
        return requested, ""
    if env.get("ANTHROPIC_API_KEY", "").strip():
        return "anthropic", ""
    return "sim", "using the offline sim worker (no API key configured)"


def make_worker(
    name: str, settings: WorkerSettings, env: Mapping[str, str] | None = None
) -> Worker:
    """Build the worker registered as ``name``.

    Raises:
        UsageError: unknown worker, missing API key, unknown model, bad config file.
    """
    env = os.environ if env is None else env
    factory = _FACTORIES.get(name)
    if factory is None:
        raise UsageError(f"unknown worker {name!r} (known: {', '.join(_FACTORIES)})")
    return factory(settings, env)


def _sim(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    from .sim import SimWorker

    exec_log = env.get("JSHOST_SIM_EXEC_LOG") or None
    cap = structured_output_retries(env)
    return SimWorker(latency=settings.sim_latency, exec_log=exec_log, structured_output_cap=cap)


def _anthropic(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    key = env.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        raise UsageError("no API key: set ANTHROPIC_API_KEY or use --worker sim")
    cap = structured_output_retries(env)
    config = load_config(env)
    try:
        # Checked before the SDK is imported: a typo fails fast, and not once per agent.
        config.resolve_model(settings.model)
    except ValueError as exc:
        where = "--model" if settings.model else "the default model (models.default)"
        raise UsageError(f"{where}: {exc}") from None
    from .anthropic import AnthropicWorker

    base_url = settings.base_url or env.get("ANTHROPIC_BASE_URL", "").strip() or None
    return AnthropicWorker(
        api_key=key,
        base_url=base_url,
        config=config,
        model=settings.model,
        structured_output_cap=cap,
    )


register("sim", _sim)
register("anthropic", _anthropic)
