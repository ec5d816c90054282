"""MCP servers for one run: started once, shared by every agent, stopped at the run's end.

:class:`McpHub` is an async context manager entered inside the run's trio run. Entering it
starts every (approved) server concurrently and lists each one's tools once; a server that
does not start and list its tools within ``start_timeout`` is a :class:`McpStartError` naming
it, with the last lines it wrote to stderr. :meth:`McpHub.tools` offers the listed tools as
:class:`McpTool` (``mcp__<server>__<tool>``); a call goes to the server's ``tools/call`` with
a time limit, and its result comes back as text, capped. Leaving the hub stops every server
(the mcp stdio client closes stdin, then kills the server's process group; the hub then kills
whatever the server left in its group). ``http`` (Streamable HTTP) and ``sse`` servers are
connected to with the config's headers; nothing is started for them.

The mcp ``Client`` owns an anyio task group, which must be entered and left by one task: each
server gets a long-lived task of the hub's nursery that holds its client until the hub closes;
agents' calls are made from their own tasks, which the client allows.
"""

from __future__ import annotations

import contextvars
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import trio

from ..errors import UsageError
from ..text import printable
from .base import Tool, ToolInputError, ToolOutput, ToolSpec, Workspace
from .mcp_config import McpServerConfig, normalize_name
from .reaper import REAPER

__all__ = ["McpHub", "McpStartError", "McpTool"]

#: the Messages API's limit on a tool name (``^[a-zA-Z0-9_-]{1,64}$``)
API_NAME_LIMIT = 64
#: a tool description longer than this is cut (descriptions cost tokens in every turn)
MAX_DESCRIPTION = 2048
#: the last stderr bytes an error quotes
_STDERR_TAIL = 4096
_STDERR_LINES = 8
#: tools/list pages read at most (a server whose cursor never ends cannot hang the start)
_MAX_PAGES = 100


class McpStartError(UsageError):
    """An MCP server did not start, or did not list its tools, in time.

    ``server`` is its name; ``stderr`` the last lines it wrote there (also in the message).
    A usage error: the configuration names a server that cannot run, and nothing ran (the
    command line exits 2, as for any other bad configuration).
    """

    def __init__(self, server: str, message: str, stderr: Sequence[str] = ()) -> None:
        detail = "".join(f"\n  stderr: {line}" for line in stderr)
        super().__init__(message + detail)
        self.server = server
        self.stderr = tuple(stderr)


class McpTool(Tool):
    """One tool of an MCP server, as the model sees it (``mcp__<server>__<tool>``)."""

    kind = "mcp"

    def __init__(self, hub: McpHub, server: str, tool: str, spec: ToolSpec) -> None:
        self.spec = spec  # type: ignore[misc]  # per instance: the server decides it
        self.server = server
        self.tool = tool
        self._hub = hub

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        return await self._hub.call(self.server, self.tool, tool_input)


class _Stderr:
    """A server's stderr: a pipe whose last bytes are kept (a chatty server fills nothing).

    ``file`` is the write end the server gets; the hub closes its copy once the server runs.
    """

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.set_blocking(self._read, False)
        self.file: IO[str] = os.fdopen(write, "w")
        self._tail = b""
        self._cut = False

    def _pump(self) -> bool:
        """Take what is in the pipe now; False at its end (or once closed)."""
        while self._read >= 0:
            try:
                chunk = os.read(self._read, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._tail += chunk
            if len(self._tail) > _STDERR_TAIL:
                self._tail, self._cut = self._tail[-_STDERR_TAIL:], True
        return False

    async def drain(self) -> None:
        """Keep the pipe empty until its end (run in the server's task: cancelled with it)."""
        while self._pump():
            await trio.lowlevel.wait_readable(self._read)

    def tail(self) -> list[str]:
        """The last lines, made safe to show."""
        self._pump()
        lines = [ln.rstrip() for ln in self._tail.decode("utf-8", "replace").splitlines()]
        if self._cut and lines:
            lines = lines[1:]  # the first line may be cut
        return [printable(ln) for ln in lines if ln.strip()][-_STDERR_LINES:]

    def close_writer(self) -> None:
        self.file.close()

    def close(self) -> None:
        self.close_writer()
        if self._read >= 0:
            self._pump()
            os.close(self._read)
            self._read = -1


@dataclass
class _Server:
    """A server's state while the hub is open."""

    config: McpServerConfig
    stderr: _Stderr = field(default_factory=_Stderr)
    client: Any = None
    tools: list[McpTool] = field(default_factory=list)
    #: why it stopped answering, once it has
    failure: str | None = None
    #: the pid of the process the client started, which is also its process group's id
    spawned: list[int] = field(default_factory=list)

    def stderr_tail(self) -> list[str]:
        """Its last stderr lines, made safe to show."""
        return self.stderr.tail()


class McpHub:
    """The run's MCP servers. ``async with McpHub(servers, cwd=workspace) as hub:``.

    Args:
        servers: the approved servers (``McpConfigs.servers()``).
        cwd: each stdio server's working directory (the workspace root).
        start_timeout: seconds for a server to start and list its tools.
        call_timeout: seconds for one ``tools/call``.
        max_bytes, max_lines: the cap on a call's output text.
    """

    def __init__(
        self,
        servers: Sequence[McpServerConfig],
        *,
        cwd: str | Path,
        start_timeout: float = 30.0,
        call_timeout: float = 120.0,
        max_bytes: int = 100_000,
        max_lines: int = 2_000,
    ) -> None:
        self._configs = list(servers)
        names = [c.name for c in self._configs]
        if len(set(names)) != len(names):
            raise ValueError(f"MCP server names repeat: {names} (McpConfigs.servers() merges)")
        self._cwd = Path(cwd)
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        #: why some tools were not offered (a name too long, an unusable schema), one line each
        self.notes: list[str] = []
        self._servers: dict[str, _Server] = {}
        self._stack: AsyncExitStack | None = None
        self._nursery: trio.Nursery | None = None
        self._closing = trio.Event()

    @property
    def configs(self) -> list[McpServerConfig]:
        """The servers this hub starts (a worker that starts them itself reads them here)."""
        return list(self._configs)

    # ---- lifetime ----------------------------------------------------------------------

    async def __aenter__(self) -> McpHub:
        if self._stack is not None:
            raise RuntimeError("an McpHub is entered once")
        stack = self._stack = AsyncExitStack()
        self._nursery = await stack.enter_async_context(trio.open_nursery())
        try:
            failures: list[McpStartError] = []
            async with trio.open_nursery() as starters:
                for config in self._configs:
                    starters.start_soon(self._start, config, failures)
            if failures:
                # the first in config order: the one the user reads about first
                order = [c.name for c in self._configs]
                failures.sort(key=lambda e: order.index(e.server))
                raise failures[0]
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    async def _close(self) -> None:
        self._closing.set()
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                await stack.aclose()
        finally:
            for server in self._servers.values():
                server.stderr.close()

    async def _start(self, config: McpServerConfig, failures: list[McpStartError]) -> None:
        server = self._servers[config.name] = _Server(config)
        name = printable(config.name)
        assert self._nursery is not None
        try:
            with trio.fail_after(self.start_timeout):
                await self._nursery.start(self._serve, server)
        except trio.TooSlowError:
            failures.append(
                McpStartError(
                    config.name,
                    f"MCP server {name} did not start and list its tools within "
                    f"{self.start_timeout:g} s ({_where(config)})",
                    server.stderr_tail(),
                )
            )
        except McpStartError as exc:
            failures.append(exc)

    async def _serve(self, server: _Server, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Hold one server's client from start to the hub's close, in this one task."""
        config = server.config
        started = False
        failure: Exception | None = None
        _SPAWNED.set(server.spawned)  # this task's own context: it starts one server
        try:
            async with trio.open_nursery() as guard:
                guard.start_soon(_reap, server.spawned)
                guard.start_soon(server.stderr.drain)
                try:
                    async with _client(config, self._cwd, server.stderr.file) as client:
                        server.stderr.close_writer()  # the server has its own copy now
                        server.client = client
                        listed = await _list_tools(client)
                        server.tools = self._offer(config, listed)
                        started = True
                        task_status.started()
                        await self._closing.wait()
                except Exception as exc:  # every failure of a server is reported, by name
                    failure = exc
                finally:
                    server.client = None
                    server.stderr.close_writer()
                    guard.cancel_scope.cancel()  # the reaper kills what the server left behind
        finally:
            for pid in server.spawned:  # waited for by the client, or killed by _reap
                REAPER.forget(pid)
        if failure is None:
            return
        why = _reason(failure)
        if started:
            server.failure = why
            return
        tail = server.stderr_tail()
        if tail and why.startswith("the connection closed"):
            # it went away: its last words say why better than the closed pipe does
            why = f"it stopped before listing its tools: {tail[-1]}"
        raise McpStartError(
            config.name,
            f"MCP server {printable(config.name)} failed to start: {why} ({_where(config, why)})",
            tail,
        )

    def _offer(self, config: McpServerConfig, listed: list[Any]) -> list[McpTool]:
        tools: list[McpTool] = []
        names: set[str] = set()
        for item in listed:
            name = f"mcp__{normalize_name(config.name)}__{normalize_name(item.name)}"
            shown = printable(f"{config.name}/{item.name}")
            schema = item.input_schema
            if len(name) > API_NAME_LIMIT:
                self.notes.append(
                    f"MCP tool {shown} left out: its name {printable(name)} is longer than "
                    f"{API_NAME_LIMIT} characters"
                )
                continue
            if not isinstance(schema, dict) or schema.get("type") != "object":
                self.notes.append(
                    f'MCP tool {shown} left out: its input schema is not {{"type": "object"}}'
                )
                continue
            if name in names:
                self.notes.append(f"MCP tool {shown} left out: another tool is also named {name}")
                continue
            names.add(name)
            description = item.description or item.title or f"{item.name} ({config.name})"
            if len(description) > MAX_DESCRIPTION:
                description = description[: MAX_DESCRIPTION - 1] + "…"
            spec = ToolSpec(name=name, description=description, input_schema=schema)
            tools.append(McpTool(self, config.name, item.name, spec))
        return tools

    # ---- use ---------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        """Every server's usable tools, servers in config order."""
        return [t for c in self._configs for t in self._servers[c.name].tools]

    @property
    def servers(self) -> list[str]:
        """The names of the servers this hub started."""
        return [c.name for c in self._configs]

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> ToolOutput:
        """Call ``tool`` on ``server``; the result as text (capped), ``is_error`` carried over.

        A failure of the server or a timeout is an error output, never an exception
        (cancellation excepted: it propagates, and the client stays usable).
        """
        if not isinstance(arguments, dict):
            raise ToolInputError("the input must be an object")
        state = self._servers.get(server)
        label = printable(f"{server}/{tool}")
        if state is None:
            raise ToolInputError(f"no MCP server named {printable(server)} in this run")
        client = state.client
        if client is None or state.failure is not None:
            why = state.failure or "it is not running"
            return _error(f"MCP server {printable(server)} stopped: {why}", label, state)
        with trio.move_on_after(self.call_timeout) as scope:
            try:
                result = await client.call_tool(tool, arguments)
            except Exception as exc:  # the model gets the reason; the run goes on
                return _error(f"MCP tool {label} failed: {_reason(exc)}", label, state)
        if scope.cancelled_caught:
            return ToolOutput(
                f"MCP tool {label} timed out after {self.call_timeout:g} s",
                is_error=True,
                summary=f"{label}: timed out",
            )
        text, truncated = _cap(_result_text(result), self.max_bytes, self.max_lines)
        is_error = bool(getattr(result, "is_error", False))
        lines = text.count("\n") + (not text.endswith("\n"))
        summary = f"{label}: {'error' if is_error else f'{lines} line' + 's' * (lines != 1)}"
        return ToolOutput(text, is_error=is_error, summary=summary, truncated=truncated)


#: where the stdio client's spawn reports the server's pid, in the task that starts it
_SPAWNED: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "jshost_mcp_spawned", default=None
)


def _record_spawns() -> None:
    """Wrap the mcp stdio client's spawn to learn the server's pid (it keeps it private).

    The client stops the server itself, killing its process tree only when the server
    outlives the closing of its stdin; a server that exits at once can leave children
    behind (a wrapper's helper, a worker pool). With the pid, the hub kills what is left
    of the server's process group after the client is done.
    """
    from mcp.client import stdio

    spawn = getattr(stdio, "_create_platform_compatible_process", None)
    if spawn is None or getattr(spawn, "_jshost_records", False):
        return  # another mcp version: the client's own shutdown is all there is

    async def recording(*args: Any, **kwargs: Any) -> Any:
        # jshost's own until the client has waited for it: no orphan sweep may take it
        with REAPER.spawning() as record:
            process = await spawn(*args, **kwargs)
            record(process.pid)
        sink = _SPAWNED.get()
        if sink is not None:
            sink.append(process.pid)
        return process

    recording._jshost_records = True  # type: ignore[attr-defined]
    stdio._create_platform_compatible_process = recording  # type: ignore[attr-defined]


async def _reap(spawned: list[int]) -> None:
    """Wait; once cancelled, kill the server's process group at once.

    Cancelled with its server task — the run is stopped, the start timed out — it kills
    before the client's shutdown would give a busy server seconds of grace; cancelled by that
    task after a normal shutdown, it kills whatever the server left in its group.
    """
    try:
        await trio.sleep_forever()
    finally:
        for pid in spawned:
            _kill_group(pid)


def _kill_group(pgid: int | None) -> None:
    """Kill what is left of a stopped server's process group (nothing, usually)."""
    if pgid is None or sys.platform == "win32":
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _client(config: McpServerConfig, cwd: Path, errlog: IO[str]) -> Any:
    """The mcp ``Client`` for one server (entered by the caller)."""
    from mcp import Client

    if config.type == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        _record_spawns()

        params = StdioServerParameters(
            command=config.command, args=list(config.args), env=dict(config.env), cwd=cwd
        )
        return Client(stdio_client(params, errlog=errlog))
    return Client(_url_transport(config))


@asynccontextmanager
async def _url_transport(config: McpServerConfig) -> AsyncIterator[Any]:
    """An http (Streamable HTTP) or sse server's streams, sending the config's headers."""
    if config.type == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(config.url, headers=dict(config.headers)) as streams:
            yield streams
        return
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # the mcp client's own defaults: a response stream may stay open for minutes
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with (
        httpx2.AsyncClient(headers=dict(config.headers), timeout=timeout) as http,
        streamable_http_client(config.url, http_client=http) as streams,
    ):
        yield streams


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _reason(exc: BaseException) -> str:
    """The message of the innermost cause, one line (exception groups unwrapped)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename}" if exc.filename else "command not found"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}" if exc.filename else "permission denied"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    if not first or name in ("ClosedResourceError", "BrokenResourceError", "EndOfStream"):
        return f"the connection closed ({name})" if not first else f"the connection closed: {first}"
    if name == "MCPError" and first == "Connection closed":
        return "the connection closed (did the server exit?)"
    return printable(first if name == "MCPError" else f"{name}: {first}")


def _where(config: McpServerConfig, why: str = "") -> str:
    """The program (or URL) and the file that defines the server, for an error (the program
    only when ``why`` does not name it already)."""
    parts = [] if config.where() in why else [config.where()]
    if config.origin and config.origin != "--mcp-config":
        parts.append(f"from {config.origin}")
    return printable(", ".join(parts) or config.where())


def _error(message: str, label: str, state: _Server) -> ToolOutput:
    tail = state.stderr_tail()
    text = message + "".join(f"\nstderr: {line}" for line in tail)
    return ToolOutput(text, is_error=True, summary=f"{label}: failed")


def _result_text(result: Any) -> str:
    """A ``CallToolResult`` as text: text blocks joined; other blocks a short note each;
    ``structured_content`` as JSON when there is no text."""
    parts: list[str] = []
    has_text = False
    for block in getattr(result, "content", None) or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
            has_text = True
        elif kind in ("image", "audio"):
            data = getattr(block, "data", "") or ""
            size = len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))  # base64's length
            parts.append(f"[{kind} ({block.mime_type}, {size} bytes): not shown]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if text is not None:
                parts.append(text)
                has_text = True
            else:
                parts.append(f"[resource {resource.uri} ({resource.mime_type}): binary, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource link: {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content: not shown]")
    structured = getattr(result, "structured_content", None)
    if structured is not None and not has_text:
        parts.append(json.dumps(structured, ensure_ascii=False, indent=1))
    text = "\n".join(parts)
    return text if text else "(no output)"


def _cap(text: str, max_bytes: int, max_lines: int) -> tuple[str, bool]:
    """``text`` cut to ``max_lines`` lines and ``max_bytes`` UTF-8 bytes, with a note."""
    lines = text.splitlines(keepends=True)
    cut = lines[:max_lines]
    kept = "".join(cut)
    raw = kept.encode("utf-8")
    if len(raw) > max_bytes:
        kept = raw[:max_bytes].decode("utf-8", "ignore")
        if "\n" in kept:  # whole lines only, when there are some
            kept = kept[: kept.rindex("\n") + 1]
    if kept == text:
        return text, False
    total = len(text.encode("utf-8"))
    note = (
        f"\n[output cut: {len(lines)} lines, {total} bytes in all; showing the first "
        f"{kept.count(chr(10))} lines, {len(kept.encode('utf-8'))} bytes. Ask for less, "
        "e.g. a narrower pattern]"
    )
    if not kept.endswith("\n"):
        note = "\n" + note.lstrip("\n")
    return kept + note, True
