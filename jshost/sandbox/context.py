"""One QuickJS context per run: limits, the runtime.js prelude, and the outbox bridge.

Everything that crosses the boundary is a JSON string (quickjs-ng mangles rope strings, small
BigInts and integral floats). A context is only ever touched by one thread: every call into it
runs on the run's own ``JsThread``, whose stack is large enough that QuickJS's own stack guard
always fires before the C stack runs out.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from .. import _quickjs as quickjs
from .._lazy import lazy_pattern
from ..bounds import MAX_PROMPT_CHARS
from ..limits import SandboxLimits
from .lexing import slash_free

__all__ = [
    "CHILD_LINE_BASE",
    "RUNTIME_LINE_BASE",
    "SURE_GLOBALS",
    "Sandbox",
    "SandboxLimitError",
    "SandboxLimits",
    "check_function_source",
    "global_names",
    "line_base",
]

# The prelude is evaluated after as many lines as its run's script may take (``line_base``),
# and child workflows after CHILD_LINE_BASE, so a stack frame's line number says whose code it
# is (the binding names every file <input> and its eval takes no line offset). Each line of the
# base costs QuickJS ~19 instructions of every start-up (issue 22): a run's base is its own
# script's line count, at most RUNTIME_LINE_BASE (user scripts are at most 524,288 characters,
# wrapped on two more lines, so they never reach it); CHILD_LINE_BASE is above the prelude's
# end for any base.
RUNTIME_LINE_BASE = 525_000
CHILD_LINE_BASE = 700_000

# Events the host takes from the outbox at a time (a script can emit millions in one slice).
_CHUNK = 4096
# The shortest CPU allowance a step gets once its run is past its deadline or halted.
_LAST_SLICE = 0.05

_FRAME = lazy_pattern(r"^\s*at (?:(?P<fn>.*?) \()?<input>:(?P<line>\d+):(?P<col>\d+)\)?\s*$")


class SandboxLimitError(Exception):
    """Raised when the script hits a sandbox limit (CPU slice, memory) or breaks the sandbox.

    ``name`` is the error name shown to the user (``TimeoutError``, ``InternalError``).
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _timeout(limits: SandboxLimits) -> SandboxLimitError:
    ms = round(limits.cpu_slice * 1000)
    return SandboxLimitError("TimeoutError", f"Script execution timed out after {ms}ms")


def _runtime_source() -> str:
    # A built wheel carries runtime.js inside the package (hatch force-include); an editable
    # checkout has it only at the repository root, where the design card puts it. Both are
    # looked at as plain paths first: importlib.resources costs a few milliseconds of
    # start-up (issue 22) and is needed only when jshost is imported from an archive.
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "runtime.js"
    for candidate in (here.parents[1] / "runtime.js", checkout):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    from importlib import resources

    packaged = resources.files("jshost").joinpath("runtime.js")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    raise RuntimeError(
        f"runtime.js is neither in the jshost package nor at {checkout}: reinstall jshost"
    )


#: the prelude as evaluated after its line base: in ASCII (see _ascii)
_RUNTIME: str | None = None


def line_base(wrapped: str) -> int:
    """The line base of the sandbox that runs ``wrapped`` (the script's wrapper): a line past
    every line QuickJS can count in it, whose lines end at ``\n``, ``\r``, U+2028 or U+2029
    (a CRLF, one line, is counted twice: only an upper bound matters). Frames on lines below
    the base are the script's; the prelude starts on the line after it."""
    breaks = sum(map(wrapped.count, ("\n", "\r", "\u2028", "\u2029")))
    return min(breaks + 2, RUNTIME_LINE_BASE)


def _padding(lines: int) -> str:
    """What puts the next character on line ``lines + 1``: one block comment over that many
    line breaks, which QuickJS counts as lines as it would blank lines, but skips in about two
    thirds of the time (600,000 blank lines were 16 M instructions of every run: issue 22).
    The code after it starts two columns in: only the prelude, whose first line is a comment,
    uses it."""
    return "/*" + "\n" * lines + "*/"


def _ascii(source: str) -> str:
    """``source`` with every character outside ASCII written as a JavaScript escape.

    The same program: the prelude has such characters only in comments and string literals,
    where ``\\uXXXX`` means the character. But an all-ASCII string is handed to QuickJS as it
    is, where one with a single ``—`` is first encoded to UTF-8 whole, line base included:
    7 M instructions of every run (issue 22).
    """
    if source.isascii():
        return source
    # Python's own escapes, in C (`\xe9`, `\u2014`), which JavaScript reads alike in strings,
    # templates and regex literals: the regex below was 2 M instructions. A character past
    # U+FFFF comes out as `\U0001f600`, which JavaScript does not know: then the regex.
    escaped = source.encode("ascii", "backslashreplace").decode("ascii")
    if escaped.count("\\U") == source.count("\\U"):
        return escaped

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        if code < 0x10000:
            return f"\\u{code:04x}"
        code -= 0x10000  # a surrogate pair, as JavaScript strings hold it
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return re.sub(r"[^\x00-\x7f]", escape, source)


def _translate(exc: quickjs.JSException, limits: SandboxLimits) -> SandboxLimitError:
    text = str(exc.args[0]) if exc.args else ""
    first = text.split("\n", 1)[0]
    if "interrupted" in first:
        return _timeout(limits)
    if "out of memory" in first or first.strip() in {"null", ""}:
        mib = limits.memory >> 20
        return SandboxLimitError(
            "RangeError", f"the script ran out of memory (sandbox limit {mib} MiB)"
        )
    if isinstance(exc, quickjs.StackOverflow) or "stack" in first.lower():
        return SandboxLimitError("RangeError", "Maximum call stack size exceeded")
    return SandboxLimitError("InternalError", first or "the sandbox failed")


class Sandbox:
    """The run's QuickJS context with the prelude installed. Use only from its ``JsThread``.

    Args:
        limits (SandboxLimits): memory, stack and CPU-slice limits.
        config (dict): ``maxAgents``, ``budget`` (int or None) and ``args`` (JSON text or None).
        base (int): the line base, ``line_base`` of the script this sandbox runs: frames
            below it are the script's, the prelude starts after it (the default,
            RUNTIME_LINE_BASE, is past any script's lines).
    """

    def __init__(
        self, limits: SandboxLimits, config: dict[str, Any], base: int = RUNTIME_LINE_BASE
    ) -> None:
        global _RUNTIME
        if _RUNTIME is None:
            _RUNTIME = _ascii(_runtime_source())
        if not 0 < base <= RUNTIME_LINE_BASE:
            raise ValueError(f"the prelude's line base must be in 1..{RUNTIME_LINE_BASE}")
        #: frames on lines from here up to CHILD_LINE_BASE are the prelude's, below it the script's
        self.line_base = base
        self.limits = limits
        #: whether the outbox may hold events not taken yet (see :meth:`take`)
        self.more = False
        ctx = self._ctx = quickjs.Context()
        ctx.set_memory_limit(limits.memory)
        ctx.set_max_stack_size(limits.stack)
        try:
            # The config (with the user's args, which may be large) is an argument, not source.
            prelude = ctx.eval(_padding(base) + _RUNTIME)
            prelude(json.dumps({"maxPromptChars": MAX_PROMPT_CHARS, **config}))
        except quickjs.JSException as exc:
            # Only the args can be too much for the prelude: its own code is small.
            error = _translate(exc, limits)
            what = "memory" if "memory" in error.message else "stack"
            raise SandboxLimitError(
                error.name,
                f"the run's args do not fit in the sandbox's {what} ({error.message})",
            ) from None
        self._take = ctx.get("__jshost_take")
        self._settle = ctx.get("__jshost_settle")
        self._child = ctx.get("__jshost_child")
        self._watch = ctx.get("__jshost_watch")
        self._stop = ctx.get("__jshost_stop")
        ctx.eval(
            "delete globalThis.__jshost_take; delete globalThis.__jshost_settle;"
            "delete globalThis.__jshost_child; delete globalThis.__jshost_watch;"
            "delete globalThis.__jshost_stop; undefined"
        )
        ctx.set_time_limit(limits.cpu_slice)
        self._armed = limits.cpu_slice
        self._halt = threading.Event()
        #: ``time.monotonic()`` at which the run's wall-clock budget ends, if it has one
        self.deadline: float | None = None

    def halt(self) -> None:
        """Make the sandbox end its work soon. Safe from any thread.

        The step in flight stops before its next job, and every later step gets almost no
        CPU: a halted run's thread does not go on burning a whole slice.
        """
        self._halt.set()

    def _arm(self) -> None:
        # QuickJS reads the CPU limit when a step (or a job) starts, so each entry gets what
        # is left of the run's wall-clock budget (a spinning step uses CPU time at about
        # the wall clock's pace), never more than a slice.
        limit = self.limits.cpu_slice
        if self._halt.is_set():
            limit = _LAST_SLICE
        elif self.deadline is not None:
            limit = min(limit, max(_LAST_SLICE, self.deadline - time.monotonic() + 1.0))
        if limit != self._armed:
            self._ctx.set_time_limit(limit)
            self._armed = limit

    def _check_halt(self) -> None:
        if self._halt.is_set():
            raise SandboxLimitError("StopError", "the run was stopped")

    # Every public method returns the events the step produced, in order: at most a chunk of
    # them; while ``more`` is set, :meth:`take` returns the next chunk.

    def start(self, wrapped: str) -> list[dict[str, Any]]:
        """Call the script's wrapper function and watch the promise it returns."""
        self._arm()
        try:
            promise = self._ctx.eval(wrapped + "()")
            self._watch(promise)
        except quickjs.JSException as exc:
            raise _translate(exc, self.limits) from None
        return self._drain()

    def settle(self, batch: str) -> list[dict[str, Any]]:
        """Settle promises and fire timers; ``batch`` is the JSON the prelude reads."""
        self._check_halt()
        self._arm()
        try:
            self._settle(batch)
        except quickjs.JSException as exc:
            raise _translate(exc, self.limits) from None
        return self._drain()

    def start_child(
        self, request_id: int, wrapped: str, name: str, group: str, args_json: str | None
    ) -> list[dict[str, Any]]:
        """Compile a child workflow's wrapper (already checked) and run it for ``request_id``."""
        self._check_halt()
        self._arm()
        try:
            fn = self._ctx.eval("\n" * CHILD_LINE_BASE + wrapped)
            self._child(request_id, fn, name, group, args_json)
        except quickjs.JSException as exc:
            raise _translate(exc, self.limits) from None
        return self._drain()

    def stop(self) -> None:
        """Make every later agent()/parallel()/workflow() call never settle; drop timers."""
        with contextlib.suppress(quickjs.JSException):  # the run is ending either way
            self._stop()

    def memory_used(self) -> int:
        return int(self._ctx.memory().get("memory_used_size", 0))

    def take(self) -> list[dict[str, Any]]:
        """The next events in the outbox (at most a chunk of them)."""
        self._arm()
        try:
            raw = self._take(_CHUNK)
        except quickjs.JSException as exc:
            raise _translate(exc, self.limits) from None
        events = json.loads(raw) if raw else []
        self.more = len(events) == _CHUNK
        return events

    def _drain(self) -> list[dict[str, Any]]:
        # Each job has its own CPU limit inside QuickJS; a chain of jobs would still never
        # yield, so the whole drain is bounded by the same slice, checked after every job (a
        # job may use almost a whole slice by itself).
        ctx = self._ctx
        deadline = time.thread_time() + self.limits.cpu_slice
        try:
            self._arm()
            while ctx.execute_pending_job():
                if time.thread_time() > deadline:
                    raise _timeout(self.limits)
                self._check_halt()
                self._arm()
        except quickjs.JSException as exc:
            raise _translate(exc, self.limits) from None
        return self.take()


#: Globals a script surely sees: the workflow globals and the standard built-ins every QuickJS
#: jshost supports keeps after the lockdown. A subset of :func:`global_names` (a test holds it
#: so): the linter asks the real context only for a name outside it, which a plain script never
#: uses, so checking one costs no sandbox of its own (5 ms of every start-up, issue 22).
SURE_GLOBALS = frozenset(
    [
        "agent",
        "parallel",
        "pipeline",
        "phase",
        "log",
        "args",
        "budget",
        "workflow",
        "setTimeout",
        "clearTimeout",
        "console",
        "globalThis",
        "undefined",
        "NaN",
        "Infinity",
        "isFinite",
        "isNaN",
        "parseFloat",
        "parseInt",
        "decodeURI",
        "decodeURIComponent",
        "encodeURI",
        "encodeURIComponent",
        "escape",
        "unescape",
        "Object",
        "Function",
        "Array",
        "String",
        "Number",
        "Boolean",
        "Symbol",
        "BigInt",
        "Math",
        "JSON",
        "Date",
        "RegExp",
        "Promise",
        "Proxy",
        "Reflect",
        "Map",
        "Set",
        "WeakMap",
        "WeakSet",
        "ArrayBuffer",
        "DataView",
        "Int8Array",
        "Uint8Array",
        "Uint8ClampedArray",
        "Int16Array",
        "Uint16Array",
        "Int32Array",
        "Uint32Array",
        "Float32Array",
        "Float64Array",
        "BigInt64Array",
        "BigUint64Array",
        "Error",
        "EvalError",
        "RangeError",
        "ReferenceError",
        "SyntaxError",
        "TypeError",
        "URIError",
        "AggregateError",
    ]
)


@functools.cache
def global_names() -> frozenset[str]:
    """The names a script sees as globals: the standard built-ins left after the prelude's
    lockdown, and the workflow globals. Read from a real context, so ``validate`` and the
    sandbox cannot disagree."""
    # No script runs here: no line base to skip either.
    sandbox = Sandbox(SandboxLimits(), {"maxAgents": 1, "budget": None, "args": None}, 1)
    names = sandbox._ctx.eval("JSON.stringify(Object.getOwnPropertyNames(globalThis))")
    return frozenset(json.loads(names))


# Compiled in front of every checked form: the first statement throws, so nothing after it
# ever runs, however the rest parses.
_NEVER_RUN = "throw 0;"
_FUNCTION_HEAD = re.compile(r"\((async\s+)?function\s+([A-Za-z_$][\w$]*)\s*\(")
_ESCAPE = "EscapeError: the script body closes the workflow function early"


def _compile_error(ctx: quickjs.Context, code: str) -> str | None:
    """QuickJS's error text if ``code`` does not compile, else None. Runs none of ``code``."""
    try:
        ctx.eval(_NEVER_RUN + code)
    except quickjs.StackOverflow:
        return (
            "SyntaxError: the script is nested too deeply to compile "
            "(Maximum call stack size exceeded)"
        )
    except quickjs.JSException as exc:
        text = str(exc.args[0]) if exc.args else ""
        if text.split("\n", 1)[0] == "0":
            return None  # it compiled, and the leading throw ran
        # Columns on line 1 count the prefix; give them back in the checked text's terms.
        return re.sub(
            r"<input>:1:(\d+)",
            lambda m: f"<input>:1:{max(1, int(m.group(1)) - len(_NEVER_RUN))}",
            text or "SyntaxError",
        )
    return "InternalError: the syntax check did not run"  # pragma: no cover - throw 0 always does


def _source_text(ctx: quickjs.Context, source_of: Any, name: str) -> str | None:
    """The source text of the global function ``name``, or None (no such function, or text
    the binding cannot hand over)."""
    try:
        function = ctx.get(name)
        text = source_of(function) if isinstance(function, quickjs.Object) else None
    except (quickjs.JSException, TypeError):
        return None
    return text if isinstance(text, str) else None


def check_function_source(
    wrapped: str, limits: SandboxLimits | None = None, *, likely_valid: bool = False
) -> str | None:
    """Check that ``wrapped``, ``(async function NAME() { … })``, is one function expression.

    Returns None when it is, else the error text: QuickJS's ``SyntaxError: … at <input>:L:C``,
    or a note that the body closed the wrapper early (a body such as
    ``}); evil(); (function(){`` would otherwise run code outside the function).

    Nothing is ever run, not even in the scratch context: each form is compiled behind a
    leading ``throw``. Besides the expression itself, the same function is compiled as a
    declaration and as an object-literal method. If the body closed the function early, some
    text follows that closing brace: after a declaration it must start a statement, after a
    method it must be ``,`` or ``}``, and nothing is both, so one of the two forms fails.

    The body parses alike in all three forms. With ``likely_valid`` (a first parser found no
    error) the declaration is compiled first: that instantiates its function (nothing runs),
    and when the function's own source text (``Function.prototype.toString``) is the whole
    declaration, QuickJS ended it at the wrapper's closing brace: no early close, nothing left
    for the method form to catch (else it is compiled, as before). The expression then compiles
    too, unless QuickJS's pre-scan of its opening parenthesis (arrow parameters?) guesses regex
    or division at a ``/`` otherwise than its parser: it is compiled only for a ``/`` token
    (``slash_free``) or when a form failed (for its message). One compile instead of three on
    a clean script (issue 22: 65 ms each on 512 KiB).

    Compiles on a C stack large enough for the context's stack limit (``on_a_large_stack``).
    """
    return quickjs.on_a_large_stack(_check_function_source, wrapped, limits, likely_valid)


def _check_function_source(
    wrapped: str, limits: SandboxLimits | None, likely_valid: bool
) -> str | None:
    head = _FUNCTION_HEAD.match(wrapped)
    if head is None or not wrapped.endswith(")"):
        raise ValueError("wrapped must be a parenthesised named function expression")
    limits = limits or SandboxLimits(memory=64 << 20, stack=1 << 20, cpu_slice=0.5)
    ctx = quickjs.Context()
    ctx.set_memory_limit(limits.memory)
    ctx.set_max_stack_size(limits.stack)
    ctx.set_time_limit(limits.cpu_slice)  # nothing runs; should that ever change, not for long
    declaration = wrapped[1:-1]
    method = "({ " + (head.group(1) or "") + head.group(2) + "(" + wrapped[head.end() : -1] + " })"
    if likely_valid:
        # Taken before any script text is compiled: the script's own top-level declarations
        # (after an early close) could rebind `Function` or `Reflect`, never these.
        source_of = ctx.eval(
            "((toString, apply) => (f) => apply(toString, f, []))"
            "(Function.prototype.toString, Reflect.apply)"
        )
        escapes = _compile_error(ctx, declaration) is not None
        if not escapes and _source_text(ctx, source_of, head.group(2)) != declaration:
            escapes = _compile_error(ctx, method) is not None
        if not escapes and slash_free(wrapped):
            return None
    error = _compile_error(ctx, wrapped)
    if error is not None:
        return error
    if not likely_valid:
        escapes = (
            _compile_error(ctx, declaration) is not None or _compile_error(ctx, method) is not None
        )
    return _ESCAPE if escapes else None


def parse_frames(stack: str) -> list[tuple[str | None, int, int]]:
    """``(function name, line, column)`` of each ``at … (<input>:L:C)`` frame of a JS stack."""
    frames = []
    for line in stack.splitlines():
        m = _FRAME.match(line)
        if m:
            frames.append((m.group("fn"), int(m.group("line")), int(m.group("col"))))
    return frames
