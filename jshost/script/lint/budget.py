"""The global ``budget``: called as a function (E703), and loops that only
``budget.remaining()`` ends (W704)."""

from __future__ import annotations

from tree_sitter import Node

from ..meta import unparen
from .linter import _Linter
from .nodes import _FUNCTIONS, _LOOPS, _conjuncts


def check_budget_calls(linter: _Linter) -> None:
    for call, _ in linter.global_calls("budget"):
        linter.report(
            "E703",
            "budget is not a function: use budget.remaining(), budget.spent() or budget.total",
            call,
        )


def uses_remaining(linter: _Linter, node: Node | None) -> bool:
    """Whether ``node`` calls the global ``budget.remaining()``."""
    if node is None:
        return False
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "call_expression":
            function = n.child_by_field_name("function")
            if function is not None and function.type == "member_expression":
                obj = function.child_by_field_name("object")
                if obj is not None and linter.is_global(obj, "budget"):
                    prop = function.child_by_field_name("property")
                    if prop is not None and linter.text(prop) == "remaining":
                        return True
        if n.type not in _FUNCTIONS:
            stack.extend(n.named_children)
    return False


def check_loops(linter: _Linter) -> None:
    if "budget" not in linter.globals_used:
        return
    for loop, _ in linter.loops:
        if loop.type == "for_in_statement":
            continue
        if unbounded_budget_loop(linter, loop):
            linter.report(
                "W704",
                "this loop ends only when budget.remaining() runs out: without a token "
                "budget remaining() is Infinity, so it runs on until the agent cap",
                loop,
                hint="add an iteration bound, e.g. `for (let i = 0; i < 20 && "
                "budget.remaining() > 50_000; i++)`, or run with --budget",
            )


def unbounded_budget_loop(linter: _Linter, loop: Node) -> bool:
    test = loop.child_by_field_name("condition")
    if test is not None and test.type in ("expression_statement", "empty_statement"):
        test = test.named_children[0] if test.named_children else None
    body = loop.child_by_field_name("body")
    test = unparen(test) if test is not None else None
    exits = _exits(body)
    guarded_by_budget = [guard for guard in exits if uses_remaining(linter, guard)]
    other_exits = len(exits) - len(guarded_by_budget)
    if test is None or test.type == "true":
        return bool(guarded_by_budget) and not other_exits
    if not uses_remaining(linter, test):
        return False
    bounded = any(not uses_remaining(linter, c) for c in _conjuncts(test))
    return not bounded and not other_exits


def _exits(body: Node | None) -> list[Node | None]:
    """The guard (the nearest ``if`` condition, or None) of each way out of a loop body."""
    if body is None:
        return []
    out: list[Node | None] = []
    stack: list[tuple[Node, Node | None, bool]] = [(body, None, False)]
    while stack:
        node, guard, nested_loop = stack.pop()
        kind = node.type
        if kind in _FUNCTIONS:
            continue
        if kind in ("return_statement", "throw_statement") or (
            kind == "break_statement"
            and (not nested_loop or node.child_by_field_name("label") is not None)
        ):
            out.append(guard)
            continue
        if kind == "if_statement":
            guard = node.child_by_field_name("condition")
        inner_loop = nested_loop or kind in _LOOPS or kind == "switch_statement"
        for child in node.named_children:
            stack.append((child, guard, inner_loop))
    return out
