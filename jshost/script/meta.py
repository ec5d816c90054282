"""Read the ``export const meta = { ... }`` header of a workflow script without running it.

The reference runtime parses scripts with acorn and walks the ESTree of the first statement;
we parse with tree-sitter instead, so this module translates tree-sitter's node kinds into
the ESTree names and checks acorn would make, keeping every error message word for word.
"""

from __future__ import annotations

from typing import Any

from tree_sitter import Node, Tree

from jshost._data import Frozen, set_field
from jshost._lazy import lazy_pattern
from jshost.script.diagnostics import Diagnostic, SourceMap, decode
from jshost.script.grammar import js_parser
from jshost.script.strings import cook as _decode

__all__ = [
    "Meta",
    "MetaRead",
    "MetaSpan",
    "Phase",
    "literal_value",
    "parse_meta",
    "read_meta",
    "unparen",
]

FIRST_STATEMENT = (
    "`export const meta = { name, description, phases }` must be the FIRST statement in the script"
)
_PURE = "meta must be a pure literal: "
_RESERVED_KEYS = frozenset({"__proto__", "constructor", "prototype"})
# Python recursion, not JS, sets this bound; real metas are a few levels deep.
_MAX_DEPTH = 200

# tree-sitter kinds -> the ESTree type acorn reports for the same construct.
_ESTREE_TYPES = {
    "identifier": "Identifier",
    "undefined": "Identifier",
    "shorthand_property_identifier": "Identifier",
    "call_expression": "CallExpression",
    "member_expression": "MemberExpression",
    "subscript_expression": "MemberExpression",
    "binary_expression": "BinaryExpression",
    "ternary_expression": "ConditionalExpression",
    "arrow_function": "ArrowFunctionExpression",
    "function_expression": "FunctionExpression",
    "function": "FunctionExpression",
    "generator_function": "FunctionExpression",
    "new_expression": "NewExpression",
    "assignment_expression": "AssignmentExpression",
    "augmented_assignment_expression": "AssignmentExpression",
    "class": "ClassExpression",
    "sequence_expression": "SequenceExpression",
    "await_expression": "AwaitExpression",
    "yield_expression": "YieldExpression",
    "this": "ThisExpression",
    "super": "Super",
    "update_expression": "UpdateExpression",
    "meta_property": "MetaProperty",
    "private_property_identifier": "PrivateIdentifier",
    "jsx_element": "JSXElement",
    "jsx_self_closing_element": "JSXElement",
    "string": "Literal",
    "number": "Literal",
}
_LOGICAL_OPERATORS = frozenset({"&&", "||", "??"})

_ARRAY_INDEX_RE = lazy_pattern(r"0|[1-9][0-9]*")  # only for a key that starts with a digit
_LEGACY_OCTAL_RE = lazy_pattern(r"0[0-7]+")


class Phase(Frozen):
    """One entry of ``meta.phases`` that survived normalisation."""

    title: str
    detail: str | None = None
    model: str | None = None

    _fields = ("title", "detail", "model")

    def __init__(self, title: str, detail: str | None = None, model: str | None = None) -> None:
        set_field(self, "title", title)
        set_field(self, "detail", detail)
        set_field(self, "model", model)


class Meta(Frozen):
    """The validated meta header; ``raw`` is the whole literal as plain Python values."""

    name: str
    description: str
    title: str | None = None
    when_to_use: str | None = None
    phases: tuple[Phase, ...] = ()
    # Excluded from the hash only, so a Meta with a dict in it stays hashable.
    raw: Any = None

    _fields = ("name", "description", "title", "when_to_use", "phases", "raw")
    _unhashed = ("raw",)

    def __init__(
        self,
        name: str,
        description: str,
        title: str | None = None,
        when_to_use: str | None = None,
        phases: tuple[Phase, ...] = (),
        raw: Any = None,
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "description", description)
        set_field(self, "title", title)
        set_field(self, "when_to_use", when_to_use)
        set_field(self, "phases", phases)
        set_field(self, "raw", raw)


class MetaSpan(Frozen):
    """Character offsets of the meta statement and of its ``export`` keyword."""

    start: int
    end: int
    export_start: int
    export_end: int

    _fields = ("start", "end", "export_start", "export_end")

    def __init__(self, start: int, end: int, export_start: int, export_end: int) -> None:
        set_field(self, "start", start)
        set_field(self, "end", end)
        set_field(self, "export_start", export_start)
        set_field(self, "export_end", export_end)


_parser = js_parser


class _Problem(Exception):
    """Raised inside the reader for a node that is not a pure literal (or a bad field)."""

    def __init__(self, diagnostic: Diagnostic, byte: int) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.byte = byte


class _Reader:
    """Turns tree-sitter nodes of one source into Python values and positioned problems.

    With ``collect``, a bad property or element is recorded in ``problems`` and skipped, so
    one pass finds every problem (for ``validate``); without it the first one is raised.
    """

    def __init__(
        self,
        source: str,
        path: str | None,
        *,
        positions: SourceMap | None = None,
        collect: bool = False,
    ) -> None:
        self.source = source
        self.path = path
        self.positions = positions or SourceMap(source)
        self.data = self.positions.data
        # An ASCII text's byte offsets are its character offsets: no decoding (issue 22).
        self._ascii_text = self.positions.source if self.positions.ascii else None
        self.collect = collect
        self.problems: list[_Problem] = []

    def offset(self, byte: int) -> int:
        return self.positions.offset(byte)

    def text(self, node: Node) -> str:
        if self._ascii_text is not None:
            return self._ascii_text[node.start_byte : node.end_byte]
        return decode(self.data[node.start_byte : node.end_byte])

    def error(self, message: str, node: Node | None, code: str = "E107") -> _Problem:
        pos = None if node is None else self.positions.byte_pos(node.start_byte)
        diagnostic = Diagnostic.make(code, message, path=self.path, pos=pos)
        return _Problem(diagnostic, -1 if node is None else node.start_byte)

    def _record(self, problem: _Problem) -> None:
        if not self.collect:
            raise problem
        self.problems.append(problem)

    def value(self, node: Node, depth: int = 0) -> Any:
        kind = node.type
        if kind == "parenthesized_expression":
            node = unparen(node)
            kind = node.type
        if depth > _MAX_DEPTH:
            raise self.error(_PURE + "meta is nested too deeply", node)
        if kind == "object":
            return self.object(node, depth)
        if kind == "array":
            return self.array(node, depth)
        if kind == "string":
            return _decode(self.text(node)[1:-1])
        if kind == "number":
            return _number(self.text(node))[0]
        if kind in ("true", "false"):
            return kind == "true"
        if kind == "null":
            return None
        if kind == "regex":
            return self.text(node)
        if kind == "template_string":
            for child in node.named_children:
                if child.type == "template_substitution":
                    raise self.error(_PURE + "template interpolation not allowed in meta", child)
            return _decode(self.text(node)[1:-1], template=True)
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            argument = node.child_by_field_name("argument")
            if operator is not None and operator.type == "-" and argument is not None:
                argument = unparen(argument)
                if argument.type == "number":
                    number, bigint = _number(self.text(argument))
                    if not bigint:
                        return _integral(-number)
            raise self.error(_PURE + "only negative-number unary allowed in meta", node)
        raise self.error(_PURE + f"non-literal node type in meta: {self.estree_type(node)}", node)

    def array(self, node: Node, depth: int) -> list[Any]:
        out: list[Any] = []
        # A comma with no element since the previous comma (or `[`) is a hole; a single
        # trailing comma is not.
        expect_element = True
        for child in node.children:
            if child.type in ("[", "]", "comment"):
                continue
            if child.type == ",":
                if expect_element:
                    self._record(self.error(_PURE + "sparse arrays not allowed", child))
                expect_element = True
                continue
            expect_element = False
            if child.is_error or child.is_missing:
                continue  # the caller's syntax check reports these
            try:
                if child.type == "spread_element":
                    raise self.error(_PURE + "spread not allowed in meta", child)
                out.append(self.value(child, depth + 1))
            except _Problem as problem:
                self._record(problem)
        return out

    def object(self, node: Node, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in node.named_children:
            if child.type == "comment" or child.is_error or child.is_missing:
                continue
            try:
                self.property(child, out, depth)
            except _Problem as problem:
                self._record(problem)
        return _js_key_order(out)

    def property(self, child: Node, out: dict[str, Any], depth: int) -> None:
        if child.type == "pair":
            key_node = child.child_by_field_name("key")
            value_node = child.child_by_field_name("value")
            if key_node is None or value_node is None or value_node.is_missing:
                return
            key = self.key(key_node)
            out[key] = self.value(value_node, depth + 1)
        elif child.type == "method_definition":
            name = child.child_by_field_name("name")
            if name is not None and name.type == "computed_property_name":
                raise self.error(_PURE + "computed keys not allowed in meta", name)
            raise self.error(_PURE + "methods/accessors not allowed in meta", child)
        elif child.type == "shorthand_property_identifier":
            # acorn sees a Property whose key and value are the same Identifier: the
            # key is checked first.
            self.key(child)
            raise self.error(_PURE + "non-literal node type in meta: Identifier", child)
        else:
            raise self.error(_PURE + "only plain properties allowed in meta", child)

    def key(self, node: Node) -> str:
        kind = node.type
        if kind == "computed_property_name":
            raise self.error(_PURE + "computed keys not allowed in meta", node)
        if kind in ("property_identifier", "shorthand_property_identifier"):
            key = _decode(self.text(node))  # identifiers may spell letters as \uXXXX
        elif kind == "string":
            key = _decode(self.text(node)[1:-1])
        elif kind == "number":
            number, bigint = _number(self.text(node))
            if bigint:
                raise self.error(_PURE + "unsupported key type in meta: Literal", node)
            key = _js_number_str(float(number))
        else:
            raise self.error(
                _PURE + f"unsupported key type in meta: {self.estree_type(node)}", node
            )
        if key in _RESERVED_KEYS:
            raise self.error(_PURE + f"reserved key name not allowed in meta: {key}", node)
        return key

    def estree_type(self, node: Node) -> str:
        kind = node.type
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is not None and operator.type in _LOGICAL_OPERATORS:
                return "LogicalExpression"
        if kind in ("call_expression", "member_expression", "subscript_expression"):
            if _is_optional_chain(node):
                return "ChainExpression"
            if kind == "call_expression":
                args = node.child_by_field_name("arguments")
                if args is not None and args.type == "template_string":
                    return "TaggedTemplateExpression"
                function = node.child_by_field_name("function")
                if function is not None and function.type == "import":
                    return "ImportExpression"
        if kind in _ESTREE_TYPES:
            return _ESTREE_TYPES[kind]
        return "".join(part.capitalize() for part in kind.split("_")) or kind


def unparen(node: Node) -> Node:
    """``node`` without the parentheses around it (acorn drops them: `(1)` is the Literal 1)."""
    while node.type == "parenthesized_expression":
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def _is_optional_chain(node: Node) -> bool:
    # `a?.b.c()` is one ChainExpression in ESTree; tree-sitter marks the `?.` deep inside.
    while node.type in ("call_expression", "member_expression", "subscript_expression"):
        if any(child.type == "optional_chain" for child in node.children):
            return True
        inner = node.child_by_field_name("function" if node.type == "call_expression" else "object")
        if inner is None:
            return False
        node = inner
    return False


def _integral(value: int | float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number(text: str) -> tuple[int | float, bool]:
    """Value of a JS numeric literal and whether it was a BigInt (``1n``)."""
    digits = text.replace("_", "")
    if digits.endswith("n"):
        return int(digits[:-1], 0), True
    if digits[:2].lower() in ("0x", "0o", "0b"):
        exact = int(digits, 0)
    elif _LEGACY_OCTAL_RE.fullmatch(digits):
        exact = int(digits, 8)  # sloppy-mode `017`; module code rejects it in the syntax check
    else:
        return _integral(float(digits)), False  # float() also takes `.5`, `5.`, `089`
    try:
        return _integral(float(exact)), False  # JS rounds to a double
    except OverflowError:
        return float("inf"), False


def _js_number_str(value: float) -> str:
    """ECMAScript Number::toString, which is how a numeric key becomes a property name."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _js_number_str(-value)
    from decimal import Decimal  # only for a numeric key (start-up, issue 22)

    # repr is the shortest round-tripping form, the same digits JS picks.
    _, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent = int(exponent) + len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    sign = "+" if n - 1 >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(n - 1)}"


def _js_key_order(obj: dict[str, Any]) -> dict[str, Any]:
    # JS enumerates array-index keys first, ascending, then the rest in insertion order.
    indices = [
        k for k in obj if k[:1].isdigit() and _ARRAY_INDEX_RE.fullmatch(k) and int(k) < 2**32 - 1
    ]
    if not indices:
        return obj
    ordered = {k: obj[k] for k in sorted(indices, key=int)}
    ordered.update((k, v) for k, v in obj.items() if k not in ordered)
    return ordered


def _first_statement(program: Node) -> Node | None:
    for child in program.named_children:
        if child.type not in ("comment", "hash_bang_line"):
            return child
    return None


def _meta_parts(statement: Node) -> tuple[Node, Node, Node] | None:
    """The ``export`` keyword, the declaration and the object literal of a meta statement."""
    if statement.type != "export_statement" or statement.children[0].type != "export":
        return None
    declaration = statement.child_by_field_name("declaration")
    if declaration is None or declaration.type != "lexical_declaration":
        return None
    kind = declaration.child_by_field_name("kind")
    declarators = [c for c in declaration.named_children if c.type == "variable_declarator"]
    if kind is None or kind.type != "const" or len(declarators) != 1:
        return None
    name = declarators[0].child_by_field_name("name")
    value = declarators[0].child_by_field_name("value")
    if name is None or name.type != "identifier" or name.text != b"meta" or value is None:
        return None
    value = unparen(value)
    return (statement.children[0], declaration, value) if value.type == "object" else None


class MetaRead(tuple):
    """What :func:`read_meta` found: the meta (if valid), its span (if the first statement
    is a meta statement), and every problem, in source order.

    The ``NamedTuple`` it was, written out: building one at import cost 0.8 M instructions of
    every start-up (issue 22)."""

    __slots__ = ()
    _fields = __match_args__ = ("meta", "span", "problems")

    def __new__(cls, meta: Meta | None, span: MetaSpan | None, problems: list[Diagnostic]):
        return tuple.__new__(cls, (meta, span, problems))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return "MetaRead(meta={!r}, span={!r}, problems={!r})".format(*self)

    meta: Meta | None = property(lambda self: self[0])  # type: ignore[assignment]
    span: MetaSpan | None = property(lambda self: self[1])  # type: ignore[assignment]
    problems: list[Diagnostic] = property(lambda self: self[2])  # type: ignore[assignment]


def read_meta(
    source: str,
    *,
    path: str | None = None,
    tree: Tree | None = None,
    positions: SourceMap | None = None,
    collect: bool = True,
) -> MetaRead:
    """Read and validate the meta header that must open a workflow script.

    Args:
        source: the whole script text.
        path: the script's path, only used in diagnostics.
        tree: the tree-sitter tree of ``source``, if the caller has parsed it already.
        positions: the caller's :class:`SourceMap` of ``source``, to share its line table.
        collect: find every problem (else stop at the first).

    Returns:
        A :class:`MetaRead`; ``meta`` is None whenever there is a problem. Each problem carries
        the reference runtime's exact message, positioned (1-based line and column, in
        characters) at the offending node.
    """
    reader = _Reader(source, path, positions=positions, collect=collect)
    if tree is None:
        tree = _parser().parse(reader.data)
    try:
        return _read(reader, tree)
    except _Problem as problem:
        return MetaRead(None, None, [problem.diagnostic])


def _read(reader: _Reader, tree: Tree) -> MetaRead:
    statement = _first_statement(tree.root_node)
    parts = _meta_parts(statement) if statement is not None else None
    if statement is None or parts is None:
        raise reader.error(FIRST_STATEMENT, statement, "E106")
    export, declaration, obj = parts
    # tree-sitter folds a trailing comment into the declaration; the span stops at the
    # declarator or its `;`.
    tail = [c for c in declaration.children if c.type != "comment" and not c.is_missing]
    span = MetaSpan(
        start=reader.offset(statement.start_byte),
        end=reader.offset(tail[-1].end_byte),
        export_start=reader.offset(export.start_byte),
        export_end=reader.offset(export.end_byte),
    )

    raw = reader.object(obj, 0)
    name_node = description_node = obj
    for pair in obj.named_children:
        key_node = pair.child_by_field_name("key") if pair.type == "pair" else None
        try:
            key = reader.key(key_node) if key_node is not None else None
        except _Problem:
            continue  # recorded by reader.object already
        if key == "name":
            name_node = pair  # later duplicates win, as in JS
        elif key == "description":
            description_node = pair

    def failed(node: Node) -> bool:
        # A field whose value was already reported as not literal is not reported again.
        return node is not obj and any(
            node.start_byte <= p.byte < node.end_byte for p in reader.problems
        )

    name, description = raw.get("name"), raw.get("description")
    if (not isinstance(name, str) or not name) and not failed(name_node):
        reader._record(reader.error("meta.name must be a non-empty string", name_node, "E108"))
    if (not isinstance(description, str) or not description) and not failed(description_node):
        reader._record(
            reader.error("meta.description must be a non-empty string", description_node, "E109")
        )
    problems = [p.diagnostic for p in reader.problems]
    if problems:
        return MetaRead(None, span, problems)
    title, when_to_use = raw.get("title"), raw.get("whenToUse")
    phases: list[Phase] = []
    if isinstance(raw.get("phases"), list):
        for entry in raw["phases"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
                continue
            detail, model = entry.get("detail"), entry.get("model")
            phases.append(
                Phase(
                    title=entry["title"],
                    detail=detail if isinstance(detail, str) else None,
                    model=model if isinstance(model, str) else None,
                )
            )
    meta = Meta(
        name=name,
        description=description,
        title=title if isinstance(title, str) and title else None,
        when_to_use=when_to_use if isinstance(when_to_use, str) else None,
        phases=tuple(phases),
        raw=raw,
    )
    return MetaRead(meta, span, [])


def parse_meta(source: str, *, path: str | None = None) -> tuple[Meta, MetaSpan]:
    """Parse and validate the meta header that must open a workflow script.

    Args:
        source: the whole script text.
        path: the script's path, only used in errors.

    Returns:
        The normalised ``Meta`` and the character span of the ``export const meta`` statement.

    Raises:
        ScriptLoadError: the first problem :func:`read_meta` finds, with the reference
            runtime's exact message, positioned at the offending node.
    """
    found = read_meta(source, path=path, collect=False)
    if found.problems or found.meta is None or found.span is None:
        raise found.problems[0].to_error()
    return found.meta, found.span


def literal_value(node: Node, positions: SourceMap) -> tuple[bool, Any]:
    """``(True, value)`` if ``node`` is a pure literal (by meta's rules), else ``(False, None)``.

    Used by ``validate`` to read the literal ``schema`` of an ``agent()`` call.
    """
    reader = _Reader(positions.source, None, positions=positions)
    try:
        return True, reader.value(node)
    except (_Problem, RecursionError, ValueError, OverflowError):
        return False, None
