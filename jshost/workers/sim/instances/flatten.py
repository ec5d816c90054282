"""One level's constraints: ``$ref`` and ``allOf`` merged into a ``_Flat``, values checked exactly.

``_Flattener`` holds what depends on the root schema (the validators, the ``$ref`` targets
reachable from each subschema, the ``$anchor`` map); the builders and the generator extend it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from ....patterns import PatternError
from .base import (
    _MISSING,
    _RECURSION_ALLOWANCE,
    SchemaUnsatisfiable,
    _canon,
    _max_opt,
    _min_opt,
    _ordered_union,
)


@dataclass
class _Flat:
    """The constraints of one level after ``$ref`` and ``allOf`` are merged.

    ``None`` means unconstrained. Keywords whose meaning depends on their siblings stay
    grouped per subschema (``obj_rules``, ``arr_rules``) so they can be applied exactly.
    """

    types: list[str] | None = None
    excluded_types: set[str] = field(default_factory=set)
    enum: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: list[int | float] = field(default_factory=list)
    min_length: int = 0
    max_length: int | None = None
    patterns: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    min_items: int = 0
    max_items: int | None = None
    unique_items: bool = False
    arr_rules: list[tuple[list[Any], Any]] = field(default_factory=list)  # (prefixItems, items)
    contains: list[tuple[Any, int, int | None]] = field(default_factory=list)
    min_properties: int = 0
    max_properties: int | None = None
    required: list[str] = field(default_factory=list)
    # (properties, patternProperties, additionalProperties) of each subschema
    obj_rules: list[tuple[dict[str, Any], dict[str, Any], Any]] = field(default_factory=list)
    property_names: list[Any] = field(default_factory=list)
    dependent_required: dict[str, list[str]] = field(default_factory=dict)
    dependent_schemas: dict[str, list[Any]] = field(default_factory=dict)
    groups: list[tuple[str, list[Any]]] = field(default_factory=list)  # disjunctions to resolve
    refs: list[int] = field(default_factory=list)

    def copy(self) -> _Flat:
        new = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list | dict | set):
                setattr(new, name, value.copy())
        return new

    def inferred_types(self) -> list[str]:
        """The types the keywords present suggest, for a schema without ``type``."""
        kinds = []
        if (
            self.obj_rules
            or self.required
            or self.min_properties
            or self.max_properties is not None
            or self.property_names
            or self.dependent_required
            or self.dependent_schemas
        ):
            kinds.append("object")
        if (
            self.arr_rules
            or self.contains
            or self.min_items
            or self.max_items is not None
            or self.unique_items
        ):
            kinds.append("array")
        if self.min_length or self.max_length is not None or self.patterns or self.formats:
            kinds.append("string")
        bounds = (self.minimum, self.maximum, self.exclusive_minimum, self.exclusive_maximum)
        if any(b is not None for b in bounds) or self.multiple_of:
            kinds.append("number")
        return kinds

    def bounds_text(self) -> str:
        pairs = (
            ("minimum", self.minimum),
            ("exclusiveMinimum", self.exclusive_minimum),
            ("maximum", self.maximum),
            ("exclusiveMaximum", self.exclusive_maximum),
        )
        return ", ".join(f"{kw} {v}" for kw, v in pairs if v is not None) or "no bounds"

    def bounds_conflict(self, kind: str) -> str:
        """Why no ``kind`` fits the numeric bounds, e.g. ``minimum 5 > maximum 3``."""
        lower = [
            (v, ex, kw)
            for kw, v, ex in (
                ("minimum", self.minimum, False),
                ("exclusiveMinimum", self.exclusive_minimum, True),
            )
            if v is not None
        ]
        upper = [
            (v, not ex, kw)
            for kw, v, ex in (
                ("maximum", self.maximum, False),
                ("exclusiveMaximum", self.exclusive_maximum, True),
            )
            if v is not None
        ]
        lv, _, lkw = max(lower)
        uv, _, ukw = min(upper)
        if lv > uv:
            return f"{lkw} {lv} > {ukw} {uv}"
        return f"no {kind} between {lkw} {lv} and {ukw} {uv}"

    def real_bounds(self) -> tuple[Any, bool, Any, bool]:
        """(lower, lower exclusive, upper, upper exclusive) after merging both keyword kinds."""
        lo, lo_ex, hi, hi_ex = self.minimum, False, self.maximum, False
        if self.exclusive_minimum is not None and (lo is None or self.exclusive_minimum >= lo):
            lo, lo_ex = self.exclusive_minimum, True
        if self.exclusive_maximum is not None and (hi is None or self.exclusive_maximum <= hi):
            hi, hi_ex = self.exclusive_maximum, True
        return lo, lo_ex, hi, hi_ex

    def within(self, v: int | float) -> bool:
        return (
            (self.minimum is None or v >= self.minimum)
            and (self.maximum is None or v <= self.maximum)
            and (self.exclusive_minimum is None or v > self.exclusive_minimum)
            and (self.exclusive_maximum is None or v < self.exclusive_maximum)
        )


def _intersect_types(current: list[str] | None, new: list[str]) -> list[str]:
    if current is None:
        return list(dict.fromkeys(new))
    out = []
    for t in current:
        if t in new:
            out.append(t)
        elif (t == "number" and "integer" in new) or (t == "integer" and "number" in new):
            out.append("integer")  # every integer is a number, not the other way round
    return list(dict.fromkeys(out))


class _Flattener:
    """Flattens and resolves the subschemas of one root schema; holds the caches for that root."""

    def __init__(self, root: dict[str, Any] | bool) -> None:
        self._root = root
        self._root_validator = Draft202012Validator(root)
        # Caches keyed by id() hold the schema too, so a freed temporary cannot alias an id.
        self._validators: dict[int, tuple[Any, Draft202012Validator]] = {}
        self._reach: dict[int, tuple[Any, frozenset[int]]] = {}
        self._anchors: dict[str, Any] | None = None

    # ---- flattening

    def _collect(self, flat: _Flat, schema: Any, path: str) -> None:
        """Merge ``schema``'s constraints (and its $ref / allOf) into ``flat``."""
        if schema is True:
            return
        if schema is False:
            raise SchemaUnsatisfiable(f"{path}: false schema admits no value")
        if not isinstance(schema, dict):
            raise SchemaUnsatisfiable(f"{path}: a schema must be an object or a boolean")
        s = schema
        if "type" in s:
            types = [s["type"]] if isinstance(s["type"], str) else list(s["type"])
            merged = _intersect_types(flat.types, types)
            if not merged:
                if not types:
                    raise SchemaUnsatisfiable(f"{path}: type list is empty")
                raise SchemaUnsatisfiable(f"{path}: type {types} conflicts with type {flat.types}")
            flat.types = merged
        if "const" in s:
            self._restrict_enum(flat, [s["const"]], path)
        if "enum" in s:
            self._restrict_enum(flat, list(s["enum"]), path)
        if "minimum" in s:
            flat.minimum = _max_opt(flat.minimum, s["minimum"])
        if "maximum" in s:
            flat.maximum = _min_opt(flat.maximum, s["maximum"])
        if "exclusiveMinimum" in s:
            flat.exclusive_minimum = _max_opt(flat.exclusive_minimum, s["exclusiveMinimum"])
        if "exclusiveMaximum" in s:
            flat.exclusive_maximum = _min_opt(flat.exclusive_maximum, s["exclusiveMaximum"])
        if "multipleOf" in s:
            flat.multiple_of.append(s["multipleOf"])
        if "minLength" in s:
            flat.min_length = max(flat.min_length, s["minLength"])
        if "maxLength" in s:
            flat.max_length = _min_opt(flat.max_length, s["maxLength"])
        if "pattern" in s:
            flat.patterns.append(s["pattern"])
        if "format" in s:
            flat.formats.append(s["format"])
        if "minItems" in s:
            flat.min_items = max(flat.min_items, s["minItems"])
        if "maxItems" in s:
            flat.max_items = _min_opt(flat.max_items, s["maxItems"])
        if s.get("uniqueItems"):
            flat.unique_items = True
        if "prefixItems" in s or "items" in s:
            flat.arr_rules.append((list(s.get("prefixItems", [])), s.get("items")))
        if "contains" in s:
            flat.contains.append((s["contains"], s.get("minContains", 1), s.get("maxContains")))
        if "properties" in s or "patternProperties" in s or "additionalProperties" in s:
            flat.obj_rules.append(
                (
                    dict(s.get("properties", {})),
                    dict(s.get("patternProperties", {})),
                    s.get("additionalProperties"),
                )
            )
        if "required" in s:
            flat.required = _ordered_union(flat.required, s["required"])
        if "minProperties" in s:
            flat.min_properties = max(flat.min_properties, s["minProperties"])
        if "maxProperties" in s:
            flat.max_properties = _min_opt(flat.max_properties, s["maxProperties"])
        if "propertyNames" in s:
            flat.property_names.append(s["propertyNames"])
        for key, deps in s.get("dependentRequired", {}).items():
            flat.dependent_required[key] = _ordered_union(
                flat.dependent_required.get(key, []), deps
            )
        for key, sub in s.get("dependentSchemas", {}).items():
            flat.dependent_schemas[key] = [*flat.dependent_schemas.get(key, []), sub]
        if "not" in s:
            self._collect_not(flat, s["not"], path)
        if "anyOf" in s:
            flat.groups.append(("anyOf", list(s["anyOf"])))
        if "oneOf" in s:
            flat.groups.append(("oneOf", list(s["oneOf"])))
        if "if" in s and ("then" in s or "else" in s):
            cond = s["if"]
            flat.groups.append(
                (
                    "if",
                    [
                        {"allOf": [cond, s.get("then", True)]},
                        {"allOf": [{"not": cond}, s.get("else", True)]},
                    ],
                )
            )
        for key in ("$ref", "$dynamicRef"):
            if key in s:
                target = self._resolve(s[key], path)
                # A target already merged at this level adds nothing (and would loop).
                if id(target) not in flat.refs:
                    flat.refs.append(id(target))
                    self._collect(flat, target, path)
        for sub in s.get("allOf", []):
            self._collect(flat, sub, path)

    def _collect_not(self, flat: _Flat, negated: Any, path: str) -> None:
        # Only `not: {type}` steers generation; any other `not` is enforced by validation.
        if negated is True or negated == {}:
            raise SchemaUnsatisfiable(f"{path}: 'not' of a schema that accepts everything")
        if isinstance(negated, dict) and set(negated) == {"type"}:
            t = negated["type"]
            flat.excluded_types.update([t] if isinstance(t, str) else t)

    @staticmethod
    def _restrict_enum(flat: _Flat, values: list[Any], path: str) -> None:
        if flat.enum is None:
            flat.enum = values
            if not values:
                raise SchemaUnsatisfiable(f"{path}: enum is empty")
            return
        allowed = {_canon(v) for v in values}
        flat.enum = [v for v in flat.enum if _canon(v) in allowed]
        if not flat.enum:
            raise SchemaUnsatisfiable(f"{path}: enum/const values have no member in common")

    def _resolve(self, ref: Any, path: str) -> Any:
        """The local schema a ``$ref`` points at (JSON pointer or ``$anchor``)."""
        base = self._root.get("$id", "") if isinstance(self._root, dict) else ""
        if (
            isinstance(base, str)
            and base
            and isinstance(ref, str)
            and ref.startswith(base.rstrip("#"))
        ):
            ref = ref[len(base.rstrip("#")) :] or "#"
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaUnsatisfiable(
                f"{path}: unsupported $ref {ref!r}; only local references ('#...') are resolved"
            )
        fragment = unquote(ref[1:])
        if not fragment:
            return self._root
        if not fragment.startswith("/"):
            target = self._anchor_map().get(fragment, _MISSING)
            if target is _MISSING:
                raise SchemaUnsatisfiable(f"{path}: $ref {ref!r} names no $anchor")
            return target
        node: Any = self._root
        for raw in fragment[1:].split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaUnsatisfiable(f"{path}: $ref {ref!r} does not resolve")
        return node

    def _anchor_map(self) -> dict[str, Any]:
        if self._anchors is None:
            self._anchors = {}
            stack: list[Any] = [self._root]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    for key in ("$anchor", "$dynamicAnchor"):
                        if isinstance(node.get(key), str):
                            self._anchors.setdefault(node[key], node)
                    stack.extend(v for v in node.values() if isinstance(v, dict | list))
                elif isinstance(node, list):
                    stack.extend(v for v in node if isinstance(v, dict | list))
        return self._anchors

    # ---- recursion control

    @staticmethod
    def _hot(refs: tuple[int, ...]) -> set[int]:
        return {r for r in set(refs) if refs.count(r) >= _RECURSION_ALLOWANCE}

    def _too_recursive(self, schema: Any, refs: tuple[int, ...]) -> bool:
        """Whether ``schema`` would expand a $ref already expanded enough times above us."""
        hot = self._hot(refs)
        return bool(hot) and not hot.isdisjoint(self._reachable(schema))

    def _reachable(self, schema: Any) -> frozenset[int]:
        cached = self._reach.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        found: set[int] = set()
        seen: set[int] = set()
        stack = [schema]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("$ref", "$dynamicRef"):
                        try:
                            target = self._resolve(value, "$")
                        except SchemaUnsatisfiable:
                            continue
                        found.add(id(target))
                        stack.append(target)
                    elif key in ("$defs", "definitions"):
                        continue  # only reachable through a $ref, followed above
                    elif isinstance(value, dict | list):
                        stack.append(value)
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, dict | list))
        result = frozenset(found)
        self._reach[id(schema)] = (schema, result)
        return result

    # ---- validation

    def _first_error(self, schema: Any, value: Any, path: str) -> ValidationError | None:
        cached = self._validators.get(id(schema))
        if cached is not None and cached[0] is schema:
            validator = cached[1]
        else:
            # evolve() keeps the root's resolver, so '#/...' refs in subschemas still resolve.
            validator = self._root_validator.evolve(schema=schema)
            self._validators[id(schema)] = (schema, validator)
        try:
            return next(iter(validator.iter_errors(value)), None)
        except (Unresolvable, re.error, PatternError) as exc:
            raise SchemaUnsatisfiable(f"{path}: schema could not be evaluated: {exc}") from None
