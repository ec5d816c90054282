"""Where a ``/`` can be a token of a JavaScript text, read as QuickJS's lexer reads it.

The syntax check (``context.check_function_source``) proves with the declaration form that a
script's body does not close the workflow function early; it used to compile the expression
form every time too. That compile only matters when QuickJS's own pre-scan of a parenthesised
expression (is this an arrow function's parameter list?) matches brackets differently from its
parser, and the pre-scan only differs at a ``/``: it guesses regex or division from the
previous token, the parser knows. In a text with no ``/`` token at all (every ``/`` inside a
comment, a string or a template's characters) the pre-scan sees the parser's own tokens, so
the expression form compiles exactly when the declaration form does (issue 22).
"""

from __future__ import annotations

import re

from .._lazy import lazy_pattern

__all__ = ["slash_free"]

# A string or a comment, as one token (an unterminated one does not match). A `//` comment
# ends at LF or CR here: a text with U+2028 or U+2029, where QuickJS ends it too, is not
# read at all (slash_free), as a class reaching past U+00FF makes Python's regex compiler
# build a table of every code point up to U+FFFF (1.4 M instructions of every start-up).
_STRING_OR_COMMENT = (
    r"'[^'\\\n\r]*(?:\\(?:\r\n|(?s:.))[^'\\\n\r]*)*'"
    r'|"[^"\\\n\r]*(?:\\(?:\r\n|(?s:.))[^"\\\n\r]*)*"'
    r"|//[^\n\r]*|/\*(?s:.)*?\*/"
)
# Code with its strings and comments, up to a place that needs a look: a backtick, a slash
# that starts no comment, a quote that starts no string (and, inside a template substitution,
# a brace: the `}` that ends the substitution). One match in C for most of a script.
_CODE = re.compile(rf"(?:[^'\"`/]+|{_STRING_OR_COMMENT})*")
# (These two compiled at first use: only a script with a template needs them.)
_SUBSTITUTION_CODE = lazy_pattern(rf"(?:[^'\"`/{{}}]+|{_STRING_OR_COMMENT})*")
# A template's characters up to its closing backtick or its next `${`.
_TEMPLATE_CHARS = lazy_pattern(r"[^`\\$]*(?:(?:\\[\s\S]|\$(?!\{))[^`\\$]*)*")


def slash_free(text: str) -> bool:
    """Whether no ``/`` of ``text`` is a token (a division or a regular expression): each one
    is inside a comment, a string or a template's characters.

    Linear in the text (every match moves on, none is tried twice). Anything this reader does
    not follow to the end (an unterminated string, comment or template) answers False, which
    only ever costs the caller the expression compile.
    """
    if "\u2028" in text or "\u2029" in text:
        return False  # line terminators the patterns do not end a `//` comment at
    pos, end = 0, len(text)
    # For each template substitution open around ``pos``: the braces opened inside it.
    braces: list[int] = []
    while True:
        pos = (_SUBSTITUTION_CODE if braces else _CODE).match(text, pos).end()
        if pos >= end:
            return not braces
        ch = text[pos]
        if ch in "/'\"":
            return False  # a division or a regular expression, or an unterminated string
        if ch == "{":
            braces[-1] += 1
            pos += 1
            continue
        if ch == "}" and braces[-1]:
            braces[-1] -= 1
            pos += 1
            continue
        if ch == "}":  # the end of a substitution: the template's characters go on
            braces.pop()
        pos = _TEMPLATE_CHARS.match(text, pos + 1).end()
        if pos >= end:
            return False
        if text[pos] == "`":
            pos += 1
        else:  # `${`
            braces.append(0)
            pos += 2
