"""Strings: plausible text within length bounds, format examples, and pattern matches."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from re import _parser as _sre
from typing import TYPE_CHECKING

from ....patterns import PatternError
from ....patterns import search as _search
from .base import _MAX_SIZE, SchemaUnsatisfiable, _Ctx, _dns_slug, _hash, _hex_stream, _rng, _slug
from .flatten import _Flat
from .regex import (
    _AT_END,
    _AT_START,
    _grow,
    _parse_regex,
    _regex_sample,
    _RegexGen,
    _RegexTooLong,
    _RegexUnsupported,
)


def _format_example(fmt: str, ctx: _Ctx) -> str | None:
    """A valid, seed-dependent example of ``format``, or None for formats we do not know."""
    h = _hash(ctx.seed, "format")
    slug = _dns_slug(ctx.name)
    hx = _hex_stream(ctx.seed, 8)
    date = f"{2020 + h % 6:04d}-{1 + (h >> 8) % 12:02d}-{1 + (h >> 16) % 28:02d}"
    clock = f"{(h >> 24) % 24:02d}:{(h >> 32) % 60:02d}:{(h >> 40) % 60:02d}"
    examples: dict[str, Callable[[], str]] = {
        "date": lambda: date,
        "date-time": lambda: f"{date}T{clock}Z",
        "time": lambda: f"{clock}Z",
        "email": lambda: f"{slug}.{hx[:4]}@example.com",
        "idn-email": lambda: f"{slug}.{hx[:4]}@example.com",
        "uri": lambda: f"https://example.com/{slug}/{hx}",
        "iri": lambda: f"https://example.com/{slug}/{hx}",
        "uri-reference": lambda: f"/{slug}/{hx}",
        "iri-reference": lambda: f"/{slug}/{hx}",
        "uri-template": lambda: f"https://example.com/{slug}/{{id}}",
        "uuid": lambda: str(
            uuid.UUID(bytes=hashlib.sha256(ctx.seed.encode()).digest()[:16], version=4)
        ),
        "ipv4": lambda: f"10.{h % 256}.{(h >> 8) % 256}.{1 + (h >> 16) % 254}",
        "ipv6": lambda: f"2001:db8::{(h >> 8) & 0xFFFF:x}:{(h >> 24) & 0xFFFF:x}",
        "hostname": lambda: f"{slug}-{hx[:4]}.example.com",
        "idn-hostname": lambda: f"{slug}-{hx[:4]}.example.com",
        "duration": lambda: f"P{1 + h % 30}DT{(h >> 8) % 24}H",
        "json-pointer": lambda: f"/{slug}/{h % 10}",
        "relative-json-pointer": lambda: f"{h % 3}/{slug}",
        "regex": lambda: f"^{slug}-[0-9a-f]{{4}}$",
    }
    make = examples.get(fmt)
    return make() if make is not None else None


class _StringBuilder:
    """Builds the ``string`` values of a level (a mixin of the generator)."""

    if TYPE_CHECKING:
        # The generator owns the character budget of one call.
        def _spend(self, chars: int, path: str) -> None: ...

    def _build_string(self, flat: _Flat, ctx: _Ctx) -> str:
        lo, hi = flat.min_length, flat.max_length
        if hi is not None and lo > hi:
            raise SchemaUnsatisfiable(f"{ctx.path}: minLength {lo} > maxLength {hi}")
        if lo > _MAX_SIZE:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: minLength {lo} is too large to generate (limit {_MAX_SIZE})"
            )

        def fits(text: str) -> bool:
            return (
                lo <= len(text)
                and (hi is None or len(text) <= hi)
                and all(_search(p, text) for p in flat.patterns)
            )

        try:
            for candidate in self._string_candidates(flat, ctx):
                self._spend(len(candidate), ctx.path)
                if fits(candidate):
                    return candidate
        except (re.error, PatternError) as exc:
            raise SchemaUnsatisfiable(f"{ctx.path}: invalid pattern: {exc}") from None
        except _RegexUnsupported as exc:
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot generate a string matching pattern {flat.patterns[0]!r} "
                f"({exc})"
            ) from None
        lengths = "" if lo == 0 and hi is None else f" with length {lo}..{'' if hi is None else hi}"
        if flat.patterns:
            shown = ", ".join(repr(p) for p in flat.patterns)
            raise SchemaUnsatisfiable(
                f"{ctx.path}: cannot generate a string matching pattern {shown}{lengths}"
            )
        raise SchemaUnsatisfiable(f"{ctx.path}: cannot generate a string{lengths}")

    def _string_candidates(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        for fmt in flat.formats:
            example = _format_example(fmt, ctx)
            if example is not None:
                yield example
        if not flat.patterns:
            yield self._plain_string(ctx, flat.min_length, flat.max_length)
            return
        yield from self._pattern_candidates(flat, ctx)

    def _pattern_candidates(self, flat: _Flat, ctx: _Ctx) -> Iterator[str]:
        lo, hi = flat.min_length, flat.max_length
        first, *others = flat.patterns
        parsed = _parse_regex(first)
        nodes = list(parsed)
        # Padding can only help where the pattern is not anchored, and testing hopeless
        # candidates is what sends a backtracking-prone pattern into exponential time.
        pad_before = not (nodes and nodes[0][0] is _sre.AT and nodes[0][1] in _AT_START)
        pad_after = not (nodes and nodes[-1][0] is _sre.AT and nodes[-1][1] in _AT_END)
        filler = self._plain_string(ctx, lo, None)
        limit = max(4 * lo, hi or 0, 256) + 64
        for variant in range(4):
            seed = f"{ctx.seed}/re{variant}"

            def make(extra: int | None, seed: str = seed) -> str | None:
                try:
                    return _RegexGen(_rng(seed), extra, limit).emit(parsed)
                except _RegexTooLong:
                    return None

            bases = [make(None), make(0)]
            if lo:
                bases.append(_grow(make, lo))
            bases = [b for b in bases if b is not None]
            yield from bases
            for base in bases:
                if others:
                    tails = "".join(
                        _regex_sample(p, f"{seed}/{j}") or "" for j, p in enumerate(others)
                    )
                    yield base + tails
                    yield tails + base
                if len(base) < lo:
                    pad = filler[: lo - len(base)]
                    if pad_after:
                        yield base + pad
                    if pad_before:
                        yield pad + base

    @staticmethod
    def _plain_string(ctx: _Ctx, lo: int, hi: int | None) -> str:
        slug, hx = _slug(ctx.name), _hex_stream(ctx.seed, 4)
        text = f"{slug}-{hx}"
        if hi is not None and len(text) > hi:
            text = f"{slug[: hi - 5]}-{hx}" if hi >= 6 else _hex_stream(ctx.seed, hi)
        if len(text) < lo:
            text += "-" + _hex_stream(f"{ctx.seed}/pad", lo)[: lo - len(text) - 1]
        return text
