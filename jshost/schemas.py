"""Checks on the JSON Schemas scripts pass to ``agent({schema})``, with the reference's messages."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

__all__ = ["STRUCTURED_OUTPUT_CAP", "schema_problem", "structured_output_cap_message"]

#: failed StructuredOutput calls before agent() rejects (reference §4)
STRUCTURED_OUTPUT_CAP = 5


def _contradiction(schema: Any, path: str) -> str | None:
    """A provable contradiction in ``schema`` (recursively), or None."""
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    if schema.get("additionalProperties") is False and not schema.get("patternProperties"):
        for i, key in enumerate(required):
            if isinstance(key, str) and key not in props:
                return (
                    "a required key is ruled out by additionalProperties: false: "
                    f"{path}.required[{i}] {key!r} is not among the declared properties"
                )
    for key in required:
        if isinstance(key, str) and props.get(key) is False:
            return f"a required key's schema is false: {path}.properties.{key} is false"
    for name, sub in props.items():
        found = _contradiction(sub, f"{path}.properties.{name}")
        if found:
            return found
    for key in ("items", "additionalProperties", "contains", "not"):
        if isinstance(schema.get(key), dict) and key != "not":
            found = _contradiction(schema[key], f"{path}.{key}")
            if found:
                return found
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        subs = schema.get(key)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                found = _contradiction(sub, f"{path}.{key}[{i}]")
                if found:
                    return found
    for key in ("minLength", "minItems", "minProperties", "minimum"):
        upper = {
            "minLength": "maxLength",
            "minItems": "maxItems",
            "minProperties": "maxProperties",
            "minimum": "maximum",
        }[key]
        lo, hi = schema.get(key), schema.get(upper)
        if (
            isinstance(lo, int | float)
            and isinstance(hi, int | float)
            and not isinstance(lo, bool)
            and not isinstance(hi, bool)
            and lo > hi
        ):
            return f"contradictory bounds: {path}: {key} {lo} is greater than {upper} {hi}"
    return None


def schema_problem(schema: Any) -> str | None:
    """The exact ``agent()`` rejection message for a bad schema, or None when it is usable."""
    if not isinstance(schema, dict | bool):
        return (
            "agent({schema}) received an invalid JSON Schema: "
            f"a schema must be an object or a boolean, not {type(schema).__name__}"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else ""
        return f"agent({{schema}}) received an invalid JSON Schema: {exc.message}" + (
            f" (at {where})" if where else ""
        )
    found = _contradiction(schema, "$")
    if schema is False:
        found = "the schema is false: no value satisfies it"
    if found:
        explanation, _, message = found.partition(": ")
        return (
            f"agent({{schema}}) received an unusable JSON Schema — {explanation}: "
            f"{message}. The subagent was not started — fix the schema and call "
            "agent() again."
        )
    return None


def structured_output_cap_message(last_error: str) -> str:
    """The reference's rejection when no StructuredOutput call produced a valid value."""
    n = STRUCTURED_OUTPUT_CAP
    return (
        f"agent({{schema}}): StructuredOutput retry cap ({n}) exceeded — {n} failed calls with "
        f"no valid output — last StructuredOutput error: {last_error}"
    )
