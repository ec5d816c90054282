"""A small real stdio MCP server for the tests (run as a program: ``python mcp_log_server.py``).

It serves tools over a log file named by the ``LOG_FILE`` environment variable:
``grep_log(pattern)`` (matching lines), ``slow(seconds)`` (sleeps), ``block(seconds)``
(blocks the whole server), ``fail(message)`` (raises), ``flood(lines)`` (a huge output),
``picture()`` (an image block), ``where()`` (its cwd, pid and a few environment variables),
``spawn()`` (starts a long-lived helper process, returns its pid), ``crash()`` (exits).
``slow``, ``block`` and the hang mode write the server's pid to ``SLOW_PID_FILE`` when set.
``MCP_TEST_MODE=exit`` makes it write to stderr and exit at once; ``chatty`` writes 2 MB to
stderr first; ``MCP_TEST_MODE=hang`` makes
it never answer the handshake. ``MCP_TEST_TRANSPORT=http`` or ``sse`` serves on
127.0.0.1:``MCP_TEST_PORT`` instead (``/mcp``, ``/sse``), where ``token()`` returns the
request's ``X-Token`` header.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

MODE = os.environ.get("MCP_TEST_MODE", "")
if MODE == "exit":
    print("log server: cannot open the log: permission denied", file=sys.stderr, flush=True)
    sys.exit(3)
if MODE == "chatty":  # a server that logs a lot to stderr before it serves
    for i in range(20_000):
        print(f"log server: noise line {i} " + "." * 80, file=sys.stderr)
    sys.stderr.flush()
if MODE == "hang":
    print("log server: waiting forever", file=sys.stderr, flush=True)
    if os.environ.get("SLOW_PID_FILE"):
        with open(os.environ["SLOW_PID_FILE"], "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    while True:
        time.sleep(1)

import anyio  # noqa: E402 - the modes above must not wait for these imports
from mcp.server.mcpserver import Context, Image, MCPServer  # noqa: E402

app = MCPServer("logs")


@app.tool(description="Lines of the log that match a regular expression.")
def grep_log(pattern: str) -> str:
    with open(os.environ["LOG_FILE"], encoding="utf-8") as f:
        return "".join(line for line in f if re.search(pattern, line))


@app.tool(description="Sleep for a while.")
async def slow(seconds: float) -> str:
    pid_file = os.environ.get("SLOW_PID_FILE")
    if pid_file:
        with open(pid_file, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@app.tool(description="Block the server (its event loop too) for a while.")
def block(seconds: float) -> str:
    pid_file = os.environ.get("SLOW_PID_FILE")
    if pid_file:
        with open(pid_file, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return f"blocked {seconds}"


@app.tool(description="Always fails.")
def fail(message: str) -> str:
    raise RuntimeError(message)


@app.tool(description="A huge output.")
def flood(lines: int) -> str:
    return "".join(f"line {i} " + "x" * 60 + "\n" for i in range(lines))


@app.tool(description="An image.")
def picture() -> Image:
    return Image(data=b"\x89PNG\r\n\x1a\n" + b"\0" * 32, format="png")


@app.tool(description="Where the server runs.", structured_output=False)
def where() -> str:
    keys = ("LOG_FILE", "EXTRA", "SECRET_FROM_PARENT", "HOME")
    env = {k: os.environ.get(k) for k in keys}
    return json.dumps({"cwd": os.getcwd(), "pid": os.getpid(), "env": env})


@app.tool(description="Start a helper process that outlives this server unless killed.")
def spawn() -> int:
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return helper.pid


@app.tool(description="Exit at once, as a crashing server would.")
def crash() -> str:
    print("log server: crashed on purpose", file=sys.stderr, flush=True)
    os._exit(1)


@app.tool(description="The X-Token header of the HTTP request (over http or sse).")
def token(ctx: Context) -> str:
    request = ctx.request_context.request
    return request.headers.get("x-token", "(none)") if request is not None else "(no request)"


if __name__ == "__main__":
    transport = os.environ.get("MCP_TEST_TRANSPORT", "stdio")
    if transport == "stdio":
        app.run("stdio")
    else:  # http or sse on 127.0.0.1:MCP_TEST_PORT
        port = int(os.environ["MCP_TEST_PORT"])
        app.settings.log_level = "WARNING"
        if transport == "sse":
            app.run("sse", host="127.0.0.1", port=port)
        else:
            app.run("streamable-http", host="127.0.0.1", port=port)
