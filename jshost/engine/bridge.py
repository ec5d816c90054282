"""The outbox wire format: each event the sandbox sends checked, each batch of replies encoded.

A malformed event is the script forging one (``_BridgeError``); a call the host refuses rejects
the script's promise (``_Refused``); a JS error that ends the run becomes a ``WorkflowError`` at
the user's line. A mixin of :class:`~jshost.engine.run.Engine`, which owns the state.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import trio

from .. import events as ev
from ..bounds import MAX_TITLE_CHARS, text_problem
from ..errors import WorkflowError
from ..sandbox import CHILD_LINE_BASE, JsThread, Sandbox, parse_frames
from ..script import CHILD_PREFIX, PREFIX
from .timers import timer_delay

# What the host keeps of one log or failure line: a script may log strings as large as its
# heap, and the host must not hold a thousand of them.
MAX_LINE_CHARS = 64 * 1024


#: built once, not per batch as ``json.dumps`` with arguments would
_BATCH = json.JSONEncoder(ensure_ascii=True, allow_nan=False, default=str)


class _BatchEncoder:
    """``_BATCH.encode`` through one C encoder kept between batches (issue 22: ``encode``
    builds one, with its cycle markers and a float closure, at every call: ~40 % of a small
    batch's cost). Same text, same errors: the markers catch a cycle as before; a failed call
    may leave markers behind, so the encoder is built afresh after one. One per engine: the
    markers must not be shared by runs on other threads."""

    def __init__(self) -> None:
        self._encode: Any = None

    def __call__(self, value: Any) -> str:
        encode = self._encode
        if encode is None:
            make = json.encoder.c_make_encoder
            if make is None:  # pragma: no cover - CPython has it
                return _BATCH.encode(value)
            encode = self._encode = make(
                {}, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False,
                False,
            )  # fmt: skip
        try:
            return "".join(encode(value, 0))
        except BaseException:
            self._encode = None
            raise


def _clip(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    return f"{text[:MAX_LINE_CHARS]}… ({len(text) - MAX_LINE_CHARS:,} more characters)"


def _title(text: str) -> str:
    """A phase or group title as the host keeps it: at most a set length."""
    return text if len(text) <= MAX_TITLE_CHARS else f"{text[:MAX_TITLE_CHARS]}…"


def _payload_error(name: str, message: str) -> dict[str, str]:
    return {"name": name, "message": message}


class _Refused(Exception):
    """A call the host refuses; the script's promise rejects with ``name: message``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _refuse_text(text: str, what: str, limit: int) -> None:
    problem = text_problem(text, what, limit)
    if problem is not None:
        raise _Refused(*problem)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise _Refused("TypeError", f"{what} contains control characters")


class _BridgeError(Exception):
    """An event from the sandbox that the prelude never emits: the script forged it."""


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise _BridgeError(what)


def _thrown_by_script(stack: str) -> bool:
    """Whether the error's first frame is script code, not a native function (Object.keys)."""
    first = stack.lstrip().split("\n", 1)[0]
    return "<input>:" in first


class Bridge:
    """The engine's side of the outbox: events in, one JSON batch of replies and timers out."""

    def _take_batch(self) -> str:
        replies = []
        while self._replies:
            replies.append(list(self._replies.popleft()))
        self._outstanding -= len(replies)
        fired = self._timers.fire(trio.current_time()) if self._timers else []
        batch = {"spent": self._spent, "count": len(self.agents), "r": replies, "f": fired}
        return self._encode_batch(batch)

    def _reply(self, request_id: int, ok: bool, payload: Any, *, wake: bool = True) -> None:
        self._replies.append((request_id, ok, payload))
        if wake:  # an agent's own task wakes the loop as it ends (Engine._hand_off)
            self._wake()

    # ---- events from the sandbox ---------------------------------------------------------

    async def _handle(
        self,
        event: Any,
        js: JsThread,
        sandbox: Sandbox,
        nursery: trio.Nursery,
        pending: deque,
    ) -> tuple[Any] | None:
        _need(isinstance(event, dict), "not an object")
        kind = event.get("t")
        if kind == "agent":
            await self._on_agent(event, nursery)
        elif kind == "log":
            msg = event.get("msg")
            _need(isinstance(msg, str), "log without text")
            self._log(msg)
        elif kind == "phase":
            title = event.get("title")
            _need(isinstance(title, str), "phase without title")
            title = _title(title)
            if self._add_phase(title):
                self._emit(ev.PhaseStarted(title))
        elif kind == "failure":
            line = event.get("line")
            _need(isinstance(line, str), "failure without text")
            if line.endswith(": " + self._cap_error()["message"]):
                self._note_refused()
            else:
                self._add_failure(line)
        elif kind == "timer":
            timer_id, ms = event.get("id"), event.get("ms")
            _need(isinstance(timer_id, int) and isinstance(ms, int | float), "bad timer")
            self._timers.set(timer_id, trio.current_time() + timer_delay(ms))
        elif kind == "clear":
            self._timers.clear(event.get("id"))
        elif kind == "workflow":
            pending.extend(await self._on_workflow(event, js, sandbox))
        elif kind == "done":
            if event.get("ok") is True:
                # Exact, lone surrogates included: the store keeps JSON escapes, and every
                # human-facing surface shows them inert (jshost.text.printable).
                return (event.get("value"),)
            raise self._script_error(event)
        else:
            raise _BridgeError(f"unknown kind {kind!r}")
        return None

    def _script_error(self, event: dict[str, Any]) -> WorkflowError:
        # Only a failed script needs its errors placed: not imported by a run that succeeds.
        from ..script import DESTRUCTURING_MESSAGE, destructuring_site

        name = event.get("name") if isinstance(event.get("name"), str) else "Error"
        message = event.get("message") if isinstance(event.get("message"), str) else ""
        stack = event.get("stack") if isinstance(event.get("stack"), str) else ""
        name, message = name[:MAX_TITLE_CHARS], _clip(message)
        path, line, col = self.script.path, None, None
        for _, frame_line, frame_col in parse_frames(stack):
            child = frame_line >= CHILD_LINE_BASE and bool(self._children)
            if child or frame_line < self._line_base:
                source, prefix = self.script.source, PREFIX
                if child:
                    path, source = self._children[-1].path, self._children[-1].source
                    frame_line, prefix = frame_line - CHILD_LINE_BASE, CHILD_PREFIX
                line, col = frame_line, frame_col
                in_wrapper = line == 1 and col <= len(prefix)
                if line == 1:
                    col = max(1, col - len(prefix))
                if source and _thrown_by_script(stack) and DESTRUCTURING_MESSAGE.match(message):
                    # QuickJS gives a failed destructuring the last position it wrote.
                    found = destructuring_site(source, None if in_wrapper else line, col, message)
                    if found is not None:
                        line, col = found
                    elif in_wrapper:
                        line = col = None  # the wrapper's own start is no place in the script
                break
        mib = self.limits.sandbox.memory >> 20
        if name == "InternalError" and message.startswith("out of memory"):
            message = f"{message} (the sandbox's limit is {mib} MiB; see --memory-limit)"
        elif event.get("null") is True:
            # QuickJS throws a bare null when it cannot even allocate the error object.
            name = "InternalError"
            message = (
                f"out of memory, or the script threw null (the sandbox's limit is {mib} MiB; "
                "see --memory-limit)"
            )
        return WorkflowError(message, name=name, path=path, line=line, column=col)
