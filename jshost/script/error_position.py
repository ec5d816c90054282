"""Where a destructuring failed: QuickJS records no source position for a binding pattern.

QuickJS writes a source position into the bytecode only at certain operations (calls, property
reads, ``throw``...). Destructuring ``const { a } = value`` emits none, so when ``value`` is
``undefined`` the error carries the last position written before it: the previous call, or the
start of the enclosing function, which for a workflow's body lies in the wrapper's prefix and
used to be shown as ``1:1``, the meta line. The bytecode cannot be changed from here; the
source can be read. The failing pattern is the first destructuring, in the function the frame
names, at or after the position QuickJS gave: nothing between them wrote a position.
"""

from __future__ import annotations

from tree_sitter import Node

from .._lazy import lazy_pattern
from .diagnostics import SourceMap
from .meta import js_parser

__all__ = ["DESTRUCTURING_MESSAGE", "destructuring_site"]

#: The messages QuickJS gives when a value cannot be destructured.
DESTRUCTURING_MESSAGE = lazy_pattern(
    r"^(?:Cannot convert undefined or null to object"
    r"|cannot read property 'Symbol\.iterator' of (?:undefined|null)"
    r"|value is not iterable)$"
)

_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
_PATTERNS = frozenset({"object_pattern", "array_pattern"})
# Values that always destructure: a failure cannot be theirs.
_NEVER_FAILS = frozenset(
    {
        "object",
        "array",
        "string",
        "template_string",
        "number",
        "true",
        "false",
        "new_expression",
        "arrow_function",
        "function_expression",
        "function",
        "class",
    }
)


def _enclosing_function(node: Node | None) -> Node | None:
    while node is not None and node.type not in _FUNCTIONS:
        node = node.parent
    return node


def _key(node: Node | None) -> tuple[int, int] | None:
    return None if node is None else (node.start_byte, node.end_byte)


def _innermost_function_at(root: Node, byte: int) -> Node | None:
    """The innermost function whose text holds ``byte`` (None: the top level)."""
    found = None
    node: Node | None = root
    while node is not None:
        nxt = None
        for child in node.children:
            if child.start_byte <= byte < child.end_byte:
                nxt = child
                break
        if nxt is not None and nxt.is_named and nxt.type in _FUNCTIONS:
            found = nxt
        node = nxt
    return found


def _sites(root: Node) -> list[tuple[Node, Node, Node]]:
    """(the pattern's owner, the pattern, the node to point at) for every destructuring."""
    out: list[tuple[Node, Node, Node]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and name.type in _PATTERNS and value is not None:
                out.append((node, name, value))
        elif node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and left.type in _PATTERNS and right is not None:
                out.append((node, left, right))
        elif node.type in _PATTERNS and node.parent is not None:
            parent = node.parent
            if parent.type == "assignment_pattern":  # `({ a } = {}) =>`: the default
                parent = parent.parent
            if parent is not None and parent.type == "formal_parameters":
                out.append((node, node, node))
        stack.extend(reversed(node.children))
    out.sort(key=lambda site: site[2].start_byte)
    return out


def destructuring_site(
    source: str, line: int | None, col: int | None, message: str
) -> tuple[int, int] | None:
    """The position of the destructuring that failed, given QuickJS's ``line``:``col``.

    ``message`` (QuickJS's) says which kind of pattern failed: an array pattern iterates.
    ``line`` None means the position lay in the wrapper (the body's start). Returns None when
    no destructuring follows in that function, or the position is inside a ``for … of`` head
    (there QuickJS's position is the loop's own).
    """
    positions = SourceMap(source)
    tree = js_parser().parse(positions.data)
    root = tree.root_node
    if line is None or col is None:
        byte = 0
    else:
        index = positions.index_of(line, col)
        byte = len(source[:index].encode("utf-8", "surrogatepass"))
    function = None if line is None else _innermost_function_at(root, byte)
    at = root.descendant_for_byte_range(byte, byte)
    while at is not None:
        if at.type == "for_in_statement":
            left = at.child_by_field_name("left")
            if left is not None and left.type in _PATTERNS:
                return None
        if at.is_named and at.type in _FUNCTIONS:
            break
        at = at.parent
    kind = "object_pattern" if message.startswith("Cannot convert") else "array_pattern"
    for owner, pattern, target in _sites(root):
        if target.start_byte < byte or pattern.type != kind:
            continue
        if target is not pattern and target.type in _NEVER_FAILS:
            continue
        # A parameter's pattern belongs to its function, as the frame of a failed call does.
        if _key(_enclosing_function(owner)) != _key(function):
            continue
        return positions.byte_pos(target.start_byte)
    return None
