"""Agent types: the definitions ``agent(prompt, {agentType})`` names (reference §3.1, §6.1).

They are Claude Code's own subagent files, so a definition written for Claude Code works here:
a markdown file whose YAML frontmatter holds ``name`` and ``description`` (both required, as
Claude Code requires them; the file name is never used as a name) and optionally ``tools``,
``disallowedTools`` (a comma-separated string or a YAML list), ``model`` and
``permissionMode``; the body is the agent's system prompt. Found in, first wins on a name:

- project: ``.claude/agents/*.md`` in every directory from the workspace up to its repository
  root (just the workspace outside a repository), the closest first, as saved workflows are
  found (:mod:`jshost.library`);
- user: ``~/.claude/agents/*.md`` (``$CLAUDE_CONFIG_DIR/agents`` when that is set);
- built-in: ``general-purpose`` and ``Explore`` (below). A file beats a built-in of its name.

A file that is not a usable definition is skipped with the reason (``jshost agents`` lists
them) and never stops discovery. Files are read with bounds: at most
:data:`MAX_AGENT_FILE_BYTES` each, a frontmatter of at most :data:`MAX_FRONTMATTER_CHARS`, at
most :data:`MAX_FILES_PER_DIR` files a directory. Discovery reads files: callers on the trio
thread run it in a worker thread.

No ``agentType``: the agent is the reference's implicit ``workflow-subagent``
(:data:`WORKFLOW_SUBAGENT`, not a name a script can ask for), and ``AgentRequest.agent_definition``
is None.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import JshostError
from .text import printable

__all__ = [
    "BUILTIN_TYPES",
    "MAX_AGENT_FILE_BYTES",
    "MAX_FILES_PER_DIR",
    "MAX_FRONTMATTER_CHARS",
    "PERMISSION_MODES",
    "WORKFLOW_SUBAGENT",
    "AgentType",
    "AgentTypeDenied",
    "AgentTypeError",
    "AgentTypeNotFound",
    "AgentTypes",
    "Denial",
    "SkippedAgentFile",
    "denial_from_rules",
    "discover_agent_types",
    "parse_agent_file",
    "system_prompt_for",
    "workflow_note",
]

Scope = Literal["built-in", "project", "user"]

#: largest agent file read; a system prompt is a page or two, not a book
MAX_AGENT_FILE_BYTES = 256 * 1024
#: largest frontmatter parsed (YAML is parsed in pure Python when libyaml is missing)
MAX_FRONTMATTER_CHARS = 64 * 1024
#: files looked at in one agents directory; the rest are skipped with a reason
MAX_FILES_PER_DIR = 500
_MAX_NAME_CHARS = 128
#: the ``permissionMode`` values jshost's permission rules implement (Claude Code also has
#: ``dontAsk``, ``bypassPermissions`` and ``auto``; a file asking for one is skipped rather than
#: run under a mode it did not ask for)
PERMISSION_MODES = ("default", "acceptEdits", "plan")


@dataclass(frozen=True)
class AgentType:
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


@dataclass(frozen=True)
class SkippedAgentFile:
    """A file in an agents directory that is not a usable definition, and why."""

    path: Path
    scope: Scope
    reason: str

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

_AGENT_RULE = re.compile(r"^(?:Agent|Task)\((?P<type>.*)\)$", re.DOTALL)


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


# ---- reading one file ---------------------------------------------------------------------------

_FENCE = re.compile(r"---[ \t]*")
# `key: value` at the top level, for the second try at a frontmatter YAML refused (below)
_SIMPLE_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):[ \t]+(?P<value>\S.*?)[ \t]*$")


def _split_frontmatter(text: str) -> tuple[str, str, int] | str:
    """(frontmatter, body, line of the body) or the reason there is none."""
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.fullmatch(lines[0].rstrip("\r\n")):
        return "no frontmatter: the file must start with a --- line"
    for i in range(1, len(lines)):
        if _FENCE.fullmatch(lines[i].rstrip("\r\n")):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return "the frontmatter's opening --- has no closing --- line"


def _quote_simple_values(front: str) -> str:
    """The frontmatter with plain one-line values single-quoted.

    Claude Code's agent files often hold ``description: Use this agent when… Examples: …``,
    which YAML refuses (a ``: `` inside a plain value). Claude Code reads them by quoting such
    values and trying again; so does this.
    """
    out = []
    for line in front.splitlines():
        m = _SIMPLE_LINE.match(line)
        if m is not None and m.group("value")[0] not in "'\"[{|>&*!#":
            value = m.group("value").replace("'", "''")
            line = f"{m.group('key')}: '{value}'"
        out.append(line)
    return "\n".join(out) + "\n"


def _load_yaml(front: str) -> Any:
    import yaml  # only when a file is read: the CLI starts without it

    # yaml.safe_load's loader, in C when libyaml is there: plain data, no Python objects
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(front, Loader=loader)
    except yaml.YAMLError as first:
        try:
            return yaml.load(_quote_simple_values(front), Loader=loader)
        except yaml.YAMLError:
            raise first from None


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        # the frontmatter starts on the file's second line; marks count from zero
        return f"line {mark.line + 2}:{mark.column + 1}: frontmatter is not valid YAML: {problem}"
    return f"frontmatter is not valid YAML: {problem}"


def _tool_list(value: Any, key: str) -> tuple[str, ...] | str:
    """Tool names from a comma-separated string or a list of strings, or the problem."""
    if isinstance(value, str):
        items = _split_commas(value)
    elif isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            return f"'{key}' must be a comma-separated string or a list of strings"
        items = [v.strip() for v in value]
    else:
        return f"'{key}' must be a comma-separated string or a list of strings"
    names: list[str] = []
    for item in items:
        if item and item not in names:
            names.append(item)
    return tuple(names)


def _split_commas(text: str) -> list[str]:
    """``Read, Bash(git log, git diff)`` → two items: commas inside a rule's parentheses stay."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items


def parse_agent_file(text: str, source: str, scope: Scope) -> AgentType | str:
    """The agent type a file's text defines, or the reason it defines none."""
    split = _split_frontmatter(text)
    if isinstance(split, str):
        return split
    front, body, _ = split
    if len(front) > MAX_FRONTMATTER_CHARS:
        return f"its frontmatter is longer than {MAX_FRONTMATTER_CHARS:,} characters"
    try:
        data = _load_yaml(front)
    except RecursionError:
        return "frontmatter is nested too deeply"
    except Exception as exc:  # yaml.YAMLError; yaml is imported lazily
        return _yaml_problem(exc)
    if not isinstance(data, dict):
        return "frontmatter is not a mapping of keys to values"
    name = data.get("name")
    if name is None:
        return "no 'name' in the frontmatter (required, as in Claude Code)"
    if not isinstance(name, str) or not name.strip():
        return "'name' must be a non-empty string"
    name = name.strip()
    if len(name) > _MAX_NAME_CHARS:
        return f"'name' is longer than {_MAX_NAME_CHARS} characters"
    if printable(name) != name or any(c.isspace() for c in name):
        return "'name' contains spaces, control or hidden characters"
    description = data.get("description")
    if description is None:
        return "no 'description' in the frontmatter (required, as in Claude Code)"
    if not isinstance(description, str):
        return "'description' must be a string"
    tools: tuple[str, ...] | None = None
    if data.get("tools") is not None:
        listed = _tool_list(data["tools"], "tools")
        if isinstance(listed, str):
            return listed
        tools = None if "*" in listed else listed
    disallowed: tuple[str, ...] = ()
    if data.get("disallowedTools") is not None:
        listed = _tool_list(data["disallowedTools"], "disallowedTools")
        if isinstance(listed, str):
            return listed
        disallowed = listed
    model = data.get("model")
    if model is not None:
        if not isinstance(model, str) or not model.strip():
            return "'model' must be a non-empty string"
        model = model.strip()
        if model == "inherit":
            model = None
    mode = data.get("permissionMode")
    if mode is not None and mode not in PERMISSION_MODES:
        shown = mode if isinstance(mode, str) else type(mode).__name__
        return (
            f"permissionMode {shown!r} is not one jshost implements ({', '.join(PERMISSION_MODES)})"
        )
    return AgentType(
        name=name,
        description=description.strip(),
        tools=tools,
        disallowed_tools=disallowed,
        model=model,
        permission_mode=mode,
        system_prompt=body.strip(),
        source=source,
        scope=scope,
    )


def _read(path: Path, scope: Scope) -> AgentType | SkippedAgentFile:
    def skip(reason: str) -> SkippedAgentFile:
        return SkippedAgentFile(path, scope, reason)

    try:
        if path.stat().st_size > MAX_AGENT_FILE_BYTES:
            return skip(f"larger than {MAX_AGENT_FILE_BYTES // 1024} KiB")
        with path.open("rb") as f:
            # read no more than the limit even if the file grew since stat()
            raw = f.read(MAX_AGENT_FILE_BYTES + 1)
    except OSError as exc:
        return skip(f"cannot read it: {exc.strerror or exc}")
    if len(raw) > MAX_AGENT_FILE_BYTES:
        return skip(f"larger than {MAX_AGENT_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return skip("not UTF-8 text")
    found = parse_agent_file(text, str(path), scope)
    return skip(found) if isinstance(found, str) else found


# ---- discovery ----------------------------------------------------------------------------------


def _project_chain(workspace: Path) -> list[Path]:
    """Directories from ``workspace`` up to its repository root (just it outside a repository)."""
    chain = []
    for d in [workspace, *workspace.parents]:
        chain.append(d)
        if (d / ".git").exists():
            return chain
    return [workspace]


def _user_dir(home: Path | None) -> Path:
    if home is not None:
        return home / ".claude" / "agents"
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    base = Path(configured).expanduser() if configured else Path.home() / ".claude"
    return base / "agents"


def _places(workspace: Path, home: Path | None) -> list[tuple[Path, Scope]]:
    user = _user_dir(home).resolve()
    places: list[tuple[Path, Scope]] = [
        (d / ".claude" / "agents", "project") for d in _project_chain(workspace)
    ]
    # A workspace at (or a repository around) the home directory: its .claude/agents is the
    # user's, read once, as the user's.
    places = [(p, s) for p, s in places if p != user]
    places.append((user, "user"))
    return places


def _files(place: Path, scope: Scope, skipped: list[SkippedAgentFile]) -> list[Path]:
    try:
        entries = sorted(place.iterdir())
    except OSError as exc:
        skipped.append(SkippedAgentFile(place, scope, f"cannot list it: {exc.strerror or exc}"))
        return []
    files = []
    for path in entries:
        if path.suffix != ".md" or path.name.startswith("."):
            continue
        if not path.is_file():  # a directory, a FIFO, a device: nothing to read
            skipped.append(SkippedAgentFile(path, scope, "not a regular file"))
            continue
        if len(files) == MAX_FILES_PER_DIR:
            skipped.append(
                SkippedAgentFile(path, scope, f"more than {MAX_FILES_PER_DIR} files here")
            )
            continue
        files.append(path)
    return files


def discover_agent_types(
    workspace: Path | str | None = None, *, home: Path | None = None
) -> AgentTypes:
    """The agent types visible from ``workspace`` (default: the current directory).

    ``home`` is the user's home directory, whose ``.claude/agents`` is read (default:
    ``$CLAUDE_CONFIG_DIR/agents`` when set, else ``~/.claude/agents``). Never raises for what
    is on disk: unusable files and directories are in ``.skipped`` with the reason.
    """
    root = Path.cwd() if workspace is None else Path(workspace)
    root = root.expanduser().resolve()
    home = None if home is None else home.expanduser().resolve()
    found: list[AgentType] = []
    seen: set[str] = set()
    skipped: list[SkippedAgentFile] = []
    for place, scope in _places(root, home):
        if not place.is_dir():
            continue
        for path in _files(place, scope, skipped):
            item = _read(path, scope)
            if isinstance(item, SkippedAgentFile):
                skipped.append(item)
            elif item.name not in seen:
                seen.add(item.name)
                found.append(item)
    found.extend(t for t in BUILTIN_TYPES if t.name not in seen)
    return AgentTypes(found, skipped)
