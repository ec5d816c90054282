"""``generate_instance`` and the generator's loop: one level, its branches, retries and budgets."""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from ....patterns import PatternError, format_checker
from .base import (
    _ATTEMPTS,
    _BUDGET,
    _MAX_CHARS,
    _MAX_CHOICES,
    _TYPE_FALLBACK,
    MAX_DEPTH,
    SchemaUnsatisfiable,
    _Ctx,
    _hash,
    _short,
)
from .containers import _ContainerBuilder
from .flatten import _Flat
from .numeric import _NumberBuilder
from .strings import _StringBuilder


def generate_instance(schema: dict[str, Any] | bool, seed: str) -> Any:
    """Generate a JSON value that validates against ``schema``, derived from ``seed``.

    The result is a pure function of ``schema`` and ``seed``: the same pair always gives the
    same value, and different seeds (prompts) usually give different values.

    Args:
        schema (dict | bool): a JSON Schema (Draft 2020-12); ``$ref`` must be local (``#...``).
        seed (str): any text, typically the prompt.

    Returns:
        Any: a JSON-compatible value (dict, list, str, int, float, bool or None) that
        ``jsonschema.Draft202012Validator(schema)`` accepts.

    Raises:
        SchemaUnsatisfiable: the schema is invalid, admits no value, or needs something this
            generator cannot build; the message starts with the JSON path concerned.
    """
    try:
        Draft202012Validator.check_schema(schema, format_checker=format_checker())
    except SchemaError as exc:
        raise SchemaUnsatisfiable(f"{exc.json_path}: invalid schema: {exc.message}") from None
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    try:
        value = _Generator(schema).generate(digest)
        # The contract is "never return an invalid value", so check once more against the
        # schema exactly as a caller would, independently of the per-level checks.
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    except (Unresolvable, re.error, PatternError) as exc:
        raise SchemaUnsatisfiable(f"$: schema could not be evaluated: {exc}") from None
    except RecursionError:
        raise SchemaUnsatisfiable(
            "$: schema could not be evaluated: its $ref chain never ends (a $ref cycle)"
        ) from None
    if error is not None:
        raise SchemaUnsatisfiable(
            f"{error.json_path}: generated value does not validate: {_short(error.message)}"
        )
    return value


class _Generator(_ContainerBuilder, _NumberBuilder, _StringBuilder):
    """Generates values for one root schema; holds the step and character budgets of one call."""

    def __init__(self, root: dict[str, Any] | bool) -> None:
        super().__init__(root)
        self._steps = 0
        self._chars = 0

    def _spend(self, chars: int, path: str) -> None:
        self._chars += chars
        if self._chars > _MAX_CHARS:
            raise SchemaUnsatisfiable(
                f"{path}: the value would be too large to generate (its strings would hold "
                f"more than {_MAX_CHARS:,} characters)"
            )

    def generate(self, seed: str) -> Any:
        ctx = _Ctx(path="$", seed=seed, depth=0, refs=(id(self._root),), name="value")
        return self._gen(self._root, ctx)

    # ---- one level

    def _tick(self, path: str) -> None:
        self._steps += 1
        if self._steps > _BUDGET:
            raise SchemaUnsatisfiable(
                f"{path}: gave up after {_BUDGET} generation steps (schema too large, too "
                "recursive or too many anyOf/oneOf combinations)"
            )

    def _gen(self, schema: Any, ctx: _Ctx) -> Any:
        self._tick(ctx.path)
        if ctx.depth > MAX_DEPTH:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: nesting deeper than {MAX_DEPTH} levels (a recursive schema that "
                "never allows stopping?)"
            )
        if schema is True:
            return self._plain_string(ctx, 0, None)
        flat = _Flat()
        self._collect(flat, schema, ctx.path)
        errors: list[SchemaUnsatisfiable] = []
        for choice in itertools.islice(self._choices(flat, ctx, errors), _MAX_CHOICES):
            try:
                return self._gen_choice(
                    schema, choice, replace(ctx, refs=ctx.refs + tuple(choice.refs))
                )
            except SchemaUnsatisfiable as exc:
                errors.append(exc)
        if not flat.groups and errors:
            raise errors[0]
        kinds = "/".join(dict.fromkeys(kind for kind, _ in flat.groups))
        first = f"; first failure: {errors[0]}" if errors else ""
        raise SchemaUnsatisfiable(f"{ctx.path}: no {kinds} branch can be satisfied{first}")

    def _choices(
        self, flat: _Flat, ctx: _Ctx, errors: list[SchemaUnsatisfiable]
    ) -> Iterator[_Flat]:
        """Every way to pick one branch per disjunction, each merged into the constraints."""
        if not flat.groups:
            yield flat
            return
        kind, branches = flat.groups[0]
        rest = flat.copy()
        rest.groups = flat.groups[1:]
        order = list(range(len(branches)))
        refs = ctx.refs + tuple(flat.refs)
        if self._hot(refs):
            # Deep in a recursion, prefer branches that bottom out (e.g. null over $ref: #).
            order.sort(key=lambda i: self._too_recursive(branches[i], refs))
        for i in order:
            self._tick(ctx.path)
            merged = rest.copy()
            try:
                self._collect(merged, branches[i], ctx.path)
                if kind == "oneOf":
                    # Steer away from the other branches where that is cheap (`{type}` only).
                    for j, other in enumerate(branches):
                        if j != i:
                            self._collect_not(merged, other, ctx.path)
            except SchemaUnsatisfiable as exc:
                errors.append(exc)
                continue
            yield from self._choices(merged, ctx, errors)

    def _gen_choice(self, schema: Any, flat: _Flat, ctx: _Ctx) -> Any:
        if flat.enum is not None:
            order = sorted(range(len(flat.enum)), key=lambda i: _hash(ctx.seed, "enum", i))
            for i in order:
                if self._first_error(schema, flat.enum[i], ctx.path) is None:
                    return copy.deepcopy(flat.enum[i])
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no enum/const value satisfies the rest of the schema"
            )
        kinds, fallback = self._candidate_types(flat, ctx.path)
        failure: str | None = None
        structural = False
        for kind in itertools.chain(kinds, fallback):
            if kind in fallback and structural:
                # The inferred type is what the author meant, so its contradictions (minimum >
                # maximum, minItems > maxItems) are reported rather than hidden behind another
                # type; other types are tried only when a built value failed validation (a
                # `not`, `oneOf` exclusivity), which another type may well pass.
                break
            for attempt in range(_ATTEMPTS):
                try:
                    # Odd attempts leave optional content out: fewer chances to break `not`,
                    # `oneOf` exclusivity, dependentSchemas or unevaluatedProperties.
                    value = self._build(kind, flat, ctx.retry(attempt), lean=attempt % 2 == 1)
                except SchemaUnsatisfiable as exc:
                    failure = failure or str(exc)
                    structural = True
                    break  # another seed will not help
                error = self._first_error(schema, value, ctx.path)
                if error is None:
                    return value
                if failure is None:
                    where = ctx.path + error.json_path[1:]
                    failure = (
                        f"{ctx.path}: no generated value validates; first failure at {where}: "
                        f"{_short(error.message)}"
                    )
        raise SchemaUnsatisfiable(failure or f"{ctx.path}: no type can be generated")

    @staticmethod
    def _candidate_types(flat: _Flat, path: str) -> tuple[list[str], list[str]]:
        """Types to try, and (for a schema without ``type``) the types to fall back on."""
        if flat.types is not None:
            kinds, fallback = list(flat.types), []
        else:
            kinds = flat.inferred_types() or list(_TYPE_FALLBACK)
            fallback = [k for k in _TYPE_FALLBACK if k not in kinds]
        excluded = flat.excluded_types

        def allowed(kind: str) -> bool:
            return kind not in excluded and not (kind == "integer" and "number" in excluded)

        kinds, fallback = [k for k in kinds if allowed(k)], [k for k in fallback if allowed(k)]
        if not kinds and not fallback:
            raise SchemaUnsatisfiable(f"{path}: every allowed type is excluded by 'not'")
        return kinds, fallback

    # ---- builders

    def _build(self, kind: str, flat: _Flat, ctx: _Ctx, *, lean: bool) -> Any:
        if kind == "null":
            return None
        if kind == "boolean":
            return _hash(ctx.seed, "bool") % 2 == 0
        if kind == "integer":
            return self._build_integer(flat, ctx)
        if kind == "number":
            return self._build_number(flat, ctx)
        if kind == "string":
            return self._build_string(flat, ctx)
        if kind == "array":
            return self._build_array(flat, ctx, lean=lean)
        if kind == "object":
            return self._build_object(flat, ctx, lean=lean)
        raise SchemaUnsatisfiable(f"{ctx.path}: unknown type {kind!r}")
