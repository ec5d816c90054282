"""Checking a model's schema answer, for workers that are not the built-in ones.

A worker that asks its model for JSON (a plugin's, say) hands the reply text to
:func:`check_answer` and gets the value, or the problems to send back to the model for a
repair turn; after ``structured_output_cap`` failed turns it raises
``AgentRejectedError(structured_output_cap_message(last, cap))``, the reference's rejection.
The host, not each plugin, decides what a valid answer is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from ..schemas import STRUCTURED_OUTPUT_CAP, structured_output_cap_message
from ..text import clip

__all__ = [
    "STRUCTURED_OUTPUT_CAP",
    "check_answer",
    "schema_problems",
    "structured_output_cap_message",
    "tool_schema",
]

_MAX_PROBLEMS = 20
_MAX_PROBLEM_CHARS = 300
# Models often wrap JSON in a Markdown fence even when told not to.
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


def check_answer(schema: dict[str, Any] | bool, text: str) -> tuple[Any, list[str]]:
    """The JSON value in a model's reply ``text``, and what is wrong with it (nothing: valid).

    Accepts the JSON alone or inside one Markdown code fence. Validation is JSON Schema
    2020-12, as for the built-in workers. Slow on a large answer: call it off the run loop
    (``trio.to_thread.run_sync``).
    """
    m = _FENCE.match(text)
    body = m.group("body") if m else text
    try:
        value = json.loads(body)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        return None, [
            clip(f"the reply is not JSON: {getattr(exc, 'msg', exc)}{where}", _MAX_PROBLEM_CHARS)
        ]
    except RecursionError:
        return None, ["the reply is JSON nested too deeply"]
    return value, schema_problems(Draft202012Validator(schema), value)


def schema_problems(validator: Draft202012Validator, value: Any, prefix: str = "$") -> list[str]:
    """What is wrong with ``value`` (nothing: valid), one clipped line per problem ordered by
    where it is, at most 20 and a count of the rest; paths start with ``prefix`` (``$.value``
    for a wrapped answer). Slow on a large value: call it off the run loop."""
    errors = sorted(validator.iter_errors(value), key=lambda e: e.json_path)
    problems = [clip(f"{prefix}{e.json_path[1:]}: {e.message}", _MAX_PROBLEM_CHARS) for e in errors]
    if len(problems) > _MAX_PROBLEMS:
        problems = [*problems[:_MAX_PROBLEMS], f"… and {len(problems) - _MAX_PROBLEMS} more"]
    return problems


def tool_schema(schema: dict[str, Any] | bool) -> tuple[dict[str, Any], bool]:
    """The ``StructuredOutput`` input schema for ``schema``, and whether it was wrapped.

    A tool's input must be an object: any other root becomes ``{"value": <schema>}``.
    """
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema, False
    inner = {} if schema is True else dict(schema)  # type: ignore[arg-type]
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
        "additionalProperties": False,
    }
    # "#/$defs/x" resolves from the document root, so definitions move to the new root.
    for key in ("$defs", "definitions"):
        if key in inner:
            wrapper[key] = inner.pop(key)
    return wrapper, True
