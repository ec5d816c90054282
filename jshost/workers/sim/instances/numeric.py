"""Integers and numbers inside their bounds that meet every ``multipleOf``, near small values."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from .base import SchemaUnsatisfiable, _Ctx, _hash, _max_opt, _min_opt
from .flatten import _Flat


def _fraction(m: int | float) -> Fraction:
    # repr() gives the shortest decimal that round-trips, i.e. what the schema author wrote.
    return Fraction(repr(m)) if isinstance(m, float) else Fraction(m)


def _is_multiple(value: int | float, m: int | float) -> bool:
    """``multipleOf`` exactly as jsonschema evaluates it, float rounding included."""
    if isinstance(m, float):
        quotient = value / m
        try:
            return int(quotient) == quotient
        except OverflowError:
            return (Fraction(value) / Fraction(m)).denominator == 1
    return value % m == 0


def _window(lo: Any, hi: Any, size: int = 100) -> tuple[Any, Any]:
    """A stretch of [lo, hi] at most ``size`` wide, as near [0, size] as the bounds allow.

    Hand-written examples are small non-negative numbers; staying close to them keeps values
    plausible, and keeping the stretch wide leaves room for distinct values (uniqueItems).
    """
    a, b = 0, size
    if lo is not None and a < lo:
        a, b = lo, lo + size
    if hi is not None and b > hi:
        a, b = hi - size, hi
    if lo is not None and a < lo:
        a = lo
    return a, b


def _spiral(k0: int, kmin: int | None, kmax: int | None, n: int) -> Iterator[int]:
    """k0, k0+1, k0-1, k0+2, … restricted to [kmin, kmax], at most ``n`` values."""
    produced = 0
    for step in range(2 * n + 1):
        k = k0 + (step + 1) // 2 if step % 2 else k0 - step // 2
        if (kmin is None or k >= kmin) and (kmax is None or k <= kmax):
            yield k
            produced += 1
            if produced >= n:
                return


def _clamp(k: int, kmin: int | None, kmax: int | None) -> int:
    if kmin is not None and k < kmin:
        return kmin
    if kmax is not None and k > kmax:
        return kmax
    return k


class _NumberBuilder:
    """Builds the ``integer`` and ``number`` values of a level (a mixin of the generator)."""

    @staticmethod
    def _build_integer(flat: _Flat, ctx: _Ctx, kind: str = "integer") -> int:
        lo: int | None = None if flat.minimum is None else math.ceil(flat.minimum)
        if flat.exclusive_minimum is not None:
            lo = _max_opt(lo, math.floor(flat.exclusive_minimum) + 1)
        hi: int | None = None if flat.maximum is None else math.floor(flat.maximum)
        if flat.exclusive_maximum is not None:
            hi = _min_opt(hi, math.ceil(flat.exclusive_maximum) - 1)
        if lo is not None and hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: {flat.bounds_conflict(kind)}")
        # An integer v is a multiple of p/q (in lowest terms) exactly when p divides v.
        step = 1
        for m in flat.multiple_of:
            step = math.lcm(step, _fraction(m).numerator)
        kmin = None if lo is None else -(-lo // step)
        kmax = None if hi is None else hi // step
        if kmin is not None and kmax is not None and kmin > kmax:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no multiple of {step} satisfies {flat.bounds_text()}"
            )
        a, b = _window(lo, hi)
        target = a + _hash(ctx.seed, "int") % (b - a + 1)
        for k in _spiral(_clamp(target // step, kmin, kmax), kmin, kmax, 64):
            value = k * step
            if all(_is_multiple(value, m) for m in flat.multiple_of):
                return value
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no integer found that is a multipleOf {flat.multiple_of} "
            f"({flat.bounds_text()})"
        )

    def _build_number(self, flat: _Flat, ctx: _Ctx) -> int | float:
        if flat.multiple_of:
            fracs = [_fraction(m) for m in flat.multiple_of]
            if all(f.denominator == 1 for f in fracs):
                return self._build_integer(flat, ctx, "number")
            return self._build_float_multiple(flat, ctx, fracs)
        lo, lo_ex, hi, hi_ex = flat.real_bounds()
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_ex or hi_ex))):
            raise SchemaUnsatisfiable(f"{ctx.path}: {flat.bounds_conflict('number')}")
        if lo is not None and lo == hi:
            return lo
        a, b = _window(lo, hi)
        t = 0.1 + 0.8 * (_hash(ctx.seed, "num") % 1000) / 1000
        raw = a + (b - a) * t
        candidates = [round(raw, 2), round(raw, 4), raw, a / 2 + b / 2]
        if lo is not None:
            candidates.append(math.nextafter(lo, math.inf))
        if hi is not None:
            candidates.append(math.nextafter(hi, -math.inf))
        for value in candidates:
            if math.isfinite(value) and flat.within(value):
                return value
        raise SchemaUnsatisfiable(f"{ctx.path}: no number satisfies {flat.bounds_text()}")

    @staticmethod
    def _build_float_multiple(flat: _Flat, ctx: _Ctx, fracs: list[Fraction]) -> float:
        step = Fraction(
            functools.reduce(math.lcm, (f.numerator for f in fracs)),
            functools.reduce(math.gcd, (f.denominator for f in fracs)),
        )
        lo, lo_ex, hi, hi_ex = flat.real_bounds()
        kmin = kmax = None
        if lo is not None:
            kmin = math.ceil(Fraction(lo) / step)
            kmin += 1 if lo_ex and kmin * step == lo else 0
        if hi is not None:
            kmax = math.floor(Fraction(hi) / step)
            kmax -= 1 if hi_ex and kmax * step == hi else 0
        if kmin is not None and kmax is not None and kmin > kmax:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: no multiple of {float(step)} satisfies {flat.bounds_text()}"
            )
        a, b = _window(lo, hi)
        target = Fraction(a) + (Fraction(b) - Fraction(a)) * Fraction(
            _hash(ctx.seed, "num") % 1000, 1000
        )
        first = float(flat.multiple_of[0])
        for k in _spiral(_clamp(math.floor(target / step), kmin, kmax), kmin, kmax, 64):
            # Which float spelling divides back cleanly in binary varies, so try both.
            for value in (float(k * step), k * first):
                if flat.within(value) and all(_is_multiple(value, m) for m in flat.multiple_of):
                    return value
        raise SchemaUnsatisfiable(
            f"{ctx.path}: no number found that is a multipleOf {flat.multiple_of} "
            f"({flat.bounds_text()})"
        )
