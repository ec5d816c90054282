"""Which grants of the workspace's own settings files a run may use: only approved ones.

A project's ``.claude/settings.json`` (and ``settings.local.json``) can come with a cloned
repository, and its ``permissions.allow`` (``Bash``), ``defaultMode: acceptEdits`` or
``additionalDirectories`` (``/``) would give the repository's author the run's tools. Claude
Code asks whether you trust a folder before it reads them; jshost asks at the confirmation, as
for a project's ``.mcp.json``: yes applies them for this run, "don't ask again" for good (per
sha256, in the store's approvals). With ``--yes`` or without a terminal nobody approves them:
the file's ask and deny rules apply, its grants are left out, and one line says so and how to
approve them. The user's own ``~/.claude/settings.json`` needs no approval.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import JshostError
from ..text import printable

if TYPE_CHECKING:
    from ..permissions import SettingsFile

__all__ = ["SettingsApproval", "settings_for_run"]


@dataclass
class SettingsApproval:
    """The project settings files whose grants wait for the user's yes."""

    pending: list[SettingsFile]
    #: the pending files that were approved with other content (they changed)
    changed: list[SettingsFile] = field(default_factory=list)
    #: set by the confirmation when the user said yes with the pending files shown
    confirmed: bool = False

    def rows(self) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for file in self.pending:
            state = (
                "changed since you approved it: needs your approval"
                if file in self.changed
                else "needs your approval"
            )
            rows.append(("settings", f"{printable(str(file.path))} ({state})"))
            rows.append(("  grants", printable(", ".join(file.grants()))))
        rows.append(
            (
                "settings",
                'yes applies these grants for this run; "don\'t ask again" also remembers the '
                "file with this content",
            )
        )
        return rows

    def remember(self, store: Any) -> None:
        """Approve the pending files for good (``don't ask again``), for this content only."""
        for file in self.pending:
            store.approve(file.approval_key, file.sha256, "permission settings")

    def approved_paths(self) -> list[str]:
        """The files approved for this run (all the pending ones once confirmed)."""
        return [str(f.path.resolve()) for f in self.pending] if self.confirmed else []


def settings_for_run(opts: dict[str, Any], worker: Any) -> SettingsApproval | None:
    """The project settings files waiting for approval, or None (none, or no tools). A file
    that cannot be read is left to the toolbox, which reports it."""
    if not opts.get("tools_on", True) or not getattr(worker, "supports_tools", True):
        return None
    from ..permissions import SettingsError, load_settings

    root = Path(opts.get("workspace") or os.getcwd()).expanduser()
    try:
        settings = load_settings(root.resolve())
    except (SettingsError, OSError, RuntimeError):
        return None
    from ..store import Store

    try:
        with Store() as store:
            pending = settings.unapproved(lambda f: store.is_approved(f.approval_key, f.sha256))
            changed = [f for f in pending if store.was_approved(f.approval_key)]
    except JshostError:  # no store, no memory: every project file that grants waits
        pending, changed = settings.unapproved(lambda f: False), []
    return SettingsApproval(pending, changed) if pending else None
