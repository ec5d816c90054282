"""``agent()`` calls: the prompt, the options object, each option's value and literal schemas."""

from __future__ import annotations

import json
from typing import Any

from tree_sitter import Node

from ...permissions.call_options import CallOptionError, check_call_options
from .linter import _Linter
from .literals import literal
from .nodes import KEY, METHOD_K, NAME, OBJECT_K, PAIR_K, SHORTHAND_K, SPREAD_K, VALUE, unparen

#: agent() options the runtime reads; any other key is ignored (W502).
AGENT_OPTIONS = (
    "label",
    "phase",
    "schema",
    "model",
    "effort",
    "isolation",
    "agentType",
    "stallMs",
    "disallowedTools",
    "bashCommandClamp",
)
#: the options that are arrays of permission rules (reference §3.1)
RULE_OPTIONS = ("disallowedTools", "bashCommandClamp")
#: effort levels (``med`` is the reference runtime's alias of ``medium``); numbers pass too.
EFFORTS = ("low", "medium", "high", "xhigh", "max")
_EFFORT_ALIASES = ("med",)
_EFFORT_WORDS = EFFORTS + _EFFORT_ALIASES


def check_agent(linter: _Linter, call: Node, args: list[Node]) -> None:
    if not args:
        linter.report(
            "E501",
            "agent() expects a prompt string as its first argument, got undefined",
            call,
        )
        return
    kind = linter.kind(args[0])
    if kind is not None and kind != "string":
        linter.report(
            "E501",
            f"agent() expects a prompt string as its first argument, got {kind}",
            args[0],
        )
    if len(args) < 2:
        return
    opts = unparen(args[1])
    kind = linter.kind(opts)
    if kind in ("string", "number", "boolean", "function"):
        linter.report("E503", f"agent() options must be an object, got {kind}", opts)
    elif kind == "array":
        linter.report("E503", "agent() options must be an object, not an array", opts)
    elif opts.kind_id in OBJECT_K:
        check_options(linter, opts)


def check_options(linter: _Linter, opts: Node) -> None:
    """The options object ``opts`` of an ``agent()`` call; its ``phase`` values and spreads
    are noted for ``check_phases`` on the way."""
    for entry in opts.named_children:
        kind = entry.kind_id
        if kind in PAIR_K:
            key_node = entry.child_by_field_id(KEY)
            value = entry.child_by_field_id(VALUE)
        elif kind in SHORTHAND_K:
            key_node, value = entry, None
        elif kind in METHOD_K:
            key_node, value = entry.child_by_field_id(NAME), entry
        else:
            if kind in SPREAD_K:
                linter.options_spread = True
            continue  # spread, comments: nothing evident
        key = linter.key(key_node)
        if key is None:
            continue
        if key == "phase" and kind in PAIR_K:
            linter.option_phases.append(value)
        if key not in AGENT_OPTIONS:
            import difflib  # only for an unknown option (start-up, issue 22)

            close = difflib.get_close_matches(key, AGENT_OPTIONS, n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            linter.report(
                "W502",
                f"unknown agent() option {key!r} is ignored{suggestion}",
                key_node,
                hint="known options: " + ", ".join(AGENT_OPTIONS),
            )
            continue
        if value is not None:
            check_option(linter, key, unparen(value))


def check_option(linter: _Linter, key: str, value: Node) -> None:
    kind = linter.kind(value)
    if kind is None or kind in ("null", "undefined"):
        return  # computed, or absent (the runtime ignores null)
    if key == "schema":
        if kind in ("object", "boolean"):
            check_schema(linter, value)
        else:
            linter.report(
                "E503",
                f"agent() option 'schema' must be a JSON Schema object, not {_a(kind)}",
                value,
            )
        return
    if key in RULE_OPTIONS:
        check_rule_option(linter, key, value, kind)
        return
    if key == "stallMs":
        if kind != "number":
            linter.report(
                "E503", f"agent() option 'stallMs' must be a number, not {_a(kind)}", value
            )
        return
    if key == "effort":
        if kind == "number":
            return
        if kind != "string":
            linter.report(
                "E503",
                f"agent() option 'effort' must be a string or a number, not {_a(kind)}",
                value,
            )
            return
        text = linter.string_value(value)
        if text is not None and text not in _EFFORT_WORDS:
            levels = ", ".join(repr(e) for e in EFFORTS)
            linter.report(
                "E504",
                f"agent() option 'effort' {text!r} is ignored: it must be one of {levels} "
                "(or a number)",
                value,
            )
        return
    if kind != "string":
        linter.report("E503", f"agent() option {key!r} must be a string, not {_a(kind)}", value)
        return
    if key == "isolation":
        text = linter.string_value(value)
        if text == "remote":
            linter.report(
                "E505", "agent({isolation:'remote'}) is not available in this build", value
            )
        elif text is not None and text != "worktree":
            linter.report(
                "E505", f"agent() option 'isolation' must be 'worktree', not {text!r}", value
            )


def check_rule_option(linter: _Linter, key: str, value: Node, kind: str) -> None:
    """A literal ``disallowedTools`` / ``bashCommandClamp``: an array of rule strings, each
    one a rule (a ``Bash(<prefix>)`` one for the clamp); the runtime's own messages."""
    what = f"agent({{{key}}})"
    if kind != "array":
        linter.report("E503", f"{what} must be an array of strings, not {_a(kind)}", value)
        return
    items = [c for c in value.named_children if c.type != "comment"]
    for i, item in enumerate(items):
        item_kind = linter.kind(item)
        if item_kind is None:
            continue
        if item_kind != "string":
            linter.report("E503", f"{what}[{i}] must be a string, not {_a(item_kind)}", item)
            continue
        text = linter.string_value(item)
        if text is None:
            continue
        try:
            check_call_options(
                [text] if key == "disallowedTools" else None,
                [text] if key == "bashCommandClamp" else None,
            )
        except CallOptionError as exc:
            message = str(exc).replace(f"{what}[0]", f"{what}[{i}]", 1)
            linter.report("E508", message, item)


def check_schema(linter: _Linter, value: Node) -> None:
    ok, schema = literal(linter, value)
    if not ok:
        return  # built from variables: the runtime checks it
    try:
        text = _json_text(schema)
    except (ValueError, RecursionError):
        return  # not JSON: the runtime's own check reports it
    for problem, where in _schema_problems(text, schema):
        code = "E507" if "unusable JSON Schema" in problem else "E506"
        linter.report(code, problem, _literal_at(unparen(value), where))


# json.dumps(schema, ensure_ascii=False), with one encoder (dumps builds one a call for any
# argument but the defaults)
_json_text = json.JSONEncoder(ensure_ascii=False).encode


class _SchemaMemo:
    """``schema_problems`` of a schema by its JSON text, remembered (the last 512 texts):
    checking against the meta-schema is slow, and a script often repeats one schema in many
    calls. The schema is checked as given, not decoded again from the text (a text has one
    value: it was made from it)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._memo: dict[str, tuple[tuple[str, tuple[str | int, ...]], ...]] = {}

    def __call__(self, text: str, schema: Any) -> tuple[tuple[str, tuple[str | int, ...]], ...]:
        memo = self._memo
        found = memo.pop(text, None)
        if found is None:
            from ...schemas import schema_problems  # jsonschema is slow to import; only when needed

            found = tuple(schema_problems(schema, text=text))
            if len(memo) >= self._size:
                del memo[next(iter(memo))]  # the least recently used
        memo[text] = found
        return found

    def cache_clear(self) -> None:
        self._memo.clear()


_schema_problems = _SchemaMemo(512)


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


def _a(kind: str) -> str:
    return {"array": "an array", "object": "an object", "undefined": "undefined"}.get(
        kind, f"a {kind}"
    )
