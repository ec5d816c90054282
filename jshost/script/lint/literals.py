"""Literal values (schemas, loop bounds) read from the tree, as ``meta.literal_value`` reads them.

``literal_value`` is the meta header's reader: a class with a method per kind, exceptions for
every problem, kinds compared by name. The lint reads a literal schema in every ``agent()`` call
it checks (496 in the 512 KiB bench script, a third of the agent checks, issue 22), nearly all
plain objects, arrays, strings, numbers, ``true``, ``false`` and ``null``. Those are read here by
kind id; anything else (a comment, a template, a regex, a sign, a computed or numeric key, a
reserved key, a hole, a spread, a tree with errors, a string the cooking rejects) is handed to
``meta.literal_value`` whole, so every answer is that reader's.
"""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from ..meta import _MAX_DEPTH, _RESERVED_KEYS, _js_key_order, _number, literal_value
from ..strings import cook
from .linter import _Linter
from .nodes import (
    ARRAY_K,
    COMMENT_K,
    NUMBER_K,
    OBJECT_K,
    PAIR_K,
    PROPERTY_IDENTIFIER_K,
    STRING_K,
    kind_ids,
)

_TRUE_K = kind_ids("true")
_FALSE_K = kind_ids("false")
_NULL_K = kind_ids("null")
_BRACKETS_K = kind_ids("[", "]")
_COMMA_K = kind_ids(",")


class _Elsewhere(Exception):
    """Raised for what this reader leaves to ``meta.literal_value``."""


def literal(linter: _Linter, node: Node) -> tuple[bool, Any]:
    """``meta.literal_value(node, linter.positions)``."""
    if linter.clean:  # no error or missing node anywhere: none to skip as the reader does
        try:
            return True, _Read(linter).value(node, 0)
        except (_Elsewhere, ValueError, OverflowError, RecursionError):
            pass
    return literal_value(node, linter.positions)


class _Read:
    __slots__ = ("slice",)

    def __init__(self, linter: _Linter) -> None:
        self.slice = linter.text  # a node's source text

    def value(self, node: Node, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _Elsewhere
        kind = node.kind_id
        if kind in STRING_K:
            return cook(self.slice(node)[1:-1])
        if kind in OBJECT_K:
            return self.object(node, depth)
        if kind in ARRAY_K:
            items: list[Any] = []
            expect_element = True  # a comma with no element since the last one is a hole
            for child in node.children:
                kind = child.kind_id
                if kind in _BRACKETS_K or kind in COMMENT_K:
                    continue
                if kind in _COMMA_K:
                    if expect_element:
                        raise _Elsewhere
                    expect_element = True
                    continue
                expect_element = False
                items.append(self.value(child, depth + 1))
            return items
        if kind in NUMBER_K:
            return _number(self.slice(node))[0]
        if kind in _TRUE_K:
            return True
        if kind in _FALSE_K:
            return False
        if kind in _NULL_K:
            return None
        raise _Elsewhere

    def object(self, node: Node, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ordered = True  # no key is an array index, which JS orders first
        slice_ = self.slice
        for child in node.named_children:
            if child.kind_id not in PAIR_K:
                raise _Elsewhere
            parts = child.children
            if len(parts) != 3:  # a comment inside the pair
                raise _Elsewhere
            key_node, _, value_node = parts  # the key, ':' and the value
            key_kind = key_node.kind_id
            if key_kind in PROPERTY_IDENTIFIER_K:
                key = cook(slice_(key_node))  # identifiers may spell letters as \uXXXX
            elif key_kind in STRING_K:
                key = cook(slice_(key_node)[1:-1])
            else:
                raise _Elsewhere
            if key[:1].isdigit():
                ordered = False
            if key in _RESERVED_KEYS:
                raise _Elsewhere
            if depth >= _MAX_DEPTH:
                raise _Elsewhere
            value_kind = value_node.kind_id
            if value_kind in STRING_K:  # the commonest value, without a call of value()
                out[key] = cook(slice_(value_node)[1:-1])
            else:
                out[key] = self.value(value_node, depth + 1)
        return out if ordered else _js_key_order(out)
