"""A literal's value read from its text in one pass, for the lint's literal schemas.

``meta.literal_value`` reads a literal node by node (a tree-sitter call or two per node: 15 ms
for the 496 schemas of the 512 KiB bench script, issue 22). Most literals are plain: objects
and arrays of identifier or quoted keys, strings without escapes, decimal numbers, ``true``,
``false`` and ``null``. :func:`plain_literal` reads such a text with one regex scan and gives
exactly what the node reader gives; for anything else (escapes, comments, templates, other
number forms, reserved keys, holes, names, deep nesting) it says so, and the caller reads the
nodes as before.
"""

from __future__ import annotations

import re
from typing import Any

from ..meta import _RESERVED_KEYS, _integral, _js_key_order, _number

__all__ = ["plain_literal"]

_TOKEN = re.compile(
    r"[ \t\r\n]+"
    r"|(?P<p>[{}\[\],:])"
    r"|'(?P<s>[^'\\\n\r]*)'"
    r'|"(?P<d>[^"\\\n\r]*)"'
    # a decimal number, as the node reader reads it (`-` only right before its digits)
    r"|(?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![\w$.])"
    r"|(?P<w>true|false|null)(?![\w$])"
    r"|(?P<k>[A-Za-z_$][A-Za-z0-9_$]*)(?=[ \t\r\n]*:)",
)
_WORDS = {"true": True, "false": False, "null": None}
# Deeper literals are read node by node (whose reader has its own bound).
_MAX_DEPTH = 64


class _NotPlain(Exception):
    pass


def plain_literal(text: str) -> tuple[bool, Any]:
    """``(True, value)`` when ``text`` (an object literal of a tree without errors) is plain;
    ``(False, None)`` when it must be read node by node."""
    tokens: list[tuple[str, str]] = []
    end = 0
    for match in _TOKEN.finditer(text):
        if match.start() != end:
            return False, None
        end = match.end()
        kind = match.lastgroup
        if kind is not None:
            tokens.append((kind, match.group(kind)))
    if end != len(text) or not tokens:
        return False, None
    try:
        value, at = _value(tokens, 0, 0)
    except (_NotPlain, IndexError, ValueError, OverflowError):
        return False, None
    return (True, value) if at == len(tokens) else (False, None)


def _value(tokens: list[tuple[str, str]], at: int, depth: int) -> tuple[Any, int]:
    kind, text = tokens[at]
    if kind == "s" or kind == "d":
        return text, at + 1
    if kind == "n":
        if text[0] == "-":
            return _integral(-_number(text[1:])[0]), at + 1
        return _number(text)[0], at + 1
    if kind == "w":
        return _WORDS[text], at + 1
    if kind != "p" or depth >= _MAX_DEPTH:
        raise _NotPlain
    if text == "{":
        return _object(tokens, at + 1, depth + 1)
    if text == "[":
        return _array(tokens, at + 1, depth + 1)
    raise _NotPlain


def _object(tokens: list[tuple[str, str]], at: int, depth: int) -> tuple[Any, int]:
    out: dict[str, Any] = {}
    while True:
        kind, key = tokens[at]
        if kind == "p" and key == "}":
            return _js_key_order(out), at + 1
        if kind not in ("k", "s", "d") or key in _RESERVED_KEYS or tokens[at + 1] != ("p", ":"):
            raise _NotPlain
        out[key], at = _value(tokens, at + 2, depth)
        kind, text = tokens[at]
        if kind != "p":
            raise _NotPlain
        if text == ",":
            at += 1
        elif text != "}":
            raise _NotPlain


def _array(tokens: list[tuple[str, str]], at: int, depth: int) -> tuple[Any, int]:
    out: list[Any] = []
    while True:
        if tokens[at] == ("p", "]"):
            return out, at + 1
        item, at = _value(tokens, at, depth)  # a hole (`[,` or `,,`) is no value: not plain
        out.append(item)
        kind, text = tokens[at]
        if kind != "p":
            raise _NotPlain
        if text == ",":
            at += 1
        elif text != "]":
            raise _NotPlain
