"""A chat-completions server on 127.0.0.1 for tests of the example openai-compat plugin.

It speaks ``POST /v1/chat/completions`` (no streaming) and answers with a ``responder(body) ->
Reply`` function. Requests are recorded; a reply can hang until the client hangs up, and the
server notes hang-ups, so tests can check cancellation really closes the HTTP request.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatServer", "Reply", "last_user_text"]


@dataclass
class Reply:
    """One answer: ``content`` with ``usage`` (prompt, completion, cached), or an error status."""

    content: str = ""
    usage: tuple[int, int, int] = (10, 5, 0)
    status: int = 200
    error: str = "scripted error"
    hang: bool = False
    delay: float = 0.0


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the request's last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return users[-1]["content"] if users else ""


def _default(body: dict[str, Any]) -> Reply:
    return Reply(content=f"echo: {last_user_text(body)}")


@dataclass
class _State:
    responder: Callable[[dict[str, Any]], Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    hangups: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _wait_for_hangup(self, limit: float) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            ready, _, _ = select.select([self.connection], [], [], 0.02)
            if not ready:
                continue
            try:
                data = self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                data = b""
            if not data:
                return True
            time.sleep(0.02)
        return False

    def do_POST(self) -> None:
        state: _State = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        with state.lock:
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            state.in_flight += 1
            state.peak = max(state.peak, state.in_flight)
        try:
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = state.responder(body)
            if reply.hang:
                if self._wait_for_hangup(30):
                    with state.lock:
                        state.hangups += 1
                self.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._send(reply.status, {"error": {"message": reply.error}})
                return
            prompt, completion, cached = reply.usage
            self._send(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                        "prompt_tokens_details": {"cached_tokens": cached},
                    },
                },
            )
        finally:
            with state.lock:
                state.in_flight -= 1


class ChatServer:
    """``with ChatServer(responder) as server:`` serves on ``server.url`` (…/v1)."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.state = _State(responder or _default)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.state = self.state  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    def wait_hangups(self, n: int, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.state.lock:
                if self.state.hangups >= n:
                    return True
            time.sleep(0.01)
        return False

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
