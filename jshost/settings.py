"""The reference runtime's environment settings that jshost honours (reference §8.4).

A user who set these for Claude Code gets the same behaviour here:

- ``CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS`` (1–256): agents running at once. An alias of
  ``JSHOST_MAX_CONCURRENT_AGENTS``; ours wins when both are set, ``--concurrency`` beats both.
- ``MAX_STRUCTURED_OUTPUT_RETRIES``: failed StructuredOutput calls before ``agent({schema})``
  rejects (reference §4, default 5).
- ``CLAUDE_CODE_SUBAGENT_MODEL``: the model of every agent, over ``opts.model`` (reference §6.4:
  env, unless ``inherit`` > ``opts.model`` > the run's model).
- ``CLAUDE_CODE_SUBAGENT_MODEL_FORCE``: ``opts.model`` is ignored, with a log line (§3.1 step 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import final

from ._data import Frozen, set_field
from .errors import UsageError

__all__ = [
    "CONCURRENCY_ENV",
    "FORCE_MODEL_ENV",
    "STRUCTURED_OUTPUT_RETRIES_ENV",
    "SUBAGENT_MODEL_ENV",
    "ModelPolicy",
    "structured_output_retries",
]

#: where ``--concurrency`` comes from when not given, first set wins
CONCURRENCY_ENV = ("JSHOST_MAX_CONCURRENT_AGENTS", "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS")
STRUCTURED_OUTPUT_RETRIES_ENV = "MAX_STRUCTURED_OUTPUT_RETRIES"
SUBAGENT_MODEL_ENV = "CLAUDE_CODE_SUBAGENT_MODEL"
FORCE_MODEL_ENV = "CLAUDE_CODE_SUBAGENT_MODEL_FORCE"
_DEFAULT_RETRIES = 5
_FALSE = frozenset({"", "0", "false", "no", "off"})


def structured_output_retries(env: Mapping[str, str] | None = None) -> int:
    """The StructuredOutput retry cap: ``MAX_STRUCTURED_OUTPUT_RETRIES``, else 5.

    Raises:
        UsageError: the variable is set to something other than a whole number ≥ 1.
    """
    env = os.environ if env is None else env
    text = env.get(STRUCTURED_OUTPUT_RETRIES_ENV, "").strip()
    if not text:
        return _DEFAULT_RETRIES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"{STRUCTURED_OUTPUT_RETRIES_ENV} must be a whole number of at least 1, not {text!r}"
        )
    return value


@final
class ModelPolicy(Frozen):
    """Which model an agent gets, as the reference decides it (§6.4).

    Args:
        subagent_model (str | None): ``CLAUDE_CODE_SUBAGENT_MODEL`` (None when unset or
            ``inherit``): every agent's model, over what the script asked for.
        force (bool): ``CLAUDE_CODE_SUBAGENT_MODEL_FORCE``: ``opts.model`` is ignored.
    """

    subagent_model: str | None = None
    force: bool = False

    _fields = ("subagent_model", "force")

    def __init__(self, subagent_model: str | None = None, force: bool = False) -> None:
        set_field(self, "subagent_model", subagent_model)
        set_field(self, "force", force)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelPolicy:
        env = os.environ if env is None else env
        model = env.get(SUBAGENT_MODEL_ENV, "").strip()
        if model.lower() == "inherit":
            model = ""
        force = env.get(FORCE_MODEL_ENV, "").strip().lower() not in _FALSE
        return cls(subagent_model=model or None, force=force)

    def choose(self, asked: str | None, run_model: str | None) -> tuple[str | None, str | None]:
        """The model for an agent whose script asked for ``asked`` (None: nothing, or
        ``inherit``), in a run whose model is ``run_model``; and a note to log, or None."""
        if self.subagent_model is not None:
            return self.subagent_model, None
        if asked is not None and self.force:
            return run_model, f"model {asked!r} ignored: {FORCE_MODEL_ENV} is set"
        return (run_model if asked is None else asked), None
