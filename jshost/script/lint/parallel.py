"""``parallel()`` and ``pipeline()`` calls: an array of functions, not of promises; stages
that are functions."""

from __future__ import annotations

from tree_sitter import Node

from ..meta import unparen
from .linter import _Linter
from .nodes import _FUNCTIONS

_NOT_THUNKS = (
    "parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)"
)


def check_parallel(linter: _Linter, call: Node, args: list[Node]) -> None:
    if not args:
        linter.report("E601", "parallel() expects an array of functions", call)
        return
    first = unparen(args[0])
    if first.type == "spread_element":
        return
    if linter.evidently_not_array(first):
        linter.report("E601", "parallel() expects an array of functions", first)
        return
    if first.type == "array":
        for element in first.named_children:
            element = unparen(element)
            if linter.evidently_not_function(element):
                linter.report("E602", _NOT_THUNKS, element)
        return
    callback = per_element_callback(linter, first)
    if callback is None:
        return
    if any(c.type == "async" for c in callback.children):
        # An async callback returns a promise, whatever it returns.
        linter.report("E602", _NOT_THUNKS, callback)
        return
    results = results_of(linter, callback)
    if results:
        linter.report("E602", _NOT_THUNKS, min(results, key=lambda n: n.start_byte))


def per_element_callback(linter: _Linter, node: Node) -> Node | None:
    """``F`` of ``xs.map(F)`` or ``Array.from(xs, F)`` when ``F`` is written there."""
    if node.type != "call_expression":
        return None
    function = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    if function is None or args is None or function.type != "member_expression":
        return None
    prop = function.child_by_field_name("property")
    obj = function.child_by_field_name("object")
    values = [a for a in args.named_children if a.type != "comment"]
    method = linter.text(prop) if prop is not None else ""
    if method == "map" and values:
        candidate = values[0]
    elif (
        method == "from" and obj is not None and linter.is_global(obj, "Array") and len(values) >= 2
    ):
        candidate = values[1]
    else:
        return None
    candidate = unparen(candidate)
    return candidate if candidate.type in _FUNCTIONS else None


def results_of(linter: _Linter, function: Node) -> list[Node]:
    """What ``function`` returns when every value it returns is evidently no function:
    its expression body, or each returned value. Otherwise nothing."""
    body = function.child_by_field_name("body")
    if body is None:
        return []
    if body.type != "statement_block":
        result = unparen(body)
        return [result] if linter.evidently_not_function(result) else []
    results: list[Node] = []
    stack = list(body.named_children)
    while stack:
        node = stack.pop()
        if node.type in _FUNCTIONS:
            continue
        if node.type == "return_statement":
            values = [c for c in node.named_children if c.type != "comment"]
            if not values:
                return []  # returns undefined somewhere: not worth a report
            results.append(unparen(values[0]))
            continue
        stack.extend(node.named_children)
    # Only when every return is evidently wrong is the callback evidently wrong.
    if results and all(linter.evidently_not_function(r) for r in results):
        return results
    return []


def check_pipeline(linter: _Linter, call: Node, args: list[Node]) -> None:
    if not args:
        linter.report("E603", "pipeline() expects an array as the first argument", call)
        return
    first = unparen(args[0])
    if first.type != "spread_element" and linter.evidently_not_array(first):
        linter.report("E603", "pipeline() expects an array as the first argument", first)
    for stage in args[1:]:
        stage = unparen(stage)
        if stage.type != "spread_element" and linter.evidently_not_function(stage):
            linter.report(
                "E604",
                "pipeline() stages must be functions: pipeline(items, item => ..., result => ...)",
                stage,
            )
