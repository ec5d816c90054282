"""The permission check: deny rules, then ask rules, then allow rules; first match wins.

A call no rule matches gets its mode's default: in ``default`` mode the read tools (Read,
Grep, Glob) are allowed inside the workspace and everything else asks; ``acceptEdits`` also
allows edits inside it; ``plan`` allows reading only; ``dontAsk`` denies whatever is not
allowed. A read outside the workspace asks. With nobody to answer (no terminal, ``--yes``,
the plain view) an ``ask`` is a denial: :func:`unanswered`. Every decision names the rule
that made it, or says which rule is missing and suggests one.

A :class:`Policy` holds the session's rules; :meth:`Policy.for_agent` adds one agent's layer
(its type's tool list, the call's ``disallowedTools`` and ``bashCommandClamp``, its type's
mode) and shares the rules a person adds with "allow for this run".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from ..text import printable
from .decision import Decision
from .matching import (
    Call,
    bash_suggestion,
    clamp_pattern,
    matches,
    outside_args,
    parts_allowed,
)
from .paths import Anchors, path_pattern, suggest_path_rule
from .rules import EDIT_TOOLS, READ_TOOLS, Rule, RuleError, parse_rule, split_rules

__all__ = [
    "MODES",
    "WORKFLOW_SUBAGENT_DISALLOWED",
    "Mode",
    "Policy",
    "PolicyError",
    "WorkspaceLike",
    "check_mode",
    "parse_cli_rules",
    "unanswered",
]

Mode = Literal["default", "acceptEdits", "plan", "dontAsk"]
MODES: tuple[Mode, ...] = ("default", "acceptEdits", "plan", "dontAsk")
_MODE_TEXT = {
    "default": "reads inside the workspace; edits, commands and MCP tools ask",
    "acceptEdits": "reads and edits inside the workspace; commands and MCP tools ask",
    "plan": "reads only; no edits, no commands",
    "dontAsk": "reads inside the workspace and what the rules allow; nothing asks",
}
#: tools the worker itself answers (the schema agent's answer): on unless a rule denies them
_INTERNAL = frozenset({"StructuredOutput"})
#: what a workflow agent may never use, whatever the rules (reference §6.1, the
#: ``workflow-subagent`` definition): a call's ``disallowedTools`` are unioned with these
WORKFLOW_SUBAGENT_DISALLOWED = ("SendUserMessage", "Agent", "Workflow")
_DEFAULTS = "workflow agents' defaults"


class PolicyError(ValueError):
    """Raised for a permission setting jshost cannot honour (an unknown or refused mode)."""


class WorkspaceLike(Protocol):
    """Where an agent acts (``jshost.tools.base.Workspace`` fits)."""

    @property
    def root(self) -> Path: ...
    @property
    def extra_dirs(self) -> tuple[Path, ...]: ...
    @property
    def project_root(self) -> Path | None: ...


def check_mode(mode: str, source: str) -> Mode:
    """``mode`` if jshost offers it; else :class:`PolicyError` naming ``source``."""
    if mode in MODES:
        return mode  # type: ignore[return-value]
    if mode == "bypassPermissions":
        raise PolicyError(
            f"{source}: permission mode 'bypassPermissions' is not offered by jshost: an "
            "agent's tools run on your machine with your rights. Allow what the agents need "
            "with --allowed-tools or permissions.allow, or use --permission-mode acceptEdits"
        )
    if mode == "auto":
        raise PolicyError(
            f"{source}: permission mode 'auto' needs Claude Code's safety classifier, which "
            "jshost does not have; use default, acceptEdits, plan or dontAsk"
        )
    raise PolicyError(
        f"{source}: unknown permission mode {printable(repr(mode))}; use one of " + ", ".join(MODES)
    )


def parse_cli_rules(values: Iterable[str], flag: str) -> list[Rule]:
    """The rules of a repeatable option (``--allowed-tools``): each value may hold several,
    separated by commas or spaces outside parentheses. Raises :class:`RuleError`."""
    rules: list[Rule] = []
    for value in values:
        rules.extend(split_rules(value, flag))
    return rules


def unanswered(decision: Decision) -> Decision:
    """What an ``ask`` becomes when nobody can answer: a denial that says how to allow it."""
    if decision.behavior != "ask":
        return decision
    how = (
        f"; to allow it, add the rule {decision.suggestion} (--allowed-tools or "
        "permissions.allow in .claude/settings.json)"
        if decision.suggestion
        else ""
    )
    return replace(
        decision,
        behavior="deny",
        reason=f"{decision.reason}, and nobody can answer here, so it is denied{how}",
    )


@dataclass(frozen=True)
class _Layer:
    """One agent's restrictions on top of the session's rules."""

    disallowed: tuple[Rule, ...] = ()
    #: each clamp layer's rules: a Bash call must match one rule of every layer
    clamps: tuple[tuple[Rule, ...], ...] = ()
    tools: tuple[Rule, ...] | None = None


class _RunRules:
    """Rules a person allowed "for this run", shared by every agent's policy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: tuple[Rule, ...] = ()

    def add(self, rule: Rule) -> None:
        with self._lock:
            if all(r.text != rule.text for r in self._rules):
                self._rules = (*self._rules, rule)

    def snapshot(self) -> tuple[Rule, ...]:
        with self._lock:
            return self._rules


class Policy:
    """The session's permission rules and mode (and, from :meth:`for_agent`, one agent's).

    Rules are listed highest precedence first (command line, then local, project and user
    settings), so the rule a decision names is the one that counts most.
    """

    def __init__(
        self,
        *,
        allow: Iterable[Rule] = (),
        ask: Iterable[Rule] = (),
        deny: Iterable[Rule] = (),
        mode: str = "default",
        mode_source: str = "--permission-mode",
        extra_dirs: Iterable[Path] = (),
        home: Path | None = None,
    ) -> None:
        self.mode: Mode = check_mode(mode, mode_source)
        self.allow = tuple(allow)
        self.ask = tuple(ask)
        self.deny = tuple(deny)
        self.extra_dirs = tuple(Path(d) for d in extra_dirs)
        self.home = (home if home is not None else Path.home()).resolve()
        self._run = _RunRules()
        self._layer = _Layer()

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        allowed: Iterable[str] = (),
        disallowed: Iterable[str] = (),
        mode: str | None = None,
        home: Path | None = None,
    ) -> Policy:
        """The session's policy: ``--allowed-tools`` / ``--disallowed-tools`` values first,
        then the settings files' rules (a :class:`~jshost.permissions.settings.Settings`);
        ``mode`` (``--permission-mode``) wins over the settings' ``defaultMode``.

        Raises:
            RuleError: a command-line rule is malformed.
            PolicyError: the mode is unknown or refused.
        """
        allow = parse_cli_rules(allowed, "--allowed-tools")
        deny = parse_cli_rules(disallowed, "--disallowed-tools")
        if mode is not None:
            chosen, source = mode, "--permission-mode"
        elif settings is not None and settings.default_mode is not None:
            chosen, source = settings.default_mode, settings.default_mode_source
        else:
            chosen, source = "default", "default"
        return cls(
            allow=[*allow, *(settings.allow if settings else ())],
            ask=settings.ask if settings else (),
            deny=[*deny, *(settings.deny if settings else ())],
            mode=chosen,
            mode_source=source,
            extra_dirs=settings.additional_directories if settings else (),
            home=home,
        )

    def for_agent(
        self,
        disallowed: Iterable[str | Rule] = (),
        clamp: Iterable[str | Rule] = (),
        tools: Iterable[str | Rule] | None = None,
        mode: str | None = None,
        *,
        defaults: bool = True,
    ) -> Policy:
        """This policy with one agent's layer on top.

        ``disallowed`` are tool names or rules denied to the agent (a call's
        ``disallowedTools``, its type's ``disallowedTools``), unioned with any this policy
        already has and with :data:`WORKFLOW_SUBAGENT_DISALLOWED` (unless ``defaults`` is
        False); ``clamp`` are ``Bash(<prefix>)`` rules outside which Bash is denied; ``tools``
        the agent type's tool list (None or ``*``: every tool); ``mode`` the type's
        ``permissionMode``. Rules allowed for the run stay shared.

        Raises:
            RuleError: a rule is malformed.
            PolicyError: ``mode`` is unknown or refused.
        """
        deny = tuple(_rules(disallowed, "the agent's disallowedTools"))
        if defaults and all(r.source != _DEFAULTS for r in self._layer.disallowed):
            deny = (*_rules(WORKFLOW_SUBAGENT_DISALLOWED, _DEFAULTS), *deny)
        clamps = tuple(_rules(clamp, "agent() bashCommandClamp"))
        for r in clamps:
            if r.tool != "Bash" or r.specifier is None:
                raise RuleError(f"bashCommandClamp {r.text!r}: not a Bash(<prefix>) rule")
        listed = None
        if tools is not None:
            entries = [t.strip() if isinstance(t, str) else t for t in tools]
            if not any(e == "*" for e in entries):
                listed = tuple(_rules([e for e in entries if e], "the agent type's tools"))
        child = Policy.__new__(Policy)
        child.__dict__.update(self.__dict__)
        if mode is not None:
            child.mode = check_mode(mode, "the agent type's permissionMode")
        old = self._layer
        child._layer = _Layer(
            disallowed=(*old.disallowed, *deny),
            clamps=(*old.clamps, clamps) if clamps else old.clamps,
            tools=listed if old.tools is None else old.tools,
        )
        return child

    def allow_for_run(self, rule: str | Rule) -> Rule:
        """Allow ``rule`` for the rest of the run, in every agent (a person's answer)."""
        parsed = rule if isinstance(rule, Rule) else parse_rule(rule, "allowed for this run")
        self._run.add(parsed)
        return parsed

    def agent_type_denial(self, name: str) -> Decision | None:
        """A denial when a deny rule ``Agent(name)`` (or ``Agent``) forbids the agent type."""
        for rule in self.deny:
            if rule.tool == "Agent" and rule.specifier in (None, name):
                return Decision(
                    "deny",
                    f"agent({{agentType}}): '{name}' is denied by permission rule "
                    f"'{rule.text}' from {rule.source}.",
                    rule=rule.text,
                    source=rule.source,
                )
        return None

    def decide(
        self,
        tool: Any,
        tool_input: Mapping[str, Any] | None = None,
        *,
        kind: str | None = None,
        paths: Iterable[Path] = (),
        command: str | None = None,
        workspace: WorkspaceLike,
    ) -> Decision:
        """Whether the call may run: ``allow``, ``ask`` (a person decides; nobody: deny, see
        :func:`unanswered`) or ``deny``.

        Args:
            tool: the tool's name (``Read``, ``Bash``, ``mcp__logs__tail``), or a tool with a
                ``name`` and a ``kind`` (``jshost.tools.base.Tool``).
            tool_input (Mapping): the call's input (for ``Agent(type)`` and WebFetch rules).
            kind (str | None): ``read``, ``edit``, ``exec`` or ``mcp``; None: the tool's own,
                else guessed from the name (an unknown tool counts as ``exec``).
            paths (Iterable[Path]): the resolved paths the call touches.
            command (str | None): the shell command, for Bash.
            workspace: where the agent acts (``root``, ``extra_dirs``, ``project_root``).
        """
        tool_name = tool if isinstance(tool, str) else str(tool.name)
        if kind is None:
            kind = getattr(tool, "kind", None) or _kind_of(tool_name)
        if kind not in _KINDS:
            kind = "exec"  # what it does is unknown: it runs only by a rule
        root = Path(workspace.root)
        anchors = Anchors(
            cwd=root,
            project_root=Path(workspace.project_root or root),
            home=self.home,
        )
        call = Call(
            tool=tool_name,
            tool_input=tool_input or {},
            kind=kind,
            # Tools pass resolved paths; a `..` left in by mistake must not climb out of a
            # rule's directory, and a relative one is the workspace's.
            paths=tuple(Path(os.path.normpath(root / p)) for p in paths),
            command=command,
            anchors=anchors,
            dirs=(root, *(Path(d) for d in workspace.extra_dirs), *self.extra_dirs),
        )
        layered = self._check_layer(call)
        if layered is not None:
            return layered
        for rule in (*self._layer.disallowed, *self.deny):
            if matches(rule, call, allow=False):
                return Decision(
                    "deny", f"{self._what(call)} is denied by {_said(rule)}", rule.text, rule.source
                )
        for rule in self.ask:
            if matches(rule, call, allow=False):
                decision = Decision(
                    "ask",
                    f"{self._what(call)} needs permission: {_said(rule)} asks",
                    rule.text,
                    rule.source,
                    self._suggest(call),
                )
                return self._dont_ask(decision)
        if self.mode == "plan" and call.kind != "read" and tool_name not in _INTERNAL:
            return Decision(
                "deny",
                f"{self._what(call)} is denied: plan mode allows reading only",
                source="plan mode",
            )
        allowed = (*self.allow, *self._run.snapshot())
        for rule in allowed:
            if matches(rule, call, allow=True):
                return Decision(
                    "allow",
                    f"{self._what(call)} is allowed by {_said(rule)}",
                    rule.text,
                    rule.source,
                )
        if tool_name == "Bash" and (split := call.bash()) is not None:
            # Each command of a compound may be allowed by a rule of its own.
            patterns = [
                (r.specifier, r) for r in allowed if r.kind == "bash" and r.specifier is not None
            ]
            used = parts_allowed(patterns, split, call)
            if used:
                return Decision(
                    "allow",
                    f"{self._what(call)} is allowed, each of its commands by a rule: "
                    + "; ".join(_said(r) for r in used),
                    ", ".join(r.text for r in used),
                    ", ".join(dict.fromkeys(r.source for r in used)),
                )
        return self._default(call)

    def walk_filter(self, tool: str, workspace: WorkspaceLike) -> Callable[[Path], bool] | None:
        """For a tool that walks a directory (Grep, Glob): whether a file it finds must be
        left out, because a deny or ask rule covers it (``Read(./.env)`` denies grepping the
        workspace's ``.env`` too). None when no such rule exists (nothing to filter).
        """
        rules = [
            r
            for r in (*self._layer.disallowed, *self.deny, *self.ask)
            if r.kind == "path" and r.covers_tool(tool)
        ]
        if not rules:
            return None
        root = Path(workspace.root)
        anchors = Anchors(root, Path(workspace.project_root or root), self.home)
        patterns = [path_pattern(r.specifier or "") for r in rules]

        def hidden(path: Path) -> bool:
            return any(p.matches(path, anchors) for p in patterns)

        return hidden

    # ---- the parts of decide() -------------------------------------------------------------

    def _check_layer(self, call: Call) -> Decision | None:
        layer = self._layer
        if layer.tools is not None and call.tool not in _INTERNAL:
            # A tool list names tools, not families: `tools: Read` gives no Grep.
            covering = [
                r
                for r in layer.tools
                if r.tool == call.tool or (r.kind == "mcp" and r.covers_tool(call.tool))
            ]
            if not covering or not (
                any(r.specifier is None for r in covering)
                or any(matches(r, call, allow=True) for r in covering)
            ):
                return Decision(
                    "deny",
                    f"{self._what(call)} is denied: not among the agent type's tools ("
                    + ", ".join(printable(r.text) for r in layer.tools)
                    + ")",
                    source="agent type tools",
                )
        if call.tool != "Bash":
            return None
        split = call.bash()
        for clamp in layer.clamps:
            if (
                split is None
                or parts_allowed([(clamp_pattern(r), r) for r in clamp], split, None) is None
            ):
                return Decision(
                    "deny",
                    f"{self._what(call)} is denied: this agent may run only "
                    + ", ".join(printable(r.text) for r in clamp)
                    + " (agent() bashCommandClamp)",
                    source="agent() bashCommandClamp",
                )
        return None

    def _dont_ask(self, decision: Decision) -> Decision:
        if self.mode != "dontAsk":
            return decision
        return replace(unanswered(decision), reason=decision.reason + "; dontAsk mode denies it")

    def _default(self, call: Call) -> Decision:
        what = self._what(call)
        suggestion = self._suggest(call)
        mode = self.mode
        if call.tool in _INTERNAL:
            return Decision("allow", f"{what} is always allowed", source="default")
        if call.kind == "read":
            if call.inside():
                return Decision("allow", f"{what} is inside the workspace", source="default")
            return self._dont_ask(
                Decision(
                    "ask",
                    f"{what} is outside the workspace and no rule allows it",
                    source="default",
                    suggestion=suggestion,
                )
            )
        if call.kind == "edit" and mode == "acceptEdits" and call.inside():
            return Decision(
                "allow", f"{what} is inside the workspace (acceptEdits mode)", source="acceptEdits"
            )
        why = "no rule allows it"
        if call.kind == "edit" and not call.inside():
            why = "it is outside the workspace and no rule allows it"
        split = call.bash()
        if split is not None and not split.complete:
            why = "it cannot be read as shell commands, so no rule can allow it"
        elif split is not None and (
            outside := [w for p in split.parts for w in outside_args(p, call)]
        ):
            shown = ", ".join(printable(w[:80]) for w in outside[:3])
            why = (
                f"no rule allows it (it names paths outside the workspace, or values only the "
                f"shell knows: {shown}; only a rule that spells them out allows them)"
            )
        elif split is not None and any(p.writes for p in split.parts):
            why = (
                "no rule allows it (a redirection that writes a file is allowed only by a "
                "rule that names it)"
            )
        return self._dont_ask(
            Decision(
                "ask",
                f"{what} needs permission: {why} ({mode} mode)",
                source="default",
                suggestion=suggestion,
            )
        )

    def _what(self, call: Call) -> str:
        if call.command is not None:
            shown = printable(call.command[:200] + ("…" if len(call.command) > 200 else ""))
            return f"{call.tool} {shown!r}"
        if call.paths:
            return f"{call.tool} of {printable(call.paths[0].as_posix())}" + (
                f" (and {len(call.paths) - 1} more)" if len(call.paths) > 1 else ""
            )
        return printable(call.tool)

    def _suggest(self, call: Call) -> str | None:
        if call.tool == "Bash":
            split = call.bash()
            allowed = (*self.allow, *self._run.snapshot())
            return None if split is None else bash_suggestion(split, allowed, call)
        if call.kind in ("read", "edit") and call.paths:
            allowed = (*self.allow, *self._run.snapshot())
            missing = [
                p
                for p in call.paths
                if not any(matches(r, replace(call, paths=(p,)), allow=True) for r in allowed)
            ] or list(call.paths)
            outside = [p for p in missing if not call.contains(p)] or missing
            name = "Edit" if call.kind == "edit" else "Read"
            return suggest_path_rule(name, outside[0], call.anchors)
        return call.tool

    # ---- for the confirmation screen ---------------------------------------------------------

    def describe(self, workspace: WorkspaceLike | None = None) -> list[str]:
        """Lines saying what agents may do: the mode, the workspace, the rules."""
        lines = [f"permission mode: {self.mode} ({_MODE_TEXT[self.mode]})"]
        if workspace is not None:
            lines.append(f"workspace: {printable(Path(workspace.root).as_posix())}")
        dirs = [*(workspace.extra_dirs if workspace is not None else ()), *self.extra_dirs]
        if dirs:
            lines.append("also readable: " + ", ".join(printable(Path(d).as_posix()) for d in dirs))
        for title, rules in (
            ("allowed", (*self.allow, *self._run.snapshot())),
            ("ask first", self.ask),
            ("denied", (*self.deny, *self._layer.disallowed)),
        ):
            if rules:
                lines.append(
                    f"{title}: "
                    + ", ".join(f"{printable(r.text)} ({printable(r.source)})" for r in rules)
                )
        return lines


_KINDS = frozenset({"read", "edit", "exec", "mcp"})


def _kind_of(name: str) -> str:
    if name in READ_TOOLS:
        return "read"
    if name in EDIT_TOOLS:
        return "edit"
    return "mcp" if name.startswith("mcp__") else "exec"


def _said(rule: Rule) -> str:
    return f"rule {printable(repr(rule.text))} from {printable(rule.source)}"


def _rules(items: Iterable[str | Rule], source: str) -> list[Rule]:
    return [i if isinstance(i, Rule) else parse_rule(i, source) for i in items]
