"""MCP server configuration: the project's ``.mcp.json`` and ``--mcp-config`` files.

Both use Claude Code's project format, ``{"mcpServers": {"<name>": {...}}}``, where a server is
``{"type": "stdio" (the default), "command", "args", "env"}`` or ``{"type": "http" | "sse",
"url", "headers"}``. ``${VAR}`` and ``${VAR:-default}`` expand in ``command``, ``args``,
``env``, ``url`` and ``headers`` values, as in Claude Code: an unset ``${VAR}`` stays as
written, and a bare ``$VAR`` never expands (so a ``$`` in an argument is safe).

**Approval.** A project's ``.mcp.json`` comes with the checkout and can start programs, so its
servers run only once the user approves that file: at the run's confirmation, for this run,
or for good with "don't ask again", remembered per (path, sha256) in the approvals table the
script approval uses (the path is prefixed with ``mcp:`` so the two kinds never meet). A file
named with ``--mcp-config`` is approved by being named. A changed file has a new sha256 and is
asked about again. This module knows no store: callers pass one (:class:`ApprovalStore`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import JshostError
from ..text import printable

__all__ = [
    "APPROVAL_PREFIX",
    "PROJECT_FILE",
    "ApprovalStore",
    "McpConfigError",
    "McpConfigFile",
    "McpConfigs",
    "McpServerConfig",
    "approval_key",
    "approve",
    "expand_vars",
    "left_out_message",
    "load_config_file",
    "load_config_text",
    "load_mcp_configs",
    "normalize_name",
    "pending_approval",
]

PROJECT_FILE = ".mcp.json"
#: how an approval of a ``.mcp.json`` is keyed in the approvals table (``mcp:<path>``)
APPROVAL_PREFIX = "mcp:"
#: a config file bigger than this is refused (it is a short list of servers)
MAX_CONFIG_BYTES = 1 << 20

ServerType = Literal["stdio", "http", "sse"]
_TYPES = ("stdio", "http", "sse")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]")


class McpConfigError(JshostError):
    """An MCP config file is unreadable or malformed; the message names the file (with
    line:col for a JSON syntax error) and the server at fault."""


class ApprovalStore(Protocol):
    """What approval needs of the run store (``jshost.store.Store`` has these)."""

    def is_approved(self, path: str, sha256: str) -> bool: ...

    def was_approved(self, path: str) -> bool: ...

    def approve(self, path: str, sha256: str, name: str) -> None: ...


@dataclass(frozen=True)
class McpServerConfig:
    """One server, its ``${VAR}`` references expanded."""

    name: str
    type: ServerType = "stdio"
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: where it was defined (a path, or ``--mcp-config`` for the JSON string form)
    origin: str = ""

    @property
    def prefix(self) -> str:
        """The start of its tools' names: ``mcp__<name>__`` (unsafe characters → ``_``)."""
        return f"mcp__{normalize_name(self.name)}__"

    def describe(self) -> str:
        """One line for the confirmation screen: the command line, or the type and URL."""
        if self.type == "stdio":
            shown = " ".join([self.command, *self.args])
            if self.env:
                shown += f"  (env: {', '.join(sorted(self.env))})"
        else:
            shown = f"{self.type} {self.url}"
            if self.headers:
                shown += f"  (headers: {', '.join(sorted(self.headers))})"
        return f"{self.name}: {shown}"

    def where(self) -> str:
        """What an error names: the program, or the URL (never arguments or header values,
        which may hold an expanded secret)."""
        return self.command if self.type == "stdio" else f"{self.type} {self.url}"


@dataclass(frozen=True)
class McpConfigFile:
    """One loaded config: where it came from, its exact bytes' sha256, its servers."""

    #: the resolved file path, or ``--mcp-config`` for the JSON string form
    origin: str
    sha256: str
    servers: tuple[McpServerConfig, ...]
    #: a project ``.mcp.json`` (needs approval), not one named with ``--mcp-config``
    project: bool = False


@dataclass(frozen=True)
class McpConfigs:
    """Every config a run was given, in order: the project file first, then ``--mcp-config``."""

    files: tuple[McpConfigFile, ...] = ()

    def servers(self, *, leave_out: Sequence[McpConfigFile] = ()) -> list[McpServerConfig]:
        """The servers to start, a later file's server replacing an earlier one of the same
        name (a ``--mcp-config`` file overrides the project's); ``leave_out`` are files whose
        servers are not started (unapproved)."""
        skipped = {f.origin for f in leave_out}
        chosen: dict[str, McpServerConfig] = {}
        for file in self.files:
            if file.origin in skipped:
                continue
            for server in file.servers:
                chosen.pop(server.name, None)  # the later definition also takes the later place
                chosen[server.name] = server
        _check_prefixes(list(chosen.values()))
        return list(chosen.values())

    def describe(self, *, leave_out: Sequence[McpConfigFile] = ()) -> list[str]:
        """Lines for the confirmation screen: each file and its servers' command lines."""
        skipped = {f.origin for f in leave_out}
        lines: list[str] = []
        for file in self.files:
            why = "project file" if file.project else "--mcp-config"
            state = ", not approved: left out" if file.origin in skipped else ""
            names = len(file.servers)
            lines.append(f"{file.origin} ({why}, {names} server{'s' * (names != 1)}{state})")
            lines.extend(f"  {server.describe()}" for server in file.servers)
        return [printable(line) for line in lines]


def normalize_name(name: str) -> str:
    """A server or tool name as it appears in an API tool name (Claude Code's rule)."""
    return _UNSAFE_NAME.sub("_", name)


def expand_vars(text: str, environ: Mapping[str, str]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` (default when unset or empty, as in a shell);
    an unset ``${VAR}`` stays as written; ``$VAR`` is left alone."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if default is not None:
            return value if value else default
        return value if value is not None else match.group(0)

    return _VAR.sub(one, text)


def load_config_text(
    text: str | bytes,
    *,
    origin: str,
    project: bool = False,
    environ: Mapping[str, str] | None = None,
) -> McpConfigFile:
    """Parse and check one config's text; ``origin`` names it in errors."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    sha = hashlib.sha256(raw).hexdigest()
    shown = printable(origin)
    try:
        decoded = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise McpConfigError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(decoded)
    except json.JSONDecodeError as exc:
        where = f"{shown}:{exc.lineno}:{exc.colno}"
        raise McpConfigError(f"{where}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise McpConfigError(f"{shown}: not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise McpConfigError(
            f'{shown}: expected an object {{"mcpServers": {{...}}}}, got {_kind(data)}'
        )
    servers = data.get("mcpServers")
    if servers is None:
        raise McpConfigError(f'{shown}: no "mcpServers" object (Claude Code\'s .mcp.json format)')
    if not isinstance(servers, dict):
        raise McpConfigError(f'{shown}: "mcpServers" must be an object, got {_kind(servers)}')
    env = os.environ if environ is None else environ
    parsed = tuple(_server(name, entry, shown, env) for name, entry in servers.items())
    _check_prefixes(list(parsed))
    return McpConfigFile(origin=origin, sha256=sha, servers=parsed, project=project)


def load_config_file(
    path: str | Path, *, project: bool = False, environ: Mapping[str, str] | None = None
) -> McpConfigFile:
    """Read and check one config file."""
    resolved = Path(path).expanduser().resolve()
    shown = printable(str(path))
    try:
        with resolved.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise McpConfigError(f"{shown}: no such MCP config file") from None
    except IsADirectoryError:
        raise McpConfigError(f"{shown}: is a directory, not an MCP config file") from None
    except OSError as exc:
        raise McpConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise McpConfigError(f"{printable(str(resolved))}: larger than {MAX_CONFIG_BYTES} bytes")
    return load_config_text(raw, origin=str(resolved), project=project, environ=environ)


def load_mcp_configs(
    workspace: str | Path,
    mcp_config: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    project: bool = True,
) -> McpConfigs:
    """The project's ``.mcp.json`` (when ``project`` and the workspace has one) and every
    ``--mcp-config`` value: a file path, or a JSON object given inline (starts with ``{``)."""
    files: list[McpConfigFile] = []
    project_file = Path(workspace) / PROJECT_FILE
    if project and project_file.is_file():
        files.append(load_config_file(project_file, project=True, environ=environ))
    for value in mcp_config:
        if value.lstrip().startswith("{"):
            files.append(load_config_text(value, origin="--mcp-config", environ=environ))
        else:
            files.append(load_config_file(value, environ=environ))
    return McpConfigs(tuple(files))


# ---- approval ----------------------------------------------------------------------------


def approval_key(file: McpConfigFile) -> str:
    """The approvals-table path of a config file: never a script's path."""
    return APPROVAL_PREFIX + file.origin


def pending_approval(configs: McpConfigs, store: ApprovalStore | None) -> list[McpConfigFile]:
    """The project files whose servers may not start yet: not approved for good with this
    content (no store: nothing is remembered, so every project file)."""
    pending = []
    for file in configs.files:
        if not file.project or not file.servers:
            continue
        if store is None or not store.is_approved(approval_key(file), file.sha256):
            pending.append(file)
    return pending


def changed_since_approval(file: McpConfigFile, store: ApprovalStore | None) -> bool:
    """Whether this file was approved for good with other content (so the question says so)."""
    return store is not None and store.was_approved(approval_key(file))


def approve(files: Sequence[McpConfigFile], store: ApprovalStore) -> None:
    """Remember "don't ask again" for these files with exactly their current content."""
    for file in files:
        names = ", ".join(s.name for s in file.servers)
        store.approve(approval_key(file), file.sha256, f"MCP servers: {names}")


def left_out_message(file: McpConfigFile, *, changed: bool = False) -> str:
    """The one line said when a project file's servers are not started (``--yes``, no
    terminal): which servers, why, and how to approve them."""
    names = ", ".join(s.name for s in file.servers)
    why = "it changed since it was approved" if changed else "it is not approved"
    return printable(
        f"MCP servers {names} from {file.origin} were left out: {why}. Approve it by running "
        f'without --yes on a terminal and choosing "don\'t ask again", or name it with '
        f"--mcp-config {file.origin}"
    )


# ---- checks ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _server(name: str, entry: Any, origin: str, environ: Mapping[str, str]) -> McpServerConfig:
    where = f"{origin}: server {printable(json.dumps(name))}"
    if not name or not name.strip():
        raise McpConfigError(f"{origin}: a server has an empty name")
    if not isinstance(entry, dict):
        raise McpConfigError(f"{where}: must be an object, got {_kind(entry)}")
    kind = entry.get("type")
    if kind is None:
        if "url" in entry and "command" not in entry:
            raise McpConfigError(f'{where}: has a "url" but no "type": say "http" or "sse"')
        kind = "stdio"
    if kind not in _TYPES:
        raise McpConfigError(
            f'{where}: unknown "type" {printable(json.dumps(kind))}; '
            'expected "stdio", "http" or "sse"'
        )

    def text(key: str, *, required: bool) -> str:
        value = entry.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            got = (
                "empty" if isinstance(value, str) else "missing" if value is None else _kind(value)
            )
            raise McpConfigError(f'{where}: "{key}" must be a non-empty string ({got})')
        return expand_vars(value, environ)

    def mapping(key: str) -> dict[str, str]:
        value = entry.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise McpConfigError(f'{where}: "{key}" must be an object of strings')
        return {k: expand_vars(v, environ) for k, v in value.items()}

    if kind == "stdio":
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise McpConfigError(f'{where}: "args" must be an array of strings')
        command = text("command", required=True)
        env = mapping("env")
        if any("\0" in s for s in (command, *args, *env, *env.values())):
            raise McpConfigError(f"{where}: a NUL character in its command, args or env")
        return McpServerConfig(
            name=name,
            command=command,
            args=tuple(expand_vars(a, environ) for a in args),
            env=env,
            origin=origin,
        )
    url = text("url", required=True)
    if not re.match(r"https?://", url):
        raise McpConfigError(f'{where}: "url" must start with http:// or https://')
    return McpServerConfig(name=name, type=kind, url=url, headers=mapping("headers"), origin=origin)


def _check_prefixes(servers: list[McpServerConfig]) -> None:
    """Two servers whose names normalize alike would share tool names: refuse."""
    seen: dict[str, McpServerConfig] = {}
    for server in servers:
        other = seen.setdefault(normalize_name(server.name), server)
        if other is not server:
            raise McpConfigError(
                f"{printable(server.origin)}: servers {printable(json.dumps(other.name))} and "
                f"{printable(json.dumps(server.name))} give the same tool names "
                f"({server.prefix}…): rename one"
            )
