"""The node kinds of tree-sitter's JavaScript grammar that more than one lint pass asks about.

The passes compare kinds and look up fields by the grammar's numbers, not by name:
``node.type`` builds a new string at every call and ``child_by_field_name`` looks its name up
among the grammar's field names, while ``kind_id`` and ``child_by_field_id`` are numbers
(issue 22: the lint asks about 200,000 kinds and 40,000 fields of the 512 KiB bench script).
A type name may have several kind ids (``identifier``, ``string``, ``call_expression``), so a
kind is a set of ids; ``node.kind_id in IDS`` is ``node.type == name`` exactly.
"""

from __future__ import annotations

from tree_sitter import Node

from ..grammar import js_parser
from ..meta import unparen as _unparen_slow

_LANGUAGE = js_parser().language
_IDS: dict[str, set[int]] = {}
for _id in range(_LANGUAGE.node_kind_count):
    _IDS.setdefault(_LANGUAGE.node_kind_for_id(_id), set()).add(_id)


def kind_ids(*names: str) -> frozenset[int]:
    """Every kind id whose type name is one of ``names``."""
    missing = [name for name in names if name not in _IDS]
    if missing:  # a name the grammar lacks would silently never match
        raise LookupError(f"no such node kind in the JavaScript grammar: {missing}")
    return frozenset(i for name in names for i in _IDS[name])


def field_id(name: str) -> int:
    """The grammar's id of the field ``name``."""
    found = _LANGUAGE.field_id_for_name(name)
    if found is None:
        raise LookupError(f"no such field in the JavaScript grammar: {name!r}")
    return found


# Fields, by id.
ARGUMENT = field_id("argument")
ARGUMENTS = field_id("arguments")
BODY = field_id("body")
CONDITION = field_id("condition")
CONSTRUCTOR = field_id("constructor")
DECLARATION = field_id("declaration")
FUNCTION = field_id("function")
INITIALIZER = field_id("initializer")
KEY = field_id("key")
LABEL = field_id("label")
LEFT = field_id("left")
NAME = field_id("name")
OBJECT = field_id("object")
OPERATOR = field_id("operator")
PARAMETER = field_id("parameter")
PARAMETERS = field_id("parameters")
PROPERTY = field_id("property")
RIGHT = field_id("right")
VALUE = field_id("value")

# Kinds, as sets of ids.
ARRAY_K = kind_ids("array")
ARGUMENTS_K = kind_ids("arguments")
CALL_K = kind_ids("call_expression")
COMMENT_K = kind_ids("comment")
IDENTIFIER_K = kind_ids("identifier")
MEMBER_K = kind_ids("member_expression")
NEW_K = kind_ids("new_expression")
OBJECT_K = kind_ids("object")
PAIR_K = kind_ids("pair")
PAREN_K = kind_ids("parenthesized_expression")
PROPERTY_IDENTIFIER_K = kind_ids("property_identifier")
SHORTHAND_K = kind_ids("shorthand_property_identifier")
SPREAD_K = kind_ids("spread_element")
STRING_K = kind_ids("string")
TEMPLATE_K = kind_ids("template_string")
TEMPLATE_SUBSTITUTION_K = kind_ids("template_substitution")
METHOD_K = kind_ids("method_definition")
NUMBER_K = kind_ids("number")
DECLARATOR_K = kind_ids("variable_declarator")
LEXICAL_K = kind_ids("lexical_declaration")
FOR_IN_K = kind_ids("for_in_statement")

_FUNCTION_NAMES = (
    "function_declaration",
    "generator_function_declaration",
    "function_expression",
    "function",
    "generator_function",
    "arrow_function",
    "method_definition",
    "class_static_block",
)
_FUNCTIONS = frozenset(_FUNCTION_NAMES)
FUNCTIONS_K = kind_ids(*_FUNCTION_NAMES)
_DECLARED_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
DECLARED_FUNCTIONS_K = kind_ids(*_DECLARED_FUNCTIONS)
_LOOPS = frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"})
LOOPS_K = kind_ids(*_LOOPS)
# Globals that return a promise, never a function.
_PROMISE_GLOBALS = frozenset({"agent", "parallel", "pipeline", "workflow"})


def unparen(node: Node) -> Node:
    """``meta.unparen``: ``node`` without the parentheses around it, with the commonest case
    (no parentheses) told by kind id."""
    if node.kind_id not in PAREN_K:
        return node
    return _unparen_slow(node)


def _conjuncts(node: Node) -> list[Node]:
    """The operands of a chain of ``&&`` (iteratively: chains may be very long)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = unparen(stack.pop())
        if n.type == "binary_expression":
            operator = n.child_by_field_id(OPERATOR)
            left, right = n.child_by_field_id(LEFT), n.child_by_field_id(RIGHT)
            if operator is not None and operator.type == "&&" and None not in (left, right):
                stack.extend((right, left))
                continue
        out.append(n)
    return out
