"""Checking a tool call's input against its schema, with messages the model can act on.

The Messages API does not enforce ``input_schema``: a model may send a string for a number or
a field that does not exist. Each check raises :class:`ToolInputError` naming the field.
"""

from __future__ import annotations

from typing import Any

from ..base import ToolInputError

__all__ = ["boolean", "check_fields", "integer", "one_of", "text"]


def check_fields(tool: str, tool_input: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """``tool_input`` as a dict, after checking that it names only fields of ``schema``
    and has its required ones."""
    if not isinstance(tool_input, dict):
        raise ToolInputError(f"{tool} takes an object of named fields")
    known = schema.get("properties", {})
    unknown = sorted(k for k in tool_input if k not in known)
    if unknown:
        raise ToolInputError(
            f"{tool} has no field {', '.join(map(repr, unknown))} (it takes {', '.join(known)})"
        )
    missing = [k for k in schema.get("required", ()) if k not in tool_input]
    if missing:
        raise ToolInputError(f"{tool} needs {', '.join(map(repr, missing))}")
    return tool_input


def text(tool_input: dict[str, Any], key: str, *, default: str | None = None) -> str | None:
    value = tool_input.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolInputError(f"{key} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON allows "\ud800"; no file, pattern or command can hold it
        raise ToolInputError(f"{key} is not valid Unicode text (a lone surrogate)") from None
    return value


def integer(
    tool_input: dict[str, Any],
    key: str,
    *,
    default: int | None = None,
    low: int | None = None,
    high: int | None = None,
) -> int | None:
    value = tool_input.get(key, default)
    if value is None:
        return None
    # a whole float (3.0) is what some models send for an integer
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolInputError(f"{key} must be an integer")
    if low is not None and value < low:
        raise ToolInputError(f"{key} must be at least {low}")
    if high is not None and value > high:
        raise ToolInputError(f"{key} must be at most {high:,}")
    return value


def boolean(tool_input: dict[str, Any], key: str, *, default: bool = False) -> bool:
    value = tool_input.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ToolInputError(f"{key} must be true or false")
    return value


def one_of(tool_input: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = tool_input.get(key, default)
    if value is None:
        return default
    if value not in choices:
        raise ToolInputError(f"{key} must be one of {', '.join(choices)}")
    return value
