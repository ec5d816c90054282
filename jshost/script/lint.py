"""Static checks on a workflow script's syntax tree (tree-sitter), for ``jshost validate``.

The load checks (size, control characters, syntax, meta) live in ``load.py``; this module
adds what the sandbox would only find out while running, or never: features it does not have,
clocks and randomness, names nobody defines, bad ``agent()`` options and schemas, promises
handed to ``parallel()``, phases, budget loops, and an estimate of the agent fan-out.

Names are resolved through real scopes (functions, blocks, hoisted ``var``), so a local that
shadows a global — a ``const log = …`` or a parameter named ``agent`` — is never mistaken for
it. Every check only reports what is evident from the text; where a value is computed, it
stays quiet.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, final

from tree_sitter import Node, Tree

from ..sandbox import global_names
from .diagnostics import Diagnostic, SourceMap, decode
from .meta import Meta, MetaSpan, literal_value, unparen

__all__ = ["AGENT_OPTIONS", "EFFORTS", "FanOut", "Lint", "lint"]

#: agent() options the runtime reads; any other key is ignored (W502).
AGENT_OPTIONS = ("label", "phase", "schema", "model", "effort", "isolation", "agentType", "stallMs")
#: effort levels (``med`` is the reference runtime's alias of ``medium``); numbers pass too.
EFFORTS = ("low", "medium", "high", "xhigh", "max")
_EFFORT_ALIASES = ("med",)

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
_NAMED_FUNCTION_EXPRESSIONS = frozenset({"function_expression", "function", "generator_function"})
_BLOCKS = frozenset({"statement_block", "for_statement", "for_in_statement", "switch_body"})
_LOOPS = frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"})
_REFERENCES = frozenset(
    {"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"}
)
# Nodes with nothing below that names a variable: the walk does not enter them.
_LEAVES = frozenset(
    {
        "string",
        "string_fragment",
        "escape_sequence",
        "number",
        "comment",
        "regex",
        "property_identifier",
        "private_property_identifier",
        "statement_identifier",
        "true",
        "false",
        "null",
        "undefined",
        "this",
        "super",
        "hash_bang_line",
        "empty_statement",
    }
)
# Nodes the walk handles itself: scopes, declarations, and statements it reports.
_SCOPING = (
    _FUNCTIONS
    | _BLOCKS
    | _LOOPS
    | {
        "catch_clause",
        "class",
        "class_declaration",
        "variable_declaration",
        "lexical_declaration",
        "import_statement",
        "export_statement",
        "with_statement",
    }
)
# Array methods that call their callback once per element.
_PER_ELEMENT = frozenset(
    {"map", "forEach", "flatMap", "filter", "some", "every", "find", "findIndex", "reduce"}
)
# Globals that return a promise, never a function.
_PROMISE_GLOBALS = frozenset({"agent", "parallel", "pipeline", "workflow"})
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
_DATE_MESSAGE = (
    "Date.now() / new Date() are unavailable in workflow scripts (breaks resume). Stamp "
    "results after the workflow returns, or pass timestamps via args."
)
_RANDOM_MESSAGE = (
    "Math.random() is unavailable in workflow scripts (breaks resume). For N independent "
    "samples, include the index in the agent label or prompt."
)
_NOT_THUNKS = (
    "parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)"
)
# How many terms the fan-out sum keeps before it says "and more".
_MAX_TERMS = 12
# Bounds the walks through function bindings (a helper calling a helper calling …).
_MAX_DEPTH = 40


class _Scope:
    __slots__ = ("function", "names", "origins", "parent")

    def __init__(self, parent: _Scope | None, function: bool) -> None:
        self.parent = parent
        self.function = function
        # name -> the value it is bound to (`const f = () => …`), None when destructured
        self.names: dict[str, Node | None] = {}
        # name -> the expression it was taken from (`const { a } = args` -> `args`)
        self.origins: dict[str, Node] = {}

    def function_scope(self) -> _Scope:
        scope = self
        while not scope.function and scope.parent is not None:
            scope = scope.parent
        return scope

    def lookup(self, name: str) -> _Scope | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope
            scope = scope.parent
        return None


# ---- the fan-out estimate ------------------------------------------------------------------

# A count is a polynomial: {sorted factor names: coefficient}; () is the constant term.
_Count = dict[tuple[str, ...], int]
_ONE: _Count = {(): 1}


def _add(total: _Count, more: _Count) -> None:
    """``total += more``, in place (a sum over many calls stays linear)."""
    for term, k in more.items():
        total[term] = total.get(term, 0) + k


def _mul(a: _Count, b: _Count) -> _Count:
    out: _Count = {}
    for ta, ka in a.items():
        for tb, kb in b.items():
            term = tuple(sorted(ta + tb))
            out[term] = out.get(term, 0) + ka * kb
    return out


@final
@dataclass(frozen=True)
class FanOut:
    """How many agents a run starts, as far as the text shows.

    ``constant`` agents always; each of ``terms`` adds ``coefficient`` × the product of its
    factors; ``factors`` says what each factor is: ``"args"`` (its size depends on ``args``),
    ``"answers"`` (on what agents answer) or ``"unknown"`` (a loop or a value the text does
    not fix).
    """

    constant: int = 0
    terms: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    factors: dict[str, str] = field(default_factory=dict)
    sites: int = 0
    #: terms left out of ``terms`` (and of ``text()``) to keep the estimate readable
    more_terms: int = 0

    @property
    def exact(self) -> bool:
        return not self.terms and not self.more_terms

    @property
    def depends_on_args(self) -> bool:
        return "args" in self.factors.values()

    def text(self) -> str:
        """``3 agents``, ``1 + names.length agents (depends on args)``, …"""
        if self.sites == 0:
            return "no agent() calls"
        parts = [str(self.constant)] if self.constant or not self.terms else []
        for k, names in self.terms:
            product = " × ".join(n if self.factors.get(n) == "args" else f"[{n}]" for n in names)
            parts.append(product if k == 1 else f"{k} × {product}")
        if self.more_terms:
            parts.append(f"({self.more_terms} more terms)")
        total = " + ".join(parts)
        noun = "agent" if total == "1" else "agents"
        notes = []
        answers = [n for n, kind in self.factors.items() if kind == "answers"]
        unknown = [n for n, kind in self.factors.items() if kind == "unknown"]
        if self.depends_on_args:
            notes.append("depends on args")
        if answers:
            notes.append("depends on agents' answers: " + ", ".join(answers))
        if unknown:
            notes.append("not evident: " + ", ".join(unknown))
        return f"{total} {noun}" + (f" ({'; '.join(notes)})" if notes else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text(),
            "agent_calls": self.sites,
            "constant": self.constant,
            "exact": self.exact,
            "depends_on_args": self.depends_on_args,
            "terms": [{"coefficient": k, "factors": list(n)} for k, n in self.terms],
            "more_terms": self.more_terms,
            "factors": dict(self.factors),
        }


@final
@dataclass(frozen=True)
class Lint:
    """What :func:`lint` found."""

    diagnostics: list[Diagnostic]
    fanout: FanOut
    #: character spans of statements whose own diagnostic explains QuickJS's syntax error
    syntax_spans: list[tuple[int, int]]


def lint(
    source: str,
    tree: Tree,
    *,
    path: str | None,
    positions: SourceMap | None = None,
    meta: Meta | None = None,
    span: MetaSpan | None = None,
) -> Lint:
    """Run every static check on ``source`` (already parsed into ``tree``).

    Args:
        source: the script text.
        tree: its tree-sitter tree.
        path: the script's path, for diagnostics.
        positions: a :class:`SourceMap` of ``source`` to share.
        meta: the script's meta when it is valid (phases are checked against it).
        span: where the ``export const meta`` statement is, if there is one.

    The checks that need the whole tree (undefined names, unused phases) are skipped when
    tree-sitter had to recover from syntax errors: declarations may be lost in recovery.
    """
    return _Linter(source, tree, path, positions or SourceMap(source), meta, span).run()


class _Linter:
    def __init__(
        self,
        source: str,
        tree: Tree,
        path: str | None,
        positions: SourceMap,
        meta: Meta | None,
        span: MetaSpan | None,
    ) -> None:
        self.source = source
        self.tree = tree
        self.path = path
        self.positions = positions
        self.data = positions.data
        self.meta = meta
        self.span = span
        # Checks that need every declaration trust only a tree without error recovery:
        # a QuickJS-only error (an `import`, a strict-mode rule) leaves the tree whole.
        self.complete = not tree.root_node.has_error
        self.out: list[Diagnostic] = []
        self.syntax_spans: list[tuple[int, int]] = []
        self.declared: set[int] = set()  # start bytes of identifiers that declare a name
        self.refs: list[tuple[Node, _Scope]] = []
        self.loops: list[tuple[Node, _Scope]] = []
        self.resolved: dict[int, _Scope | None] = {}  # identifier start byte -> its scope
        self.uses: dict[tuple[int, str], list[Node]] = {}  # (id(scope), name) -> references
        self.bound_in: dict[int, tuple[_Scope, str]] = {}  # value start byte -> its binding
        self.globals_used: dict[str, list[Node]] = {}
        self._calls_memo: dict[int, _Count] = {}
        self._calls_of: dict[str, list[tuple[Node, list[Node]]]] = {}
        self._in_progress: set[int] = set()
        self.factors: dict[str, str] = {}
        self.meta_statement: Node | None = None

    # ---- helpers -----------------------------------------------------------------------

    def text(self, node: Node) -> str:
        return decode(self.data[node.start_byte : node.end_byte])

    def report(self, code: str, message: str, node: Node | None, hint: str | None = None) -> None:
        pos = None if node is None else self.positions.byte_pos(node.start_byte)
        self.out.append(Diagnostic.make(code, message, path=self.path, pos=pos, hint=hint))

    def where(self, node: Node) -> str:
        line, col = self.positions.byte_pos(node.start_byte)
        return f"{line}:{col}"

    def is_global(self, node: Node, name: str) -> bool:
        """Whether identifier ``node`` reads the global ``name``."""
        return (
            node.type == "identifier"
            and node.start_byte in self.resolved
            and self.resolved[node.start_byte] is None
            and self.text(node) == name
        )

    # ---- pass 1: scopes, declarations, references --------------------------------------

    def run(self) -> Lint:
        root = self.tree.root_node
        top = _Scope(None, function=True)
        self.walk(root, top)
        self.resolve()
        self.check_globals()
        self.check_calls()
        self.check_loops()
        self.check_phases()
        fanout = self.fanout()
        return Lint(self.out, fanout, self.syntax_spans)

    def bind(self, pattern: Node | None, scope: _Scope, value: Node | None = None) -> None:
        """Declare every name in a binding pattern (parameters, declarators, catch)."""
        stack = [pattern]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            kind = node.type
            if kind in ("identifier", "shorthand_property_identifier_pattern"):
                self.declared.add(node.start_byte)
                name = self.text(node)
                # A name bound straight to a value (`const f = () => …`) keeps the value, for
                # the fan-out; destructured names only remember where they came from.
                bound = value if node is pattern else None
                scope.names[name] = bound
                if bound is not None:
                    self.bound_in[bound.start_byte] = (scope, name)
                if value is not None:
                    scope.origins[name] = value
                else:
                    scope.origins.pop(name, None)
            elif kind in ("object_pattern", "array_pattern", "formal_parameters"):
                stack.extend(node.named_children)
            elif kind == "pair_pattern":
                stack.append(node.child_by_field_name("value"))
            elif kind in ("assignment_pattern", "object_assignment_pattern"):
                stack.append(node.child_by_field_name("left"))
            elif kind == "rest_pattern":
                stack.extend(node.named_children)

    def walk(self, root: Node, top: _Scope) -> None:
        """Visit every node once, in source order, with the scope it is in.

        A tree cursor, not recursion (scripts and fuzzed inputs may nest deeper than Python's
        recursion limit) and not lists of children (this loop sees every node of the script,
        and a cursor step costs a fraction of building them). ``scopes`` holds each open scope
        with the depth of the node that opened it; the scope of a node is the innermost one
        opened above it.
        """
        cursor = root.walk()
        scopes: list[tuple[int, _Scope, bool]] = [(-1, top, True)]  # (depth, scope, function?)
        declared, refs = self.declared, self.refs
        depth = 0
        while True:
            node = cursor.node
            kind = node.type
            while scopes[-1][0] >= depth:
                scopes.pop()
            scope = scopes[-1][1]
            descend = True
            if kind in _REFERENCES:
                # `({a} = o)` assigns to `a`: a pattern outside a declaration is a reference.
                if node.start_byte not in declared:
                    refs.append((node, scope))
                descend = False
            elif kind in _LEAVES:
                descend = False
            elif kind == "call_expression":
                function = node.child_by_field_name("function")
                if function is not None and function.type == "import":
                    self.report("E203", "import() is not available in workflow scripts.", node)
            elif kind in _SCOPING and node.is_named:  # `function` and `class` are tokens too
                # A function's body block is the function's own scope, not a new one.
                is_body = (
                    kind == "statement_block"
                    and scopes[-1][0] == depth - 1
                    and scopes[-1][2]
                    and cursor.field_name == "body"
                )
                inner, descend = self.enter(node, kind, scope, is_body)
                if inner is not scope:
                    scopes.append((depth, inner, kind in _FUNCTIONS))
            if descend and cursor.goto_first_child():
                depth += 1
                continue
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return
                depth -= 1

    def enter(self, node: Node, kind: str, scope: _Scope, is_body: bool) -> tuple[_Scope, bool]:
        """Declare what ``node`` declares; the scope of its children, and whether to visit them."""
        inner = scope
        if kind in _FUNCTIONS:
            if kind in _DECLARED_FUNCTIONS:
                self.bind(node.child_by_field_name("name"), scope, node)
            inner = _Scope(scope, function=True)
            if kind in _NAMED_FUNCTION_EXPRESSIONS:
                self.bind(node.child_by_field_name("name"), inner, node)
            params = node.child_by_field_name("parameters")
            if params is None:
                params = node.child_by_field_name("parameter")
            self.bind(params, inner)
            return inner, True
        if kind == "statement_block" and is_body:
            pass  # a function's body shares the function's scope
        elif kind in _BLOCKS or kind == "catch_clause":
            inner = _Scope(scope, function=False)
        elif kind == "class":  # a class expression's name is visible inside it only
            inner = _Scope(scope, function=False)
            self.bind(node.child_by_field_name("name"), inner, node)
        if kind == "class_declaration":
            self.bind(node.child_by_field_name("name"), scope, node)
        elif kind in ("variable_declaration", "lexical_declaration"):
            target = scope.function_scope() if kind == "variable_declaration" else scope
            for declarator in node.named_children:
                if declarator.type == "variable_declarator":
                    name = declarator.child_by_field_name("name")
                    self.bind(name, target, declarator.child_by_field_name("value"))
        elif kind == "catch_clause":
            self.bind(node.child_by_field_name("parameter"), inner)
        elif kind == "for_in_statement":
            declares = [c.type for c in node.children if c.type in ("var", "let", "const")]
            if declares:
                target = inner.function_scope() if declares[0] == "var" else inner
                left = node.child_by_field_name("left")
                self.bind(left, target)
                right = node.child_by_field_name("right")
                if right is not None:  # `for (const s of args.servers)`: s comes from args
                    for name in self.pattern_names(left) if left is not None else ():
                        target.origins[name] = right
        elif kind == "import_statement":
            self.import_statement(node, scope)
            return inner, False
        elif kind == "export_statement":
            if self.export_statement(node):
                return inner, False
        elif kind == "with_statement":
            self.complete = False  # inside `with`, any name may be a property
            self.explains_syntax_error(node)
            self.report("E202", "'with' statements are not supported in workflow scripts.", node)
        if kind in _LOOPS:
            self.loops.append((node, inner))
        return inner, True

    def explains_syntax_error(self, node: Node) -> None:
        self.syntax_spans.append(
            (self.positions.offset(node.start_byte), self.positions.offset(node.end_byte))
        )

    def import_statement(self, node: Node, scope: _Scope) -> None:
        self.explains_syntax_error(node)
        self.report(
            "E201",
            "import declarations are not available in workflow scripts: the script runs as "
            "the body of a function, not as a module",
            node,
        )
        for child in node.named_children:  # declare the imported names: one report is enough
            if child.type == "import_clause":
                stack = [child]
                while stack:
                    n = stack.pop()
                    if n.type == "identifier":
                        self.declared.add(n.start_byte)
                        scope.names[self.text(n)] = None
                    stack.extend(n.named_children)

    def export_statement(self, node: Node) -> bool:
        """Report an export other than meta's; True when its children need no walk."""
        if self.span is not None and self.positions.offset(node.start_byte) == self.span.start:
            # The meta literal has its own checks (E107 for anything not literal).
            self.meta_statement = node
            return True
        self.explains_syntax_error(node)
        self.report(
            "E201",
            "export declarations are not available in workflow scripts: only "
            "`export const meta = {…}`, as the first statement, may be exported",
            node,
        )
        # `export { a as b }` names exports, not variables the script reads.
        return any(c.type == "export_clause" for c in node.named_children)

    def resolve(self) -> None:
        for node, scope in self.refs:
            name = self.text(node)
            found = scope.lookup(name)
            self.resolved[node.start_byte] = found
            if found is None:
                self.globals_used.setdefault(name, []).append(node)
            else:
                self.uses.setdefault((id(found), name), []).append(node)

    # ---- globals: absent features, determinism, undefined names ------------------------

    def check_globals(self) -> None:
        known = global_names()
        for name, nodes in self.globals_used.items():
            reads = [n for n in nodes if not _is_typeof_operand(n)]
            if name in _ABSENT or name in ("eval", "Function"):
                # `typeof process !== 'undefined' ? process.env.X : d` runs everywhere.
                reads = [n for n in reads if not self.typeof_guarded(n, name)]
            if not reads:
                continue  # `typeof x === 'undefined'` is how a script asks safely
            if name in _ABSENT:
                code, message = _ABSENT[name]
                for node in reads:
                    self.report(code, message, node)
            elif name == "eval":
                for node in reads:
                    self.report(
                        "E204",
                        "eval is not available in workflow scripts: code generation from "
                        "strings is disallowed",
                        node,
                    )
            elif name == "Function":
                for node in reads:
                    parent = node.parent
                    if parent is not None and parent.type in ("new_expression", "call_expression"):
                        callee = parent.child_by_field_name(
                            "constructor" if parent.type == "new_expression" else "function"
                        )
                        if callee == node:
                            self.report(
                                "E205",
                                "new Function() is not available in workflow scripts: code "
                                "generation from strings is disallowed",
                                parent,
                            )
            elif name == "Date":
                for node in reads:
                    self.check_date(node)
            elif name == "Math":
                for node in reads:
                    member = node.parent
                    if _is_member(member, node, "random"):
                        self.report("E303", _RANDOM_MESSAGE, member)
            elif name not in known and name != "arguments" and self.complete:
                self.undefined_name(name, reads)

    def check_date(self, node: Node) -> None:
        parent = node.parent
        if parent is None:
            return
        if _is_member(parent, node, "now"):
            self.report("E301", _DATE_MESSAGE, parent)
        elif parent.type == "new_expression" and parent.child_by_field_name("constructor") == node:
            args = parent.child_by_field_name("arguments")
            if args is None or not args.named_children:
                self.report("E302", _DATE_MESSAGE, parent)
        elif parent.type == "call_expression" and parent.child_by_field_name("function") == node:
            # Date() called as a function ignores its arguments and reads the clock. The
            # reference's load check does not look for it; its run-time shim throws.
            self.report("W304", _DATE_MESSAGE, parent)

    def typeof_guarded(self, node: Node, name: str) -> bool:
        """Whether ``node`` sits in a branch of a test that asks ``typeof name``: the
        ternary, ``if`` or ``&&``/``||`` that only reads ``name`` when it exists."""
        child, parent = node, node.parent
        while parent is not None:
            test = None
            if parent.type in ("ternary_expression", "if_statement"):
                test = parent.child_by_field_name("condition")
            elif parent.type == "binary_expression":
                operator = parent.child_by_field_name("operator")
                if operator is not None and operator.type in ("&&", "||"):
                    test = parent.child_by_field_name("left")
            if test is not None and test != child and self.asks_typeof(test, name):
                return True
            child, parent = parent, parent.parent
        return False

    def asks_typeof(self, test: Node, name: str) -> bool:
        stack = [test]
        while stack:
            n = stack.pop()
            if n.type == "identifier" and self.text(n) == name and _is_typeof_operand(n):
                return True
            stack.extend(n.named_children)
        return False

    def undefined_name(self, name: str, reads: list[Node]) -> None:
        more = len(reads) - 1
        also = f" (used {len(reads)} times)" if more else ""
        hint = None
        if all(_is_assigned(n) for n in reads):
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
        self.report("W401", message, reads[0], hint)

    # ---- calls of agent(), parallel(), pipeline(), phase(), budget() --------------------

    def global_calls(self, name: str) -> list[tuple[Node, list[Node]]]:
        """Each call ``name(...)`` of the global ``name``, with its argument nodes."""
        if name not in self._calls_of:
            self._calls_of[name] = list(self._global_calls(name))
        return self._calls_of[name]

    def _global_calls(self, name: str) -> Iterator[tuple[Node, list[Node]]]:
        for node in self.globals_used.get(name, ()):
            call = node.parent
            if call is None or call.type != "call_expression":
                continue
            if call.child_by_field_name("function") != node:
                continue
            args = call.child_by_field_name("arguments")
            if args is None or args.type != "arguments":
                continue  # a tagged template
            yield call, [a for a in args.named_children if a.type != "comment"]

    def check_calls(self) -> None:
        for call, args in self.global_calls("agent"):
            self.check_agent(call, args)
        for call, args in self.global_calls("parallel"):
            self.check_parallel(call, args)
        for call, args in self.global_calls("pipeline"):
            self.check_pipeline(call, args)
        for _, args in self.global_calls("workflow"):
            if args:
                self.check_script_path(args[0])
        for call, _ in self.global_calls("budget"):
            self.report(
                "E703",
                "budget is not a function: use budget.remaining(), budget.spent() or budget.total",
                call,
            )

    def check_script_path(self, ref: Node) -> None:
        """``workflow({scriptPath: '…'})`` with a literal path: the file must be there, where
        the engine looks (as given, so the current directory first; then beside the script)."""
        ref = unparen(ref)
        if ref.type != "object":
            return
        for pair in ref.named_children:
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            if key is None or self.text(key).strip("'\"") != "scriptPath":
                continue
            value = pair.child_by_field_name("value")
            raw = None if value is None else self.string_value(value)
            if raw is None or value is None:
                return  # computed: only the run can tell
            path = Path(raw).expanduser()
            places = [path]
            beside = None if self.path is None else Path(self.path).parent
            if not path.is_absolute() and beside is not None and beside.resolve() != Path.cwd():
                places.append(beside / path)
            if not path.name.endswith(".js"):
                self.report(
                    "W801",
                    f"workflow({{scriptPath}}): only .js files are workflows, not {path.name!r}",
                    value,
                )
            elif not any(p.is_file() for p in places):
                where = (
                    ""
                    if path.is_absolute()
                    else (
                        " (looked in the current directory"
                        + (f" and in {places[-1].parent}" if len(places) > 1 else "")
                        + ")"
                    )
                )
                self.report(
                    "W801", f"workflow({{scriptPath: {raw!r}}}): no such file{where}", value
                )
            return

    def check_agent(self, call: Node, args: list[Node]) -> None:
        if not args:
            self.report(
                "E501",
                "agent() expects a prompt string as its first argument, got undefined",
                call,
            )
            return
        kind = self.kind(args[0])
        if kind is not None and kind != "string":
            self.report(
                "E501",
                f"agent() expects a prompt string as its first argument, got {kind}",
                args[0],
            )
        if len(args) < 2:
            return
        opts = unparen(args[1])
        kind = self.kind(opts)
        if kind in ("string", "number", "boolean", "function"):
            self.report("E503", f"agent() options must be an object, got {kind}", opts)
        elif kind == "array":
            self.report("E503", "agent() options must be an object, not an array", opts)
        elif opts.type == "object":
            self.check_options(opts)

    def check_options(self, opts: Node) -> None:
        for entry in opts.named_children:
            if entry.type == "pair":
                key_node = entry.child_by_field_name("key")
                value = entry.child_by_field_name("value")
            elif entry.type == "shorthand_property_identifier":
                key_node, value = entry, None
            elif entry.type == "method_definition":
                key_node, value = entry.child_by_field_name("name"), entry
            else:
                continue  # spread, comments: nothing evident
            key = self.key(key_node)
            if key is None:
                continue
            if key not in AGENT_OPTIONS:
                close = difflib.get_close_matches(key, AGENT_OPTIONS, n=1)
                suggestion = f" (did you mean {close[0]!r}?)" if close else ""
                self.report(
                    "W502",
                    f"unknown agent() option {key!r} is ignored{suggestion}",
                    key_node,
                    hint="known options: " + ", ".join(AGENT_OPTIONS),
                )
                continue
            if value is not None:
                self.check_option(key, unparen(value))

    def check_option(self, key: str, value: Node) -> None:
        kind = self.kind(value)
        if kind is None or kind in ("null", "undefined"):
            return  # computed, or absent (the runtime ignores null)
        if key == "schema":
            if kind in ("object", "boolean"):
                self.check_schema(value)
            else:
                self.report(
                    "E503",
                    f"agent() option 'schema' must be a JSON Schema object, not {_a(kind)}",
                    value,
                )
            return
        if key == "stallMs":
            if kind != "number":
                self.report(
                    "E503", f"agent() option 'stallMs' must be a number, not {_a(kind)}", value
                )
            return
        if key == "effort":
            if kind == "number":
                return
            if kind != "string":
                self.report(
                    "E503",
                    f"agent() option 'effort' must be a string or a number, not {_a(kind)}",
                    value,
                )
                return
            text = self.string_value(value)
            if text is not None and text not in EFFORTS + _EFFORT_ALIASES:
                levels = ", ".join(repr(e) for e in EFFORTS)
                self.report(
                    "E504",
                    f"agent() option 'effort' {text!r} is ignored: it must be one of {levels} "
                    "(or a number)",
                    value,
                )
            return
        if kind != "string":
            self.report("E503", f"agent() option {key!r} must be a string, not {_a(kind)}", value)
            return
        if key == "isolation":
            text = self.string_value(value)
            if text == "remote":
                self.report(
                    "E505", "agent({isolation:'remote'}) is not available in this build", value
                )
            elif text is not None and text != "worktree":
                self.report(
                    "E505", f"agent() option 'isolation' must be 'worktree', not {text!r}", value
                )

    def check_schema(self, value: Node) -> None:
        ok, schema = literal_value(value, self.positions)
        if not ok:
            return  # built from variables: the runtime checks it
        try:
            text = json.dumps(schema)
        except (ValueError, RecursionError):
            return  # not JSON: the runtime's own check reports it
        for problem, where in _schema_problems(text):
            code = "E507" if "unusable JSON Schema" in problem else "E506"
            self.report(code, problem, _literal_at(unparen(value), where))

    def check_parallel(self, call: Node, args: list[Node]) -> None:
        if not args:
            self.report("E601", "parallel() expects an array of functions", call)
            return
        first = unparen(args[0])
        if first.type == "spread_element":
            return
        if self.evidently_not_array(first):
            self.report("E601", "parallel() expects an array of functions", first)
            return
        if first.type == "array":
            for element in first.named_children:
                element = unparen(element)
                if self.evidently_not_function(element):
                    self.report("E602", _NOT_THUNKS, element)
            return
        callback = self.per_element_callback(first)
        if callback is None:
            return
        if any(c.type == "async" for c in callback.children):
            # An async callback returns a promise, whatever it returns.
            self.report("E602", _NOT_THUNKS, callback)
            return
        results = self.results_of(callback)
        if results:
            self.report("E602", _NOT_THUNKS, min(results, key=lambda n: n.start_byte))

    def per_element_callback(self, node: Node) -> Node | None:
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
        method = self.text(prop) if prop is not None else ""
        if method == "map" and values:
            candidate = values[0]
        elif (
            method == "from"
            and obj is not None
            and self.is_global(obj, "Array")
            and len(values) >= 2
        ):
            candidate = values[1]
        else:
            return None
        candidate = unparen(candidate)
        return candidate if candidate.type in _FUNCTIONS else None

    def results_of(self, function: Node) -> list[Node]:
        """What ``function`` returns when every value it returns is evidently no function:
        its expression body, or each returned value. Otherwise nothing."""
        body = function.child_by_field_name("body")
        if body is None:
            return []
        if body.type != "statement_block":
            result = unparen(body)
            return [result] if self.evidently_not_function(result) else []
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
        if results and all(self.evidently_not_function(r) for r in results):
            return results
        return []

    def check_pipeline(self, call: Node, args: list[Node]) -> None:
        if not args:
            self.report("E603", "pipeline() expects an array as the first argument", call)
            return
        first = unparen(args[0])
        if first.type != "spread_element" and self.evidently_not_array(first):
            self.report("E603", "pipeline() expects an array as the first argument", first)
        for stage in args[1:]:
            stage = unparen(stage)
            if stage.type != "spread_element" and self.evidently_not_function(stage):
                self.report(
                    "E604",
                    "pipeline() stages must be functions: pipeline(items, item => ..., "
                    "result => ...)",
                    stage,
                )

    def kind(self, node: Node) -> str | None:
        """The evident ``typeof``-like kind of an expression, or None when not evident."""
        node = unparen(node)
        kind = node.type
        if kind in ("string", "template_string"):
            return "string"
        if kind == "number":
            return "number"
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            argument = node.child_by_field_name("argument")
            if (
                operator is not None
                and operator.type in ("-", "+")
                and argument is not None
                and unparen(argument).type == "number"
            ):
                return "number"
            return None
        if kind in ("true", "false"):
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "undefined":
            return "undefined"
        if kind in ("object", "regex"):
            return "object"
        if kind == "array":
            return "array"
        if kind in ("arrow_function", "function_expression", "function", "generator_function"):
            return "function"
        return None

    def evidently_not_function(self, node: Node) -> bool:
        kind = self.kind(node)
        if kind is not None:
            return kind != "function"
        node = unparen(node)
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            return function is not None and any(
                self.is_global(function, name) for name in _PROMISE_GLOBALS
            )
        if node.type == "new_expression":
            constructor = node.child_by_field_name("constructor")
            return constructor is not None and self.is_global(constructor, "Promise")
        return False

    def evidently_not_array(self, node: Node) -> bool:
        kind = self.kind(node)
        if kind is not None:
            return kind != "array"
        return self.evidently_not_function(node)  # a promise is no array either

    def key(self, node: Node | None) -> str | None:
        if node is None:
            return None
        if node.type in ("property_identifier", "shorthand_property_identifier"):
            return self.text(node)
        if node.type == "string":
            return self.string_value(node)
        return None  # computed or numeric keys: not option names

    def string_value(self, node: Node) -> str | None:
        node = unparen(node)
        if node.type == "template_string" and any(
            c.type == "template_substitution" for c in node.named_children
        ):
            return None
        ok, value = literal_value(node, self.positions)
        return value if ok and isinstance(value, str) else None

    # ---- loops on budget.remaining() ---------------------------------------------------

    def uses_remaining(self, node: Node | None) -> bool:
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
                    if obj is not None and self.is_global(obj, "budget"):
                        prop = function.child_by_field_name("property")
                        if prop is not None and self.text(prop) == "remaining":
                            return True
            if n.type not in _FUNCTIONS:
                stack.extend(n.named_children)
        return False

    def check_loops(self) -> None:
        if "budget" not in self.globals_used:
            return
        for loop, _ in self.loops:
            if loop.type == "for_in_statement":
                continue
            if self.unbounded_budget_loop(loop):
                self.report(
                    "W704",
                    "this loop ends only when budget.remaining() runs out: without a token "
                    "budget remaining() is Infinity, so it runs on until the agent cap",
                    loop,
                    hint="add an iteration bound, e.g. `for (let i = 0; i < 20 && "
                    "budget.remaining() > 50_000; i++)`, or run with --budget",
                )

    def unbounded_budget_loop(self, loop: Node) -> bool:
        test = loop.child_by_field_name("condition")
        if test is not None and test.type in ("expression_statement", "empty_statement"):
            test = test.named_children[0] if test.named_children else None
        body = loop.child_by_field_name("body")
        test = unparen(test) if test is not None else None
        exits = self.exits(body)
        guarded_by_budget = [guard for guard in exits if self.uses_remaining(guard)]
        other_exits = len(exits) - len(guarded_by_budget)
        if test is None or test.type == "true":
            return bool(guarded_by_budget) and not other_exits
        if not self.uses_remaining(test):
            return False
        bounded = any(not self.uses_remaining(c) for c in _conjuncts(test))
        return not bounded and not other_exits

    def exits(self, body: Node | None) -> list[Node | None]:
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

    # ---- phases --------------------------------------------------------------------------

    def check_phases(self) -> None:
        if self.meta is None:
            return
        declared = [p.title for p in self.meta.phases]
        used: set[str] = set()
        dynamic = False
        titled: list[tuple[str, Node]] = []
        for _, args in self.global_calls("phase"):
            title = self.string_value(args[0]) if args else None
            if title is None:
                dynamic = True
            else:
                titled.append((title, args[0]))
        for _, values in self.global_calls("agent"):
            if len(values) < 2 or unparen(values[1]).type != "object":
                continue
            for pair in unparen(values[1]).named_children:
                if pair.type == "spread_element":
                    dynamic = True
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                if key is None or self.key(key) != "phase":
                    continue
                value = pair.child_by_field_name("value")
                title = self.string_value(value) if value is not None else None
                if title is None:
                    dynamic = True
                elif value is not None:
                    titled.append((title, value))
        listed = ", ".join(repr(t) for t in declared) if declared else "none"
        for title, node in titled:
            used.add(title)
            if title not in declared:
                self.report(
                    "W701",
                    f"phase {title!r} is not declared in meta.phases",
                    node,
                    hint=f"declared phases: {listed}",
                )
        if dynamic or not self.complete:
            return
        for title, node in self.declared_phase_nodes():
            if title not in used:
                self.report(
                    "W702",
                    f"phase {title!r} is declared in meta.phases but never used by phase() "
                    "or agent({phase})",
                    node,
                )

    def declared_phase_nodes(self) -> Iterator[tuple[str, Node]]:
        statement = self.meta_statement
        declaration = statement.child_by_field_name("declaration") if statement else None
        if declaration is None:
            return
        for declarator in declaration.named_children:
            obj = declarator.child_by_field_name("value")
            if obj is None or unparen(obj).type != "object":
                continue
            for pair in unparen(obj).named_children:
                if pair.type != "pair" or self.key(pair.child_by_field_name("key")) != "phases":
                    continue
                phases = pair.child_by_field_name("value")
                if phases is None or unparen(phases).type != "array":
                    continue
                for entry in unparen(phases).named_children:
                    if unparen(entry).type != "object":
                        continue
                    for field_ in unparen(entry).named_children:
                        if field_.type != "pair":
                            continue
                        if self.key(field_.child_by_field_name("key")) != "title":
                            continue
                        value = field_.child_by_field_name("value")
                        title = self.string_value(value) if value is not None else None
                        if title is not None and value is not None:
                            yield title, value

    # ---- fan-out ---------------------------------------------------------------------------

    def fanout(self) -> FanOut:
        total: _Count = {}
        sites = 0
        for call, _ in self.global_calls("agent"):
            sites += 1
            _add(total, self.runs(call, 0))
        for call, _ in self.global_calls("workflow"):
            name = self.factor(f"workflow() at {self.where(call)}", "unknown")
            _add(total, _mul(self.runs(call, 0), {(name,): 1}))
            sites += 1
        terms = sorted(
            ((k, names) for names, k in total.items() if names and k),
            key=lambda t: (len(t[1]), t[1]),
        )
        more = max(0, len(terms) - _MAX_TERMS)
        terms = terms[:_MAX_TERMS]
        used = {name for _, names in terms for name in names}
        return FanOut(
            constant=total.get((), 0),
            terms=terms,
            factors={n: k for n, k in self.factors.items() if n in used},
            sites=sites,
            more_terms=more,
        )

    def factor(self, name: str, kind: str) -> str:
        self.factors.setdefault(name, kind)
        return name

    def unknown(self, what: str, node: Node) -> _Count:
        return {(self.factor(f"{what} at {self.where(node)}", "unknown"),): 1}

    def runs(self, node: Node, depth: int) -> _Count:
        """How many times the code at ``node`` runs in one run of the script."""
        count = _ONE
        child, parent = node, node.parent
        while parent is not None:
            if parent.type in _FUNCTIONS:
                return _mul(count, self.calls(parent, depth + 1))
            if parent.type in _LOOPS and parent.child_by_field_name("body") == child:
                count = _mul(count, self.iterations(parent, depth))
            child, parent = parent, parent.parent
        return count

    def calls(self, function: Node, depth: int) -> _Count:
        """How many times ``function`` is called in one run."""
        key = function.start_byte
        if key in self._calls_memo:
            return self._calls_memo[key]
        if depth > _MAX_DEPTH or key in self._in_progress:
            return self.unknown("recursion", function)
        self._in_progress.add(key)
        try:
            result = self._calls(function, depth)
        finally:
            self._in_progress.discard(key)
        self._calls_memo[key] = result
        return result

    def _calls(self, function: Node, depth: int) -> _Count:
        if function.type in _DECLARED_FUNCTIONS:
            return self.calls_through_name(function, function.child_by_field_name("name"), depth)
        occurrence = function
        while (
            occurrence.parent is not None and occurrence.parent.type == "parenthesized_expression"
        ):
            occurrence = occurrence.parent
        parent = occurrence.parent
        if parent is None:
            return _ONE
        if (
            parent.type == "variable_declarator"
            and parent.child_by_field_name("value") == occurrence
        ):
            return self.calls_through_name(function, parent.child_by_field_name("name"), depth)
        return self.invocations(occurrence, depth)

    def calls_through_name(self, function: Node, name: Node | None, depth: int) -> _Count:
        """Calls of a function bound to ``name``: the sum over the places that use the name."""
        binding = self.bound_in.get(function.start_byte)
        if name is None or binding is None:
            return self.unknown("function", function)
        scope, text = binding
        total: _Count = {}
        for ref in self.uses.get((id(scope), text), ()):
            _add(total, self.invocations(ref, depth))
        return total

    def invocations(self, occurrence: Node, depth: int) -> _Count:
        """Calls made of the function value at ``occurrence`` (a function or a name for one)."""
        parent = occurrence.parent
        while parent is not None and parent.type == "parenthesized_expression":
            occurrence, parent = parent, parent.parent
        if parent is None:
            return _ONE
        kind = parent.type
        if kind == "call_expression" and parent.child_by_field_name("function") == occurrence:
            return self.runs(parent, depth)
        if kind == "arguments":
            call = parent.parent
            if call is None or call.type != "call_expression":
                return self.runs(parent, depth)
            values = [a for a in parent.named_children if a.type != "comment"]
            index = values.index(occurrence) if occurrence in values else 0
            return _mul(self.per_call(call, values, index, depth), self.runs(call, depth))
        if kind == "array":
            return self.runs(parent, depth)  # a list of thunks: each is called once
        if kind in ("arrow_function",) and parent.child_by_field_name("body") == occurrence:
            return self.calls(parent, depth + 1)  # a thunk made per call of its maker
        if kind == "return_statement":
            maker = _enclosing_function(parent)
            return self.calls(maker, depth + 1) if maker is not None else _ONE
        if kind == "expression_statement":
            return {}  # a function nobody calls
        return self.unknown("function value", occurrence)

    def per_call(self, call: Node, values: list[Node], index: int, depth: int) -> _Count:
        """How often one call ``call(...)`` calls its argument number ``index``."""
        function = call.child_by_field_name("function")
        if function is None:
            return _ONE
        if function.type == "member_expression":
            prop = function.child_by_field_name("property")
            obj = function.child_by_field_name("object")
            method = self.text(prop) if prop is not None else ""
            if method in _PER_ELEMENT and obj is not None and index == 0:
                return self.length(obj, depth)
            if method == "from" and obj is not None and self.is_global(obj, "Array"):
                return self.from_length(values[0], depth) if index == 1 else _ONE
            return _ONE
        if self.is_global(function, "pipeline") and index >= 1:
            return self.length(values[0], depth)
        return _ONE  # parallel(), setTimeout(), a helper: called once, as far as we know

    def iterations(self, loop: Node, depth: int) -> _Count:
        if loop.type == "for_in_statement":
            right = loop.child_by_field_name("right")
            is_of = any(c.type == "of" for c in loop.children)
            if right is not None and is_of:
                return self.length(right, depth)
            return self.unknown("for…in loop", loop)
        if loop.type == "for_statement":
            counted = self.counted_for(loop, depth)
            if counted is not None:
                return counted
        return self.unknown("loop", loop)

    def counted_for(self, loop: Node, depth: int) -> _Count | None:
        """``for (let i = A; i < B; i++)``: B − A iterations (or B's size)."""
        init = loop.child_by_field_name("initializer")
        test = loop.child_by_field_name("condition")
        if init is None or test is None:
            return None
        if test.type == "expression_statement" and test.named_children:
            test = test.named_children[0]
        declarators = [c for c in init.named_children if c.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        start = declarators[0].child_by_field_name("value")
        var = declarators[0].child_by_field_name("name")
        if start is None or var is None:
            return None
        # `i < 20 && budget.remaining() > 0` runs at most 20 times: any `i < B` conjunct bounds.
        for part in _conjuncts(test):
            if part.type != "binary_expression":
                continue
            left, right = part.child_by_field_name("left"), part.child_by_field_name("right")
            operator = part.child_by_field_name("operator")
            if left is None or right is None or operator is None:
                continue
            if self.text(left) == self.text(var) and operator.type in ("<", "<="):
                return self.counted(start, right, operator.type == "<=", depth)
        return None

    def counted(self, start: Node, bound: Node, inclusive: bool, depth: int) -> _Count | None:
        """Iterations of ``for (i = start; i < bound; i++)`` (``<=`` when ``inclusive``)."""
        ok, a = literal_value(start, self.positions)
        if not ok or not isinstance(a, int) or isinstance(a, bool):
            return None
        ok, b = literal_value(bound, self.positions)
        if ok and isinstance(b, int) and not isinstance(b, bool):
            return {(): max(0, b - a + inclusive)}
        if a == 0 and not inclusive:
            return self.size(bound, depth)
        return None

    def length(self, node: Node, depth: int) -> _Count:
        """The length of an array expression: evident, or a factor named after it."""
        found = self.evident_length(node, depth)
        return found if found is not None else self.symbol(f"{self.short(node)}.length", node)

    def from_length(self, node: Node, depth: int) -> _Count:
        """The length of ``Array.from(node, …)``: ``{length: n}`` gives n."""
        node = unparen(node)
        if node.type == "object":
            for pair in node.named_children:
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                if key is not None and self.key(key) == "length":
                    value = pair.child_by_field_name("value")
                    if value is not None:
                        return self.size(value, depth + 1)
        return self.length(node, depth + 1)

    def evident_length(self, node: Node, depth: int) -> _Count | None:
        node = unparen(node)
        if depth > _MAX_DEPTH:
            return None
        kind = node.type
        if kind == "array":
            total: _Count = {}
            for element in node.named_children:
                if element.type == "comment":
                    continue
                if element.type == "spread_element" and element.named_children:
                    _add(total, self.length(element.named_children[0], depth + 1))
                else:
                    _add(total, _ONE)
            return total
        if kind == "identifier":
            bound = self.bound_value(node)
            return self.evident_length(bound, depth + 1) if bound is not None else None
        if kind != "call_expression":
            return None
        function = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        values = [a for a in args.named_children if a.type != "comment"] if args else []
        if function is None or function.type != "member_expression":
            return None
        prop = function.child_by_field_name("property")
        obj = function.child_by_field_name("object")
        method = self.text(prop) if prop is not None else ""
        if method == "map" and obj is not None:
            return self.evident_length(obj, depth + 1)
        if method == "from" and obj is not None and self.is_global(obj, "Array") and values:
            first = unparen(values[0])
            if first.type == "object":
                return self.from_length(first, depth + 1)
            return self.evident_length(first, depth + 1)
        return None

    def size(self, node: Node, depth: int) -> _Count:
        """The value of a count expression (``n``, ``list.length``, a literal), or a factor."""
        node = unparen(node)
        ok, value = literal_value(node, self.positions)
        if ok and isinstance(value, int) and not isinstance(value, bool):
            return {(): max(0, value)}
        if node.type == "identifier" and depth <= _MAX_DEPTH:
            bound = self.bound_value(node)
            if bound is not None:
                ok, value = literal_value(unparen(bound), self.positions)
                if ok and isinstance(value, int) and not isinstance(value, bool):
                    return {(): max(0, value)}
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            obj = node.child_by_field_name("object")
            if prop is not None and obj is not None and self.text(prop) == "length":
                return self.length(obj, depth + 1)
        return self.symbol(self.short(node), node)

    def bound_value(self, node: Node) -> Node | None:
        """The value a ``const`` name is bound to, when it is one plain binding."""
        scope = self.resolved.get(node.start_byte)
        if scope is None:
            return None
        value = scope.names.get(self.text(node))
        if value is None or value.type in _FUNCTIONS:
            return None
        declarator = value.parent
        declaration = declarator.parent if declarator is not None else None
        if declaration is None or declaration.type != "lexical_declaration":
            return None
        if not any(c.type == "const" for c in declaration.children):
            return None
        return value

    def symbol(self, name: str, node: Node) -> _Count:
        sources = self.sources(node)
        kind = "args" if "args" in sources else "answers" if "answers" in sources else "unknown"
        return {(self.factor(name, kind),): 1}

    def sources(self, node: Node, depth: int = 0) -> set[str]:
        """Where the value of ``node`` comes from: ``"args"`` when it reads the global
        ``args``, ``"answers"`` when it is built from what ``agent()`` (or ``parallel()``,
        ``pipeline()``, ``workflow()``) returned; through the names it reads, too."""
        found: set[str] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            kind = n.type
            if kind == "identifier":
                if self.is_global(n, "args"):
                    found.add("args")
                    continue
                scope = self.resolved.get(n.start_byte)
                origin = scope.origins.get(self.text(n)) if scope is not None else None
                if origin is not None and origin.type not in _FUNCTIONS and depth < _MAX_DEPTH:
                    found |= self.sources(origin, depth + 1)
                continue
            if kind == "call_expression":
                function = n.child_by_field_name("function")
                if function is not None and any(
                    self.is_global(function, g) for g in _PROMISE_GLOBALS
                ):
                    found.add("answers")  # a model's answer, whatever the prompt read
                    continue
            if kind not in _FUNCTIONS:
                stack.extend(n.named_children)
        return found

    def pattern_names(self, pattern: Node) -> list[str]:
        names = []
        stack = [pattern]
        while stack:
            n = stack.pop()
            if n.type in ("identifier", "shorthand_property_identifier_pattern"):
                if n.start_byte in self.declared:
                    names.append(self.text(n))
            else:
                stack.extend(n.named_children)
        return names

    def short(self, node: Node) -> str:
        text = " ".join(self.text(node).split())
        return text if len(text) <= 40 else text[:37] + "…"


@functools.lru_cache(maxsize=512)
def _schema_problems(text: str) -> tuple[tuple[str, tuple[str | int, ...]], ...]:
    """``schema_problems`` of a schema given as JSON text, remembered: checking against the
    meta-schema is slow, and a script often repeats one schema in many calls."""
    from ..schemas import schema_problems  # jsonschema is slow to import; only when needed

    return tuple(schema_problems(json.loads(text)))


def _literal_at(node: Node, where: tuple[str | int, ...]) -> Node:
    """The node of the literal ``node`` at the JSON path ``where`` (as deep as it can follow)."""
    for step in where:
        node = unparen(node)
        found = None
        if node.type == "object" and isinstance(step, str):
            for pair in node.named_children:
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                if key is None:
                    continue
                text = key.text.decode("utf-8", "replace") if key.text else ""
                if key.type == "string":
                    text = text[1:-1]
                if text == step:
                    found = pair.child_by_field_name("value")
                    break
        elif node.type == "array" and isinstance(step, int):
            items = [c for c in node.named_children if c.type != "comment"]
            found = items[step] if 0 <= step < len(items) else None
        if found is None:
            break
        node = found
    return node


# ---- small tree helpers ----------------------------------------------------------------------


def _is_member(node: Node | None, obj: Node, prop: str) -> bool:
    """Whether ``node`` is the non-computed member expression ``obj.prop``."""
    if node is None or node.type != "member_expression":
        return False
    if node.child_by_field_name("object") != obj:
        return False
    name = node.child_by_field_name("property")
    return name is not None and name.type == "property_identifier" and name.text == prop.encode()


def _is_typeof_operand(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is None or parent.type != "unary_expression":
        return False
    operator = parent.child_by_field_name("operator")
    return operator is not None and operator.type == "typeof"


def _is_assigned(node: Node) -> bool:
    """Whether identifier ``node`` is the target of an assignment (``x = …``, ``x += …``)."""
    parent = node.parent
    return (
        parent is not None
        and parent.type in ("assignment_expression", "augmented_assignment_expression")
        and parent.child_by_field_name("left") == node
    )


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


def _enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in _FUNCTIONS:
        parent = parent.parent
    return parent


def _a(kind: str) -> str:
    return {"array": "an array", "object": "an object", "undefined": "undefined"}.get(
        kind, f"a {kind}"
    )
