"""Which worker a run uses, and how it is built: the one place the command line and the API ask.

Built-in workers (``sim``, ``anthropic``, ``claude-code``) are registered here directly, so a
plain checkout works without installed package metadata. Other packages add workers through the
``jshost.workers`` entry-point group::

    [project.entry-points."jshost.workers"]
    my-worker = "my_package.worker:make_worker"

where ``make_worker(settings, env) -> Worker`` is a :data:`Factory`. Entry points are read
lazily, once, and only when a name is not a built-in or a listing is asked for, so importing
the CLI, ``--help`` and ``--worker sim`` never import a plugin. ``JSHOST_LOAD_PLUGINS=a,b``
restricts which plugins load (by entry-point or distribution name); an empty value loads none.

Factories import their worker's module only when called, so choosing ``sim`` never imports the
anthropic SDK, which takes about a second to import.

API keys are looked up in one place, here: a worker class that sets ``needs_key`` and
``key_env_var`` gets its key as ``settings.key``; a missing key is a ``UsageError``.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any, final

from .._data import Frozen, replace, set_field
from ..config import load_config
from ..errors import UsageError
from ..settings import structured_output_retries
from .base import Worker

__all__ = [
    "ENTRY_POINT_GROUP",
    "Factory",
    "WorkerInfo",
    "WorkerSettings",
    "choose_worker",
    "get_worker",
    "make_worker",
    "register",
    "worker_infos",
    "worker_names",
]

#: the entry-point group plugins register their worker factories in
ENTRY_POINT_GROUP = "jshost.workers"
#: restricts which plugins load: comma-separated names; empty means none
LOAD_PLUGINS_ENV = "JSHOST_LOAD_PLUGINS"


@final
class WorkerSettings(Frozen):
    """What the caller says about the worker.

    Args:
        model (str | None): ``--model``, the run's model for agents that name none.
        base_url (str | None): ``--base-url``; the worker's own environment variable when None.
        sim_latency (float): seconds each sim agent takes.
        key (str | None): the API key, filled in by the host for a worker that needs one.
    """

    model: str | None = None
    base_url: str | None = None
    sim_latency: float = 0.05
    key: str | None = None

    _fields = ("model", "base_url", "sim_latency", "key")
    _no_repr = ("key",)

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        sim_latency: float = 0.05,
        key: str | None = None,
    ) -> None:
        set_field(self, "model", model)
        set_field(self, "base_url", base_url)
        set_field(self, "sim_latency", sim_latency)
        set_field(self, "key", key)


Factory = Callable[[WorkerSettings, Mapping[str, str]], Worker]


@final
class WorkerInfo(Frozen):
    """One worker as ``jshost workers`` lists it.

    Args:
        name (str): what ``--worker`` takes.
        description (str): one line, from the worker class's docstring (or the factory's).
        package (str): the distribution that provides it (``jshost`` for the built-ins).
        ready (bool): whether it can be built now (its key is set, it imported).
        problem (str): why it is not ready, else "".
        needs_key (bool): whether it needs an API key.
        key_env_var (str | None): the environment variable the key is read from.
    """

    name: str
    description: str
    package: str
    ready: bool
    problem: str = ""
    needs_key: bool = False
    key_env_var: str | None = None

    _fields = ("name", "description", "package", "ready", "problem", "needs_key", "key_env_var")

    def __init__(
        self,
        name: str,
        description: str,
        package: str,
        ready: bool,
        problem: str = "",
        needs_key: bool = False,
        key_env_var: str | None = None,
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "description", description)
        set_field(self, "package", package)
        set_field(self, "ready", ready)
        set_field(self, "problem", problem)
        set_field(self, "needs_key", needs_key)
        set_field(self, "key_env_var", key_env_var)

    def as_dict(self) -> dict[str, Any]:
        """The JSON ``jshost workers --json`` prints for this worker."""
        return {
            "name": self.name,
            "description": self.description,
            "package": self.package,
            "ready": self.ready,
            "problem": self.problem or None,
            "needs_key": self.needs_key,
            "key_env_var": self.key_env_var,
        }


class _Entry(Frozen):
    name: str
    factory: Factory | None
    package: str
    description: str = ""
    needs_key: bool = False
    key_env_var: str | None = None
    error: str = ""
    #: why the worker cannot run here ("" when it can), asked without building it
    check: Callable[[Mapping[str, str]], str] | None = None

    _fields = (
        "name",
        "factory",
        "package",
        "description",
        "needs_key",
        "key_env_var",
        "error",
        "check",
    )

    def __init__(
        self,
        name: str,
        factory: Factory | None,
        package: str,
        description: str = "",
        needs_key: bool = False,
        key_env_var: str | None = None,
        error: str = "",
        check: Callable[[Mapping[str, str]], str] | None = None,
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "factory", factory)
        set_field(self, "package", package)
        set_field(self, "description", description)
        set_field(self, "needs_key", needs_key)
        set_field(self, "key_env_var", key_env_var)
        set_field(self, "error", error)
        set_field(self, "check", check)


_BUILTINS: dict[str, _Entry] = {}
# Plugins, keyed by the JSHOST_LOAD_PLUGINS value they were loaded under (None: unset).
_PLUGINS: dict[str | None, dict[str, _Entry]] = {}
# The API may build workers from several threads at once; plugins still load once.
_PLUGINS_LOCK = threading.Lock()


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0].strip()


def _describe(factory: Any) -> tuple[str, bool, str | None]:
    """Description, needs_key and key_env_var of a factory, read from its worker class.

    The class is the factory itself when it is a ``Worker`` subclass, else the factory's
    ``worker_class`` attribute; without one the factory's own attributes and docstring count.
    """
    cls = factory if isinstance(factory, type) else getattr(factory, "worker_class", None)
    source = cls if isinstance(cls, type) else factory
    needs_key = bool(getattr(source, "needs_key", False))
    key_env_var = getattr(source, "key_env_var", None)
    description = getattr(source, "description", None)
    if not isinstance(description, str) or not description:
        description = _first_line(getattr(source, "__doc__", None))
    return description, needs_key, key_env_var if isinstance(key_env_var, str) else None


def register(
    name: str,
    factory: Factory,
    *,
    description: str | None = None,
    needs_key: bool | None = None,
    key_env_var: str | None = None,
    check: Callable[[Mapping[str, str]], str] | None = None,
) -> None:
    """Make ``--worker name`` build its worker with ``factory(settings, env)``.

    What is not given is read from the factory's worker class (see the module docstring).
    ``check(env)``, when given, says in one line why the worker cannot run here (a missing
    extra or program), for ``jshost workers``; the factory raises the same as a UsageError.
    """
    desc, key, var = _describe(factory)
    _BUILTINS[name] = _Entry(
        name,
        factory,
        "jshost",
        description if description is not None else desc,
        needs_key if needs_key is not None else key,
        key_env_var if key_env_var is not None else var,
        check=check,
    )


def _allowed(env: Mapping[str, str]) -> frozenset[str] | None:
    raw = env.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _error_text(exc: BaseException) -> str:
    # The last frame names where it broke; the whole traceback would swamp a listing.
    where = traceback.extract_tb(exc.__traceback__)
    at = f" ({where[-1].filename}:{where[-1].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _plugins(env: Mapping[str, str]) -> dict[str, _Entry]:
    """The plugin workers, loaded once per ``JSHOST_LOAD_PLUGINS`` value."""
    key = env.get(LOAD_PLUGINS_ENV)
    with _PLUGINS_LOCK:
        cached = _PLUGINS.get(key)
        if cached is None:
            cached = _PLUGINS[key] = _load_plugins(env)
        return cached


def _load_plugins(env: Mapping[str, str]) -> dict[str, _Entry]:
    allowed = _allowed(env)
    found: dict[str, _Entry] = {}
    if allowed is None or allowed:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            package = ep.dist.name if ep.dist is not None else "?"
            if allowed is not None and ep.name not in allowed and package not in allowed:
                continue
            if ep.name in _BUILTINS or ep.name in found:
                taken = "a built-in worker" if ep.name in _BUILTINS else "another plugin"
                error = f"the name {ep.name!r} is taken by {taken}; this one is ignored"
                found.setdefault(
                    f"{ep.name} ({package})", _Entry(ep.name, None, package, error=error)
                )
                continue
            try:
                factory = ep.load()
                if not callable(factory):
                    raise TypeError(f"{ep.value} is not callable")
                description, needs_key, var = _describe(factory)
            except (Exception, SystemExit) as exc:  # a broken plugin must not break the CLI
                found[ep.name] = _Entry(ep.name, None, package, error=_error_text(exc))
                continue
            found[ep.name] = _Entry(ep.name, factory, package, description, needs_key, var)
    return found


def _entries(env: Mapping[str, str], *, plugins: bool = True) -> list[_Entry]:
    entries = list(_BUILTINS.values())
    if plugins:
        entries += list(_plugins(env).values())
    return entries


def worker_names(env: Mapping[str, str] | None = None) -> list[str]:
    """The names ``--worker`` takes: the built-ins, then the plugins that loaded."""
    env = os.environ if env is None else env
    return [e.name for e in _entries(env) if e.factory is not None]


def _key_problem(entry: _Entry, env: Mapping[str, str]) -> str:
    if entry.needs_key:
        var = entry.key_env_var
        if not var or not env.get(var, "").strip():
            return f"no API key: set {var or 'its key variable'}"
    return ""


def worker_infos(env: Mapping[str, str] | None = None) -> list[WorkerInfo]:
    """Every worker, built-in or plugin, including plugins that failed to load."""
    env = os.environ if env is None else env
    infos = []
    for entry in _entries(env):
        problem = entry.error or _key_problem(entry, env)
        if not problem and entry.check is not None:
            problem = entry.check(env)
        infos.append(
            WorkerInfo(
                name=entry.name,
                description=entry.description,
                package=entry.package,
                ready=not problem,
                problem=problem,
                needs_key=entry.needs_key,
                key_env_var=entry.key_env_var,
            )
        )
    return infos


def choose_worker(requested: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The worker to use, and a note for the user when it was chosen for them (else "").

    ``anthropic`` when ``ANTHROPIC_API_KEY`` is set, else the offline ``sim`` worker.
    """
    env = os.environ if env is None else env
    if requested:
        return requested, ""
    if env.get("ANTHROPIC_API_KEY", "").strip():
        return "anthropic", ""
    return "sim", "using the offline sim worker (no API key configured; its agents run no tools)"


def _find(name: str, env: Mapping[str, str]) -> _Entry:
    entry = _BUILTINS.get(name)
    if entry is not None:
        return entry
    entry = _plugins(env).get(name)
    if entry is None:
        raise UsageError(f"unknown worker {name!r} (known: {', '.join(worker_names(env))})")
    if entry.factory is None:
        raise UsageError(f"worker {name!r} ({entry.package}) failed to load: {entry.error}")
    return entry


def get_worker(
    name: str, settings: WorkerSettings | None = None, env: Mapping[str, str] | None = None
) -> Worker:
    """Build the worker registered as ``name`` (built-in or plugin).

    The host resolves the API key of a worker whose class sets ``needs_key``: it is read
    from ``key_env_var`` in ``env`` and handed over as ``settings.key``.

    Raises:
        UsageError: unknown worker, a plugin that failed to load, missing API key, unknown
            model, bad config file, or a factory that did not return a ``Worker``.
    """
    env = os.environ if env is None else env
    settings = WorkerSettings() if settings is None else settings
    entry = _find(name, env)
    if entry.needs_key and not settings.key:
        if _key_problem(entry, env):
            var = entry.key_env_var or "its key variable"
            raise UsageError(f"no API key: set {var} or use --worker sim")
        settings = replace(settings, key=env[entry.key_env_var or ""].strip())
    assert entry.factory is not None
    if entry.package == "jshost":
        return entry.factory(settings, env)
    try:
        worker = entry.factory(settings, env)
    except UsageError:
        raise
    except Exception as exc:
        # A plugin's own bug: one line naming the plugin, never a traceback.
        raise UsageError(
            f"worker {name!r} ({entry.package}) could not be built: {_error_text(exc)}"
        ) from exc
    if not isinstance(worker, Worker):
        raise UsageError(
            f"worker {name!r} ({entry.package}): its factory returned "
            f"{type(worker).__name__}, not a jshost Worker"
        )
    return worker


#: the name the command line has always used
make_worker = get_worker


def _sim(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    from .sim import SimWorker

    exec_log = env.get("JSHOST_SIM_EXEC_LOG") or None
    cap = structured_output_retries(env)
    return SimWorker(latency=settings.sim_latency, exec_log=exec_log, structured_output_cap=cap)


def _anthropic(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    assert settings.key, "the host resolves the key before calling the factory"
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
        api_key=settings.key,
        base_url=base_url,
        config=config,
        model=settings.model,
        structured_output_cap=cap,
    )


register("sim", _sim, description="offline and deterministic answers, for tests and trials")
# Mirrors AnthropicWorker's needs_key/key_env_var (tests/test_plugins.py checks they agree):
# reading them from the class would import the SDK just to list workers.
register(
    "anthropic",
    _anthropic,
    description="Claude models over the Anthropic Messages API",
    needs_key=True,
    key_env_var="ANTHROPIC_API_KEY",
)


def _claude_code_problem(env: Mapping[str, str]) -> str:
    from .claude_code.program import program_problem

    return program_problem(env)


def _claude_code(settings: WorkerSettings, env: Mapping[str, str]) -> Worker:
    # Everything that can be wrong is found here, before anything runs and before the SDK
    # (~0.6 s) is imported: a missing extra or program, a bad model, a bad setting.
    from .claude_code.program import find_program, setting_sources

    program, problem = find_program(env)
    if program is None:
        raise UsageError(problem)
    config = load_config(env)
    try:
        config.resolve_model(settings.model)
    except ValueError as exc:
        where = "--model" if settings.model else "the default model (models.default)"
        raise UsageError(f"{where}: {exc}") from None
    try:
        sources = setting_sources(env)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        from .claude_code import ClaudeCodeWorker
    except ImportError as exc:
        raise UsageError(
            f"the claude-code worker cannot import claude-agent-sdk ({exc}): "
            "pip install 'jshost[claude-code]'"
        ) from None
    # The tool options (workspace, rules, mode, approved MCP servers) arrive on the settings
    # once the command line has them; until then each is its default.
    extra = {
        name: getattr(settings, name)
        for name in ("workspace", "allowed_tools", "disallowed_tools", "permission_mode")
        if getattr(settings, name, None) is not None
    }
    base_url = settings.base_url or env.get("ANTHROPIC_BASE_URL", "").strip() or None
    try:
        return ClaudeCodeWorker(
            cli_path=program,
            config=config,
            model=settings.model,
            base_url=base_url,
            setting_sources=sources,
            structured_output_cap=structured_output_retries(env),
            **extra,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# The program needs no key of ours: it also runs on the user's Claude Code login.
register(
    "claude-code",
    _claude_code,
    description=(
        "Claude Code subagents: the claude program through claude-agent-sdk "
        "(~200 MB and ~0.35-0.9 s start-up per agent; lower --concurrency on small machines)"
    ),
    check=_claude_code_problem,
)
