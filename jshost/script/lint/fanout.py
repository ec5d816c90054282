"""The agent fan-out estimate: how many agents a run starts, as far as the text shows.

Each ``agent()`` call counts once per run of the code around it: loops multiply by their
iterations, functions by the places that call them, ``xs.map(…)`` by the length of ``xs``.
What the text does not fix becomes a named factor (``names.length``, ``[loop at 3:1]``).
"""

from __future__ import annotations

from typing import Any, final

from tree_sitter import Node

from ..._data import Frozen, set_field
from .linter import _Linter
from .literals import literal
from .nodes import (
    _PROMISE_GLOBALS,
    ARGUMENTS,
    ARGUMENTS_K,
    ARRAY_K,
    BODY,
    CALL_K,
    COMMENT_K,
    DECLARATOR_K,
    DECLARED_FUNCTIONS_K,
    FOR_IN_K,
    FUNCTION,
    FUNCTIONS_K,
    IDENTIFIER_K,
    LEXICAL_K,
    LOOPS_K,
    MEMBER_K,
    NAME,
    OBJECT,
    PAREN_K,
    PROPERTY,
    RIGHT,
    SPREAD_K,
    VALUE,
    _conjuncts,
    kind_ids,
    unparen,
)

_ARROW_K = kind_ids("arrow_function")
_RETURN_K = kind_ids("return_statement")
_EXPRESSION_STATEMENT_K = kind_ids("expression_statement")
_CONST_K = kind_ids("const")
_FOR_K = kind_ids("for_statement")
_OF_K = kind_ids("of")

# Array methods that call their callback once per element.
_PER_ELEMENT = frozenset(
    {"map", "forEach", "flatMap", "filter", "some", "every", "find", "findIndex", "reduce"}
)
# How many terms the fan-out sum keeps before it says "and more".
_MAX_TERMS = 12
# Bounds the walks through function bindings (a helper calling a helper calling …).
_MAX_DEPTH = 40
# Bounds the factors of one term: a product of more is named as one unknown factor. Each of
# thousands of nested loops multiplied its own copy of the product above it (quadratic in
# time and memory: 20,000 nested loops took a minute and gigabytes).
_MAX_FACTORS = 32

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
class FanOut(Frozen):
    """How many agents a run starts, as far as the text shows.

    ``constant`` agents always; each of ``terms`` adds ``coefficient`` × the product of its
    factors; ``factors`` says what each factor is: ``"args"`` (its size depends on ``args``),
    ``"answers"`` (on what agents answer) or ``"unknown"`` (a loop or a value the text does
    not fix).
    """

    constant: int = 0
    terms: list[tuple[int, tuple[str, ...]]]
    factors: dict[str, str]
    sites: int = 0
    #: terms left out of ``terms`` (and of ``text()``) to keep the estimate readable
    more_terms: int = 0

    _fields = ("constant", "terms", "factors", "sites", "more_terms")

    def __init__(
        self,
        constant: int = 0,
        terms: list[tuple[int, tuple[str, ...]]] | None = None,
        factors: dict[str, str] | None = None,
        sites: int = 0,
        more_terms: int = 0,
    ) -> None:
        set_field(self, "constant", constant)
        set_field(self, "terms", [] if terms is None else terms)
        set_field(self, "factors", {} if factors is None else factors)
        set_field(self, "sites", sites)
        set_field(self, "more_terms", more_terms)

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


def estimate(linter: _Linter) -> FanOut:
    """The fan-out of the script ``linter`` has walked and resolved."""
    return _FanOutEstimate(linter).fanout()


class _FanOutEstimate:
    """One estimate: the counts it has worked out, and the factors it has named so far."""

    def __init__(self, linter: _Linter) -> None:
        self.linter = linter
        self._calls_memo: dict[int, _Count] = {}
        self._in_progress: set[int] = set()
        self._runs_memo: dict[tuple[int, int], _Count] = {}
        self._sources_memo: dict[tuple[int, int], frozenset[str]] = {}
        self.factors: dict[str, str] = {}
        self.parent = linter.parent

    def fanout(self) -> FanOut:
        total: _Count = {}
        sites = 0
        for call, _ in self.linter.global_calls("agent"):
            sites += 1
            _add(total, self.runs(call, 0))
        for call, _ in self.linter.global_calls("workflow"):
            name = self.factor(f"workflow() at {self.linter.where(call)}", "unknown")
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
        return {(self.factor(f"{what} at {self.linter.where(node)}", "unknown"),): 1}

    def runs(self, node: Node, depth: int) -> _Count:
        """How many times the code at ``node`` runs in one run of the script: its enclosing
        loops' iterations × the calls of its enclosing function (each ancestor's count is
        kept, so nested calls climb only to the one above them)."""
        memo = self._runs_memo
        chain: list[Node] = []
        child = node
        while True:
            known = memo.get((child.id, depth))
            if known is not None:
                count = known
                break
            parent = self.parent(child)
            if parent is None:
                count = _ONE
                memo[(child.id, depth)] = count
                break
            if parent.kind_id in FUNCTIONS_K:
                count = self.calls(parent, depth + 1)
                memo[(child.id, depth)] = count
                break
            chain.append((child, parent))
            child = parent
        for child, parent in reversed(chain):
            if parent.kind_id in LOOPS_K and parent.child_by_field_id(BODY) == child:
                count = self.bounded(_mul(count, self.iterations(parent, depth)), parent)
            memo[(child.id, depth)] = count
        return count

    def bounded(self, count: _Count, loop: Node) -> _Count:
        """``count``, with each product of more than ``_MAX_FACTORS`` factors (``loop``'s
        among them) named as one unknown factor."""
        if all(len(term) <= _MAX_FACTORS for term in count):
            return count
        out: _Count = {}
        for term, k in count.items():
            if len(term) > _MAX_FACTORS:
                name = f"loops nested over {_MAX_FACTORS} deep at {self.linter.where(loop)}"
                term = (self.factor(name, "unknown"),)
            out[term] = out.get(term, 0) + k
        return out

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
        if function.kind_id in DECLARED_FUNCTIONS_K:
            return self.calls_through_name(function, function.child_by_field_id(NAME), depth)
        occurrence = function
        parent = self.parent(occurrence)
        while parent is not None and parent.kind_id in PAREN_K:
            occurrence, parent = parent, self.parent(parent)
        if parent is None:
            return _ONE
        if parent.kind_id in DECLARATOR_K and parent.child_by_field_id(VALUE) == occurrence:
            return self.calls_through_name(function, parent.child_by_field_id(NAME), depth)
        return self.invocations(occurrence, depth)

    def calls_through_name(self, function: Node, name: Node | None, depth: int) -> _Count:
        """Calls of a function bound to ``name``: the sum over the places that use the name."""
        binding = self.linter.bound_in.get(function.start_byte)
        if name is None or binding is None:
            return self.unknown("function", function)
        scope, text = binding
        total: _Count = {}
        for ref in scope.uses.get(text, ()):
            _add(total, self.invocations(ref, depth))
        return total

    def invocations(self, occurrence: Node, depth: int) -> _Count:
        """Calls made of the function value at ``occurrence`` (a function or a name for one)."""
        parent = self.parent(occurrence)
        while parent is not None and parent.kind_id in PAREN_K:
            occurrence, parent = parent, self.parent(parent)
        if parent is None:
            return _ONE
        kind = parent.kind_id
        if kind in CALL_K and parent.child_by_field_id(FUNCTION) == occurrence:
            return self.runs(parent, depth)
        if kind in ARGUMENTS_K:
            call = self.parent(parent)
            if call is None or call.kind_id not in CALL_K:
                return self.runs(parent, depth)
            values = [a for a in parent.named_children if a.kind_id not in COMMENT_K]
            index = values.index(occurrence) if occurrence in values else 0
            return _mul(self.per_call(call, values, index, depth), self.runs(call, depth))
        if kind in ARRAY_K:
            return self.runs(parent, depth)  # a list of thunks: each is called once
        if kind in _ARROW_K and parent.child_by_field_id(BODY) == occurrence:
            return self.calls(parent, depth + 1)  # a thunk made per call of its maker
        if kind in _RETURN_K:
            maker = self.enclosing_function(parent)
            return self.calls(maker, depth + 1) if maker is not None else _ONE
        if kind in _EXPRESSION_STATEMENT_K:
            return {}  # a function nobody calls
        return self.unknown("function value", occurrence)

    def per_call(self, call: Node, values: list[Node], index: int, depth: int) -> _Count:
        """How often one call ``call(...)`` calls its argument number ``index``."""
        function = call.child_by_field_id(FUNCTION)
        if function is None:
            return _ONE
        if function.kind_id in MEMBER_K:
            prop = function.child_by_field_id(PROPERTY)
            obj = function.child_by_field_id(OBJECT)
            method = self.linter.text(prop) if prop is not None else ""
            if method in _PER_ELEMENT and obj is not None and index == 0:
                return self.length(obj, depth)
            if method == "from" and obj is not None and self.linter.is_global(obj, "Array"):
                return self.from_length(values[0], depth) if index == 1 else _ONE
            return _ONE
        if self.linter.is_global(function, "pipeline") and index >= 1:
            return self.length(values[0], depth)
        return _ONE  # parallel(), setTimeout(), a helper: called once, as far as we know

    def iterations(self, loop: Node, depth: int) -> _Count:
        if loop.kind_id in FOR_IN_K:
            right = loop.child_by_field_id(RIGHT)
            is_of = any(c.kind_id in _OF_K for c in loop.children)
            if right is not None and is_of:
                return self.length(right, depth)
            return self.unknown("for…in loop", loop)
        if loop.kind_id in _FOR_K:
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
            if self.linter.text(left) == self.linter.text(var) and operator.type in ("<", "<="):
                return self.counted(start, right, operator.type == "<=", depth)
        return None

    def counted(self, start: Node, bound: Node, inclusive: bool, depth: int) -> _Count | None:
        """Iterations of ``for (i = start; i < bound; i++)`` (``<=`` when ``inclusive``)."""
        ok, a = literal(self.linter, start)
        if not ok or not isinstance(a, int) or isinstance(a, bool):
            return None
        ok, b = literal(self.linter, bound)
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
                if key is not None and self.linter.key(key) == "length":
                    value = pair.child_by_field_name("value")
                    if value is not None:
                        return self.size(value, depth + 1)
        return self.length(node, depth + 1)

    def evident_length(self, node: Node, depth: int) -> _Count | None:
        node = unparen(node)
        if depth > _MAX_DEPTH:
            return None
        kind = node.kind_id
        if kind in ARRAY_K:
            total: _Count = {}
            for element in node.named_children:
                if element.kind_id in COMMENT_K:
                    continue
                if element.kind_id in SPREAD_K and element.named_children:
                    _add(total, self.length(element.named_children[0], depth + 1))
                else:
                    _add(total, _ONE)
            return total
        if kind in IDENTIFIER_K:
            bound = self.bound_value(node)
            return self.evident_length(bound, depth + 1) if bound is not None else None
        if kind not in CALL_K:
            return None
        function = node.child_by_field_id(FUNCTION)
        args = node.child_by_field_id(ARGUMENTS)
        values = [a for a in args.named_children if a.kind_id not in COMMENT_K] if args else []
        if function is None or function.kind_id not in MEMBER_K:
            return None
        prop = function.child_by_field_id(PROPERTY)
        obj = function.child_by_field_id(OBJECT)
        method = self.linter.text(prop) if prop is not None else ""
        if method == "map" and obj is not None:
            return self.evident_length(obj, depth + 1)
        if method == "from" and obj is not None and self.linter.is_global(obj, "Array") and values:
            first = unparen(values[0])
            if first.type == "object":
                return self.from_length(first, depth + 1)
            return self.evident_length(first, depth + 1)
        return None

    def size(self, node: Node, depth: int) -> _Count:
        """The value of a count expression (``n``, ``list.length``, a literal), or a factor."""
        node = unparen(node)
        ok, value = literal(self.linter, node)
        if ok and isinstance(value, int) and not isinstance(value, bool):
            return {(): max(0, value)}
        if node.kind_id in IDENTIFIER_K and depth <= _MAX_DEPTH:
            bound = self.bound_value(node)
            if bound is not None:
                ok, value = literal(self.linter, unparen(bound))
                if ok and isinstance(value, int) and not isinstance(value, bool):
                    return {(): max(0, value)}
        if node.kind_id in MEMBER_K:
            prop = node.child_by_field_id(PROPERTY)
            obj = node.child_by_field_id(OBJECT)
            if prop is not None and obj is not None and self.linter.text(prop) == "length":
                return self.length(obj, depth + 1)
        return self.symbol(self.short(node), node)

    def bound_value(self, node: Node) -> Node | None:
        """The value a ``const`` name is bound to, when it is one plain binding."""
        scope = self.linter.resolved.get(node.start_byte)
        if scope is None:
            return None
        value = scope.names.get(self.linter.text(node))
        if value is None or value.kind_id in FUNCTIONS_K:
            return None
        declarator = self.parent(value)
        declaration = self.parent(declarator) if declarator is not None else None
        if declaration is None or declaration.kind_id not in LEXICAL_K:
            return None
        if not any(c.kind_id in _CONST_K for c in declaration.children):
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
        linter = self.linter
        resolved, text = linter.resolved, linter.text
        start, end = node.byte_range
        reads = linter.plain_reads(start, end)
        if reads is not None:  # what the walk below would find: the identifiers' sources
            for n, scope in reads:
                if scope is None:
                    if text(n) == "args":
                        found.add("args")
                    continue
                origin = scope.origins.get(text(n))
                if origin is not None and origin.kind_id not in FUNCTIONS_K and depth < _MAX_DEPTH:
                    found |= self.origin_sources(origin, depth + 1)
            return found
        stack = [node]
        while stack:
            n = stack.pop()
            kind = n.kind_id
            if kind in IDENTIFIER_K:
                start = n.start_byte
                if start in resolved:
                    scope = resolved[start]
                    if scope is None:
                        if text(n) == "args":  # the global args
                            found.add("args")
                            continue
                    else:
                        origin = scope.origins.get(text(n))
                        if (
                            origin is not None
                            and origin.kind_id not in FUNCTIONS_K
                            and depth < _MAX_DEPTH
                        ):
                            found |= self.origin_sources(origin, depth + 1)
                continue
            if kind in CALL_K:
                function = n.child_by_field_id(FUNCTION)
                if (
                    function is not None
                    and function.kind_id in IDENTIFIER_K
                    and resolved.get(function.start_byte, linter) is None
                    and text(function) in _PROMISE_GLOBALS
                ):
                    found.add("answers")  # a model's answer, whatever the prompt read
                    continue
            if kind not in FUNCTIONS_K:
                stack.extend(n.named_children)
        return found

    def origin_sources(self, origin: Node, depth: int) -> frozenset[str]:
        """``sources`` of the value a name was taken from, remembered: every read of the name
        asks again (the 512 KiB bench script's names come from one ``args`` a thousand times)."""
        key = (origin.id, depth)
        known = self._sources_memo.get(key)
        if known is None:
            known = self._sources_memo[key] = frozenset(self.sources(origin, depth))
        return known

    def short(self, node: Node) -> str:
        text = " ".join(self.linter.text(node).split())
        return text if len(text) <= 40 else text[:37] + "…"

    def enclosing_function(self, node: Node) -> Node | None:
        parent = self.parent(node)
        while parent is not None and parent.kind_id not in FUNCTIONS_K:
            parent = self.parent(parent)
        return parent
