"""Pass 1: one walk over the tree that opens scopes, declares names and collects references.

Names are resolved through real scopes (functions, blocks, hoisted ``var``), so a local that
shadows a global is never mistaken for it. The walk also reports what only a statement shows:
``import``/``export`` declarations, ``import()`` and ``with``.
"""

from __future__ import annotations

import re

from tree_sitter import Language, Node

from ..diagnostics import decode
from .linter import _Linter, _Scope
from .nodes import (
    _FUNCTIONS,
    _LOOPS,
    DECLARATOR_K,
    DECLARED_FUNCTIONS_K,
    FOR_IN_K,
    FUNCTIONS_K,
    LEFT,
    LEXICAL_K,
    LOOPS_K,
    NAME,
    PARAMETER,
    PARAMETERS,
    RIGHT,
    VALUE,
    kind_ids,
)

_NAMED_FUNCTION_EXPRESSIONS = frozenset({"function_expression", "function", "generator_function"})
_BLOCKS = frozenset({"statement_block", "for_statement", "for_in_statement", "switch_body"})
_NAMED_FUNCTION_EXPRESSIONS_K = kind_ids(*_NAMED_FUNCTION_EXPRESSIONS)
_BLOCKS_K = kind_ids(*_BLOCKS)
_STATEMENT_BLOCK_K = kind_ids("statement_block")
_CATCH_K = kind_ids("catch_clause")
_CLASS_K = kind_ids("class")
_CLASS_DECLARATION_K = kind_ids("class_declaration")
_VAR_K = kind_ids("variable_declaration")
_DECLARATIONS_K = _VAR_K | LEXICAL_K
_DECLARES_K = kind_ids("var", "let", "const")
_VAR_K_TOKEN = kind_ids("var")
_IMPORT_STATEMENT_K = kind_ids("import_statement")
_EXPORT_STATEMENT_K = kind_ids("export_statement")
_WITH_K = kind_ids("with_statement")
# bind(): what a node of a binding pattern is
_NAME, _NESTED, _PAIR, _DEFAULT = range(1, 5)
_PATTERNS: dict[int, int] = {}
for _action, _names in (
    (_NAME, ("identifier", "shorthand_property_identifier_pattern")),
    (_NESTED, ("object_pattern", "array_pattern", "formal_parameters", "rest_pattern")),
    (_PAIR, ("pair_pattern",)),
    (_DEFAULT, ("assignment_pattern", "object_assignment_pattern")),
):
    _PATTERNS.update(dict.fromkeys(kind_ids(*_names), _action))
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


def bind(linter: _Linter, pattern: Node | None, scope: _Scope, value: Node | None = None) -> None:
    """Declare every name in a binding pattern (parameters, declarators, catch)."""
    if pattern is None:
        return
    patterns = _PATTERNS
    if patterns.get(pattern.kind_id) == _NAME:  # the commonest pattern: one name, bound to value
        linter.declared.add(pattern.start_byte)
        name = linter.text(pattern)
        # A name bound straight to a value (`const f = () => …`) keeps the value, for the
        # fan-out; destructured names (below) only remember where they came from.
        scope.names[name] = value
        if value is not None:
            linter.bound_in[value.start_byte] = (scope, name)
            scope.origins[name] = value
        else:
            scope.origins.pop(name, None)
        return
    stack = [pattern]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        what = patterns.get(node.kind_id)
        if what == _NAME:
            linter.declared.add(node.start_byte)
            name = linter.text(node)
            scope.names[name] = None
            if value is not None:
                scope.origins[name] = value
            else:
                scope.origins.pop(name, None)
        elif what == _NESTED:
            stack.extend(node.named_children)
        elif what == _PAIR:
            stack.append(node.child_by_field_id(VALUE))
        elif what == _DEFAULT:
            stack.append(node.child_by_field_id(LEFT))


# What the walk does at a node, by its kind id (``_actions``).
_SKIP, _DESCEND, _REFERENCE, _IMPORT, _SCOPE, _LITERAL, _CALL, _DOT = range(8)
# Tokens of a literal made only of objects, arrays, strings, numbers, true, false and null,
# whose identifiers are all keys (followed by a colon). An object or array of a clean tree
# that is all such tokens holds no reference, declaration, scope or call: the walk skips it.
# Anything else (a comment, a template, a shorthand, a computed key, a non-ASCII name) ends
# the match, which only means the walk goes in.
_LITERAL_TOKENS = re.compile(
    rb"(?:[ \t\r\n{}\[\],:]+"
    rb"|'[^'\\\n\r]*(?:\\[^\n\r][^'\\\n\r]*)*'"
    rb'|"[^"\\\n\r]*(?:\\[^\n\r][^"\\\n\r]*)*"'
    rb"|[A-Za-z_$][\w$]*[ \t]*:"
    rb"|-?[0-9][\w.]*"
    rb"|(?:true|false|null)(?![\w$]))*"
)

_ACTIONS: dict[int, tuple[int, ...]] = {}
# Kinds whose first child is a token in every tree without errors (the grammar's rule starts
# with one: `(`, `{`, `[`, `` ` ``, `${`, a keyword or an operator; a comment there would be
# nothing the walk looks at either). The walk steps over that child without looking at it
# (issue 22: 22,000 of the 512 KiB bench script's 150,000 visits).
_LEAD_TOKENS = kind_ids(
    "arguments",
    "formal_parameters",
    "statement_block",
    "template_string",
    "template_substitution",
    "parenthesized_expression",
    "await_expression",
    "return_statement",
    "lexical_declaration",
    "variable_declaration",
    "if_statement",
    "for_statement",
    "for_in_statement",
    "while_statement",
    "do_statement",
    "array",
    "object",
    "unary_expression",
    "spread_element",
    "new_expression",
    "function_declaration",
    "function_expression",
    "generator_function_declaration",
    "generator_function",
    "class_body",
    "switch_statement",
    "switch_body",
    "throw_statement",
    "try_statement",
    "catch_clause",
    "finally_clause",
    "yield_expression",
)


def _actions(language: Language) -> tuple[int, ...]:
    """The walk's action for each kind id of ``language`` (every id up to 0xFFFF, so an error
    node's id needs no test): decided once per grammar instead of by name at every node. A
    tuple, not bytes: Python indexes a tuple of ints without a generic item look-up, and the
    cycle collector stops tracking it (it traversed a list's 65,536 items at every pass)."""
    key = id(language)
    if key not in _ACTIONS:
        table = [_DESCEND] * 0x10000
        for kind_id in range(language.node_kind_count):
            kind = language.node_kind_for_id(kind_id)
            named = language.node_kind_is_named(kind_id)
            if kind in _REFERENCES:
                table[kind_id] = _REFERENCE
            elif kind == "import":  # `import(…)`: the callee, named or (in a broken tree) not
                table[kind_id] = _IMPORT
            elif kind == ".":
                table[kind_id] = _DOT
            elif kind in _LEAVES or not named:  # tokens: nothing below them
                table[kind_id] = _SKIP
            elif kind in ("object", "array"):
                table[kind_id] = _LITERAL
            elif kind == "call_expression":
                table[kind_id] = _CALL
            elif kind in _SCOPING:  # `function` and `class` are tokens too: named only
                table[kind_id] = _SCOPE
        _ACTIONS[key] = tuple(table)
    return _ACTIONS[key]


def walk(linter: _Linter, root: Node, top: _Scope) -> None:
    """Visit every node once, in source order, with the scope it is in.

    A tree cursor, not recursion (scripts and fuzzed inputs may nest deeper than Python's
    recursion limit) and not lists of children (this loop sees every node of the script,
    and a cursor step costs a fraction of building them). A node's action comes from a table
    by kind id, and literal objects and arrays are not entered (issue 22: on 512 KiB this
    loop sees 212,000 nodes). ``scope`` was opened by the node at ``scope_depth``; ``outer``
    holds the scopes around it, each with the depth of the node that opened it.
    """
    table = _actions(linter.tree.language)
    declared, calls_at = linter.declared, linter.calls_at
    ref_nodes, ref_scopes, ref_starts = linter.ref_nodes, linter.ref_scopes, linter.ref_starts
    cursor = root.walk()
    outer: list[tuple[int, _Scope, bool]] = []
    scope, scope_depth, in_function = top, -1, True
    # Literals: the last scan for literal tokens started at ``scanned`` and ended at
    # ``stopped``; an object or array that starts in between is a literal if it ends by then
    # (so the scans never overlap: linear in the text, however literals nest).
    data, literals = linter.data, linter.complete
    scanned = stopped = -1
    depth = 0
    skip, reference = _SKIP, _REFERENCE  # the commonest actions, as locals
    # In a tree without errors a `.` is followed by nothing but a property's name (in a
    # member expression, or `new.target`, `import.meta`): the walk leaves its parent there.
    # In an error node anything may follow it.
    dot = _DOT if linter.clean else -1
    leads = _LEAD_TOKENS if linter.clean else frozenset()
    while True:
        node = cursor.node
        kind = node.kind_id
        action = table[kind]
        if action != skip:
            if action == dot:
                cursor.goto_parent()  # the rest of a member expression is a property's name
                depth -= 1
            else:
                while scope_depth >= depth:
                    scope_depth, scope, in_function = outer.pop()
                descend = True
                if action == reference:
                    # `({a} = o)` assigns to `a`: a pattern outside a declaration is a reference.
                    start = node.start_byte
                    if start not in declared:
                        ref_nodes.append(node)
                        ref_scopes.append(scope)
                        ref_starts.append(start)
                    descend = False
                elif action == _CALL:
                    calls_at[node.start_byte] = node  # the innermost call starting there
                elif action == _LITERAL:
                    if literals:
                        start = node.start_byte
                        if not scanned <= start < stopped:
                            scanned, stopped = start, _LITERAL_TOKENS.match(data, start).end()  # type: ignore[union-attr]
                        descend = node.end_byte > stopped
                elif action == _IMPORT:
                    # Reported at the call, the node just before this one: a look at the calls
                    # that have this callee, not at every call (issue 22).
                    descend = False
                    call = node.parent if cursor.field_name == "function" else None
                    if (
                        call is not None
                        and call.type == "call_expression"
                        and call.child_by_field_name("function") == node
                    ):
                        linter.report(
                            "E203", "import() is not available in workflow scripts.", call
                        )
                elif action == _SCOPE:
                    # A function's body block is the function's own scope, not a new one.
                    is_body = (
                        scope_depth == depth - 1
                        and in_function
                        and kind in _STATEMENT_BLOCK_K
                        and cursor.field_name == "body"
                    )
                    inner, descend = enter(linter, node, kind, scope, is_body)
                    if inner is not scope:
                        outer.append((scope_depth, scope, in_function))
                        scope, scope_depth, in_function = inner, depth, kind in FUNCTIONS_K
                if descend and cursor.goto_first_child():
                    if kind not in leads:
                        depth += 1
                        continue
                    if cursor.goto_next_sibling():  # past the leading token
                        depth += 1
                        continue
                    cursor.goto_parent()  # nothing but the token
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth -= 1


def enter(
    linter: _Linter, node: Node, kind: int, scope: _Scope, is_body: bool
) -> tuple[_Scope, bool]:
    """Declare what ``node`` (of kind id ``kind``) declares; the scope of its children, and
    whether to visit them."""
    inner = scope
    if kind in FUNCTIONS_K:
        linter.function_starts.append(node.start_byte)
        if kind in DECLARED_FUNCTIONS_K:
            bind(linter, node.child_by_field_id(NAME), scope, node)
        inner = _Scope(scope, function=True)
        if kind in _NAMED_FUNCTION_EXPRESSIONS_K:
            bind(linter, node.child_by_field_id(NAME), inner, node)
        params = node.child_by_field_id(PARAMETERS)
        if params is None:
            params = node.child_by_field_id(PARAMETER)
        bind(linter, params, inner)
        return inner, True
    if kind in _DECLARATIONS_K:
        target = scope.function_scope() if kind in _VAR_K else scope
        for declarator in node.named_children:
            if declarator.kind_id in DECLARATOR_K:
                name = declarator.child_by_field_id(NAME)
                bind(linter, name, target, declarator.child_by_field_id(VALUE))
        return inner, True
    if is_body:
        pass  # a function's body shares the function's scope
    elif kind in _BLOCKS_K or kind in _CATCH_K:
        inner = _Scope(scope, function=False)
    elif kind in _CLASS_K:  # a class expression's name is visible inside it only
        inner = _Scope(scope, function=False)
        bind(linter, node.child_by_field_id(NAME), inner, node)
    if kind in _CLASS_DECLARATION_K:
        bind(linter, node.child_by_field_id(NAME), scope, node)
    elif kind in _CATCH_K:
        bind(linter, node.child_by_field_id(PARAMETER), inner)
    elif kind in FOR_IN_K:
        declares = [c.kind_id for c in node.children if c.kind_id in _DECLARES_K]
        if declares:
            target = inner.function_scope() if declares[0] in _VAR_K_TOKEN else inner
            left = node.child_by_field_id(LEFT)
            bind(linter, left, target)
            right = node.child_by_field_id(RIGHT)
            if right is not None:  # `for (const s of args.servers)`: s comes from args
                for name in pattern_names(linter, left) if left is not None else ():
                    target.origins[name] = right
    elif kind in _IMPORT_STATEMENT_K:
        import_statement(linter, node, scope)
        return inner, False
    elif kind in _EXPORT_STATEMENT_K:
        if export_statement(linter, node):
            return inner, False
    elif kind in _WITH_K:
        linter.complete = False  # inside `with`, any name may be a property
        explains_syntax_error(linter, node)
        linter.report("E202", "'with' statements are not supported in workflow scripts.", node)
    if kind in LOOPS_K:
        linter.loops.append((node, inner))
    return inner, True


def explains_syntax_error(linter: _Linter, node: Node) -> None:
    linter.syntax_spans.append(
        (linter.positions.offset(node.start_byte), linter.positions.offset(node.end_byte))
    )


def import_statement(linter: _Linter, node: Node, scope: _Scope) -> None:
    explains_syntax_error(linter, node)
    linter.report(
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
                    linter.declared.add(n.start_byte)
                    scope.names[linter.text(n)] = None
                stack.extend(n.named_children)


def export_statement(linter: _Linter, node: Node) -> bool:
    """Report an export other than meta's; True when its children need no walk."""
    if linter.span is not None and linter.positions.offset(node.start_byte) == linter.span.start:
        # The meta literal has its own checks (E107 for anything not literal).
        linter.meta_statement = node
        return True
    explains_syntax_error(linter, node)
    linter.report(
        "E201",
        "export declarations are not available in workflow scripts: only "
        "`export const meta = {…}`, as the first statement, may be exported",
        node,
    )
    # `export { a as b }` names exports, not variables the script reads.
    return any(c.type == "export_clause" for c in node.named_children)


# A reference this many scopes deep or deeper is resolved through the chain (``resolve``).
_DEEP = 12


def resolve(linter: _Linter) -> None:
    """Find the scope that declares each reference (None: a global).

    A reference climbs from its scope to the declaring one, which costs the nesting per read:
    reads inside thousands of nested blocks or loops took seconds (issue 22). So a reference
    ``_DEEP`` scopes deep or deeper looks its name up in a chain of the scopes around it
    instead, which holds each name's declaring scopes, innermost last. References come in
    source order, so each scope joins the chain once and leaves it once.
    """
    resolved, globals_used = linter.resolved, linter.globals_used
    ascii_text, data = linter.ascii_text, linter.data
    declaring: dict[str, list[_Scope]] = {}  # name -> the scopes of the chain declaring it
    chain: list[_Scope] = []  # outermost first: chain[d] is the scope at depth d
    current: _Scope | None = None
    found: _Scope | None
    for node, scope, start in zip(
        linter.ref_nodes, linter.ref_scopes, linter.ref_starts, strict=True
    ):
        # the name, as _Linter.text reads it
        if ascii_text is not None:
            name = ascii_text[start : node.end_byte]
        else:
            name = decode(data[start : node.end_byte])
        if scope.depth < _DEEP:
            found = scope
            while found is not None and name not in found.names:  # _Scope.lookup, inlined
                found = found.parent
        else:
            if scope is not current:
                current = joined = scope
                entering = []
                while joined is not None and (
                    joined.depth >= len(chain) or chain[joined.depth] is not joined
                ):
                    entering.append(joined)
                    joined = joined.parent
                keep = 0 if joined is None else joined.depth + 1
                while len(chain) > keep:
                    for left in chain.pop().names:
                        declaring[left].pop()
                for entered in reversed(entering):
                    chain.append(entered)
                    for declared in entered.names:
                        scopes = declaring.get(declared)
                        if scopes is None:
                            declaring[declared] = [entered]
                        else:
                            scopes.append(entered)
            scopes = declaring.get(name)
            found = scopes[-1] if scopes else None
        resolved[start] = found
        reads = globals_used.get(name) if found is None else found.uses.get(name)
        if reads is not None:
            reads.append(node)
        elif found is None:
            globals_used[name] = [node]
        else:
            found.uses[name] = [node]


def pattern_names(linter: _Linter, pattern: Node) -> list[str]:
    names = []
    stack = [pattern]
    while stack:
        n = stack.pop()
        if n.type in ("identifier", "shorthand_property_identifier_pattern"):
            if n.start_byte in linter.declared:
                names.append(linter.text(n))
        else:
            stack.extend(n.named_children)
    return names
