"""JavaScript string literals: the value a string or template body stands for.

Shared by the meta reader (``meta.py``) and the lint, which reads the many string literals of a
script straight from their text (issue 22).
"""

from __future__ import annotations

import re

from jshost._lazy import lazy_pattern

__all__ = ["cook", "string_literal"]

_ESCAPE_RE = lazy_pattern(
    r"\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[0-3][0-7]{0,2}|[4-7][0-7]?|\r\n|[\s\S])"
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
_LINE_CONTINUATIONS = frozenset({"\n", "\r", "\r\n", "\u2028", "\u2029"})


def _decode_escape(match: re.Match[str]) -> str:
    body = match.group(1)
    if body in _LINE_CONTINUATIONS:
        return ""
    if body[0] == "u":
        code = int(body[2:-1] if body[1] == "{" else body[1:], 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)
    if body[0] == "x":
        return chr(int(body[1:], 16))
    if body[0] in "01234567":
        return chr(int(body, 8))  # legacy octal; strict code rejects it in the syntax check
    return _SIMPLE_ESCAPES.get(body, body)


def cook(raw: str, *, template: bool = False) -> str:
    """Cook a JS string or template body: decode escapes and pair up UTF-16 surrogates."""
    if template:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "\\" not in raw:
        return raw
    cooked = _ESCAPE_RE.sub(_decode_escape, raw)
    # `\uD83D\uDE00` must become one code point; lone surrogates are kept as JS keeps them.
    return cooked.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def string_literal(text: str) -> str | None:
    """The value of a string literal from its source text (quotes included), as
    ``meta.literal_value`` reads a ``string`` node; None where that reads none."""
    try:
        return cook(text[1:-1])
    except (ValueError, OverflowError, RecursionError):
        return None
