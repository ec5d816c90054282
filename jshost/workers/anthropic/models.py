"""What the anthropic worker knows of models: effort levels and capabilities, and the
``StructuredOutput`` tool's input schema for a caller's schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from ..answers import tool_schema

__all__ = ["EFFORT_LEVELS", "TOOL", "effort_level", "tool_schema"]

TOOL = "StructuredOutput"
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class _Caps:
    """What a model accepts, from the Models API."""

    efforts: tuple[str, ...] = ()  # supported effort levels, lowest first
    adaptive_thinking: bool = False
    known: bool = False  # False: the capabilities could not be read


def _caps_of(info: Any) -> _Caps:
    caps = getattr(info, "capabilities", None)
    try:
        effort = caps.effort
        efforts = tuple(
            level
            for level in EFFORT_LEVELS
            if effort.supported and getattr(getattr(effort, level, None), "supported", False)
        )
        thinking = caps.thinking
        adaptive = bool(thinking.supported and thinking.types.adaptive.supported)
    except AttributeError:  # no capabilities (an older API, a gateway): assume none
        return _Caps(known=caps is not None)
    return _Caps(efforts=efforts, adaptive_thinking=adaptive, known=True)


def effort_level(effort: Any) -> str | None:
    """The effort level a script's ``effort`` names (``med`` = ``medium``), or None.

    Numbers are accepted by the reference but have no Messages API equivalent: None.
    """
    if not isinstance(effort, str):
        return None
    level = effort.strip().lower()
    level = "medium" if level == "med" else level
    return level if level in EFFORT_LEVELS else None


def _fit_level(level: str, supported: tuple[str, ...]) -> str | None:
    """``level`` if supported, else the highest supported level below it, else the lowest."""
    if not supported:
        return None
    rank = EFFORT_LEVELS.index(level)
    below = [x for x in supported if EFFORT_LEVELS.index(x) <= rank]
    return below[-1] if below else supported[0]


@dataclass
class _Plan:
    """How one agent's requests are made."""

    model: str
    schema: Any = None
    tool_schema: dict[str, Any] | None = None
    wrapped: bool = False
    validator: Draft202012Validator | None = None
    effort: str | None = None
    thinking: bool = False
