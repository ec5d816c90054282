"""Regex sampling: build one string a pattern matches by walking its ``re._parser`` tree."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable
from re import _parser as _sre
from typing import Any

from ....patterns import search as _search
from .base import _LETTERS, _POOL, _rng


class _RegexUnsupported(Exception):
    """The pattern uses a construct we cannot build a match for."""


class _RegexTooLong(Exception):
    """The sample grew past its size limit (nested repeats with large counts)."""


_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_AT_START = (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING)
_AT_END = (_sre.AT_END, _sre.AT_END_STRING)
_CATEGORY_RE = {
    _sre.CATEGORY_DIGIT: re.compile(r"\d"),
    _sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    _sre.CATEGORY_SPACE: re.compile(r"\s"),
    _sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    _sre.CATEGORY_WORD: re.compile(r"\w"),
    _sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
    _sre.CATEGORY_LINEBREAK: re.compile(r"\n"),
    _sre.CATEGORY_NOT_LINEBREAK: re.compile(r"[^\n]"),
}


@functools.lru_cache(maxsize=256)
def _parse_regex(pattern: str) -> Any:
    return _sre.parse(pattern)


def _class_contains(items: list[tuple[Any, Any]], ch: str) -> bool:
    for op, av in items:
        if op is _sre.LITERAL and chr(av) == ch:
            return True
        if op is _sre.RANGE and av[0] <= ord(ch) <= av[1]:
            return True
        if op is _sre.CATEGORY and av in _CATEGORY_RE and _CATEGORY_RE[av].match(ch):
            return True
    return False


class _RegexGen:
    """Builds one string that a parsed regex matches, walking the ``re._parser`` tree.

    Args:
        rng (random.Random): source of every choice (branch, character, repeat count).
        extra (int | None): None picks small repeat counts at random, which reads naturally;
            an int is a budget of extra repetitions beyond each repeat's minimum, handed out
            first come first served, so the sample's length grows step by step with it (which
            is how a length window such as minLength 7, maxLength 7 is hit).
        limit (int): give up with ``_RegexTooLong`` past this many characters.
    """

    def __init__(self, rng: random.Random, extra: int | None, limit: int) -> None:
        self._rng = rng
        self._budget = extra
        self._limit = limit
        self._size = 0
        self._groups: dict[int, str] = {}

    def emit(self, items: Iterable[tuple[Any, Any]]) -> str:
        return "".join([self._node(op, av) for op, av in items])

    def _node(self, op: Any, av: Any) -> str:
        if op is _sre.LITERAL:
            return self._chars(chr(av))
        if op is _sre.NOT_LITERAL:
            return self._chars(self._rng.choice([c for c in _POOL if c != chr(av)]))
        if op is _sre.ANY:
            return self._chars(self._rng.choice(_LETTERS))
        if op is _sre.IN:
            return self._chars(self._charset(av))
        if op is _sre.BRANCH:
            return self.emit(self._rng.choice(av[1]))
        if op is _sre.SUBPATTERN:
            group, _, _, body = av
            text = self.emit(body)
            if group is not None:
                self._groups[group] = text
            return text
        if op in _REPEATS:
            low, high, body = av
            return "".join([self.emit(body) for _ in range(self._count(low, high))])
        if op in _ZERO_WIDTH:
            # Anchors and lookarounds consume nothing; the caller's re.search has the last word.
            return ""
        if op is _sre.GROUPREF:
            return self._chars(self._groups.get(av, ""))
        if op is _sre.GROUPREF_EXISTS:
            group, yes, no = av
            if group in self._groups:
                return self.emit(yes)
            return self.emit(no) if no is not None else ""
        if op is _sre.ATOMIC_GROUP:
            return self.emit(av)
        raise _RegexUnsupported(f"unsupported regex construct {op}")

    def _count(self, low: int, high: int) -> int:
        top = None if high == _sre.MAXREPEAT else high
        if self._budget is not None:
            extra = self._budget if top is None else min(self._budget, top - low)
            self._budget -= extra
        elif top is None:
            extra = self._rng.randint(1, 5)
        else:
            extra = self._rng.randint(0, min(top - low, 5))
        return low + extra

    def _chars(self, text: str) -> str:
        self._size += len(text)
        if self._size > self._limit:
            raise _RegexTooLong
        return text

    def _charset(self, items: list[tuple[Any, Any]]) -> str:
        if items and items[0][0] is _sre.NEGATE:
            allowed = [c for c in _POOL if not _class_contains(items[1:], c)]
            if not allowed:
                raise _RegexUnsupported("negated character class excludes every candidate")
            return self._rng.choice(allowed)
        op, av = self._rng.choice(items)
        if op is _sre.LITERAL:
            return chr(av)
        if op is _sre.RANGE:
            low, high = av
            nice = [c for c in _POOL if low <= ord(c) <= high]
            if nice:
                return self._rng.choice(nice)
            code = self._rng.randint(low, high)
            return chr(low) if 0xD800 <= code <= 0xDFFF else chr(code)
        if op is _sre.CATEGORY and av in _CATEGORY_RE:
            allowed = [c for c in _POOL if _CATEGORY_RE[av].match(c)]
            if allowed:
                return self._rng.choice(allowed)
        raise _RegexUnsupported(f"unsupported character class item {op}")


def _regex_sample(pattern: str, seed: str) -> str | None:
    """A short string ``re.search(pattern, ·)`` accepts, or None."""
    try:
        parsed = _parse_regex(pattern)
    except re.error:
        return None
    for extra in (None, 0, 1):
        try:
            text = _RegexGen(_rng(seed, "sample"), extra, 256).emit(parsed)
        except (_RegexUnsupported, _RegexTooLong):
            return None
        if _search(pattern, text):
            return text
    return None


def _grow(make: Callable[[int | None], str | None], lo: int) -> str | None:
    """The sample from ``make(budget)`` with the smallest budget that reaches length ``lo``."""

    def long_enough(budget: int) -> bool:
        text = make(budget)
        return text is None or len(text) >= lo  # None: overflowed, so certainly long enough

    if not long_enough(lo):
        return make(lo)
    a, b = 0, lo
    while a < b:
        mid = (a + b) // 2
        if long_enough(mid):
            b = mid
        else:
            a = mid + 1
    return make(a)
