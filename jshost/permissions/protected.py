"""Protected paths: files in the workspace that configure programs which run code.

git hooks and config, editor tasks (``.vscode/tasks.json`` runs when the folder opens),
Claude Code's own settings and agent types, shell start-up files: an agent that may edit the
workspace could turn an edit there into a command run later, outside every rule. So an edit
there is allowed neither by ``acceptEdits`` nor by a broad rule (``Edit``, ``Edit(./**)``), only
by a rule whose pattern names it (``Edit(./.vscode/settings.json)``), like Claude Code's
protected paths. (The built-in Write and Edit refuse ``.git`` and the settings files outright.)
A Bash command that names one (``git log --output=.git/config``) needs a rule that spells the
path out, as for a path outside the workspace: the command may write it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["PROTECTED_DIRS", "PROTECTED_FILES", "protected", "protected_names"]

#: names in the workspace that configure programs which run code (git hooks, editor tasks,
#: Claude Code's own settings and agents, shell start-up files): an edit there is allowed
#: neither by acceptEdits nor by a broad rule (`Edit`, `Edit(./**)`), only by a rule that
#: names it (`Edit(./.vscode/settings.json)`), as Claude Code's protected paths
PROTECTED_DIRS = frozenset({".git", ".claude", ".vscode", ".idea", ".husky"})
PROTECTED_FILES = frozenset(
    {
        ".gitconfig",
        ".gitmodules",
        ".bashrc",
        ".bash_profile",
        ".zshrc",
        ".zprofile",
        ".profile",
        ".ripgreprc",
        ".mcp.json",
        ".claude.json",
    }
)


def protected(call: Any) -> list[str]:
    """The protected names an edit call touches (relative to its workspace, so that an
    agent working in its worktree under ``.claude/worktrees`` may edit its own files)."""
    if call.kind != "edit":
        return []
    found: dict[str, None] = {}
    for path in call.paths:
        found.update(dict.fromkeys(protected_names(path, call.anchors.cwd)))
    return list(found)


def protected_names(path: Path, root: Path) -> list[str]:
    """The protected names in ``path`` (relative to ``root`` when inside it)."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    found = [p for p in parts[:-1] if p in PROTECTED_DIRS]
    if parts and (parts[-1] in PROTECTED_FILES or parts[-1] in PROTECTED_DIRS):
        found.append(parts[-1])
    return found
