"""Where a path given by the model really points, and whether a tool may touch it.

Every file tool resolves its path the same way before it checks or touches anything:

* an absolute path is taken as is; a relative one is taken against the workspace root (the
  directory ``Bash`` runs in), so ``src/a.py`` and ``/ws/src/a.py`` name the same file;
* ``~`` is not expanded (a model's ``~/x`` would silently mean the user's home): refused;
* symlinks are followed and ``..`` collapsed (:meth:`Path.resolve`), so the permission layer
  and the workspace check both see the file that would really be read or written.

A tool refuses a resolved path outside :meth:`Workspace.contains` even when called directly:
whoever allows more (a rule, a user's answer) says so by handing the tool a workspace with those
paths in ``extra_dirs`` (:func:`allow_paths`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..base import Tool, ToolInputError, Workspace
from . import _args

__all__ = [
    "PathOutsideWorkspace",
    "PathTool",
    "allow_paths",
    "check_inside",
    "display",
    "in_hidden",
    "resolve",
]

#: longest path accepted from a model (Linux PATH_MAX)
MAX_PATH_CHARS = 4096


def resolve(raw: object, workspace: Workspace, *, field: str = "file_path") -> Path:
    """The real path ``raw`` names: absolute, symlinks followed, ``..`` collapsed.

    Raises :class:`ToolInputError` for a value that is not a usable path.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ToolInputError(f"{field} must be a non-empty path")
    if len(raw) > MAX_PATH_CHARS:
        raise ToolInputError(f"{field} is too long ({len(raw):,} characters)")
    if "\0" in raw:
        raise ToolInputError(f"{field} contains a NUL character")
    if raw.startswith("~"):
        raise ToolInputError(
            f"{field} {raw!r} starts with '~', which is not expanded: give an absolute path "
            f"(the workspace is {workspace.root})"
        )
    path = Path(raw)
    if not path.is_absolute():
        path = workspace.root / path
    try:
        return Path(os.path.realpath(path, strict=False))
    except (OSError, ValueError) as exc:  # a symlink loop, an unreadable component
        raise ToolInputError(f"{field} {raw!r} cannot be resolved: {exc}") from None


class PathOutsideWorkspace(ToolInputError):
    """Raised when a call's resolved path lies outside the workspace and its extra dirs."""


def check_inside(path: Path, workspace: Workspace) -> Path:
    """``path`` when the workspace contains it; else :class:`PathOutsideWorkspace`."""
    if not workspace.contains(path):
        raise PathOutsideWorkspace(
            f"{path} is outside the workspace ({workspace.root}); tools act only inside it "
            "unless a permission rule allows the path"
        )
    return path


def in_hidden(path: Path, workspace: Workspace) -> bool:
    """Whether ``path`` is one of the workspace's hidden directories or inside one.

    A hidden directory that holds the workspace root itself (an agent working in one of the
    worktrees that are hidden from the others) hides nothing from that agent.
    """
    root = workspace.root
    return any(
        (path == h or h in path.parents) and not (root == h or h in root.parents)
        for h in workspace.hidden
    )


def display(path: Path, workspace: Workspace) -> str:
    """``path`` relative to the workspace root when inside it (for summaries), else absolute."""
    try:
        rel = path.relative_to(workspace.root)
    except ValueError:
        return str(path)
    return str(rel) if rel.parts else "."


def allow_paths(workspace: Workspace, paths: Iterable[Path]) -> Workspace:
    """``workspace`` with ``paths`` (resolved files or directories) opened to the tools.

    The permission layer calls this when a rule or the user allows a call whose targets lie
    outside the workspace; the tool's own check then lets exactly those paths through.
    """
    extra = tuple(p for p in paths if not workspace.contains(p))
    if not extra:
        return workspace
    return dataclasses.replace(workspace, extra_dirs=(*workspace.extra_dirs, *extra))


class PathTool(Tool):
    """A tool whose one target is a path of its input: the file ``file_path`` names (Read,
    Write, Edit), or the directory a search starts from (Glob, Grep override :meth:`target`)."""

    def target(self, tool_input: dict[str, Any], workspace: Workspace) -> Path:
        return resolve(tool_input["file_path"], workspace)

    def checked(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """``tool_input`` with its fields checked against the tool's schema."""
        return _args.check_fields(self.spec.name, tool_input, self.spec.input_schema)

    def targets(self, tool_input: dict[str, Any], workspace: Workspace) -> list[Path]:
        self.checked(tool_input)
        return [self.target(tool_input, workspace)]
