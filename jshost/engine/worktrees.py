"""``isolation: 'worktree'``: a git worktree per agent, made before it runs, removed after.

Reference §6.5: each such agent works in ``<gitRoot>/.claude/worktrees/<runId>-<index>`` on
branch ``worktree-<runId>-<index>``, made from HEAD one at a time; afterwards the worktree and
its branch go when its status is clean and HEAD has not moved, and are kept for the user to
review and merge otherwise. Git runs as a subprocess (its own process group, killed on
cancellation) with a timeout, never on the trio thread's time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from pathlib import Path

import trio

from .._data import Frozen, set_field
from ..config import CREDENTIAL_VARS
from ..worktree_paths import worktree_name, worktrees_dir

__all__ = [
    "CLEANUP_TIMEOUT",
    "Worktree",
    "WorktreeIsolationError",
    "Worktrees",
    "worktree_note",
]

#: longest one ``git worktree add`` may take (it checks out the whole tree)
ADD_TIMEOUT = 120.0
#: longest any other git command may take
GIT_TIMEOUT = 20.0
#: longest the cleanup after an agent may hold a stopping run (it runs shielded)
CLEANUP_TIMEOUT = 10.0
# Variables that would point git at another repository than the workspace's (set when jshost
# itself runs from a git hook, say).
_REPO_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
)
_PREFIX = "agent({isolation:'worktree'})"
_DROP = "or drop the isolation option"


class WorktreeIsolationError(Exception):
    """An isolated agent cannot get its worktree; its ``agent()`` call rejects with this."""

    name = "WorktreeIsolationError"


class _GitFailed(Exception):
    """Git exited non-zero, timed out, or could not be started."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class Worktree(Frozen):
    """One agent's worktree: where, on which branch, from which commit, for which checkout."""

    path: Path
    branch: str
    head: str
    git_root: Path

    _fields = ("path", "branch", "head", "git_root")

    def __init__(self, path: Path, branch: str, head: str, git_root: Path) -> None:
        set_field(self, "path", path)
        set_field(self, "branch", branch)
        set_field(self, "head", head)
        set_field(self, "git_root", git_root)


def _env() -> dict[str, str]:
    # The repository's hooks run under git: they get no model-service credentials.
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARS and k not in CREDENTIAL_VARS}
    # Never wait for a person (credentials, an editor) and never page; status takes no
    # optional lock, so it cannot collide with another git in the same checkout.
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_EDITOR="true",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_OPTIONAL_LOCKS="0",
    )
    return env


async def _kill_group(process: trio.Process) -> None:
    # git runs hooks and helpers as children of its own: take the whole group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:500] if lines else ""


async def git(*args: str, cwd: Path, timeout: float = GIT_TIMEOUT) -> str:
    """Run ``git args`` in ``cwd``; its stdout. Raises ``_GitFailed``."""
    command = ["git", "--no-pager", *args]
    with trio.move_on_after(timeout) as scope:
        try:
            done = await trio.run_process(
                command,
                cwd=str(cwd),
                env=_env(),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                start_new_session=True,
                deliver_cancel=_kill_group,
            )
        except FileNotFoundError as exc:
            if exc.filename in (None, "git"):
                raise _GitFailed("git was not found on PATH", missing=True) from None
            raise _GitFailed(f"{cwd}: {exc.strerror}") from None
        except OSError as exc:
            raise _GitFailed(f"cannot run git: {exc.strerror}") from None
    if scope.cancelled_caught:
        raise _GitFailed(f"`git {args[0]}` took longer than {timeout:g} s")
    if done.returncode != 0:
        why = _last_line(done.stderr) or f"exit status {done.returncode}"
        raise _GitFailed(why)
    return done.stdout.decode("utf-8", "surrogateescape")


def _prepare_dir(root: Path, base: Path) -> tuple[bool, set[str]]:
    """Make ``base`` with its ``.gitignore``; whether it lies inside ``root``, names taken.

    Runs on a worker thread (file system calls on a path the repository controls).
    """
    # Checked before anything is made: a `.claude` that links elsewhere gets nothing written.
    if not base.resolve().is_relative_to(root.resolve()):
        return False, set()
    base.mkdir(parents=True, exist_ok=True)
    ignore = base / ".gitignore"
    # `*` ignores every worktree and this file itself: the main checkout's status stays clean.
    try:
        text = ignore.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    if text is None:
        ignore.write_text("*\n", encoding="utf-8")
    elif "*" not in (line.strip() for line in text.splitlines()):
        with ignore.open("a", encoding="utf-8") as f:
            f.write(("" if text.endswith("\n") or not text else "\n") + "*\n")
    return True, {p.name for p in base.iterdir()}


def worktree_note(tree: Worktree, main_dir: Path) -> str:
    """The paragraph added to an isolated agent's prompt (reference §6.2, in our words)."""
    return (
        f"\n\nYou are working in an isolated git worktree at {tree.path} (branch "
        f"{tree.branch}), a checkout of the repository made for you alone. Changes you make "
        f"here do not touch the main working directory ({main_dir}) or any other agent's "
        "files, and you will not see theirs. Keep your work inside this directory. When you "
        "finish, the worktree is deleted if you changed nothing, and kept for the user to "
        "review and merge if you did."
    )


class Worktrees:
    """The worktrees of one run's isolated agents.

    Args:
        workspace (Path | None): where the run works (None: the process's working directory);
            its git repository is the one the worktrees are made in.
        run_id (str | None): the run's id, part of every worktree's name (None: a random one).
    """

    def __init__(self, workspace: Path | None, run_id: str | None) -> None:
        self.workspace = workspace if workspace is not None else Path.cwd()
        self.run_id = run_id or f"wf_{secrets.token_hex(6)}"
        # Git's locks (the repository's worktree list, refs) allow one change at a time.
        self._lock = trio.Lock()
        self._root: Path | WorktreeIsolationError | None = None

    async def _git_root(self) -> Path:
        if self._root is None:
            try:
                out = await git("rev-parse", "--show-toplevel", cwd=self.workspace)
                self._root = Path(out.strip())
            except _GitFailed as exc:
                if exc.missing:
                    why = (
                        f"{_PREFIX}: git was not found on PATH — worktree isolation runs git "
                        f"to give each agent its own checkout (install git, {_DROP})"
                    )
                else:
                    why = (
                        f"{_PREFIX}: {self.workspace} is not inside a git repository — "
                        f"worktree isolation needs one (run `git init` and make a first "
                        f"commit, {_DROP})"
                    )
                self._root = WorktreeIsolationError(why)
        if isinstance(self._root, WorktreeIsolationError):
            raise WorktreeIsolationError(str(self._root))
        return self._root

    async def check(self) -> tuple[Path, str]:
        """The repository's root and HEAD commit a worktree would start from; changes nothing
        (``jshost plan`` asks this instead of making worktrees).

        Raises:
            WorktreeIsolationError: no git, no repository, or no commit.
        """
        root = await self._git_root()
        try:
            head = await git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=root)
        except _GitFailed:
            raise WorktreeIsolationError(
                f"{_PREFIX}: the git repository at {root} has no commits yet — a worktree "
                f"starts from the HEAD commit (make a first commit, {_DROP})"
            ) from None
        return root, head.strip()

    async def create(self, index: int) -> Worktree:
        """A new worktree for agent #index, from the checkout's HEAD commit.

        Raises:
            WorktreeIsolationError: no git, no repository, no commit, or git refused.
        """
        async with self._lock:
            root, head = await self.check()
            base = worktrees_dir(root)
            try:
                inside, taken = await trio.to_thread.run_sync(
                    _prepare_dir, root, base, abandon_on_cancel=True
                )
            except OSError as exc:
                raise WorktreeIsolationError(
                    f"{_PREFIX}: cannot create {base}: {exc.strerror}"
                ) from None
            if not inside:
                raise WorktreeIsolationError(
                    f"{_PREFIX}: {base} leads outside the repository (a symbolic link); "
                    "refusing to make worktrees there"
                )
            name = await self._free_name(root, worktree_name(self.run_id, index), taken)
            tree = Worktree(base / name, f"worktree-{name}", head, root)
            try:
                add = ("worktree", "add", "--quiet", "-b", tree.branch, str(tree.path), head)
                await git(*add, cwd=root, timeout=ADD_TIMEOUT)
            except _GitFailed as exc:
                await self._discard(tree)
                raise WorktreeIsolationError(
                    f"{_PREFIX}: could not create the worktree {tree.path}: {exc}"
                ) from None
            except BaseException:  # cancelled mid-checkout: nothing of the agent's to keep
                await self._discard(tree)
                raise
            return tree

    async def _free_name(self, root: Path, name: str, taken: set[str]) -> str:
        # A resumed run has the same id: an earlier session's kept worktree (or its branch,
        # merged or not) keeps its name, and never gets reset under the user.
        out = await git(
            "for-each-ref", "--format=%(refname:short)", f"refs/heads/worktree-{name}*", cwd=root
        )
        branches = {line.strip() for line in out.splitlines()}
        for n in range(1, 1000):
            candidate = name if n == 1 else f"{name}-{n}"
            if candidate not in taken and f"worktree-{candidate}" not in branches:
                return candidate
        raise WorktreeIsolationError(f"{_PREFIX}: no free worktree name for {name}")

    async def _discard(self, tree: Worktree) -> None:
        """Remove what a failed or interrupted ``worktree add`` left (no agent ran there)."""
        with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
            for args in (
                ("worktree", "remove", "--force", str(tree.path)),
                ("worktree", "prune"),
                ("branch", "-D", tree.branch),
            ):
                with contextlib.suppress(_GitFailed):
                    await git(*args, cwd=tree.git_root)

    async def release(self, tree: Worktree) -> bool:
        """Remove the worktree and its branch if the agent left no trace; whether it did.

        A worktree with changes (tracked or untracked), a moved HEAD, or that git cannot
        read is kept (not locked) for the user to review.
        """
        try:
            status = await git("status", "--porcelain", cwd=tree.path)
            head = (await git("rev-parse", "HEAD", cwd=tree.path)).strip()
        except _GitFailed:
            return False
        if status.strip() or head != tree.head:
            return False
        async with self._lock:
            try:
                await git("worktree", "remove", str(tree.path), cwd=tree.git_root)
            except _GitFailed:
                return False
            with contextlib.suppress(_GitFailed):
                await git("branch", "-D", tree.branch, cwd=tree.git_root)
        return True
