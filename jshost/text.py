"""Text from a script, a model, a saved file or the store, made safe to show on a terminal.

Every human-facing write of such text goes through :func:`printable`. Rich does not escape
ESC, and neither do click or textual, so without it a ``log()`` line could write the user's
clipboard (OSC 52), set the window title (OSC 0), plant a hyperlink (OSC 8), clear the screen
or rewrite lines already printed. Bidi overrides and zero-width characters are not escapes,
but they make a line read differently from what it holds, so they are shown too.

Machine outputs stay exact: JSON goes through :func:`json_text`, which escapes the same
characters inside JSON strings, so the value a program reads back is unchanged.

This module imports nothing of jshost: any layer may use it.
"""

from __future__ import annotations

import re
import unicodedata

from ._lazy import lazy_pattern

__all__ = ["cell_width", "clip", "encodable", "json_text", "printable"]

# Every code point of the general categories Cc (C0, DEL, C1), Cf (format: bidi controls,
# zero-width characters, soft hyphen, BOM, tags), Cs (surrogates: only a JS string holds
# them alone, and no terminal encoding can write one), Zl and Zp (line and paragraph
# separators), as of Unicode 14 (Python 3.11); tests/hostile/test_terminal.py checks it
# against the running Python's unicodedata. A literal class instead of a category lookup per
# character: results of megabytes are shown through it.
_UNSAFE_CLASS = (
    r"\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    r"\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    r"\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = lazy_pattern(rf"\r\n|[{_UNSAFE_CLASS}]")
# The same text as bounds._SURROGATE, so re's cache compiles it once, and at first use
# (issue 22).
_SURROGATE = lazy_pattern("[\ud800-\udfff]")


def _marker(ch: str) -> str:
    return f"⟨U+{ord(ch):04X}⟩"


def _single(m: re.Match[str]) -> str:
    return "".join(_marker(ch) for ch in m.group())


def _multi(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in ("\n", "\t"):
        return ch
    if ch == "\r\n":
        return "\n"  # a CRLF file reads the same as an LF one
    return _marker(ch)


def printable(untrusted: object, *, multiline: bool = False) -> str:
    """``untrusted`` as text a terminal shows and never obeys.

    Control characters (C0, DEL, C1, so ESC and every escape sequence), bidi overrides and
    isolates, zero-width and other format characters, line and paragraph separators and
    lone surrogates become visible, inert ``⟨U+001B⟩`` markers. The result is never rich or
    textual markup either: pass it as ``Text``, not as a markup string.

    Args:
        untrusted: the text (anything else is shown as ``str()`` of it).
        multiline: keep newlines and tabs (a CRLF becomes a newline), for surfaces that show
            multi-line text (a prompt, a result, an error); otherwise they become markers too,
            so one value stays on one line and cannot forge the lines after it.
    """
    text = untrusted if isinstance(untrusted, str) else str(untrusted)
    if text.isprintable():
        # The common case: no work. Every unsafe character is one str.isprintable() refuses
        # (categories Cc, Cf, Cs, Zl, Zp), so text it accepts has none, ASCII or not (the
        # run summary's "·" no longer compiles the unsafe-class regex: issue 22).
        return text
    return _UNSAFE.sub(_multi if multiline else _single, text)


def _json_escape(m: re.Match[str]) -> str:
    out = []
    for ch in m.group():
        cp = ord(ch)
        if ch == "\n":
            out.append(ch)  # outside a string: JSON escapes a newline inside one itself
        elif cp > 0xFFFF:
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
        else:
            out.append(f"\\u{cp:04x}")
    return "".join(out)


def json_text(dumped: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with nothing a terminal obeys.

    JSON escapes only C0 controls itself; this escapes the rest of what :func:`printable`
    shows (DEL, C1, format characters, separators, lone surrogates) as ``\\uXXXX``. The value
    read back is exactly the same, and other non-ASCII text stays readable.
    """
    if dumped.isascii() and "\x7f" not in dumped:
        return dumped
    return _UNSAFE.sub(_json_escape, dumped)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last of them ``…`` when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encodable(exact: str) -> str:
    """``exact`` unchanged, but for lone surrogates (no encoding can write them), as ``\\udXXX``.

    For the exact value written to a pipe or a file, where nothing is escaped.
    """
    if exact.isascii() or _SURROGATE.search(exact) is None:
        return exact
    return exact.encode("utf-8", "backslashreplace").decode("utf-8")


def cell_width(shown: str) -> int:
    """Terminal cells ``shown`` takes (wide East Asian characters two, combining marks none),
    so that a caret lands under the character it points at."""
    if shown.isascii():
        return len(shown)
    width = 0
    for ch in shown:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width
