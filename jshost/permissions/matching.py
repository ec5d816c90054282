"""Whether one rule matches one tool call: the Bash, path, name and domain specifiers.

An allow rule must match every part of a call (each command of a compound, each path it
touches); a deny or ask rule matches when any part does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import expansion
from .bash import MAX_ARGS, CommandSplit, Part, bash_pattern_matches, split_command
from .paths import Anchors, path_pattern
from .protected import protected_names
from .rules import Rule

__all__ = [
    "Call",
    "bash_suggestion",
    "clamp_pattern",
    "matches",
    "outside_args",
    "parts_allowed",
]


@dataclass(frozen=True)
class Call:
    tool: str
    tool_input: Mapping[str, Any]
    kind: str
    paths: tuple[Path, ...]
    command: str | None
    anchors: Anchors
    dirs: tuple[Path, ...]
    split: list[CommandSplit] = field(default_factory=list, compare=False)
    #: outside_args of each part (by position), worked out once per call
    outside: dict[int, list[str]] = field(default_factory=dict, compare=False)
    #: arguments looked up so far
    looked_up: list[int] = field(default_factory=lambda: [0], compare=False)

    def bash(self) -> CommandSplit | None:
        if self.command is None:
            return None
        if not self.split:
            self.split.append(split_command(self.command))
        return self.split[0]

    def inside(self) -> bool:
        return bool(self.paths) and all(self.contains(p) for p in self.paths)

    def contains(self, path: Path) -> bool:
        return any(path == d or d in path.parents for d in self.dirs)


def clamp_pattern(rule: Rule) -> str:
    # `Bash(git log)` in a clamp is a prefix: the command itself or with more words.
    spec = rule.specifier or ""
    return spec if "*" in spec else spec + " *"


def _part_allowed(pattern: str, part: Part, call: Call | None) -> bool:
    """Whether a Bash pattern allows one simple command. A redirection that writes a file,
    and a path outside the workspace (``cat /etc/passwd``, ``ls ../..``, a symlink out, a
    ``$VAR`` whose value is unknown), count only when the pattern spells them out: ``*``
    does not stand for them. ``call`` None: no path check (a clamp only limits)."""
    if not bash_pattern_matches(pattern, part.text):
        return False
    if part.writes and ">" not in pattern:
        return False
    return call is None or all(_spelled_out(w, pattern) for w in outside_args(part, call))


def _spelled_out(word: str, pattern: str) -> bool:
    """Whether a rule's pattern names the word (``cat /etc/hostname``) or a directory of it
    followed by a wildcard (``cat /etc/*``)."""
    # Whole words of the pattern, not pieces of it: `ls *` names neither a link `l` nor `*`.
    named = {t for t in pattern.split() if t.strip("*")}
    if word in named:
        return True
    return any(word[: i + 1] + "*" in named for i, c in enumerate(word) if c == "/" and i > 0)


def parts_allowed(
    patterns: Sequence[tuple[str, Rule]], split: CommandSplit, call: Call | None = None
) -> list[Rule] | None:
    """The rules that together allow every part of a compound command (each part by one of
    them), or None when some part is allowed by none. With ``call``, a part naming a path
    outside its workspace needs a pattern that spells the path out; without, no path check
    (a clamp only limits)."""
    if not split.complete or not split.parts:
        return None
    used: dict[str, Rule] = {}
    for part in split.parts:
        rule = next((r for pat, r in patterns if _part_allowed(pat, part, call)), None)
        if rule is None:
            return None
        used.setdefault(rule.text, rule)
    return list(used.values())


def _bash_allows(pattern: str, split: CommandSplit, call: Call) -> bool:
    if not split.complete or not split.parts:
        return False
    return all(_part_allowed(pattern, p, call) for p in split.parts)


#: arguments of one command (all its parts) looked up on disk; past it, none counts as inside
MAX_CHECKED_ARGS = 4096
#: device files a command may name wherever the workspace is
_DEVICES = frozenset({"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/zero"})


def outside_args(part: Part, call: Call) -> list[str]:
    """The arguments of ``part`` that name (or may name) a path outside the workspace."""
    key = id(part)
    found = call.outside.get(key)
    if found is not None:
        return found
    call.looked_up[0] += len(part.args)
    if len(part.args) > MAX_ARGS or call.looked_up[0] > MAX_CHECKED_ARGS:
        # Too many to look each up on disk: none counts as inside.
        found = [w for w, _ in part.args]
    else:
        found = []
        for word, expands in part.args:
            if expands or not _word_inside(word, call):
                found.append(word)
    call.outside[key] = found
    return found


def _candidates(word: str, call: Call) -> list[str] | None:
    """Every path the shell may make of ``word``: each word its braces give, each file its
    wildcards may match (``{/etc/x,a}``, ``lin*/x`` through a link), and the word itself (a
    wildcard that matches nothing is passed as written). None: too many to know."""
    words = expansion.braces(word)
    if words is None:
        return None
    found: list[str] = []
    for each in words:
        path = _path_in(each)
        if path is None:
            continue
        if expansion.has_glob(path):
            if path.startswith("~"):
                if path != "~" and not path.startswith("~/"):
                    return None  # another user's home
                path = str(call.anchors.home) + path[1:]
            matched = expansion.glob(path, call.anchors.cwd)
            if matched is None:
                return None
            found.extend(matched)
        found.append(path)
    return found


def _word_inside(word: str, call: Call) -> bool:
    """Whether every path the shell may make of ``word`` lies inside the workspace."""
    found = _candidates(word, call)
    return found is not None and all(_inside(p, call) for p in found)


def _names_covered(rule: Rule, call: Call) -> bool:
    """Whether a Bash command names a file a ``Read`` path rule covers (``cat .env`` under
    ``Read(./.env)``): Claude Code applies Read deny rules to the files a command names.
    A word whose paths cannot all be known counts as naming one."""
    split = call.bash()
    if split is None or not split.complete:
        return False  # such a command matches no allow rule: it asks anyway
    pattern = path_pattern(rule.specifier or "")
    cwd, home = call.anchors.cwd, call.anchors.home
    for part in split.parts:
        for word, expands in part.args[:MAX_ARGS]:
            if expands:
                continue  # its value is unknown: only a rule that spells it out allows it
            found = _candidates(word, call)
            if found is None:
                return True
            for each in found:
                if each == "~" or each.startswith("~/"):
                    each = str(home) + each[1:]
                plain = Path(os.path.normpath(cwd / each))
                for path in {plain, Path(os.path.realpath(plain))}:
                    if pattern.matches(path, call.anchors, is_dir=_is_dir(path)):
                        return True
    return False


def _path_in(word: str) -> str | None:
    """The path an argument may name: the word, an option's value (``--file=/x``, ``-I/x``),
    or None (a plain flag, a URL)."""
    if word.startswith("-"):
        if "=" in word:
            word = word.split("=", 1)[1]
        elif "/" in word:
            word = word[word.index("/") :]
        else:
            return None
    if not word or "://" in word:
        return None
    return word


def _inside(word: str, call: Call) -> bool:
    cwd = call.anchors.cwd
    if word.startswith("~"):
        if word != "~" and not word.startswith("~/"):
            return False  # another user's home
        path = call.anchors.home / word[2:]
    elif "/" not in word and word not in (".", ".."):
        # A plain name is in the working directory, unless it is a link out of it (or a
        # protected name: `.git`, `.mcp.json`).
        if not os.path.islink(cwd / word) and not protected_names(Path(word), Path()):
            return True
        path = cwd / word
    else:
        path = cwd / word
    real = Path(os.path.realpath(path))
    if str(real) in _DEVICES:
        return True
    # A protected path (`.git/config`, `.vscode/tasks.json`) counts as outside: the command
    # may write it (`git log --output=.git/config`), and code would run from it later.
    return call.contains(real) and not protected_names(real, cwd)


def matches(rule: Rule, call: Call, *, allow: bool) -> bool:
    """Whether ``rule`` matches the call: an allow rule every part of it (each command of a
    compound, each path), a deny or ask rule any part."""
    if not rule.covers_tool(call.tool):
        if (
            not allow
            and call.tool == "Bash"
            and rule.kind == "path"
            and rule.specifier is not None
            and rule.covers_tool("Read")
        ):
            return _names_covered(rule, call)
        return False
    spec = rule.specifier
    if spec is None:
        return True
    if rule.kind == "bash":
        split = call.bash()
        if split is None:
            return False
        if allow:
            return _bash_allows(spec, split, call)
        if not split.complete or any(p.opaque for p in split.parts):
            # A command that cannot be read, or a program only the shell can name, may be
            # the one this rule is about.
            return True
        return any(bash_pattern_matches(spec, s) for s in split.spellings())
    if rule.kind == "path":
        if not call.paths:
            return False
        pattern = path_pattern(spec)
        hits = (pattern.matches(p, call.anchors, is_dir=_is_dir(p)) for p in call.paths)
        return all(hits) if allow else any(hits)
    if rule.kind == "name":
        wanted = call.tool_input.get("subagent_type") if rule.tool == "Agent" else None
        return isinstance(wanted, str) and wanted == spec
    if rule.kind == "domain":
        url = call.tool_input.get("url")
        host = urlsplit(url).hostname if isinstance(url, str) else None
        return host is not None and (host == spec or host.endswith("." + spec))
    return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def bash_suggestion(split: CommandSplit, allowed: Sequence[Rule], call: Call) -> str | None:
    """``Bash(<first words> *)`` for the first part of the command no allow rule covers;
    the part itself when it writes a file or names a path outside the workspace."""
    if not split.complete:
        return None
    for part in split.parts:
        if any(
            r.kind == "bash" and r.specifier is not None and _part_allowed(r.specifier, part, call)
            for r in allowed
        ):
            continue
        if part.writes or outside_args(part, call):
            # Only a rule that spells these out allows them.
            return None if any(c in part.text for c in "()\n") else f"Bash({part.text})"
        words = part.text.split(" ")
        head = words[:1]
        if len(words) > 1 and words[1][:1].isalpha() and words[1].replace("-", "").isalnum():
            head = words[:2]  # a subcommand: `git log`, `npm run`
        if any(c in w for w in head for c in "()*\n$`"):
            return None
        return f"Bash({' '.join(head)} *)"
    return None
