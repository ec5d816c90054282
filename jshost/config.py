"""User configuration: model aliases and worker settings, from a TOML file and the environment.

Where: ``$JSHOST_HOME/config.toml`` when ``JSHOST_HOME`` is set, else ``config.toml`` in the
platform's user config directory for jshost. A missing file is the same as an empty one.

```toml
[models]
default = "sonnet"                 # model of agents that name none (and no --model)
haiku = "claude-haiku-5-5"         # override an alias
fast = "claude-haiku-4-5"          # or add one

[anthropic]
max_tokens = 16384                 # per request
max_retries = 8                    # SDK retries of one request (429, 5xx, 529, …)
retry_after_cap = 60               # seconds: the longest wait a retry-after may impose
```

``[estimate]`` and ``[prices]`` tune ``jshost plan``'s estimates: see docs/plan.md.

Environment variables win over the file: ``JSHOST_MODEL_<ALIAS>`` (``JSHOST_MODEL_SONNET``,
``JSHOST_MODEL_DEFAULT``, …).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

from ._data import Frozen, set_field
from ._lazy import lazy_pattern
from .errors import UsageError
from .prices import EstimateSettings, parse_estimate_tables

__all__ = ["DEFAULT_MODELS", "Config", "config_path", "load_config"]

#: current model ids behind the aliases a script may use
DEFAULT_MODELS: Mapping[str, str] = {
    "haiku": "claude-haiku-5-5",
    "sonnet": "claude-sonnet-5-5",
    "opus": "claude-opus-5-5",
    "fable": "claude-fable-5-2",
}
#: environment variables that hold a model service's credentials: never handed to a command an
#: agent runs (its output is stored), and redacted from any line a worker reports
CREDENTIAL_VARS = frozenset(
    {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY"}
)
_ALIAS = lazy_pattern(r"^[a-z][a-z0-9_]*$")
_ENV_PREFIX = "JSHOST_MODEL_"


@final
class Config(Frozen):
    """Settings read from the config file and the environment.

    Args:
        models (Mapping[str, str]): alias → model id.
        default_model (str): alias or model id of agents that name no model.
        max_tokens (int): ``max_tokens`` of each request.
        max_retries (int): retries of one request by the SDK.
        retry_after_cap (float): the longest a server's ``retry-after`` may make us wait.
        path (Path | None): the file the settings came from, if one was read.
        estimate (EstimateSettings): prices and typical figures for ``jshost plan``.
    """

    models: Mapping[str, str]
    default_model: str = "sonnet"
    max_tokens: int = 16384
    max_retries: int = 8
    retry_after_cap: float = 60.0
    path: Path | None = None
    estimate: EstimateSettings

    _fields = (
        "models",
        "default_model",
        "max_tokens",
        "max_retries",
        "retry_after_cap",
        "path",
        "estimate",
    )

    def __init__(
        self,
        models: Mapping[str, str] | None = None,
        default_model: str = "sonnet",
        max_tokens: int = 16384,
        max_retries: int = 8,
        retry_after_cap: float = 60.0,
        path: Path | None = None,
        estimate: EstimateSettings | None = None,
    ) -> None:
        set_field(self, "models", dict(DEFAULT_MODELS) if models is None else models)
        set_field(self, "default_model", default_model)
        set_field(self, "max_tokens", max_tokens)
        set_field(self, "max_retries", max_retries)
        set_field(self, "retry_after_cap", retry_after_cap)
        set_field(self, "path", path)
        set_field(self, "estimate", EstimateSettings() if estimate is None else estimate)

    def resolve_model(self, name: str | None) -> str:
        """The model id for an alias, a full id (passed through), or None (the default).

        Raises:
            ValueError: ``name`` is a bare word that is no known alias (a typo, most likely).
        """
        if name is None or name.strip().lower() == "inherit":
            name = self.default_model
        name = name.strip()
        alias = name.lower()  # 'Opus' is a slip of the shift key, not a model id
        if alias in self.models:
            return self.models[alias]
        if _ALIAS.match(alias):
            known = ", ".join([*sorted(self.models), "inherit"])
            raise ValueError(f"unknown model {name!r} (known: {known}, or a full model id)")
        return name

    def agent_model(self, asked: str | None, default: str) -> str:
        """The model an agent that asks for ``asked`` runs on: ``default`` (the run's model,
        already resolved) for None or ``inherit``, else :meth:`resolve_model`'s id.

        Raises:
            ValueError: as :meth:`resolve_model`.
        """
        return default if asked in (None, "inherit") else self.resolve_model(asked)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$JSHOST_HOME/config.toml``, else ``config.toml`` in the user config directory."""
    env = os.environ if env is None else env
    home = env.get("JSHOST_HOME")
    if home:
        return Path(home).expanduser() / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("jshost", appauthor=False)) / "config.toml"


def _number(table: Mapping[str, Any], key: str, where: str, *, low: float, kind: type) -> Any:
    value = table[key]
    fits = isinstance(value, int) if kind is int else isinstance(value, int | float)
    if isinstance(value, bool) or not fits:
        raise UsageError(f"{where}: {key} must be {'an integer' if kind is int else 'a number'}")
    if value < low:
        raise UsageError(f"{where}: {key} must be at least {low:g}")
    return kind(value)


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read the config file (if any) and the ``JSHOST_MODEL_*`` environment variables.

    Raises:
        UsageError: the file is not valid TOML, or a setting has the wrong type.
    """
    env = os.environ if env is None else env
    path = config_path(env)
    data: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        read: Path | None = None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the config file {str(path)!r}: {exc}") from None
    else:
        read = path
        import tomllib  # only when there is a file: a few hundred µs of every start-up

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None

    models = dict(DEFAULT_MODELS)
    default_model = Config.default_model
    table = data.get("models", {})
    if not isinstance(table, dict):
        raise UsageError(f'{path}: [models] must be a table of alias = "model id"')
    for alias, model in table.items():
        if not isinstance(model, str) or not model.strip():
            raise UsageError(f"{path}: models.{alias} must be a non-empty string")
        if alias == "default":
            default_model = model.strip()
        elif not _ALIAS.match(alias) or alias == "inherit":
            raise UsageError(
                f"{path}: models.{alias}: an alias is a lowercase word (and not 'inherit')"
            )
        else:
            models[alias] = model.strip()
    for key, value in env.items():
        if key.startswith(_ENV_PREFIX) and value.strip():
            alias = key[len(_ENV_PREFIX) :].lower()
            if alias == "default":
                default_model = value.strip()
            elif _ALIAS.match(alias) and alias != "inherit":
                models[alias] = value.strip()

    settings: dict[str, Any] = {}
    worker = data.get("anthropic", {})
    if not isinstance(worker, dict):
        raise UsageError(f"{path}: [anthropic] must be a table")
    where = f"{path} [anthropic]"
    if "max_tokens" in worker:
        settings["max_tokens"] = _number(worker, "max_tokens", where, low=1, kind=int)
    if "max_retries" in worker:
        settings["max_retries"] = _number(worker, "max_retries", where, low=0, kind=int)
    if "retry_after_cap" in worker:
        settings["retry_after_cap"] = _number(worker, "retry_after_cap", where, low=0, kind=float)
    estimate = parse_estimate_tables(data, path)
    return Config(
        models=models, default_model=default_model, path=read, estimate=estimate, **settings
    )
