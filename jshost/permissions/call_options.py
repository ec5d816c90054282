"""``agent(prompt, {disallowedTools, bashCommandClamp})``: the reference's per-call limits.

``disallowedTools`` lists tool names or rules the agent may not use, on top of the defaults;
``bashCommandClamp`` lists ``Bash(<prefix>)`` rules, an extra layer outside which the agent's
Bash is denied (reference §3.1). Both are checked strictly before the agent is queued: a
mistake rejects the ``agent()`` call with a message that says what to fix, the way Claude
Code refuses the spawn, rather than running an agent with limits other than those asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..text import printable

if TYPE_CHECKING:  # the rule parser loads at the first call that passes rules (issue 22)
    from .rules import Rule

__all__ = [
    "MAX_OPTION_RULES",
    "MAX_OPTION_RULE_CHARS",
    "CallOptionError",
    "agent_type_problem",
    "check_call_options",
    "schema_refusal",
    "structured_output_denied",
]

#: entries in one disallowedTools or bashCommandClamp array (the runtime refuses more)
MAX_OPTION_RULES = 64
#: characters in one entry
MAX_OPTION_RULE_CHARS = 1000

_REFUSING = " — refusing the spawn."


class CallOptionError(ValueError):
    """Raised when an ``agent()`` call's ``disallowedTools`` or ``bashCommandClamp`` is
    unusable; ``name`` is the JavaScript error type the script's promise rejects with."""

    def __init__(self, message: str, name: str = "TypeError") -> None:
        super().__init__(message)
        self.name = name


def _type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _strings(option: str, value: Any) -> list[str]:
    what = f"agent({{{option}}})"
    if not isinstance(value, list):
        raise CallOptionError(f"{what} must be an array of strings, got {_type(value)}{_REFUSING}")
    if len(value) > MAX_OPTION_RULES:
        raise CallOptionError(
            f"{what} has {len(value)} entries; at most {MAX_OPTION_RULES}{_REFUSING}",
            "RangeError",
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise CallOptionError(f"{what}[{i}] must be a string, got {_type(item)}{_REFUSING}")
        if len(item) > MAX_OPTION_RULE_CHARS:
            raise CallOptionError(
                f"{what}[{i}] is {len(item)} characters long; at most "
                f"{MAX_OPTION_RULE_CHARS}{_REFUSING}",
                "RangeError",
            )
    return value


def _parse(option: str, i: int, text: str) -> Rule:
    from .rules import RuleError, parse_rule

    try:
        return parse_rule(text, f"agent() {option}")
    except RuleError as exc:
        problem = str(exc).split(": ", 1)[-1]
        raise CallOptionError(
            f"agent({{{option}}})[{i}] {_shown(text)} is not a permission rule: "
            f"{problem}{_REFUSING}"
        ) from None


def _shown(text: str) -> str:
    return "'" + printable(text[:200]) + ("…'" if len(text) > 200 else "'")


def structured_output_denied(rules: list[Rule] | tuple[Rule, ...]) -> bool:
    """Whether ``rules`` (a spawn's merged disallowedTools) deny the StructuredOutput tool."""
    return any(r.tool == "StructuredOutput" for r in rules)


def schema_refusal(*denied: Iterable[str]) -> CallOptionError | None:
    """The reference's refusal when a schema agent's merged ``disallowedTools`` (the call's,
    its agent type's) deny StructuredOutput, or None. Entries that are no rule are skipped
    (their own check reports them)."""
    from .rules import RuleError, parse_rule

    rules = []
    for texts in denied:
        for text in texts:
            try:
                rules.append(parse_rule(text, "disallowedTools"))
            except RuleError:
                continue
    if not structured_output_denied(rules):
        return None
    return CallOptionError(
        "agent() schema mode needs the StructuredOutput tool, but the spawn's merged "
        "disallowedTools deny it — refusing the spawn. Take StructuredOutput out of "
        "disallowedTools (the call's or its agent type's), or drop the schema.",
        "Error",
    )


def agent_type_problem(
    name: str, source: str, tools: Iterable[str] | None, disallowed: Iterable[str]
) -> CallOptionError | None:
    """Why an agent type's ``tools`` / ``disallowedTools`` cannot be used (an entry that is
    no rule), or None: checked when a call names the type, so a typo in an agent file is a
    rejection naming the file, not a denial that silently never applies."""
    from .rules import RuleError, parse_rule

    for field, entries in (("tools", tools or ()), ("disallowedTools", disallowed)):
        for text in entries:
            if field == "tools" and text.strip() == "*":
                continue
            try:
                parse_rule(text, field)
            except RuleError as exc:
                problem = str(exc).split(": ", 1)[-1]
                return CallOptionError(
                    f"agent({{agentType}}): agent type '{printable(name)}' ({printable(source)}) "
                    f"has {field} entry {_shown(text)} that is not a permission rule: "
                    f"{problem}{_REFUSING}",
                    "Error",
                )
    return None


def check_call_options(
    disallowed: Any = None, clamp: Any = None, *, schema: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The two options as tuples of rule texts, checked; None stands for an option not given.

    Raises:
        CallOptionError: an option is not an array of strings, has too many or too long
            entries, holds a malformed rule, a clamp entry that is not ``Bash(<prefix>)``, or
            denies StructuredOutput to a schema agent.
    """
    denied: tuple[str, ...] = ()
    clamps: tuple[str, ...] = ()
    if disallowed is not None:
        items = _strings("disallowedTools", disallowed)
        for i, text in enumerate(items):
            _parse("disallowedTools", i, text)
        if schema and (refusal := schema_refusal(items)) is not None:
            raise refusal
        denied = tuple(items)
    if clamp is not None:
        items = _strings("bashCommandClamp", clamp)
        for i, text in enumerate(items):
            rule = _parse("bashCommandClamp", i, text)
            if rule.tool != "Bash" or rule.specifier is None:
                raise CallOptionError(
                    f"agent({{bashCommandClamp}})[{i}] {_shown(text)} is not a "
                    f"Bash(<prefix>) rule, e.g. Bash(git log){_REFUSING}"
                )
        clamps = tuple(items)
    return denied, clamps
