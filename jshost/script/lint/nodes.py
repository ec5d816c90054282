"""The node kinds of tree-sitter's JavaScript grammar that more than one lint pass asks about."""

from __future__ import annotations

from tree_sitter import Node

from ..meta import unparen

_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_expression",
        "function",
        "generator_function",
        "arrow_function",
        "method_definition",
        "class_static_block",
    }
)
_DECLARED_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
_LOOPS = frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"})
# Globals that return a promise, never a function.
_PROMISE_GLOBALS = frozenset({"agent", "parallel", "pipeline", "workflow"})


def _conjuncts(node: Node) -> list[Node]:
    """The operands of a chain of ``&&`` (iteratively: chains may be very long)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = unparen(stack.pop())
        if n.type == "binary_expression":
            operator = n.child_by_field_name("operator")
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            if operator is not None and operator.type == "&&" and None not in (left, right):
                stack.extend((right, left))
                continue
        out.append(n)
    return out
