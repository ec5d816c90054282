"""Arrays and objects: items, uniqueness, ``contains``, properties and their dependencies."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ....patterns import search as _search
from .base import (
    _MAX_SIZE,
    _MISSING,
    _UNIQUE_TRIES,
    SchemaUnsatisfiable,
    _all_of,
    _canon,
    _closure,
    _Ctx,
)
from .flatten import _Flat, _Flattener
from .regex import _regex_sample


class _ContainerBuilder(_Flattener):
    """Builds the ``array`` and ``object`` values of a level (a mixin of the generator)."""

    if TYPE_CHECKING:
        # The generator's entry for one nested value; items and properties recurse through it.
        def _gen(self, schema: Any, ctx: _Ctx) -> Any: ...

    def _build_array(self, flat: _Flat, ctx: _Ctx, *, lean: bool) -> list[Any]:
        lo, hi = flat.min_items, flat.max_items
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minItems {lo} > maxItems {hi}")
        forced: list[Any] = []  # one slot per item `contains` insists on
        for schema, min_c, max_c in flat.contains:
            if max_c is not None and min_c > max_c:
                raise SchemaUnsatisfiable(f"{ctx.path}: minContains {min_c} > maxContains {max_c}")
            forced.extend([schema] * min_c)
        if hi is not None and len(forced) > hi:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: contains needs {len(forced)} items > maxItems {hi}"
            )
        need = max(lo, len(forced))
        if need > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minItems {need} is too large to generate (limit {_MAX_SIZE})"
            )
        prefix_len = max((len(prefix) for prefix, _ in flat.arr_rules), default=0)
        target = need if lean else max(need, 2, prefix_len)
        if hi is not None:
            target = min(target, hi)
        capped = [schema for schema, _, max_c in flat.contains if max_c is not None]
        seen: set[Any] | None = set() if flat.unique_items else None
        items: list[Any] = []
        for i in range(target):
            optional = i >= need
            parts, reason = self._item_parts(flat, i)
            if i < len(forced):
                parts.append(forced[i])
            else:
                # Filler must not push a `contains` past its maxContains.
                parts.extend({"not": c} for c in capped)
            schema = _all_of(parts)
            if schema is False:
                if optional:
                    break
                raise SchemaUnsatisfiable(
                    f"{ctx.path}[{i}]: item needed for minItems {need} is ruled out by {reason}"
                )
            if optional and self._too_recursive(schema, ctx.refs):
                break
            value = self._array_item(schema, ctx.index(i), seen, optional=optional)
            if value is _MISSING:
                break
            items.append(value)
        return items

    @staticmethod
    def _item_parts(flat: _Flat, i: int) -> tuple[list[Any], str]:
        parts: list[Any] = []
        reason = ""
        for prefix, items in flat.arr_rules:
            if i < len(prefix):
                parts.append(prefix[i])
                reason = reason or (f"prefixItems[{i}]: false" if prefix[i] is False else "")
            elif items is not None:
                parts.append(items)
                reason = reason or ("items: false" if items is False else "")
        return parts, reason or "a false schema"

    def _array_item(self, schema: Any, ctx: _Ctx, seen: set[Any] | None, *, optional: bool) -> Any:
        for attempt in range(_UNIQUE_TRIES if seen is not None else 1):
            try:
                value = self._gen(schema, ctx.retry(attempt))
            except SchemaUnsatisfiable:
                if optional:
                    return _MISSING
                raise
            if seen is None:
                return value
            key = _canon(value)
            if key not in seen:
                seen.add(key)
                return value
        if optional:
            return _MISSING
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no value found distinct from the earlier items (uniqueItems)"
        )

    def _build_object(self, flat: _Flat, ctx: _Ctx, *, lean: bool) -> dict[str, Any]:
        lo, hi = flat.min_properties, flat.max_properties
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minProperties {lo} > maxProperties {hi}")
        if lo > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minProperties {lo} is too large to generate (limit {_MAX_SIZE})"
            )
        flat, required = self._apply_dependencies(flat, ctx.path)
        if hi is not None and len(required) > hi:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: {len(required)} required properties > maxProperties {hi}"
            )
        obj: dict[str, Any] = {}
        for key in required:
            obj[key] = self._required_property(flat, key, ctx)
        declared = list(dict.fromkeys(k for props, _, _ in flat.obj_rules for k in props))
        if not lean:
            for key in declared:
                if hi is not None and len(obj) >= hi:
                    break
                if key not in obj:
                    self._add_optional(flat, key, obj, ctx)
        if len(obj) < lo:
            self._fill_properties(flat, obj, ctx, lo)
        # Declared order reads naturally; other keys keep the order they were added in.
        rank = {k: i for i, k in enumerate(declared)}
        return dict(sorted(obj.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def _apply_dependencies(self, flat: _Flat, path: str) -> tuple[_Flat, list[str]]:
        """Required keys after dependentRequired, with dependentSchemas of required keys merged."""
        required = _closure(flat.required, flat.dependent_required)
        if not any(k in flat.dependent_schemas for k in required):
            return flat, required
        flat = flat.copy()
        done: set[str] = set()
        while todo := [k for k in required if k in flat.dependent_schemas and k not in done]:
            for key in todo:
                done.add(key)
                for sub in flat.dependent_schemas[key]:
                    self._collect(flat, sub, path)
            required = _closure(flat.required, flat.dependent_required)
        return flat, required

    def _property_schema(self, flat: _Flat, key: str) -> tuple[Any, str]:
        """The schema ``key``'s value must meet, and which keyword rules it out if false."""
        parts: list[tuple[Any, str]] = []
        for props, patterns, additional in flat.obj_rules:
            if key in props:
                parts.append((props[key], f"properties {key!r}: false"))
                continue
            matched = [
                (s, f"patternProperties {p!r}: false")
                for p, s in patterns.items()
                if _search(p, key)
            ]
            if matched:
                parts.extend(matched)
            elif additional is not None:
                parts.append((additional, "additionalProperties: false"))
        for schema, reason in parts:
            if schema is False:
                return False, reason
        return _all_of([schema for schema, _ in parts]), ""

    def _name_allowed(self, flat: _Flat, key: str, path: str) -> bool:
        return all(self._first_error(pn, key, path) is None for pn in flat.property_names)

    def _required_property(self, flat: _Flat, key: str, ctx: _Ctx) -> Any:
        child = ctx.key(key)
        if not self._name_allowed(flat, key, ctx.path):
            raise SchemaUnsatisfiable(f"{child.path}: required property name fails propertyNames")
        schema, reason = self._property_schema(flat, key)
        if schema is False:
            raise SchemaUnsatisfiable(f"{child.path}: required property is ruled out by {reason}")
        return self._gen(schema, child)

    def _add_optional(self, flat: _Flat, key: str, obj: dict[str, Any], ctx: _Ctx) -> None:
        """Add ``key`` (and what dependentRequired brings along) if that is possible."""
        if key in flat.dependent_schemas:
            return  # best effort: dependentSchemas are only honoured for required keys
        keys = [k for k in _closure([key], flat.dependent_required) if k not in obj]
        hi = flat.max_properties
        if hi is not None and len(obj) + len(keys) > hi:
            return
        added: dict[str, Any] = {}
        for k in keys:
            if k in flat.dependent_schemas or not self._name_allowed(flat, k, ctx.path):
                return
            schema, _ = self._property_schema(flat, k)
            if schema is False or self._too_recursive(schema, ctx.refs):
                return
            try:
                added[k] = self._gen(schema, ctx.key(k))
            except SchemaUnsatisfiable:
                return
        obj.update(added)

    def _fill_properties(self, flat: _Flat, obj: dict[str, Any], ctx: _Ctx, lo: int) -> None:
        """Add properties until there are ``lo`` of them (minProperties)."""
        budget = (lo - len(obj)) * 8 + 32
        for name in itertools.islice(self._extra_names(flat, ctx), budget):
            if len(obj) >= lo:
                return
            if (
                name in obj
                or name in flat.dependent_schemas
                or flat.dependent_required.get(name)
                or not self._name_allowed(flat, name, ctx.path)
            ):
                continue
            schema, _ = self._property_schema(flat, name)
            if schema is False:
                continue
            try:
                obj[name] = self._gen(schema, ctx.key(name))
            except SchemaUnsatisfiable:
                continue
        if len(obj) < lo:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot reach minProperties {lo}; only {len(obj)} properties "
                "could be generated"
            )

    def _extra_names(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        for props, patterns, _ in flat.obj_rules:
            yield from props
            for pattern in patterns:
                for variant in range(4):
                    name = _regex_sample(pattern, f"{ctx.seed}/key{pattern}/{variant}")
                    if name is not None:
                        yield name
        if flat.property_names:
            names = {"allOf": [{"type": "string"}, *flat.property_names]}
            for variant in range(8):
                try:
                    yield self._gen(
                        names,
                        replace(ctx.key("name"), seed=f"{ctx.seed}/name{variant}", path=ctx.path),
                    )
                except SchemaUnsatisfiable:
                    break
        for i in itertools.count(1):
            yield f"field{i}"
