"""Claude Code's settings files, as far as permissions go.

``permissions.allow`` / ``ask`` / ``deny`` (lists of rules), ``permissions.defaultMode`` and
``permissions.additionalDirectories``, read from ``.claude/settings.local.json`` and
``.claude/settings.json`` in the workspace and ``~/.claude/settings.json``; that is also their
precedence (command-line options come before all three). Other keys are Claude Code's business
and are ignored; a file that is not JSON, or a permissions key of the wrong shape, is an
error naming the file (and the line and column for JSON).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

from .._data import Frozen, replace, set_field
from ..text import printable

if TYPE_CHECKING:  # the rule parser loads with the first settings file that has rules
    from .rules import Rule

__all__ = [
    "APPROVAL_PREFIX",
    "MAX_SETTINGS_BYTES",
    "Settings",
    "SettingsError",
    "SettingsFile",
    "load_settings",
]

#: bytes of one settings file (Claude Code's are a few KiB)
MAX_SETTINGS_BYTES = 4 << 20
#: the approvals-table key of a project settings file: this prefix and its resolved path
APPROVAL_PREFIX = "settings:"
#: modes that give agents more than the ``default`` mode does
_WIDENING_MODES = ("acceptEdits", "bypassPermissions", "auto")
_KNOWN_MODES = ("default", "acceptEdits", "plan", "dontAsk", "bypassPermissions", "auto")


class SettingsError(ValueError):
    """Raised when a settings file cannot be read or has the wrong shape; names the file."""


@final
class SettingsFile(Frozen):
    """The permission settings of one file."""

    path: Path
    allow: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()
    default_mode: str | None = None
    additional_directories: tuple[Path, ...] = ()
    #: a file of the workspace (``.claude/settings*.json``): it may arrive with a cloned
    #: repository, so what it grants applies only once the user approves it
    project: bool = False
    #: the hex sha256 of the file's bytes (what an approval remembers)
    sha256: str = ""

    _fields = (
        "path",
        "allow",
        "ask",
        "deny",
        "default_mode",
        "additional_directories",
        "project",
        "sha256",
    )

    def __init__(
        self,
        path: Path,
        allow: tuple[Rule, ...] = (),
        ask: tuple[Rule, ...] = (),
        deny: tuple[Rule, ...] = (),
        default_mode: str | None = None,
        additional_directories: tuple[Path, ...] = (),
        project: bool = False,
        sha256: str = "",
    ) -> None:
        set_field(self, "path", path)
        set_field(self, "allow", allow)
        set_field(self, "ask", ask)
        set_field(self, "deny", deny)
        set_field(self, "default_mode", default_mode)
        set_field(self, "additional_directories", additional_directories)
        set_field(self, "project", project)
        set_field(self, "sha256", sha256)

    @property
    def approval_key(self) -> str:
        return APPROVAL_PREFIX + str(self.path.resolve())

    def grants(self) -> list[str]:
        """What this file gives agents beyond the defaults: its allow rules, a widening
        ``defaultMode``, its ``additionalDirectories`` (ask and deny rules only take away)."""
        found = [f"allow {r.text}" for r in self.allow]
        if self.default_mode in _WIDENING_MODES:
            found.append(f"defaultMode {self.default_mode}")
        found += [f"additionalDirectories {d}" for d in self.additional_directories]
        return found

    def without_grants(self) -> SettingsFile:
        """This file with only what takes powers away (ask and deny rules, a narrowing mode)."""
        mode = None if self.default_mode in _WIDENING_MODES else self.default_mode
        return replace(self, allow=(), default_mode=mode, additional_directories=())


@final
class Settings(Frozen):
    """The settings files that exist, highest precedence first (local, project, user)."""

    files: tuple[SettingsFile, ...] = ()

    _fields = ("files",)

    def __init__(self, files: tuple[SettingsFile, ...] = ()) -> None:
        set_field(self, "files", files)

    @property
    def allow(self) -> tuple[Rule, ...]:
        return tuple(r for f in self.files for r in f.allow)

    @property
    def ask(self) -> tuple[Rule, ...]:
        return tuple(r for f in self.files for r in f.ask)

    @property
    def deny(self) -> tuple[Rule, ...]:
        return tuple(r for f in self.files for r in f.deny)

    @property
    def default_mode(self) -> str | None:
        return next((f.default_mode for f in self.files if f.default_mode), None)

    @property
    def default_mode_source(self) -> str | None:
        found = next((f for f in self.files if f.default_mode), None)
        return None if found is None else f"{found.path} permissions.defaultMode"

    def unapproved(self, approved: Any) -> list[SettingsFile]:
        """The project files that grant something and are not approved: ``approved(file)``
        says whether one is (for this run, or for good with its current content)."""
        return [f for f in self.files if f.project and f.grants() and not approved(f)]

    def leave_out_grants(self, files: Any) -> Settings:
        """These settings with the grants of ``files`` left out (their ask/deny rules kept)."""
        keys = {f.path for f in files}
        return Settings(tuple(f.without_grants() if f.path in keys else f for f in self.files))

    @property
    def additional_directories(self) -> tuple[Path, ...]:
        seen: dict[Path, None] = {}
        for f in self.files:
            seen.update(dict.fromkeys(f.additional_directories))
        return tuple(seen)


def _where(path: Path) -> str:
    return printable(str(path))


def load_settings(workspace: Any, home: Path | None = None) -> Settings:
    """The permission settings for a workspace (a path, or anything with a ``root``).

    Args:
        workspace: the workspace directory (``.claude/settings*.json`` under it).
        home (Path | None): the home directory (``~/.claude/settings.json``); None: the
            user's. Tests pass a temporary directory.

    Raises:
        SettingsError: a file is unreadable, not JSON, or has a permissions key of the
            wrong shape (a rule in it malformed included).
    """
    # (a Path has a `root` too: "/")
    root = Path(workspace if isinstance(workspace, str | Path) else workspace.root)
    home = Path.home() if home is None else Path(home)
    candidates = [
        root / ".claude" / "settings.local.json",
        root / ".claude" / "settings.json",
        home / ".claude" / "settings.json",
    ]
    files: list[SettingsFile] = []
    seen: set[Path] = set()
    for path in candidates:
        try:
            real = path.resolve()
        except (OSError, RuntimeError):
            real = path
        # The workspace may be the home directory: read its settings once.
        if real in seen:
            continue
        seen.add(real)
        loaded = read_settings_file(path, root)
        if loaded is not None:
            # The workspace's own files (not the user's, when the workspace is the home).
            project = path.parent.parent == root and real != _resolved(candidates[-1])
            files.append(replace(loaded, project=project))
    return Settings(tuple(files))


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def read_settings_file(path: Path, base: Path) -> SettingsFile | None:
    """One file's permission settings, or None when it does not exist.

    Relative ``additionalDirectories`` are relative to ``base`` (the workspace).
    """
    try:
        # Non-blocking and checked before reading: a link to /dev/stdin or a FIFO (a cloned
        # repository may hold the link) would otherwise hold the run before it starts.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"{_where(path)}: cannot read it: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SettingsError(f"{_where(path)}: is a directory, not a settings file")
        if not stat.S_ISREG(mode):
            raise SettingsError(
                f"{_where(path)}: not a regular file (a device, pipe or socket); a settings "
                "file is JSON text"
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise SettingsError(f"{_where(path)}: cannot read it: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SETTINGS_BYTES:
        raise SettingsError(
            f"{_where(path)}: larger than {MAX_SETTINGS_BYTES >> 20} MiB; not a settings file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{_where(path)}: not UTF-8 text (byte {exc.start})") from None
    digest = hashlib.sha256(data).hexdigest()
    if not text.strip():
        return SettingsFile(path, sha256=digest)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{_where(path)}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except RecursionError:
        raise SettingsError(f"{_where(path)}: nested too deeply to be a settings file") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"{_where(path)}: must hold a JSON object, got {_type(doc)}")
    perms = doc.get("permissions")
    if perms is None:
        return SettingsFile(path, sha256=digest)
    if not isinstance(perms, dict):
        raise SettingsError(f"{_where(path)}: 'permissions' must be an object, got {_type(perms)}")
    lists = {key: _rule_list(path, perms, key) for key in ("allow", "ask", "deny")}
    mode = perms.get("defaultMode")
    if mode is not None:
        if not isinstance(mode, str):
            raise SettingsError(
                f"{_where(path)}: 'permissions.defaultMode' must be a string, got {_type(mode)}"
            )
        if mode not in _KNOWN_MODES:
            raise SettingsError(
                f"{_where(path)}: unknown permissions.defaultMode {printable(repr(mode))}; use "
                "default, acceptEdits, plan or dontAsk"
            )
    dirs = perms.get("additionalDirectories")
    extra: list[Path] = []
    if dirs is not None:
        if not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs):
            raise SettingsError(
                f"{_where(path)}: 'permissions.additionalDirectories' must be a list of paths"
            )
        for d in dirs:
            p = Path(d).expanduser()
            extra.append((p if p.is_absolute() else base / p).resolve())
    return SettingsFile(
        path, lists["allow"], lists["ask"], lists["deny"], mode, tuple(extra), sha256=digest
    )


def _rule_list(path: Path, perms: dict[str, Any], key: str) -> tuple[Rule, ...]:
    value = perms.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SettingsError(
            f"{_where(path)}: 'permissions.{key}' must be a list of rules, got {_type(value)}"
        )
    from .rules import RuleError, parse_rule

    rules = []
    for i, item in enumerate(value):
        source = f"{_where(path)} permissions.{key}[{i}]"
        if not isinstance(item, str):
            raise SettingsError(f"{source}: a rule must be a string, got {_type(item)}")
        try:
            rules.append(parse_rule(item, source))
        except RuleError as exc:
            raise SettingsError(str(exc)) from None
    return tuple(rules)


def _type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
