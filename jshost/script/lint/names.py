"""The names a script reads from outside: features the sandbox lacks (``require``, ``process``,
``fetch``, ``eval``, ``new Function``), clocks and randomness, and names nobody defines."""

from __future__ import annotations

from tree_sitter import Node

from ...sandbox import SURE_GLOBALS, global_names
from .determinism import check_date, check_math
from .linter import _Linter

# Reported by their own error codes instead of as undefined names.
_ABSENT = {
    "require": (
        "E206",
        "require is not available in workflow scripts: there are no modules and no Node.js "
        "APIs in the sandbox",
    ),
    "process": (
        "E207",
        "process is not available in workflow scripts: pass settings in with --args and "
        "read them from args",
    ),
    "fetch": (
        "E208",
        "fetch is not available in workflow scripts: the sandbox has no network; let an "
        "agent() fetch what it needs",
    ),
}
_HOST_APIS = frozenset(
    {
        "Buffer",
        "module",
        "exports",
        "__dirname",
        "__filename",
        "global",
        "setInterval",
        "clearInterval",
        "setImmediate",
        "queueMicrotask",
        "performance",
        "crypto",
        "structuredClone",
        "TextEncoder",
        "TextDecoder",
        "URL",
        "URLSearchParams",
        "atob",
        "btoa",
        "window",
        "document",
        "navigator",
        "localStorage",
        "XMLHttpRequest",
        "WebSocket",
        "Deno",
        "Bun",
    }
)


# Globals with a rule of their own; any other name of SURE_GLOBALS needs no look at its reads.
_CHECKED = frozenset(_ABSENT) | {"eval", "Function", "Date", "Math"}


def check_globals(linter: _Linter) -> None:
    known = SURE_GLOBALS  # widened to every global only for a name outside it
    for name, nodes in linter.globals_used.items():
        if name in SURE_GLOBALS and name not in _CHECKED:
            continue  # a real global (tests/test_startup.py holds SURE_GLOBALS to them)
        reads = [n for n in nodes if not _is_typeof_operand(linter, n)]
        if name in _ABSENT or name in ("eval", "Function"):
            # `typeof process !== 'undefined' ? process.env.X : d` runs everywhere.
            reads = [n for n in reads if not typeof_guarded(linter, n, name)]
        if not reads:
            continue  # `typeof x === 'undefined'` is how a script asks safely
        if name in _ABSENT:
            code, message = _ABSENT[name]
            for node in reads:
                linter.report(code, message, node)
        elif name == "eval":
            for node in reads:
                linter.report(
                    "E204",
                    "eval is not available in workflow scripts: code generation from "
                    "strings is disallowed",
                    node,
                )
        elif name == "Function":
            for node in reads:
                parent = linter.parent(node)
                if parent is not None and parent.type in ("new_expression", "call_expression"):
                    callee = parent.child_by_field_name(
                        "constructor" if parent.type == "new_expression" else "function"
                    )
                    if callee == node:
                        linter.report(
                            "E205",
                            "new Function() is not available in workflow scripts: code "
                            "generation from strings is disallowed",
                            parent,
                        )
        elif name == "Date":
            for node in reads:
                check_date(linter, node)
        elif name == "Math":
            for node in reads:
                check_math(linter, node)
        elif name not in known and name != "arguments" and linter.complete:
            known = global_names()
            if name not in known:
                undefined_name(linter, name, reads)


def typeof_guarded(linter: _Linter, node: Node, name: str) -> bool:
    """Whether ``node`` sits in a branch of a test that asks ``typeof name``: the
    ternary, ``if`` or ``&&``/``||`` that only reads ``name`` when it exists.

    Each ancestor's answer is kept, so the reads of a deeply nested expression climb only
    to the read above them (linear, not quadratic, in the nesting)."""
    memo = linter.typeof_guarded
    chain: list[Node] = []
    child = node
    while True:
        known = memo.get((child.id, name))
        if known is not None:
            guarded = known
            break
        parent = linter.parent(child)
        if parent is None:
            guarded = False
            break
        test = None
        if parent.type in ("ternary_expression", "if_statement"):
            test = parent.child_by_field_name("condition")
        elif parent.type == "binary_expression":
            operator = parent.child_by_field_name("operator")
            if operator is not None and operator.type in ("&&", "||"):
                test = parent.child_by_field_name("left")
        if test is not None and test != child and asks_typeof(linter, test, name):
            guarded = True
            break
        chain.append(child)
        child = parent
    memo[(child.id, name)] = guarded
    for passed in chain:
        memo[(passed.id, name)] = guarded
    return guarded


def asks_typeof(linter: _Linter, test: Node, name: str) -> bool:
    key = (test.id, name)
    known = linter.asks_typeof.get(key)
    if known is None:
        known = linter.asks_typeof[key] = _asks_typeof(linter, test, name)
    return known


def _asks_typeof(linter: _Linter, test: Node, name: str) -> bool:
    stack = [test]
    while stack:
        n = stack.pop()
        if n.type == "identifier" and linter.text(n) == name and _is_typeof_operand(linter, n):
            return True
        stack.extend(n.named_children)
    return False


def undefined_name(linter: _Linter, name: str, reads: list[Node]) -> None:
    more = len(reads) - 1
    also = f" (used {len(reads)} times)" if more else ""
    hint = None
    if all(_is_assigned(linter, n) for n in reads):
        message = (
            f"{name!r} is assigned but never declared{also}: strict mode throws a "
            f"ReferenceError; declare it with let"
        )
    elif name == "meta":
        message = f"'meta' is not defined{also}: the script body cannot see its meta header"
        hint = "copy the values you need into the body, or pass them in args"
    elif name in _HOST_APIS:
        message = (
            f"{name!r} is not defined{also}: it is a Node.js or browser API, and workflow "
            "scripts run in a sandbox without them"
        )
    else:
        message = f"{name!r} is not defined{also}: pass it in args and read it as args.{name}"
        hint = (
            f"for example: jshost run SCRIPT --args '{{\"{name}\": …}}' and "
            f"`const {{ {name} }} = args`"
        )
    linter.report("W401", message, reads[0], hint)


def _is_typeof_operand(linter: _Linter, node: Node) -> bool:
    parent = linter.parent(node)
    while parent is not None and parent.type == "parenthesized_expression":
        parent = linter.parent(parent)
    if parent is None or parent.type != "unary_expression":
        return False
    operator = parent.child_by_field_name("operator")
    return operator is not None and operator.type == "typeof"


def _is_assigned(linter: _Linter, node: Node) -> bool:
    """Whether identifier ``node`` is the target of an assignment (``x = …``, ``x += …``)."""
    parent = linter.parent(node)
    return (
        parent is not None
        and parent.type in ("assignment_expression", "augmented_assignment_expression")
        and parent.child_by_field_name("left") == node
    )
