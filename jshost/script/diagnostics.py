"""Diagnostics: one positioned problem found in a workflow script, with a stable code.

Codes never change meaning once shipped; ``docs/validate.md`` lists them all (a test checks
that it does). The severity follows from :data:`REFUSED`, not from the letter: an error is
what the reference refuses before it starts a run, so ``run`` refuses it too; everything else
is a warning (shown at the confirmation; an error under ``validate --strict``), because the
reference starts such a script and lets it catch the failure at run time. The letter is the
severity a code had when it shipped, kept because codes never change.
"""

from __future__ import annotations

import bisect
from typing import Any, Literal, final

from .._data import Frozen, set_field
from .._lazy import lazy_pattern
from ..errors import ScriptLoadError, format_location
from ..text import cell_width, printable

__all__ = ["CODES", "REFUSED", "Diagnostic", "Severity", "SourceMap", "decode", "excerpt"]

Severity = Literal["error", "warning"]

#: code -> short name. The first digit groups them: 1 what ``run`` refuses on load,
#: 2 sandbox features that do not exist, 3 determinism, 4 names, 5 ``agent()`` calls,
#: 6 ``parallel()``/``pipeline()``, 7 phases and budget, 8 ``workflow()``.
CODES: dict[str, str] = {
    "E101": "script-too-large",
    "E102": "control-character",
    "E103": "not-utf8",
    "E104": "syntax-error",
    "E105": "typescript-syntax",
    "E106": "meta-not-first",
    "E107": "meta-not-literal",
    "E108": "meta-name",
    "E109": "meta-description",
    "E201": "import-export",
    "E202": "with-statement",
    "E203": "dynamic-import",
    "E204": "eval",
    "E205": "function-constructor",
    "E206": "require",
    "E207": "process",
    "E208": "fetch",
    "E301": "date-now",
    "E302": "argless-date",
    "E303": "math-random",
    "W304": "date-call",
    "W401": "undefined-name",
    "E501": "agent-prompt",
    "W502": "agent-unknown-option",
    "E503": "agent-option-type",
    "E504": "agent-effort",
    "E505": "agent-isolation",
    "E506": "agent-schema-invalid",
    "E507": "agent-schema-unsatisfiable",
    "E508": "agent-permission-rule",
    "E601": "parallel-not-array",
    "E602": "parallel-not-thunks",
    "E603": "pipeline-items-not-array",
    "E604": "pipeline-stage-not-function",
    "W701": "phase-undeclared",
    "W702": "phase-unused",
    "E703": "budget-called",
    "W704": "budget-loop",
    "W801": "workflow-script-missing",
}

#: The codes ``run`` refuses, each because the reference refuses the script before it starts
#: a run (docs/validate.md names the reference section of each). The rest the reference
#: reports at run time, as an error the script can catch: those are warnings here.
REFUSED: frozenset[str] = frozenset(
    {
        # §2.1 rule 1: "Script exceeds 524288 bytes"
        "E101",
        # §1.1: control characters that would be hidden in the approval dialog
        "E102",
        # no text to check or run (the reference reads scripts as UTF-8 text)
        "E103",
        # §2.1 rule 2, §2.2: a parse or compile error is returned, the run "not launched"
        "E104",
        "E105",
        # §2.1 rules 3-5: "Invalid workflow script: <meta error>"
        "E106",
        "E107",
        "E108",
        "E109",
        # §2.2: import/export declarations, `with`, `import()` are SyntaxErrors at compile
        "E201",
        "E202",
        "E203",
        # §1.3 errorCode 4: the AST determinism check (Date.now, Math.random, argless new Date)
        "E301",
        "E302",
        "E303",
    }
)

# ECMAScript LineTerminatorSequence: how acorn (and so the reference's messages) count lines.
_LINE_BREAK_RE = lazy_pattern(r"\r\n?|[\n\u2028\u2029]")


@final
class Diagnostic(Frozen):
    """One problem in a script.

    Args:
        path (str | None): the script's path as the user gave it.
        line (int | None): 1-based line, in the user's file.
        col (int | None): 1-based column, in characters.
        severity (Severity): ``"error"`` or ``"warning"`` (follows from the code).
        code (str): a stable code from :data:`CODES`.
        message (str): what is wrong, and where possible the fix.
        hint (str | None): a further line shown under the diagnostic.
    """

    path: str | None
    line: int | None
    col: int | None
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    _fields = ("path", "line", "col", "severity", "code", "message", "hint")

    def __init__(
        self,
        path: str | None,
        line: int | None,
        col: int | None,
        severity: Severity,
        code: str,
        message: str,
        hint: str | None = None,
    ) -> None:
        set_field(self, "path", path)
        set_field(self, "line", line)
        set_field(self, "col", col)
        set_field(self, "severity", severity)
        set_field(self, "code", code)
        set_field(self, "message", message)
        set_field(self, "hint", hint)

    @classmethod
    def make(
        cls,
        code: str,
        message: str,
        *,
        path: str | None,
        pos: tuple[int, int] | None = None,
        hint: str | None = None,
    ) -> Diagnostic:
        """A diagnostic whose severity follows from ``code``: an error when ``run`` refuses
        it (:data:`REFUSED`), else a warning."""
        if code not in CODES:
            raise ValueError(f"unknown diagnostic code {code!r}")
        line, col = pos if pos is not None else (None, None)
        severity: Severity = "error" if code in REFUSED else "warning"
        return cls(path, line, col, severity, code, message, hint)

    @property
    def location(self) -> str:
        """``path:line:col`` (as much as is known)."""
        return format_location(self.path, self.line, self.col)

    def __str__(self) -> str:
        return f"{self.location}: {self.severity} {self.code} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "code": self.code,
            "name": CODES[self.code],
            "message": self.message,
            "hint": self.hint,
        }

    def to_error(self, source: str | None = None) -> ScriptLoadError:
        """The error ``parse_script`` raises for this diagnostic: excerpt and hint as detail."""
        parts = []
        if source is not None and self.line is not None:
            shown = excerpt(source, self.line, self.col or 1)
            if shown:
                parts.append(shown)
        if self.hint:
            parts.append(self.hint)
        return ScriptLoadError(
            self.message,
            path=self.path,
            line=self.line,
            column=self.col,
            detail="\n\n".join(parts) or None,
        )


def decode(data: bytes) -> str:
    """UTF-8 bytes of a script back to text. Lone surrogates (only an in-memory string holds
    them) round-trip; a slice that cuts one in half does not fail, it gets U+FFFD."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")


def excerpt(source: str, line: int, column: int) -> str:
    """The line (at most 80 characters of it, around ``column``) and a caret under the column."""
    lines = _LINE_BREAK_RE.split(source)
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].expandtabs(1)
    start = max(0, column - 60)
    # Raw control, bidi or zero-width characters would reorder the line or move the caret
    # (or reach the terminal as escapes): they are shown as markers, and the caret is placed
    # by the width of what is shown before the column.
    shown = printable(text[start : start + 80])
    caret = " " * cell_width(printable(text[start : max(start, column - 1)])) + "^"
    return f"{shown}\n{caret}"


class SourceMap:
    """Turns character offsets, and tree-sitter's UTF-8 byte offsets, into ``(line, col)``.

    Lines are counted as ECMAScript counts them; columns are 1-based and in characters. The
    line table is built once, so positioning many diagnostics in a large file stays cheap.
    """

    def __init__(self, source: str, data: bytes | None = None) -> None:
        self.source = source
        self.data = data if data is not None else source.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(source)
        self._starts: list[int] | None = None
        self._byte_starts: list[int] | None = None

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in _LINE_BREAK_RE.finditer(self.source)]
        return self._starts

    def _byte_line_starts(self) -> list[int]:
        if self._byte_starts is None:
            starts = self._line_starts()
            if self.ascii:
                self._byte_starts = starts
            else:
                out, byte, prev = [], 0, 0
                for start in starts:
                    byte += len(self.source[prev:start].encode("utf-8", "surrogatepass"))
                    out.append(byte)
                    prev = start
                self._byte_starts = out
        return self._byte_starts

    def pos(self, index: int) -> tuple[int, int]:
        """``(line, col)`` of the character at ``index``."""
        starts = self._line_starts()
        line = bisect.bisect_right(starts, index)
        return line, index - starts[line - 1] + 1

    def index_of(self, line: int, col: int) -> int:
        """The character offset of ``line``:``col`` (clamped to the text)."""
        starts = self._line_starts()
        line = min(max(line, 1), len(starts))
        return min(starts[line - 1] + max(col, 1) - 1, len(self.source))

    def byte_pos(self, byte: int) -> tuple[int, int]:
        """``(line, col)`` of the character that starts at UTF-8 offset ``byte``."""
        if self.ascii:
            return self.pos(byte)
        starts = self._byte_line_starts()
        line = bisect.bisect_right(starts, byte)
        head = decode(self.data[starts[line - 1] : byte])
        return line, len(head) + 1

    def offset(self, byte: int) -> int:
        """The character offset of UTF-8 offset ``byte``."""
        if self.ascii:
            return byte
        line, col = self.byte_pos(byte)
        return self._line_starts()[line - 1] + col - 1
