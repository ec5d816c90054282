"""Saved workflows: where they live, how they are found, and how one is saved.

The places are Claude Code's (reference §8.3), so a workflow saved there works in both:

- project: every ``.claude/workflows/`` and ``.claude/commands/`` on the path from the current
  directory up to the repository root (the closest wins on a name clash);
- user: ``~/.claude/workflows/`` and ``~/.claude/commands/`` (``$CLAUDE_CONFIG_DIR`` instead of
  ``~/.claude`` when set). A project workflow beats a user one of the same name;
- bundled: the workflows jshost ships (``jshost/workflows/``: ``deep-research``,
  ``code-review``), as Claude Code bundles its own. A project or user workflow of the same
  name beats a bundled one.

Only ``.js`` files of at most 524,288 characters whose meta parses are workflows; anything else
found in a ``workflows/`` directory (and ``.mjs``/``.cjs``/``.ts`` files in ``commands/``, which
otherwise holds Claude Code's markdown commands) is reported as skipped, with the reason, and
never stops a listing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import JshostError, ScriptError
from .script import MAX_SCRIPT_CHARS
from .script.meta import Meta, parse_meta

__all__ = [
    "BUNDLED_DIR",
    "SaveError",
    "SavedWorkflow",
    "Skipped",
    "discover",
    "find_workflow",
    "repo_root",
    "save_target",
    "save_workflow",
    "slug",
]

Scope = Literal["project", "user", "bundled"]
_KINDS = ("workflows", "commands")
#: the workflows shipped inside the package (in the wheel, next to this module)
BUNDLED_DIR = Path(__file__).resolve().parent / "workflows"


class SaveError(JshostError):
    """Raised when a workflow cannot be saved where it was asked to go."""


class TargetExists(SaveError):
    """Raised when the file to save exists and overwriting was not allowed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists; pass --force to overwrite it")
        self.path = path


@dataclass(frozen=True)
class SavedWorkflow:
    """A saved workflow found on disk."""

    meta: Meta
    path: Path
    scope: Scope

    @property
    def name(self) -> str:
        return self.meta.name

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.meta.name,
            "description": self.meta.description,
            "whenToUse": self.meta.when_to_use,
            "phases": [
                {"title": p.title, "detail": p.detail, "model": p.model} for p in self.meta.phases
            ],
            "scope": self.scope,
            "path": str(self.path),
        }


@dataclass(frozen=True)
class Skipped:
    """A file in a workflows directory that is not a usable workflow, and why."""

    path: Path
    scope: Scope
    reason: str


def slug(name: str) -> str:
    """File name stem for a workflow name: lowercase, runs of other characters → ``-``."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text or "workflow"


def repo_root(start: Path) -> Path | None:
    """The closest directory at or above ``start`` holding a ``.git`` (directory or file)."""
    for d in [start, *start.parents]:
        if (d / ".git").exists():
            return d
    return None


def _project_chain(cwd: Path) -> list[Path]:
    """Directories from ``cwd`` up to the repository root (just ``cwd`` outside a repository)."""
    cwd = cwd.resolve()
    root = repo_root(cwd)
    if root is None:
        return [cwd]
    chain = []
    for d in [cwd, *cwd.parents]:
        chain.append(d)
        if d == root:
            break
    return chain


def user_config_dir() -> Path:
    """``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def _places(cwd: Path) -> Iterator[tuple[Path, Scope]]:
    """Every directory that may hold saved workflows, in precedence order."""
    for d in _project_chain(cwd):
        for kind in _KINDS:
            yield d / ".claude" / kind, "project"
    for kind in _KINDS:
        yield user_config_dir() / kind, "user"
    yield BUNDLED_DIR, "bundled"


_TOO_LARGE = f"Script exceeds {MAX_SCRIPT_CHARS} bytes"  # the reference's words, for characters


def _read(path: Path, scope: Scope) -> SavedWorkflow | Skipped:
    try:
        # The rule `run` applies (reference §2): characters, not bytes; a character is at most
        # four bytes, so a larger file cannot pass and is not read.
        if path.stat().st_size > 4 * MAX_SCRIPT_CHARS:
            return Skipped(path, scope, _TOO_LARGE)
        source = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(path, scope, "not UTF-8 text")
    except OSError as exc:
        return Skipped(path, scope, f"cannot read it: {exc.strerror or exc}")
    if len(source) > MAX_SCRIPT_CHARS:
        return Skipped(path, scope, _TOO_LARGE)
    try:
        meta, _ = parse_meta(source, path=str(path))
    except ScriptError as exc:
        return Skipped(path, scope, _real_fault(source, path) or exc.message)
    except RecursionError:
        return Skipped(path, scope, "its meta is nested too deeply")
    return SavedWorkflow(meta=meta, path=path, scope=scope)


def _real_fault(source: str, path: Path) -> str | None:
    """The first problem ``run`` would find, at ``line:col``, when the meta reader's complaint
    is only a consequence (an unterminated string is not a misplaced meta)."""
    from .script import inspect_source  # QuickJS: only for a file that is already broken

    try:
        found = inspect_source(source, path=str(path), collect=False)
    except RecursionError:
        return None
    if not found.diagnostics:
        return None
    first = found.diagnostics[0]
    where = f"{first.line}:{first.col}: " if first.line is not None else ""
    return where + first.message


def discover(cwd: Path | None = None) -> tuple[list[SavedWorkflow], list[Skipped]]:
    """Saved workflows visible from ``cwd`` (closest first, one per name), and skipped files."""
    found: dict[str, SavedWorkflow] = {}
    skipped: list[Skipped] = []
    for place, scope in _places(Path.cwd() if cwd is None else cwd):
        if not place.is_dir():
            continue
        try:
            entries = sorted(place.iterdir())
        except OSError as exc:
            skipped.append(Skipped(place, scope, f"cannot list it: {exc.strerror or exc}"))
            continue
        for path in entries:
            if path.suffix == ".js" and path.is_file():
                pass
            elif path.suffix in (".mjs", ".cjs", ".ts") or (
                # workflows/ holds only workflows; commands/ is shared with Claude Code's
                # markdown commands, and dot files are no one's business (editors, our own
                # temporary files while saving).
                place.name == "workflows" and not path.name.startswith(".")
            ):
                what = f"{path.suffix} files" if path.suffix else "files without an extension"
                if path.is_dir():
                    what = "directories"
                skipped.append(Skipped(path, scope, f"only .js files are workflows, not {what}"))
                continue
            else:
                continue
            item = _read(path, scope)
            if isinstance(item, Skipped):
                skipped.append(item)
            elif item.name not in found:
                found[item.name] = item
    return list(found.values()), skipped


def find_workflow(
    name: str, cwd: Path | None = None, *, workflows: list[SavedWorkflow] | None = None
) -> SavedWorkflow | None:
    """The saved workflow called ``name`` (its meta name, or its file name without ``.js``).

    ``workflows`` is what :func:`discover` found, when the caller already has it.
    """
    if workflows is None:
        workflows, _ = discover(cwd)
    for wf in workflows:
        if wf.name == name:
            return wf
    for wf in workflows:
        if wf.path.stem == name or wf.path.stem == slug(name):
            return wf
    return None


def save_target(name: str, *, user: bool, cwd: Path | None = None) -> Path:
    """Where ``jshost save`` writes the workflow called ``name``."""
    if user:
        directory = user_config_dir() / "workflows"
    else:
        chain = _project_chain(Path.cwd() if cwd is None else cwd)
        existing = [d / ".claude" / "workflows" for d in chain]
        directory = next((d for d in existing if d.is_dir()), existing[-1])
    return directory / f"{slug(name)}.js"


def save_workflow(
    source: str, name: str, *, user: bool = False, force: bool = False, cwd: Path | None = None
) -> Path:
    """Write ``source`` (a checked script whose meta name is ``name``) as a saved workflow.

    The file is written atomically (a temporary file renamed into place) and never through a
    symlink. Raises ``TargetExists`` when the file exists and ``force`` is false, and
    ``SaveError`` for anything else that stops the write.
    """
    target = save_target(name, user=user, cwd=cwd)
    directory = target.parent
    # Writing through a link could put the file anywhere; Claude Code refuses the same ones.
    guarded = [target] if user else [directory.parent, directory, target]
    for p in guarded:
        if p.is_symlink():
            raise SaveError(f"refusing to write through the symbolic link {p}")
    if target.exists() and not force:
        raise TargetExists(target)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(source)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SaveError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
