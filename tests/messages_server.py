"""A Messages API server on 127.0.0.1 for tests: scripted replies, recorded requests.

The anthropic worker is tested against real HTTP, so that the SDK's retry, timeout, streaming
and connection code runs as it does against the real API. This server speaks enough of the
Messages API for that: ``POST /v1/messages`` (JSON, or server-sent events when the request
asks for ``stream``) and ``GET /v1/models/{id}``.

A test scripts replies in order with :meth:`MessagesServer.enqueue`, or answers every request
with a ``responder(request_body) -> Reply`` function. A reply may call several tools at once
(``Reply(calls=[("Read", {...}), ("Grep", {...})])``), as a model playing an agent with tools
does; :func:`tool_results` reads the ``tool_result`` blocks the next request sends back. The
server records every request, counts the requests in flight (and the peak), and notices when
a client hangs up on a reply it is holding back, so tests can check that cancellation really
aborts the HTTP request.

With ``prompt_cache=True`` it reports prompt-cache usage as the API does: the part of a request
up to its last ``cache_control`` breakpoint (tools, then system, then messages) is the prefix;
the first request with a prefix pays ``cache_creation_input_tokens`` for it, and the prefix is
cached from the moment that response starts (``message_start``), after which requests with the
same prefix (and model) pay ``cache_read_input_tokens`` instead. A request that arrives while
the first is still before its ``message_start`` writes the prefix again, as with the real API.
Tokens are counted as one per four characters of the JSON of each part; the minimum cacheable
length of real models is not modelled.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MessagesServer", "Recorded", "Reply", "text_of_last_user_turn", "tool_results"]

_NO_TOOL: Any = object()
_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted answer to a ``POST /v1/messages``.

    Args:
        text: the assistant's text (default: ``echo: <last user text>``).
        tool_input: answer with a ``tool_use`` block for the request's first tool, with this input.
        tool_name: name the tool in that block this instead.
        calls: answer with one ``tool_use`` block per ``(tool name, input)``, in order, after
            ``text`` when it is given too (the model's words before its calls).
        status: HTTP status; anything but 200 sends an API error body of ``error_type``.
        error_type: the API error type for a non-200 status (``rate_limit_error``, …).
        error_message: its message (default ``scripted <status>``).
        headers: extra response headers (``retry-after``, …).
        raw: send these bytes as the whole body (with ``raw_type`` as its content type).
        delay: seconds to wait before answering.
        gather: before answering, wait (up to 5 s) until this many requests are in flight.
        hang: never answer; wait until the client hangs up.
        reset: never answer; reset the connection (TCP RST) as soon as the request is read.
        hang_after: in a stream, send this many events, then hang.
        gap: seconds between stream events.
        stream_error: in a stream, send an ``error`` event of this type after ``message_start``.
        cut_after: in a stream, send this many events, then end the response early.
        drop_after: in a stream, send this many events, then drop the connection.
        usage: input, output, cache creation and cache read tokens.
        stop_reason: default ``tool_use`` for a tool answer, else ``end_turn``.
        model: the model id the reply names (default: the requested one).
    """

    text: str | None = None
    tool_input: Any = _NO_TOOL
    tool_name: str | None = None
    calls: list[tuple[str, Any]] | None = None
    status: int = 200
    error_type: str = "api_error"
    error_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    raw_type: str = "application/json"
    delay: float = 0.0
    gather: int | None = None
    hang: bool = False
    reset: bool = False
    hang_after: int | None = None
    gap: float = 0.0
    stream_error: str | None = None
    cut_after: int | None = None
    drop_after: int | None = None
    usage: tuple[int, int, int, int] = (10, 5, 0, 0)
    stop_reason: str | None = None
    model: str | None = None


@dataclass
class Recorded:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def text_of_last_user_turn(body: dict[str, Any]) -> str:
    """The text of the last user message (a string or its text and tool_result blocks)."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if block.get("type") == "text":
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, str):
                parts.append(inner)
            elif isinstance(inner, list):
                parts.extend(b.get("text", "") for b in inner)
    return "\n".join(parts)


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tool_result`` blocks of a request's last user message, in order."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return []
    return [b for b in content if b.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    """A ``tool_result`` block's content as text."""
    inner = block.get("content")
    if isinstance(inner, list):
        return "\n".join(b.get("text", "") for b in inner)
    return str(inner or "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A burst of 16+ connections overflows the default backlog of 5 (1 s SYN retries).
    request_queue_size = 256
    owner: MessagesServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (cancelled requests, resets the tests inject) are expected here;
        # anything else still gets socketserver's report.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # http.server writes headers and body separately: without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", f"req_{next(_ids)}")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _wait_for_hangup(self) -> None:
        """Block until the client closes the connection (or the server stops)."""
        owner = self.server.owner
        sock = self.request
        while not owner.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.02)
            if not readable:
                continue
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                data = b""
            if not data:
                owner.note_hangup()
                return
            time.sleep(0.02)  # the client sent something (it should not): keep waiting

    # -- endpoints ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(Recorded("GET", self.path, dict(self.headers.items()), None))
        prefix = "/v1/models/"
        model = self.path[len(prefix) :] if self.path.startswith(prefix) else None
        info = owner.models.get(model) if model else None
        if info is None:
            body = {"type": "error", "error": {"type": "not_found_error", "message": "no model"}}
            self._send(404, json.dumps(body).encode(), "application/json", {})
            return
        self._send(200, json.dumps(info).encode(), "application/json", {})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        owner.record(Recorded("POST", self.path, dict(self.headers.items()), body))
        # Claude Code asks for /v1/messages?beta=true: the query string names no other endpoint.
        if self.path.split("?", 1)[0] != "/v1/messages":
            self.send_error(404)
            return
        reply = owner.next_reply(body)
        cache_key = None
        if owner.prompt_cache:
            # Looked up on arrival: what is cached when the request is read is what it meets.
            cache_key, prefix, rest = cache_parts(body)
            with owner._lock:
                hit = cache_key is not None and cache_key in owner.cached
            reply.usage = (
                rest,
                reply.usage[1],
                0 if hit else prefix,
                prefix if hit else 0,
            )
        owner.enter()
        left = False

        def leave() -> None:
            nonlocal left
            if not left:
                left = True
                owner.leave()

        try:
            if reply.gather:
                owner.wait_in_flight(reply.gather, timeout=5)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.hang:
                self._wait_for_hangup()
                return
            if reply.reset:
                leave()
                # Linger 0: close() sends RST instead of FIN, as a crashed proxy would.
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.request.close()
                self.close_connection = True
                return
            if reply.status != 200:
                leave()
                text = reply.error_message or f"scripted {reply.status}"
                error = {"type": reply.error_type, "message": text}
                payload = json.dumps({"type": "error", "error": error}).encode()
                self._send(reply.status, payload, "application/json", reply.headers)
                return
            if reply.raw is not None:
                leave()
                self._send(200, reply.raw, reply.raw_type, reply.headers)
                return
            message = _message(body, reply)
            if cache_key is not None:
                with owner._lock:
                    owner.cached.add(cache_key)  # the response starts now: the prefix is cached
            if not body.get("stream"):
                leave()
                self._send(200, json.dumps(message).encode(), "application/json", reply.headers)
                return
            self._stream(message, reply, leave)
        except (BrokenPipeError, ConnectionResetError):
            owner.note_hangup()
        finally:
            leave()

    def _stream(self, message: dict[str, Any], reply: Reply, leave: Callable[[], None]) -> None:
        events = _events(message, reply)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_{next(_ids)}")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        for i, (name, data) in enumerate(events):
            if reply.hang_after is not None and i == reply.hang_after:
                self._wait_for_hangup()
                return
            if reply.drop_after is not None and i == reply.drop_after:
                leave()
                self.request.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if reply.cut_after is not None and i == reply.cut_after:
                leave()
                self._chunk(b"")  # a clean end of the body, before message_stop
                return
            if i == len(events) - 1:
                leave()  # before the last bytes: the client cannot be done before we count it
            if reply.gap and i:
                time.sleep(reply.gap)
            chunk = f"event: {name}\ndata: {data}\n\n".encode()
            self._chunk(chunk)
        self._chunk(b"")


def _message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    if reply.calls is not None:
        content = [{"type": "text", "text": reply.text}] if reply.text else []
        content += [
            {"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": data}
            for name, data in reply.calls
        ]
        stop = reply.stop_reason or ("tool_use" if reply.calls else "end_turn")
    elif reply.tool_input is not _NO_TOOL:
        tool = reply.tool_name or body["tools"][0]["name"]
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": f"toolu_{next(_ids):04d}",
                "name": tool,
                "input": reply.tool_input,
            }
        ]
        stop = reply.stop_reason or "tool_use"
    else:
        text = reply.text if reply.text is not None else "echo: " + text_of_last_user_turn(body)
        content = [{"type": "text", "text": text}]
        stop = reply.stop_reason or "end_turn"
    n_in, n_out, n_create, n_read = reply.usage
    return {
        "id": f"msg_{next(_ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or body.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": n_in,
            "output_tokens": n_out,
            "cache_creation_input_tokens": n_create,
            "cache_read_input_tokens": n_read,
        },
    }


def _events(message: dict[str, Any], reply: Reply) -> list[tuple[str, str]]:
    """The server-sent events of ``message``, as the API streams them."""
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    out: list[tuple[str, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    if reply.stream_error:
        error = {"type": reply.stream_error, "message": "scripted stream error"}
        out.append(("error", {"type": "error", "error": error}))
    for i, block in enumerate(message["content"]):
        if block["type"] == "text":
            first = dict(block, text="")
            text = block["text"]
            half = len(text) // 2
            deltas = [{"type": "text_delta", "text": part} for part in (text[:half], text[half:])]
        else:
            first = dict(block, input={})
            raw = json.dumps(block["input"])
            half = len(raw) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": part}
                for part in (raw[:half], raw[half:])
            ]
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": first},
            )
        )
        for delta in deltas:
            out.append(
                ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta})
            )
        out.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    usage = {k: v for k, v in message["usage"].items()}
    out.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": usage,
            },
        )
    )
    out.append(("message_stop", {"type": "message_stop"}))
    return [(name, json.dumps(data)) for name, data in out]


def _tokens(value: Any) -> int:
    return math.ceil(len(json.dumps(value, sort_keys=True)) / 4)


def cache_parts(body: dict[str, Any]) -> tuple[str | None, int, int]:
    """(key of the cached prefix or None, prefix tokens, tokens after it) of a request."""
    parts: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        parts.append({"type": "text", "text": system})
    elif isinstance(system, list):
        parts.extend(system)
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            parts.extend(content)
        else:
            parts.append({"type": "text", "text": content})
    last = max(
        (i for i, p in enumerate(parts) if isinstance(p, dict) and p.get("cache_control")),
        default=-1,
    )
    prefix, rest = parts[: last + 1], parts[last + 1 :]
    if not prefix:
        return None, 0, _tokens(rest)
    text = json.dumps([body.get("model"), prefix], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest(), _tokens(prefix), _tokens(rest)


class MessagesServer:
    """A threaded Messages API server on 127.0.0.1; use as a context manager.

    Args:
        responder: answers requests when no scripted reply is queued (default: echo text, or
            for a request with tools, a tool call with input ``{}``); called one at a time.
        prompt_cache: report input usage from the request, with prompt-cache writes and reads
            (see the module's docstring); the reply's output tokens are kept.
    """

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] | None = None,
        *,
        prompt_cache: bool = False,
    ) -> None:
        self.prompt_cache = prompt_cache
        self.cached: set[str] = set()
        self.responder = responder or _default_responder
        self.requests: list[Recorded] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.in_flight = 0
        self.peak = 0
        self.hangups = 0
        self.stopping = threading.Event()
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        # A short poll interval: shutdown() waits for the poll, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> MessagesServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self, body: Any) -> Reply:
        # The responder runs under the lock: one call at a time, so it may keep counters.
        with self._lock:
            if self._replies:
                return self._replies.popleft()
            return self.responder(body)

    # -- bookkeeping -------------------------------------------------------------------------

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._idle.notify_all()

    def note_hangup(self) -> None:
        with self._lock:
            self.hangups += 1

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight; True if that happened within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_flight == 0, timeout)

    def wait_in_flight(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``n`` requests are in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.in_flight >= n:
                    return True
            time.sleep(0.005)
        return False

    @property
    def posts(self) -> list[Any]:
        """Bodies of the ``POST /v1/messages`` requests, in arrival order."""
        with self._lock:
            return [r.body for r in self.requests if r.method == "POST"]


def _default_responder(body: dict[str, Any]) -> Reply:
    # Only a schema agent must call a tool to finish; an agent with tools may just answer.
    names = [t.get("name") for t in body.get("tools") or []]
    if "StructuredOutput" in names:
        return Reply(tool_input={}, tool_name="StructuredOutput")
    if names and names[0] not in _AGENT_TOOLS:
        return Reply(tool_input={})
    return Reply()


# The built-in tools of an agent: the default answer to a request that offers them is text.
_AGENT_TOOLS = {"Read", "Grep", "Glob", "Bash", "Edit", "Write"}
