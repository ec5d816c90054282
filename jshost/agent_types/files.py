"""Agent files: one parsed (frontmatter with bounds, PyYAML's safe loader) and all of them
discovered (project directories closest first, the user's, the built-ins)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._lazy import lazy_pattern
from ..text import printable
from .types import (
    BUILTIN_TYPES,
    MAX_AGENT_FILE_BYTES,
    MAX_FILES_PER_DIR,
    MAX_FRONTMATTER_CHARS,
    PERMISSION_MODES,
    AgentType,
    AgentTypes,
    Scope,
    SkippedAgentFile,
)

_MAX_NAME_CHARS = 128

# ---- reading one file ---------------------------------------------------------------------------

_FENCE = lazy_pattern(r"---[ \t]*")
# `key: value` at the top level, for the second try at a frontmatter YAML refused (below)
_SIMPLE_LINE = lazy_pattern(r"^(?P<key>[A-Za-z_][\w-]*):[ \t]+(?P<value>\S.*?)[ \t]*$")


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
