"""The state every lint pass shares, and the questions every rule asks of a node.

Pass 1 (``scopes.py``) fills in the scopes, declarations and references; the rule modules read
them and add diagnostics to ``out``, in the order the driver (``__init__.py``) runs them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from tree_sitter import Node, Tree

from ..diagnostics import Diagnostic, SourceMap, decode
from ..meta import Meta, MetaSpan, literal_value
from ..strings import string_literal
from .nodes import (
    _PROMISE_GLOBALS,
    ARGUMENT,
    ARGUMENTS,
    ARGUMENTS_K,
    CALL_K,
    COMMENT_K,
    CONSTRUCTOR,
    FUNCTION,
    IDENTIFIER_K,
    NEW_K,
    NUMBER_K,
    OPERATOR,
    PROPERTY_IDENTIFIER_K,
    SHORTHAND_K,
    STRING_K,
    TEMPLATE_K,
    TEMPLATE_SUBSTITUTION_K,
    kind_ids,
    unparen,
)

# ``_Linter.kind``: the evident kind of an expression by its node's kind id.
_EVIDENT: dict[int, str] = {}
for _kind, _names in (
    ("string", ("string", "template_string")),
    ("number", ("number",)),
    ("boolean", ("true", "false")),
    ("null", ("null",)),
    ("undefined", ("undefined",)),
    ("object", ("object", "regex")),
    ("array", ("array",)),
    ("function", ("arrow_function", "function_expression", "function", "generator_function")),
):
    _EVIDENT.update(dict.fromkeys(kind_ids(*_names), _kind))
_UNARY_K = kind_ids("unary_expression")
_SIGNS_K = kind_ids("-", "+")
_KEY_NAMES_K = PROPERTY_IDENTIFIER_K | SHORTHAND_K


class _Scope:
    __slots__ = ("_function_scope", "depth", "function", "names", "origins", "parent", "uses")

    def __init__(self, parent: _Scope | None, function: bool) -> None:
        self.parent = parent
        self.function = function
        self.depth: int = 0 if parent is None else parent.depth + 1
        # kept, not climbed to: a `var` in thousands of nested blocks climbed them all
        self._function_scope = self if function or parent is None else parent._function_scope
        # name -> the value it is bound to (`const f = () => …`), None when destructured
        self.names: dict[str, Node | None] = {}
        # name -> the expression it was taken from (`const { a } = args` -> `args`)
        self.origins: dict[str, Node] = {}
        # name -> its references that resolve to this scope, in source order (``resolve``)
        self.uses: dict[str, list[Node]] = {}

    def function_scope(self) -> _Scope:
        return self._function_scope

    def lookup(self, name: str) -> _Scope | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope
            scope = scope.parent
        return None


_UNSEEN: Any = object()


class _Linter:
    """What the passes share: the script, its scopes once pass 1 has walked it, and what was
    reported; with the questions every rule asks of a node."""

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
        # An ASCII script's byte offsets are its character offsets: a name is a slice of the
        # text, no decoding (names are read some 35,000 times in 512 KiB, issue 22).
        self.ascii_text = positions.source if positions.ascii else None
        self.meta = meta
        self.span = span
        # Checks that need every declaration trust only a tree without error recovery:
        # a QuickJS-only error (an `import`, a strict-mode rule) leaves the tree whole.
        self.complete = not tree.root_node.has_error
        self.clean = self.complete  # stays so: no error or missing node in the tree
        self.out: list[Diagnostic] = []
        self.syntax_spans: list[tuple[int, int]] = []
        self.declared: set[int] = set()  # start bytes of identifiers that declare a name
        # the references pass 1 found, in source order: each one's node, scope and start byte
        self.ref_nodes: list[Node] = []
        self.ref_scopes: list[_Scope] = []
        self.ref_starts: list[int] = []
        self.function_starts: list[int] = []  # of every function pass 1 entered, in order
        self._promise_reads: list[int] | None = None
        self.loops: list[tuple[Node, _Scope]] = []
        self.resolved: dict[int, _Scope | None] = {}  # identifier start byte -> its scope
        self.bound_in: dict[int, tuple[_Scope, str]] = {}  # value start byte -> its binding
        self.globals_used: dict[str, list[Node]] = {}
        self._calls_of: dict[str, list[tuple[Node, list[Node]]]] = {}
        # start byte -> the innermost call expression that starts there (pass 1): the call a
        # global's name is the callee of, without looking for the name's parent (2,500
        # look-ups, 20 ms in 512 KiB, issue 22)
        self.calls_at: dict[int, Node] = {}
        self.meta_statement: Node | None = None
        # agents.check_options's notes for phases.check_phases: the value of each `phase`
        # option, in the calls' order, and whether some options object has a spread
        self.option_phases: list[Node | None] = []
        self.options_spread = False
        # names.py's answers per (node id, name): is this node under a `typeof name` test,
        # does this test ask `typeof name`
        self.typeof_guarded: dict[tuple[int, str], bool] = {}
        self.asks_typeof: dict[tuple[int, str], bool] = {}
        # Parents found so far, and the last path walked down from the root: tree-sitter finds
        # a node's parent by descending from the root (a step per level), so climbing from
        # each of N nested calls with ``Node.parent`` cost N × depth², and a script of nested
        # agent() calls took minutes to validate. Here each parent is found once, walking
        # down from the deepest node of the last path that holds the node.
        self._parents: dict[int, Node | None] = {}
        root = tree.root_node
        self._parents[root.id] = None
        self._path: list[Node] = [root]
        self._cursor = tree.walk()

    # ---- helpers -----------------------------------------------------------------------

    def parent(self, node: Node) -> Node | None:
        """``node.parent``, in time linear in the nodes walked over all calls."""
        found = self._parents.get(node.id, _UNSEEN)
        if found is not _UNSEEN:
            return found
        path, start, end = self._path, node.start_byte, node.end_byte
        # Ranges nest along the path: find the deepest node on it that holds ``node``.
        lo, hi = 0, len(path) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if path[mid].start_byte <= start and path[mid].end_byte >= end:
                lo = mid
            else:
                hi = mid - 1
        del path[lo + 1 :]
        cursor = self._cursor
        cursor.reset(path[-1])
        while path[-1] != node:
            if cursor.goto_first_child_for_byte(start) is None:
                return node.parent  # not below the path (cannot happen): ask tree-sitter
            child = cursor.node
            if child is None or not (child.start_byte <= start and child.end_byte >= end):
                return node.parent
            self._parents[child.id] = path[-1]
            path.append(child)
        return self._parents[node.id]

    def text(self, node: Node) -> str:
        if self.ascii_text is not None:
            return self.ascii_text[node.start_byte : node.end_byte]
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
            node.kind_id in IDENTIFIER_K
            and node.start_byte in self.resolved
            and self.resolved[node.start_byte] is None
            and self.text(node) == name
        )

    def plain_reads(self, start: int, end: int) -> list[tuple[Node, _Scope | None]] | None:
        """The identifiers the code between bytes ``start`` and ``end`` reads, each with the
        scope that declares it (None: a global), in source order; None when that code holds a
        function or reads a global of ``_PROMISE_GLOBALS`` (or the tree has errors). Found
        among pass 1's references, not by a walk below a node."""
        if not self.clean:
            return None
        functions = self.function_starts
        i = bisect_left(functions, start)
        if i < len(functions) and functions[i] < end:
            return None
        promised = self._promise_reads
        if promised is None:
            promised = self._promise_reads = sorted(
                n.start_byte for g in _PROMISE_GLOBALS for n in self.globals_used.get(g, ())
            )
        i = bisect_left(promised, start)
        if i < len(promised) and promised[i] < end:
            return None
        starts, nodes, resolved = self.ref_starts, self.ref_nodes, self.resolved
        return [
            (nodes[k], resolved[starts[k]])
            for k in range(bisect_left(starts, start), bisect_left(starts, end))
            if nodes[k].kind_id in IDENTIFIER_K
        ]

    # ---- the calls of a global -----------------------------------------------------------

    def global_calls(self, name: str) -> list[tuple[Node, list[Node]]]:
        """Each call ``name(...)`` of the global ``name``, with its argument nodes."""
        if name not in self._calls_of:
            self._calls_of[name] = list(self._global_calls(name))
        return self._calls_of[name]

    def _global_calls(self, name: str) -> Iterator[tuple[Node, list[Node]]]:
        calls_at = self.calls_at
        for node in self.globals_used.get(name, ()):
            # A call whose callee is ``node`` starts where ``node`` does, and no call inside
            # it starts there too: the innermost call starting there, if ``node`` is its callee.
            call = calls_at.get(node.start_byte)
            if call is None or call.child_by_field_id(FUNCTION) != node:
                continue
            args = call.child_by_field_id(ARGUMENTS)
            if args is None or args.kind_id not in ARGUMENTS_K:
                continue  # a tagged template
            yield call, [a for a in args.named_children if a.kind_id not in COMMENT_K]

    # ---- what an expression evidently is -------------------------------------------------

    def kind(self, node: Node) -> str | None:
        """The evident ``typeof``-like kind of an expression, or None when not evident."""
        node = unparen(node)
        kind_id = node.kind_id
        found = _EVIDENT.get(kind_id)
        if found is not None:
            return found
        if kind_id in _UNARY_K:
            operator = node.child_by_field_id(OPERATOR)
            argument = node.child_by_field_id(ARGUMENT)
            if (
                operator is not None
                and operator.kind_id in _SIGNS_K
                and argument is not None
                and unparen(argument).kind_id in NUMBER_K
            ):
                return "number"
        return None

    def evidently_not_function(self, node: Node) -> bool:
        kind = self.kind(node)
        if kind is not None:
            return kind != "function"
        node = unparen(node)
        kind_id = node.kind_id
        if kind_id in CALL_K:
            function = node.child_by_field_id(FUNCTION)
            return function is not None and any(
                self.is_global(function, name) for name in _PROMISE_GLOBALS
            )
        if kind_id in NEW_K:
            constructor = node.child_by_field_id(CONSTRUCTOR)
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
        kind_id = node.kind_id
        if kind_id in _KEY_NAMES_K:
            return self.text(node)
        if kind_id in STRING_K:
            return string_literal(self.text(node))  # string_value's commonest case
        return None  # computed or numeric keys: not option names

    def string_value(self, node: Node) -> str | None:
        node = unparen(node)
        kind_id = node.kind_id
        if kind_id in STRING_K:  # the commonest case, read without a literal reader (issue 22)
            return string_literal(self.text(node))
        if kind_id in TEMPLATE_K and any(
            c.kind_id in TEMPLATE_SUBSTITUTION_K for c in node.named_children
        ):
            return None
        ok, value = literal_value(node, self.positions)
        return value if ok and isinstance(value, str) else None
