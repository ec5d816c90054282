"""Read/Edit rules: gitignore patterns anchored the way Claude Code anchors them.

``Read(./x)`` and ``Read(x)`` are relative to the workspace (an unanchored ``x`` without a
slash matches at any depth, as in ``.gitignore``), ``Read(/x)`` to the project root,
``Read(//x)`` to the filesystem root, ``Read(~/x)`` to the home directory. The paths matched
are the resolved paths a call touches (symlinks already followed by the tool), so a link
inside the workspace that points at ``/etc`` is checked as ``/etc/…``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    import pathspec

__all__ = ["Anchors", "PathPattern", "path_pattern", "suggest_path_rule"]


@final
@dataclass(frozen=True)
class Anchors:
    """The directories rule paths are relative to (all resolved)."""

    cwd: Path
    project_root: Path
    home: Path


@final
@dataclass(frozen=True)
class PathPattern:
    """A rule's specifier split into where it is anchored and the gitignore line under it."""

    base: str  # "cwd", "project", "home" or "root"
    up: int  # leading `../` steps from the base
    line: str  # the gitignore pattern, relative to the base

    def base_dir(self, anchors: Anchors) -> Path:
        d = {
            "cwd": anchors.cwd,
            "project": anchors.project_root,
            "home": anchors.home,
            "root": Path("/"),
        }[self.base]
        for _ in range(self.up):
            d = d.parent
        return d

    def matches(self, path: Path, anchors: Anchors, *, is_dir: bool = False) -> bool:
        """Whether the resolved ``path`` falls under this pattern."""
        base = self.base_dir(anchors)
        if path == base:
            return self.line.lstrip("/") in ("*", "**", "")
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            return False
        spec = _spec(self.line)
        return spec.match_file(rel) or (is_dir and spec.match_file(rel + "/"))


@functools.lru_cache(maxsize=512)
def _spec(line: str) -> pathspec.PathSpec:
    # Here, not at the top: the linter reaches this package to check agent() options, and
    # pathspec (with its regex backends) is 20-40 ms of every `jshost run`'s start-up.
    import pathspec

    if line in ("", "/"):
        line = "/**"
    return pathspec.GitIgnoreSpec.from_lines([line])


def path_pattern(specifier: str) -> PathPattern:
    """Where a Read/Edit specifier is anchored (see the module's docstring)."""
    s = specifier.strip()
    if s.startswith("//"):
        return PathPattern("root", 0, "/" + s[2:].lstrip("/"))
    if s == "~" or s.startswith("~/"):
        return PathPattern("home", 0, "/" + s[2:])
    if s.startswith("/"):
        return PathPattern("project", 0, s)
    up = 0
    anchored = False
    while True:
        if s.startswith("./"):
            s, anchored = s[2:], True
        elif s.startswith("../"):
            s, up, anchored = s[3:], up + 1, True
        elif s in (".", ".."):
            up += s == ".."
            s, anchored = "", True
        else:
            break
    return PathPattern("cwd", up, "/" + s if anchored else s)


def suggest_path_rule(tool: str, path: Path, anchors: Anchors) -> str:
    """A rule that would allow ``tool`` on ``path``: relative inside the workspace, else
    absolute (``Read(//etc/hostname)``); a Grep or Glob is allowed by a Read rule."""
    name = "Read" if tool in ("Grep", "Glob") else tool
    try:
        rel = path.relative_to(anchors.cwd).as_posix()
    except ValueError:
        return f"{name}(/{path.as_posix()})"
    return f"{name}(./{rel})" if rel != "." else f"{name}(./**)"
