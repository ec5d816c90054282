"""Load a workflow script: size, encoding, control characters, syntax, and its meta.

Nothing here runs the script. The syntax check compiles the wrapper that will run — the body
inside ``(async function __workflow__() { "use strict"; … })`` — in a scratch QuickJS context,
so errors carry the user's own line and column, and a body that tries to close the wrapper
early is refused.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ScriptLoadError
from .meta import FIRST_STATEMENT, Meta, js_parser, parse_meta
from .sandbox import check_function_source, parse_frames

__all__ = [
    "CHILD_PREFIX",
    "MAX_SCRIPT_CHARS",
    "PREFIX",
    "Script",
    "load_script",
    "parse_script",
]

MAX_SCRIPT_CHARS = 524_288

# The body starts on the wrapper's first line, so the user's line numbers are unchanged; only
# columns on line 1 shift, by the prefix's length.
PREFIX = '(async function __workflow__() { "use strict"; '
SUFFIX = "\n})"
# A child workflow gets its own globals as locals of an outer function, so its body may still
# declare names such as `log` or `args` of its own, as it could in a context of its own.
CHILD_PREFIX = (
    '(async function __child__(__jshost_api) { "use strict"; const { agent, parallel, pipeline, '
    "phase, log, console, workflow, args, budget, setTimeout, clearTimeout } = __jshost_api; "
    "return (async function __workflow__() { "
)
CHILD_SUFFIX = "\n})(); })"

_TS_HINT = (
    "Workflow scripts must be plain JavaScript — common causes are TypeScript syntax "
    "(type annotations, interfaces, generics) and broken string quoting or escaping."
)

# Comments and white space, then `export const meta =` (the reference runtime's fast path).
_META_HEAD = re.compile(
    r"\A(?:#![^\n]*\n)?(?:\s|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*"
    r"(?P<head>export\s+const\s+meta\s*=)",
    re.S,
)

# Allowed although they are control or format characters: tab, line feed, carriage return.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


@dataclass(frozen=True)
class Script:
    """A workflow script that passed every load check.

    ``body`` is the source with ``export const meta =`` turned into ``void`` and blanks;
    ``wrapped`` is the checked wrapper the sandbox runs (``wrapped + "()"``).
    """

    path: str | None
    source: str
    meta: Meta
    body: str
    wrapped: str
    child_wrapped: str
    sha256: str

    @property
    def display_path(self) -> str:
        return self.path or "<script>"


def _line_col(source: str, index: int) -> tuple[int, int]:
    line = source.count("\n", 0, index) + 1
    start = source.rfind("\n", 0, index) + 1
    return line, index - start + 1


def _excerpt(source: str, line: int, column: int) -> str:
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].rstrip("\r").expandtabs(1)
    start = max(0, column - 60)
    shown = text[start : start + 80]
    caret = " " * max(0, column - 1 - start) + "^"
    return f"{shown}\n{caret}"


def _check_controls(source: str, path: str | None) -> None:
    for index, ch in enumerate(source):
        if ch in _ALLOWED_CONTROLS:
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf") or ch in "\u2028\u2029":
            line, col = _line_col(source, index)
            name = unicodedata.name(ch, "control character")
            raise ScriptLoadError(
                "script contains control characters that would be hidden in the approval "
                f"dialog: U+{ord(ch):04X} ({name})",
                path=path,
                line=line,
                column=col,
            )


def _decode(data: bytes, path: str | None) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        line, col = _line_col(before + "\0", len(before))
        raise ScriptLoadError(
            f"script is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded",
            path=path,
            line=line,
            column=col,
        ) from None


def load_script(path: str | Path) -> Script:
    """Read and check the script at ``path``.

    Raises:
        ScriptLoadError: the file is missing, unreadable, too large, not UTF-8, or the script
            is refused (control characters, syntax, meta).
    """
    shown = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise ScriptLoadError(f"{shown!r} is a directory, not a workflow script")
        size = p.stat().st_size
        # Characters are at most 4 bytes: refuse giant files before reading them whole.
        if size > 4 * MAX_SCRIPT_CHARS:
            raise ScriptLoadError(f"Script exceeds {MAX_SCRIPT_CHARS} bytes", path=shown)
        data = p.read_bytes()
    except FileNotFoundError:
        raise ScriptLoadError(f"no such file: {shown!r}") from None
    except PermissionError:
        raise ScriptLoadError(f"cannot read {shown!r}: permission denied") from None
    except OSError as exc:
        raise ScriptLoadError(f"cannot read {shown!r}: {exc.strerror or exc}") from None
    return parse_script(_decode(data, shown), path=shown)


def parse_script(source: str, *, path: str | None = None) -> Script:
    """Check ``source`` as a workflow script; see :func:`load_script`."""
    if len(source) > MAX_SCRIPT_CHARS:
        raise ScriptLoadError(f"Script exceeds {MAX_SCRIPT_CHARS} bytes", path=path)
    if source.startswith("\ufeff"):
        source = source[1:]
    _check_controls(source, path)
    head = _META_HEAD.match(source)
    if head is None:
        # parse_meta gives the reference's message at the first statement's position.
        parse_meta(source, path=path)
        raise ScriptLoadError(FIRST_STATEMENT, path=path, line=1, column=1)
    start, end = head.span("head")
    # `export const meta =` becomes `void` and blanks: the literal stays an expression at its
    # place (columns and lines unchanged), and, as in the reference runtime, `meta` is not a
    # name the body can see (nor one it is barred from declaring).
    blank = re.sub(r"[^\n]", " ", source[start + 4 : end])
    body = source[:start] + "void" + blank + source[end:]
    wrapped = PREFIX + body + SUFFIX
    _syntax_check(source, wrapped, len(PREFIX), path)
    meta, span = parse_meta(source, path=path)
    if span.export_start != start:
        raise ScriptLoadError(FIRST_STATEMENT, path=path, line=1, column=1)
    child_wrapped = CHILD_PREFIX + body + CHILD_SUFFIX
    return Script(
        path=path,
        source=source,
        meta=meta,
        body=body,
        wrapped=wrapped,
        child_wrapped=child_wrapped,
        sha256=hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
    )


def _clearly_escapes(wrapped: str) -> bool:
    """Whether tree-sitter parses ``wrapped`` cleanly as more than the one function expression.

    A body such as ``}); evil(); (async function(){`` closes the wrapper early; refusing it here
    means its code is never evaluated, not even in the scratch context. Only a clean parse is
    trusted: where tree-sitter sees errors (a real syntax error, or syntax it lacks), QuickJS
    decides, and its own check still refuses an escape.
    """
    tree = js_parser().parse(wrapped.encode("utf-8", "surrogatepass"))
    root = tree.root_node
    if root.has_error:
        return False
    statements = [c for c in root.named_children if c.type not in ("comment", "hash_bang_line")]
    if len(statements) != 1 or statements[0].type != "expression_statement":
        return True
    expr = statements[0].named_children[0] if statements[0].named_children else None
    return expr is None or expr.type != "parenthesized_expression"


def _syntax_check(source: str, wrapped: str, prefix_len: int, path: str | None) -> None:
    error = (
        "EscapeError: the script body closes the workflow function early"
        if _clearly_escapes(wrapped)
        else check_function_source(wrapped)
    )
    if error is None:
        return
    first, _, rest = error.partition("\n")
    frames = parse_frames(rest)
    line = col = None
    if frames:
        _, line, col = frames[0]
        if line == 1:
            col = max(1, col - prefix_len)
        last = source.count("\n") + 1
        if line > last:  # an unclosed construct is reported on the wrapper's closing line
            line, col = last, len(source.rsplit("\n", 1)[-1]) + 1
    if first.startswith("EscapeError"):
        message = "SyntaxError: unbalanced '}': the script closes its own function body early"
    else:
        message = first
    detail = _excerpt(source, line, col) if line else ""
    detail = f"{detail}\n\n{_TS_HINT}" if detail else _TS_HINT
    raise ScriptLoadError(message, path=path, line=line, column=col, detail=detail)
