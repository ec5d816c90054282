"""Whether one rule matches one tool call: the Bash, path, name and domain specifiers.

An allow rule must match every part of a call (each command of a compound, each path it
touches); a deny or ask rule matches when any part does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .bash import CommandSplit, Part, bash_pattern_matches, split_command
from .paths import Anchors, path_pattern
from .rules import Rule

__all__ = ["Call", "bash_suggestion", "clamp_pattern", "matches", "parts_allowed"]


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


def _part_allowed(pattern: str, part: Part) -> bool:
    # A redirection writes a file whatever the command; `*` does not stand for it.
    return bash_pattern_matches(pattern, part.text) and (not part.writes or ">" in pattern)


def parts_allowed(patterns: Sequence[tuple[str, Rule]], split: CommandSplit) -> list[Rule] | None:
    """The rules that together allow every part of a compound command (each part by one of
    them), or None when some part is allowed by none."""
    if not split.complete or not split.parts:
        return None
    used: dict[str, Rule] = {}
    for part in split.parts:
        rule = next((r for pat, r in patterns if _part_allowed(pat, part)), None)
        if rule is None:
            return None
        used.setdefault(rule.text, rule)
    return list(used.values())


def _bash_allows(pattern: str, split: CommandSplit) -> bool:
    if not split.complete or not split.parts:
        return False
    # A redirection writes a file whatever the command; `*` does not stand for it.
    return all(
        bash_pattern_matches(pattern, p.text) and (not p.writes or ">" in pattern)
        for p in split.parts
    )


def matches(rule: Rule, call: Call, *, allow: bool) -> bool:
    """Whether ``rule`` matches the call: an allow rule every part of it (each command of a
    compound, each path), a deny or ask rule any part."""
    if not rule.covers_tool(call.tool):
        return False
    spec = rule.specifier
    if spec is None:
        return True
    if rule.kind == "bash":
        split = call.bash()
        if split is None:
            return False
        if allow:
            return _bash_allows(spec, split)
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


def bash_suggestion(split: CommandSplit, allowed: Sequence[Rule]) -> str | None:
    """``Bash(<first words> *)`` for the first part of the command no allow rule covers."""
    if not split.complete:
        return None
    for part in split.parts:
        if any(
            r.kind == "bash"
            and r.specifier is not None
            and bash_pattern_matches(r.specifier, part.text)
            and (not part.writes or ">" in r.specifier)
            for r in allowed
        ):
            continue
        if part.writes:
            # A redirection is allowed only by a rule that spells it out.
            return None if any(c in part.text for c in "()\n") else f"Bash({part.text})"
        words = part.text.split(" ")
        head = words[:1]
        if len(words) > 1 and words[1][:1].isalpha() and words[1].replace("-", "").isalnum():
            head = words[:2]  # a subcommand: `git log`, `npm run`
        if any(c in w for w in head for c in "()*\n$`"):
            return None
        return f"Bash({' '.join(head)} *)"
    return None
