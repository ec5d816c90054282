"""Where ``isolation: 'worktree'`` agents get their checkouts, as plain paths.

The engine makes the worktrees (:mod:`jshost.engine.worktrees`); the built-in Glob and Grep of
every other agent must not descend into them, so the toolbox needs the same place without
importing the engine. Pure path arithmetic and a walk up the directory tree: no git, no trio.
"""

from __future__ import annotations

from pathlib import Path

from ._lazy import lazy_pattern

__all__ = [
    "WORKTREES_SUBDIR",
    "find_git_root",
    "hidden_worktrees",
    "worktree_name",
    "worktrees_dir",
]

#: the reference's place for workflow worktrees, under the repository's top directory
WORKTREES_SUBDIR = Path(".claude") / "worktrees"


def worktrees_dir(git_root: Path) -> Path:
    """``<git_root>/.claude/worktrees``: every agent worktree of every run lives here."""
    return git_root / WORKTREES_SUBDIR


def find_git_root(start: Path) -> Path | None:
    """The top of the git work tree holding ``start`` (a ``.git`` dir or file), or None.

    A cheap stand-in for ``git rev-parse --show-toplevel`` for callers that cannot run git
    (the toolbox hiding worktrees from Glob/Grep): a few ``stat`` calls, no subprocess.
    """
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def hidden_worktrees(root: Path, workspace: Path) -> tuple[Path, ...]:
    """What ``Workspace.hidden`` holds for an agent working in ``root``, in a run in ``workspace``.

    The run's repository's worktrees directory, so that Glob and Grep from the main checkout
    never walk into other agents' checkouts; nothing for an agent whose ``root`` is itself one
    of those worktrees (the others are its siblings, outside its root, and hiding a parent of
    its root would hide everything).
    """
    git_root = find_git_root(workspace)
    if git_root is None:
        return ()
    hidden = worktrees_dir(git_root)
    here = root.resolve()
    if here == hidden or hidden in here.parents:
        return ()
    return (hidden,)


_UNSAFE = lazy_pattern(r"[^A-Za-z0-9_-]+")


def worktree_name(run_id: str, index: int) -> str:
    """``<runId>-<index>``, reduced to characters that are safe in a path and a branch name.

    Git refuses ``..``, ``~^:?*[\\``, spaces, control characters, a leading ``-`` or ``.``
    and a ``.lock`` ending in a branch name; keeping only ``[A-Za-z0-9_-]`` rules all of them
    out (the store's ids, ``wf_<hex>``, pass unchanged).
    """
    safe = _UNSAFE.sub("-", run_id).strip("-")[:64] or "wf"
    return f"{safe}-{index}"
