"""The agent-type model: ``AgentType``, the built-in types, the workflow note, the registry
(``AgentTypes.get`` with the reference's messages) and the denial seam. No file is read here
(:mod:`jshost.agent_types.files` reads them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from .._data import Frozen, set_field
from .._lazy import lazy_pattern
from ..errors import JshostError

Scope = Literal["built-in", "project", "user"]

#: largest agent file read; a system prompt is a page or two, not a book
MAX_AGENT_FILE_BYTES = 256 * 1024
#: largest frontmatter parsed (YAML is parsed in pure Python when libyaml is missing)
MAX_FRONTMATTER_CHARS = 64 * 1024
#: files looked at in one agents directory; the rest are skipped with a reason
MAX_FILES_PER_DIR = 500
#: the ``permissionMode`` values jshost's permission rules implement (Claude Code also has
#: ``bypassPermissions`` and ``auto``; a file asking for one is skipped rather than run under a
#: mode it did not ask for)
PERMISSION_MODES = ("default", "acceptEdits", "plan", "dontAsk")


class AgentType(Frozen):
    """One agent type.

    ``tools`` None means every tool the run offers; a tuple limits the agent to those names
    (an empty one: no tools). ``model`` None means the run's model (``inherit`` is read as
    None). ``permission_mode`` None means the session's mode: jshost does not put agents in
    ``acceptEdits`` on its own as the reference does (§6.4); only a definition that says so
    does. ``system_prompt`` is the file's markdown body; ``source`` is the file's path or
    ``"built-in"``.
    """

    name: str
    description: str
    tools: tuple[str, ...] | None = None
    disallowed_tools: tuple[str, ...] = ()
    model: str | None = None
    permission_mode: str | None = None
    system_prompt: str = ""
    source: str = "built-in"
    scope: Scope = "built-in"

    _fields = (
        "name",
        "description",
        "tools",
        "disallowed_tools",
        "model",
        "permission_mode",
        "system_prompt",
        "source",
        "scope",
    )

    def __init__(
        self,
        name: str,
        description: str,
        tools: tuple[str, ...] | None = None,
        disallowed_tools: tuple[str, ...] = (),
        model: str | None = None,
        permission_mode: str | None = None,
        system_prompt: str = "",
        source: str = "built-in",
        scope: Scope = "built-in",
    ) -> None:
        set_field(self, "name", name)
        set_field(self, "description", description)
        set_field(self, "tools", tools)
        set_field(self, "disallowed_tools", disallowed_tools)
        set_field(self, "model", model)
        set_field(self, "permission_mode", permission_mode)
        set_field(self, "system_prompt", system_prompt)
        set_field(self, "source", source)
        set_field(self, "scope", scope)

    def to_json(self) -> dict[str, Any]:
        """The stable shape of ``jshost agents --json`` (docs/agent-types.md)."""
        return {
            "name": self.name,
            "description": self.description,
            "tools": None if self.tools is None else list(self.tools),
            "disallowedTools": list(self.disallowed_tools),
            "model": self.model,
            "permissionMode": self.permission_mode,
            "scope": self.scope,
            "source": self.source,
        }


class SkippedAgentFile(Frozen):
    """A file in an agents directory that is not a usable definition, and why."""

    path: Path
    scope: Scope
    reason: str

    _fields = ("path", "scope", "reason")

    def __init__(self, path: Path, scope: Scope, reason: str) -> None:
        set_field(self, "path", path)
        set_field(self, "scope", scope)
        set_field(self, "reason", reason)

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "scope": self.scope, "reason": self.reason}


# ---- the built-in types -------------------------------------------------------------------------

#: the reference's implicit definition of an agent with no ``agentType`` (§6.1). Its
#: disallowed tools are the reference's; none of them exists in jshost's tool set, they are
#: kept so that a definition's list can be unioned with them as the reference does.
WORKFLOW_SUBAGENT = AgentType(
    name="workflow-subagent",
    description="Internal subagent for workflow script orchestration.",
    tools=None,
    disallowed_tools=("SendUserMessage", "Agent", "Workflow"),
)

_GENERAL = """\
You are a general-purpose agent. Work the task through to the end with the tools you have: \
search and read files to find what you need rather than guessing, run the commands the rules \
allow when they help, and check your result before you give it. Say plainly what you could \
not find or do."""

_EXPLORE = """\
You are an exploring agent: you find things in the workspace and report them. You can read \
files and search them by name and by content; you cannot change anything or run commands. \
Search broadly first, then read what matters, and answer with what the files show: paths, \
line numbers and short quotes, not guesses."""

#: the types every run knows without a file: Claude Code's names, with meanings in jshost's
#: tool set (Explore reads and searches only: Read, Grep, Glob)
BUILTIN_TYPES: tuple[AgentType, ...] = (
    AgentType(
        name="general-purpose",
        description="Multi-step tasks that need searching, reading and, where the rules allow, "
        "running commands or editing files: every tool the run offers.",
        system_prompt=_GENERAL,
    ),
    AgentType(
        name="Explore",
        description="Finding things in the workspace: reads and searches files (Read, Grep, "
        "Glob), never edits them or runs commands.",
        tools=("Read", "Grep", "Glob"),
        system_prompt=_EXPLORE,
    ),
)

_NOTE_PLAIN = """\
NOTE: You are running as one agent of a workflow script, not in a conversation with a person. \
Your final text reply is handed back to the script exactly as you write it, as a string: reply \
with the result itself, and when the task asks for JSON, with the raw JSON value alone (no \
code fences, nothing around it)."""

_NOTE_STRUCTURED = """\
NOTE: You are running as one agent of a workflow script, not in a conversation with a person. \
The script needs your result as structured data: deliver it by calling the StructuredOutput \
tool exactly once, with input that matches its schema, and not as text. If StructuredOutput \
reports a validation error, correct the input and call it again; once it accepts, stop."""


def workflow_note(*, structured: bool) -> str:
    """The note appended to an agent type's own system prompt inside a workflow (§6.1)."""
    return _NOTE_STRUCTURED if structured else _NOTE_PLAIN


def system_prompt_for(definition: AgentType | None, *, structured: bool, default: str) -> str:
    """The system prompt an agent of ``definition`` gets.

    No definition (or the workflow-subagent): ``default``, the worker's own prompt. Otherwise
    the definition's prompt followed by the workflow note.
    """
    if definition is None or definition is WORKFLOW_SUBAGENT:
        return default
    body = definition.system_prompt.strip()
    note = workflow_note(structured=structured)
    return f"{body}\n\n{note}" if body else note


# ---- errors -------------------------------------------------------------------------------------


class AgentTypeError(JshostError):
    """An ``agentType`` the run cannot give an agent; ``js_name`` is the error the script sees."""

    js_name = "Error"


class AgentTypeNotFound(AgentTypeError):
    """No agent type of that name (or only one that a rule denies, which is then not listed)."""

    def __init__(self, name: str, available: list[str]) -> None:
        listed = ", ".join(available)
        super().__init__(
            f"agent({{agentType}}): agent type '{name}' not found. Available agents: {listed}"
        )
        self.name = name
        self.available = available


class AgentTypeDenied(AgentTypeError):
    """The agent type exists, and a permission rule ``Agent(<name>)`` denies it."""

    def __init__(self, name: str, rule: str, source: str) -> None:
        super().__init__(
            f"agent({{agentType}}): '{name}' is denied by permission rule '{rule}' from {source}."
        )
        self.name = name
        self.rule = rule
        self.source = source


#: ``denial(name)`` → the rule that denies agent type ``name`` and where it comes from, or None
Denial = Callable[[str], tuple[str, str] | None]

_AGENT_RULE = lazy_pattern(r"^(?:Agent|Task)\((?P<type>.*)\)$", re.DOTALL)


def denial_from_rules(deny_rules: Iterable[tuple[str, str]]) -> Denial:
    """A :data:`Denial` over deny rules given as ``(rule text, source)`` pairs.

    ``Agent(<t>)`` denies the type ``<t>`` (``Task(<t>)`` too: Task is the Agent tool's old
    name); a bare ``Agent`` rule is about the Agent tool, which workflow agents never have,
    and denies no type. The first matching rule is reported, as ``Agent(<t>)``.
    """
    table: dict[str, str] = {}
    for text, source in deny_rules:
        m = _AGENT_RULE.match(text.strip())
        if m is not None:
            table.setdefault(m.group("type").strip(), source)

    def denial(name: str) -> tuple[str, str] | None:
        source = table.get(name)
        return None if source is None else (f"Agent({name})", source)

    return denial


# ---- the registry -------------------------------------------------------------------------------


class AgentTypes:
    """The agent types one run can use (one per name, the winner of discovery), and the files
    that were skipped on the way."""

    def __init__(
        self, types: Iterable[AgentType] = BUILTIN_TYPES, skipped: Iterable[SkippedAgentFile] = ()
    ) -> None:
        by_name: dict[str, AgentType] = {}
        for t in types:
            by_name.setdefault(t.name, t)
        self._by_name = by_name
        self.skipped: tuple[SkippedAgentFile, ...] = tuple(skipped)

    def __iter__(self) -> Iterator[AgentType]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """Every name, sorted."""
        return sorted(self._by_name)

    def get(self, name: str, *, denial: Denial | None = None) -> AgentType:
        """The agent type ``name``, as ``agent({agentType})`` resolves it.

        The list of available agents leaves out the types ``denial`` denies (the reference's
        registry is "permission-filtered").

        Raises:
            AgentTypeDenied: it exists and a rule denies it.
            AgentTypeNotFound: there is no such type; the message lists the available ones.
        """
        found = self._by_name.get(name)
        if found is not None:
            denied = denial(name) if denial is not None else None
            if denied is None:
                return found
            raise AgentTypeDenied(name, *denied)
        available = [n for n in self.names() if denial is None or denial(n) is None]
        raise AgentTypeNotFound(name, available)
