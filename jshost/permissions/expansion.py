"""What an unquoted shell word may turn into before the program sees it: brace expansion
(``{a,b}``, ``{1..3}``) and pathname expansion (``*``, ``?``, ``[…]``).

The Bash check looks up the paths a command names. ``cat {/etc/passwd,a}`` names
``/etc/passwd`` though the word holds no leading ``/``, and ``cat lin*/passwd`` reads through a
symlink ``link -> /etc`` that the word never spells. So a word is checked as every word it may
become. The expansion here is an over-approximation of bash's: it may give words bash would not
(a quoted ``'{a,b}'`` is expanded too, a bracket expression matches any one character, a
component that starts with ``.`` may also be ``.`` or ``..``), never fewer. When it would cost
too much (too many words, too many directory entries), it gives None and the word counts as
outside the workspace: only a rule that spells it out allows it.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import re
from pathlib import Path

__all__ = ["MAX_WORDS", "braces", "glob", "has_glob"]

#: words one word may become (braces, then each glob's matches); more: give up
MAX_WORDS = 4096
#: directory entries one glob may look at; more: give up
MAX_ENTRIES = 100_000
#: the longest word worth expanding (PATH_MAX); a longer one with braces: give up
MAX_CHARS = 4096
_BRACKET = re.compile(r"\[!?\]?[^\]]*\]")
_INT_SEQ = re.compile(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?\Z")
_CHAR_SEQ = re.compile(r"([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?\Z")


def has_glob(word: str) -> bool:
    return any(c in word for c in "*?[")


def braces(word: str) -> list[str] | None:
    """The words ``word`` may become by brace expansion (itself when it has none); None when
    more than :data:`MAX_WORDS`."""
    if "{" not in word:
        return [word]
    if len(word) > MAX_CHARS:
        return None
    out: list[str] = []
    todo = [word]
    while todo:
        w = todo.pop()
        split = _first_brace(w)
        if split is None:
            out.append(w)
        else:
            prefix, alternatives, suffix = split
            todo.extend(prefix + a + suffix for a in reversed(alternatives))
        if len(out) + len(todo) > MAX_WORDS:
            return None
    return out


def _first_brace(word: str) -> tuple[str, list[str], str] | None:
    """The first ``{…}`` bash would expand: the text before, the alternatives, the text after."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    for i, c in enumerate(word):
        if c == "{":
            opened.append(i)
        elif c == "}" and opened:
            closing[opened.pop()] = i
    for start in sorted(closing):
        if start and word[start - 1] == "$":
            continue
        end = closing[start]
        commas, j = [], start + 1
        while j < end:
            if word[j] == "{" and j in closing:
                j = closing[j]  # a nested pair: its commas are its own
            elif word[j] == ",":
                commas.append(j)
            j += 1
        if commas:
            cuts = [start, *commas, end]
            alternatives = [word[a + 1 : b] for a, b in itertools.pairwise(cuts)]
        else:
            alternatives = _sequence(word[start + 1 : end])
            if alternatives is None:
                continue
        return word[:start], alternatives, word[end + 1 :]
    return None


def _sequence(inner: str) -> list[str] | None:
    """``1..5``, ``a..e``, ``0..10..2``; None when ``inner`` is not a sequence. A sequence
    longer than MAX_WORDS is given as one impossible word ``/`` (outside everything)."""
    m = _INT_SEQ.match(inner)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        step = abs(int(m.group(3) or 1)) or 1
        if abs(hi - lo) // step >= MAX_WORDS:
            return ["/"]
        width = max(len(m.group(1)), len(m.group(2)))
        pad = m.group(1).lstrip("-").startswith("0") or m.group(2).lstrip("-").startswith("0")
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [str(n).zfill(width) if pad else str(n) for n in rng]
    m = _CHAR_SEQ.match(inner)
    if m:
        lo, hi = ord(m.group(1)), ord(m.group(2))
        step = abs(int(m.group(3) or 1)) or 1
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [chr(n) for n in rng]
    return None


def glob(pattern: str, cwd: Path) -> list[str] | None:
    """The existing paths (absolute) a glob may match, looked up one component at a time;
    None when that would look at more than :data:`MAX_ENTRIES` entries or give more than
    :data:`MAX_WORDS` paths. Hidden names match too, and a wildcard component that could
    match ``.`` or ``..`` is taken to (shells differ there)."""
    current = [Path("/") if pattern.startswith("/") else cwd]
    budget = MAX_ENTRIES
    for comp in pattern.split("/"):
        if not comp:
            continue
        if not has_glob(comp):
            current = [c / comp for c in current]
            continue
        # A bracket expression matches one character: `?` stands for it whatever its class.
        regex = re.compile(fnmatch.translate(_BRACKET.sub("?", comp)))
        found: list[Path] = []
        for base in current:
            try:
                entries = os.scandir(base)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    budget -= 1
                    if budget < 0:
                        return None
                    if regex.match(entry.name):
                        found.append(base / entry.name)
            # A leading `.` is matched only by a literal one; shells differ on whether `.*`
            # then matches `.` and `..` (bash 5.2 says no, dash yes): when it could, count both.
            if comp.startswith("."):
                found += [base / d for d in (".", "..") if regex.match(d)]
            if len(found) > MAX_WORDS:
                return None
        current = found
    return [str(p) for p in current]
