"""Load a workflow script: size, encoding, control characters, syntax, and its meta.

Nothing here runs the script. The syntax check compiles the wrapper that will run — the body
inside ``(async function __workflow__() { "use strict"; … })`` — in a scratch QuickJS context,
so errors carry the user's own line and column, and a body that tries to close the wrapper
early is refused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from tree_sitter import Tree

from .._data import Frozen, Record, set_field
from .._lazy import lazy_pattern
from ..errors import ScriptLoadError
from ..sandbox import check_function_source, parse_frames
from .diagnostics import Diagnostic, SourceMap
from .meta import FIRST_STATEMENT, Meta, MetaSpan, js_parser, read_meta

__all__ = [
    "CHILD_PREFIX",
    "MAX_SCRIPT_CHARS",
    "PREFIX",
    "Inspection",
    "Script",
    "inspect_file",
    "inspect_source",
    "load_child_script",
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

# Control characters other than tab, line feed and carriage return, DEL, and every character
# outside ASCII (whose category is then looked up one by one: there are few of them). One
# character class, not two alternatives: half the time on 512 KiB (issue 22); and negated, so
# that compiling it builds no map of every code point (59 M instructions of every start-up).
_SUSPECT = re.compile(r"[^\t\n\r\x20-\x7e]")
# Text the QuickJS binding cannot take (both are reported: E102, E103).
# (compiled at first use: an ASCII script, the usual one, is checked with one find)
_UNCOMPILABLE = lazy_pattern(r"[\x00\ud800-\udfff]")
# validate lists this many control characters, then says how many more there are.
_MAX_CONTROL_REPORTS = 20


class Script(Frozen):
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

    _fields = ("path", "source", "meta", "body", "wrapped", "child_wrapped", "sha256")

    def __init__(
        self,
        path: str | None,
        source: str,
        meta: Meta,
        body: str,
        wrapped: str,
        child_wrapped: str,
        sha256: str,
    ) -> None:
        set_field(self, "path", path)
        set_field(self, "source", source)
        set_field(self, "meta", meta)
        set_field(self, "body", body)
        set_field(self, "wrapped", wrapped)
        set_field(self, "child_wrapped", child_wrapped)
        set_field(self, "sha256", sha256)

    @property
    def display_path(self) -> str:
        return self.path or "<script>"


class Inspection(Record):
    """The load checks' findings on one source; ``script`` is set when there is no problem.

    ``tree`` (tree-sitter, of ``source``) and ``positions`` are kept for further checks.
    """

    path: str | None
    source: str
    sha256: str
    positions: SourceMap
    diagnostics: list[Diagnostic]
    tree: Tree | None = None
    meta: Meta | None = None
    span: MetaSpan | None = None
    script: Script | None = None

    _fields = (
        "path",
        "source",
        "sha256",
        "positions",
        "diagnostics",
        "tree",
        "meta",
        "span",
        "script",
    )

    def __init__(
        self,
        path: str | None,
        source: str,
        sha256: str,
        positions: SourceMap,
        diagnostics: list[Diagnostic] | None = None,
        tree: Tree | None = None,
        meta: Meta | None = None,
        span: MetaSpan | None = None,
        script: Script | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.sha256 = sha256
        self.positions = positions
        self.diagnostics = [] if diagnostics is None else diagnostics
        self.tree = tree
        self.meta = meta
        self.span = span
        self.script = script


class _Stop(Exception):
    """Raised to end the checks at the first problem (``parse_script``)."""


def _sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def _control_problems(source: str, positions: SourceMap, path: str | None) -> Iterator[Diagnostic]:
    found = 0
    first_unlisted = None
    for match in _SUSPECT.finditer(source):
        ch = match.group()
        category = unicodedata.category(ch)
        if category == "Cs":
            # Only an in-memory string can hold one: no UTF-8 file decodes to it.
            yield Diagnostic.make(
                "E103",
                f"script is not valid UTF-8: it holds a lone surrogate U+{ord(ch):04X}",
                path=path,
                pos=positions.pos(match.start()),
            )
            continue
        if category not in ("Cc", "Cf") and ch not in "\u2028\u2029":
            continue
        found += 1
        if found > _MAX_CONTROL_REPORTS:
            if first_unlisted is None:
                first_unlisted = positions.pos(match.start())
            continue
        name = unicodedata.name(ch, "control character")
        yield Diagnostic.make(
            "E102",
            "script contains control characters that would be hidden in the approval "
            f"dialog: U+{ord(ch):04X} ({name})",
            path=path,
            pos=positions.pos(match.start()),
        )
    if found > _MAX_CONTROL_REPORTS:
        yield Diagnostic.make(
            "E102",
            f"script contains {found - _MAX_CONTROL_REPORTS} more control characters (not listed)",
            path=path,
            pos=first_unlisted,
        )


def _too_large(path: str | None) -> Diagnostic:
    return Diagnostic.make("E101", f"Script exceeds {MAX_SCRIPT_CHARS} bytes", path=path)


def _utf8_problem(data: bytes, path: str | None) -> tuple[str, Diagnostic | None]:
    """The decoded text, and the problem if ``data`` is not UTF-8 (then decoded leniently)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        problem = Diagnostic.make(
            "E103",
            f"script is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded",
            path=path,
            pos=SourceMap(before + "\0").pos(len(before)),
        )
        return data.decode("utf-8", errors="replace"), problem


def _read(path: str | Path, *, regular_only: bool) -> bytes | None:
    """The file's bytes, or None when it holds more than any script may."""
    shown = str(path)
    limit = 4 * MAX_SCRIPT_CHARS  # characters are at most 4 bytes
    # Non-blocking, so that opening a FIFO cannot hang; it is refused right after.
    flags = os.O_RDONLY | (getattr(os, "O_NONBLOCK", 0) if regular_only else 0)
    try:
        if Path(path).is_dir():
            raise ScriptLoadError(f"{shown!r} is a directory, not a workflow script")
        fd = os.open(path, flags)
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if regular_only and not stat.S_ISREG(st.st_mode):
                raise ScriptLoadError(f"{shown!r} is not a workflow script")
            # Never more than the limit: a device or a /proc file may not know its size, or
            # never end (/dev/zero).
            data = f.read(limit + 1)
            # A file of /proc or /sys calls itself regular but has no true size: what a read
            # gives is made up on the spot (and errors at a line and column would measure it).
            if regular_only and len(data) <= limit and len(data) != st.st_size:
                raise ScriptLoadError(f"{shown!r} is not a workflow script")
    except FileNotFoundError:
        raise ScriptLoadError(f"no such file: {shown!r}") from None
    except ValueError:  # an embedded NUL
        raise ScriptLoadError(f"{shown!r} is not a workflow script") from None
    except PermissionError:
        raise ScriptLoadError(f"cannot read {shown!r}: permission denied") from None
    except OSError as exc:
        raise ScriptLoadError(f"cannot read {shown!r}: {exc.strerror or exc}") from None
    return None if len(data) > limit else data


def inspect_file(
    path: str | Path, *, collect: bool = True, regular_only: bool = False
) -> Inspection:
    """Read the script file at ``path`` and run every load check on it (see
    :func:`inspect_source`); a file that is not UTF-8 is checked as decoded leniently.

    Raises:
        ScriptLoadError: the file is missing, a directory, or unreadable (or, with
            ``regular_only``, not a regular file).
    """
    shown = str(path)
    data = _read(path, regular_only=regular_only)
    if data is None:
        found = Inspection(shown, "", "", SourceMap(""))
        found.diagnostics.append(_too_large(shown))
        return found
    source, problem = _utf8_problem(data, shown)
    if problem is not None and not collect:
        found = Inspection(shown, source, _sha256(source), SourceMap(source))
        found.diagnostics.append(problem)
        return found
    found = inspect_source(source, path=shown, collect=collect)
    if problem is not None:
        found.diagnostics.insert(0, problem)
        found.script = None
    return found


def load_script(path: str | Path) -> Script:
    """Read and check the script at ``path``.

    Raises:
        ScriptLoadError: the file is missing, unreadable, too large, not UTF-8, or the script
            is refused (control characters, syntax, meta).
    """
    return _load(inspect_file(path, collect=False))


def load_child_script(path: str | Path) -> Script:
    """Read and check a workflow that a running script asked for by ``{scriptPath}``.

    The script chose the path, so only a regular ``.js`` file is opened: not a device or a
    pipe (``/dev/zero`` never ends, a FIFO blocks), and not a file that is no workflow at all
    (the load error would tell the script things about its contents).

    Raises:
        ScriptLoadError: as :func:`load_script`, and for any other kind of file.
    """
    name = Path(path).name
    if not name.endswith(".js"):
        raise ScriptLoadError(f"only .js files are workflows, not {name!r}")
    # A `.js` symlink may lead anywhere: what it points at must be a workflow file too, and
    # never a file of the kernel's or a device, whatever its name.
    try:
        real = Path(os.path.realpath(path))
        special = real.exists() and (
            not real.name.endswith(".js") or real.parts[1:2] in (("proc",), ("sys",), ("dev",))
        )
    except (OSError, ValueError):
        special = False  # reading it says what is wrong
    if special:
        raise ScriptLoadError(f"{str(path)!r} is not a workflow script")
    return _load(inspect_file(path, collect=False, regular_only=True))


def _load(found: Inspection) -> Script:
    if found.script is None:
        raise found.diagnostics[0].to_error(found.source or None)
    return found.script


def parse_script(source: str, *, path: str | None = None) -> Script:
    """Check ``source`` as a workflow script; see :func:`load_script`.

    Raises:
        ScriptLoadError: the first problem :func:`inspect_source` finds.
    """
    found = inspect_source(source, path=path, collect=False)
    if found.script is None:
        raise found.diagnostics[0].to_error(found.source)
    return found.script


def inspect_source(source: str, *, path: str | None = None, collect: bool = True) -> Inspection:
    """Run every load check on ``source``: size, control characters, syntax, meta.

    These are the checks ``run`` refuses a script on; ``parse_script`` raises the first
    problem, ``validate`` reports them all (``collect``).

    Returns:
        An :class:`Inspection`; its ``script`` is set when no check found a problem.
    """
    if source.startswith("\ufeff"):
        source = source[1:]
    found = Inspection(path, source, _sha256(source), SourceMap(source))

    def report(problem: Diagnostic | None) -> None:
        if problem is not None:
            found.diagnostics.append(problem)
            if not collect:
                raise _Stop

    with contextlib.suppress(_Stop):
        _inspect(found, report)
    return found


def _inspect(found: Inspection, report: Callable[[Diagnostic | None], None]) -> None:
    source, path, positions = found.source, found.path, found.positions
    if len(source) > MAX_SCRIPT_CHARS:
        report(_too_large(path))
    for problem in _control_problems(source, positions, path):
        report(problem)
    tree = found.tree = js_parser().parse(positions.data)
    # NUL is ASCII, lone surrogates are not: an ASCII text needs one look for NUL only.
    compilable = "\0" not in source if source.isascii() else _UNCOMPILABLE.search(source) is None
    clean = not tree.root_node.has_error
    head = _META_HEAD.match(source)
    if head is None:
        # read_meta gives the reference's message at the first statement's position.
        meta = read_meta(source, path=path, tree=tree, positions=positions)
        found.span = meta.span
        for problem in meta.problems:
            report(problem)
        if not meta.problems:
            report(Diagnostic.make("E106", FIRST_STATEMENT, path=path, pos=(1, 1)))
        # validate goes on: the syntax of the whole text, as a body, is still worth checking.
        if compilable:
            report(_syntax_problem(source, PREFIX + source + SUFFIX, clean, path))
        return
    start, end = head.span("head")
    # `export const meta =` becomes `void` and blanks: the literal stays an expression at its
    # place (columns and lines unchanged), and, as in the reference runtime, `meta` is not a
    # name the body can see (nor one it is barred from declaring).
    blank = re.sub(r"[^\n]", " ", source[start + 4 : end])
    body = source[:start] + "void" + blank + source[end:]
    wrapped = PREFIX + body + SUFFIX
    if compilable:
        report(_syntax_problem(source, wrapped, clean, path))
    meta = read_meta(source, path=path, tree=tree, positions=positions, collect=True)
    found.span = meta.span
    for problem in meta.problems:
        report(problem)
    if meta.span is not None and meta.span.export_start != start:
        report(Diagnostic.make("E106", FIRST_STATEMENT, path=path, pos=(1, 1)))
    found.meta = meta.meta
    if found.diagnostics or meta.meta is None:
        return
    found.script = Script(
        path=path,
        source=source,
        meta=meta.meta,
        body=body,
        wrapped=wrapped,
        child_wrapped=CHILD_PREFIX + body + CHILD_SUFFIX,
        sha256=found.sha256,
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


# TypeScript constructs, tried on the line of a syntax error (strings and comments blanked):
# one that covers the error's column names what QuickJS stumbled on. Compiled at the first
# syntax error, not at import: a script that compiles never needs them (issue 22, start-up).
@functools.cache
def _ts_patterns() -> tuple[list[tuple[re.Pattern[str], str]], re.Pattern[str]]:
    return [
        (re.compile(r"\b(?:export\s+)?interface\s+[A-Za-z_$][\w$]*"), "an interface declaration"),
        (
            re.compile(r"\b(?:export\s+)?type\s+[A-Za-z_$][\w$]*\s*(?:<[^>]*>\s*)?="),
            "a type alias",
        ),
        (re.compile(r"\b(?:export\s+)?(?:const\s+)?enum\s+[A-Za-z_$][\w$]*"), "an enum"),
        (re.compile(r"\bimport\s+type\b"), "a type-only import"),
        (
            re.compile(
                r"\b(?:declare|abstract|namespace|private|protected|public|readonly|implements)"
                r"\s+[A-Za-z_$]"
            ),
            "a TypeScript-only keyword",
        ),
        (re.compile(r"\b(?:as|satisfies)\s+(?:const\b|[A-Za-z_$][\w$.]*)"), "a type assertion"),
        (re.compile(r"\bfunction\s*\*?\s*[A-Za-z_$][\w$]*\s*<"), "a generic function"),
        (
            re.compile(
                r"[A-Za-z_$][\w$]*\s*<\s*[A-Za-z_$][\w$]*(?:\[\])?(?:\s*,\s*[\w$\[\]]+)*\s*>\s*\("
            ),
            "generic type arguments",
        ),
        (re.compile(r"<\s*(?:any|unknown|string|number|boolean|[A-Z][\w$]*)\s*>"), "a type cast"),
        (
            re.compile(r"(?:[A-Za-z_$][\w$]*|\))\s*\??\s*:\s*[A-Za-z_${\[(][\w$<>\[\],.|&\s]*"),
            "a type annotation",
        ),
        (re.compile(r"[\w$)\]]!(?=\s*(?:[.;,)\]]|$))"), "a non-null assertion"),
    ], re.compile(
        r"'(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?|`(?:[^`\\]|\\.)*`?|//.*|/\*.*?(?:\*/|$)"
    )


def _typescript_construct(source: str, line: int, col: int) -> str | None:
    """What TypeScript construct, if any, sits at ``line``:``col`` (a syntax error's place)."""
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return None
    patterns, strings_and_comments = _ts_patterns()
    text = strings_and_comments.sub(lambda m: " " * len(m.group()), lines[line - 1])
    at = col - 1
    for pattern, name in patterns:
        for match in pattern.finditer(text):
            # QuickJS reports at the construct, or just after the token it stopped on.
            if match.start() <= at <= match.end() + 1:
                return name
    return None


def _syntax_problem(
    source: str, wrapped: str, source_clean: bool, path: str | None
) -> Diagnostic | None:
    """The syntax error QuickJS finds in ``wrapped``, at the user's line and column.

    ``source_clean`` says tree-sitter parsed the script itself without an error. Then the body
    cannot close the wrapper early: that takes a ``}`` the body does not open, an error at the
    top level of the script (tree-sitter's statement lists are the same in a program and in a
    function body). So the second parse, of the wrapper, is only needed for a script with
    errors; the fuzz tests check that it never finds an escape in a clean one. A clean script
    is also likely to compile, so QuickJS tries the declaration form first, which with its
    function's source text proves there is no early close (see ``check_function_source``).
    (QuickJS counts lines by LF only; its positions are used as they are.)
    """
    error = (
        "EscapeError: the script body closes the workflow function early"
        if not source_clean and _clearly_escapes(wrapped)
        else check_function_source(wrapped, likely_valid=source_clean)
    )
    if error is None:
        return None
    first, _, rest = error.partition("\n")
    frames = parse_frames(rest)
    line = col = None
    at_end = False
    if frames:
        _, line, col = frames[0]
        if line == 1:
            col = max(1, col - len(PREFIX))
        last = source.count("\n") + 1
        if line > last:  # an unclosed construct is reported on the wrapper's closing line
            line, col = last, len(source.rsplit("\n", 1)[-1]) + 1
            at_end = True
    code = "E104"
    if first.startswith("EscapeError"):
        message = "SyntaxError: unbalanced '}': the script closes its own function body early"
    elif at_end:
        # QuickJS names the wrapper's own closing token, which the user never wrote.
        message = (
            "SyntaxError: the script ends too soon: something it opens (a parenthesis, "
            "bracket, brace, string or template) is not closed"
        )
    else:
        message = first
        construct = _typescript_construct(source, line, col) if line and col else None
        if construct is not None:
            code = "E105"
            message = f"{message} (this looks like TypeScript: {construct})"
    pos = (line, col) if line is not None and col is not None else None
    return Diagnostic.make(code, message, path=path, pos=pos, hint=_TS_HINT)
