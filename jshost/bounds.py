"""What the host accepts from a script, and how much of it: the checks at the bridge.

The sandbox's memory limit bounds what a script can build; these bounds keep what the host
keeps of it (in memory and in the store) within a stated multiple of that limit, and make
sure nothing a script hands over can break the host's own code later: a lone surrogate (a
valid JS string, but no Unicode text) cannot be encoded as UTF-8, so the store, a terminal
or a JSON dump would fail on it long after the call that brought it in. SECURITY.md states
the bounds.
"""

from __future__ import annotations

from typing import Any

from ._lazy import lazy_pattern

__all__ = [
    "MAX_ARGS_FILE_BYTES",
    "MAX_PATH_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_STORED_LOG_BYTES",
    "MAX_TITLE_CHARS",
    "MAX_WORKFLOW_CALLS",
    "has_surrogate",
    "text_problem",
    "value_has_surrogate",
]

#: characters in one agent() prompt (more than a million-token context holds)
MAX_PROMPT_CHARS = 4_000_000
#: characters in a label, a phase title, a model name, a child workflow's name (group title)
MAX_TITLE_CHARS = 10_000
#: characters in a workflow({scriptPath}) (Linux's PATH_MAX)
MAX_PATH_CHARS = 4096
#: workflow() calls one run may make, child workflows' attempts included
MAX_WORKFLOW_CALLS = 1000
#: bytes of --args-file (a larger value would not fit in a sandbox either)
MAX_ARGS_FILE_BYTES = 32 << 20
#: bytes of log and failure lines stored per run session; later lines are counted, not stored
MAX_STORED_LOG_BYTES = 32 << 20

# Compiled at first use, and only non-ASCII text is searched: a class past U+00FF costs ~2 M
# instructions to compile, and most texts are ASCII (issue 22).
_SURROGATE = lazy_pattern("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (JSON decoding pairs the valid ones)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def value_has_surrogate(value: Any) -> bool:
    """Whether some string in a JSON value (keys included) holds a lone surrogate."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if has_surrogate(v):
                return True
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
    return False


def text_problem(text: str, what: str, limit: int) -> tuple[str, str] | None:
    """Why the host refuses ``text`` as ``what``: ``(error name, message)``, or None.

    Too long is a ``RangeError``; a NUL or a lone surrogate a ``TypeError``.
    """
    if len(text) > limit:
        return "RangeError", f"{what} is {len(text):,} characters long; the limit is {limit:,}"
    match = None if text.isascii() else _SURROGATE.search(text)
    if match is not None:
        return "TypeError", (
            f"{what} contains a lone surrogate (U+{ord(match.group()):04X} at index "
            f"{match.start()}), which is not valid Unicode text"
        )
    return None
