"""Clocks and randomness: ``Date.now()``, ``new Date()``, ``Date()`` and ``Math.random()``
break resume, so the script may not read them (E301-E303, W304)."""

from __future__ import annotations

from tree_sitter import Node

from .linter import _Linter

_DATE_MESSAGE = (
    "Date.now() / new Date() are unavailable in workflow scripts (breaks resume). Stamp "
    "results after the workflow returns, or pass timestamps via args."
)
_RANDOM_MESSAGE = (
    "Math.random() is unavailable in workflow scripts (breaks resume). For N independent "
    "samples, include the index in the agent label or prompt."
)


def check_date(linter: _Linter, node: Node) -> None:
    parent = linter.parent(node)
    if parent is None:
        return
    if _is_member(parent, node, "now"):
        linter.report("E301", _DATE_MESSAGE, parent)
    elif parent.type == "new_expression" and parent.child_by_field_name("constructor") == node:
        args = parent.child_by_field_name("arguments")
        if args is None or not args.named_children:
            linter.report("E302", _DATE_MESSAGE, parent)
    elif parent.type == "call_expression" and parent.child_by_field_name("function") == node:
        # Date() called as a function ignores its arguments and reads the clock. The
        # reference's load check does not look for it; its run-time shim throws.
        linter.report("W304", _DATE_MESSAGE, parent)


def check_math(linter: _Linter, node: Node) -> None:
    member = linter.parent(node)
    if _is_member(member, node, "random"):
        linter.report("E303", _RANDOM_MESSAGE, member)


def _is_member(node: Node | None, obj: Node, prop: str) -> bool:
    """Whether ``node`` is the non-computed member expression ``obj.prop``."""
    if node is None or node.type != "member_expression":
        return False
    if node.child_by_field_name("object") != obj:
        return False
    name = node.child_by_field_name("property")
    return name is not None and name.type == "property_identifier" and name.text == prop.encode()
