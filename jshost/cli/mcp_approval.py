"""Which MCP servers a run may start: the project's ``.mcp.json`` only once approved.

``jshost run`` loads the workspace's ``.mcp.json`` and the ``--mcp-config`` files before its
confirmation (a bad file stops it there, exit 2). The confirmation lists the servers; answering
yes approves a waiting project file for this run, "don't ask again" for good (per sha256, in
the store's approvals). With ``--yes`` or without a terminal nobody approves it: its servers
are left out, and one line says so and how to approve them. Files named with ``--mcp-config``
need no approval: naming them is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import JshostError, UsageError

if TYPE_CHECKING:
    from ..tools.mcp_config import McpConfigFile, McpConfigs, McpServerConfig

# ..tools.mcp_config loads in the functions below: a run whose worker takes no tools (the sim)
# returns before reading any MCP file, and need not import the module (issue 22, start-up).

__all__ = ["McpApproval", "mcp_for_run"]


@dataclass
class McpApproval:
    """A run's MCP configs and what still waits for the user's yes."""

    configs: McpConfigs
    #: project files not approved for good with their current content
    pending: list[McpConfigFile] = field(default_factory=list)
    #: the pending files that were approved with other content (they changed)
    changed: list[McpConfigFile] = field(default_factory=list)
    #: set by the confirmation when the user said yes with the pending files shown
    confirmed: bool = False

    def rows(self) -> list[tuple[str, str]]:
        """The confirmation screen's rows: each file's servers and command lines."""
        rows: list[tuple[str, str]] = []
        for file in self.configs.files:
            if not file.servers:
                continue
            waiting = file in self.pending
            state = "from --mcp-config"
            if file.project:
                state = "approved" if not waiting else "needs your approval"
                if file in self.changed:
                    state = "changed since you approved it: needs your approval"
            rows.append(("mcp", f"{file.origin} ({state})"))
            rows.extend(("  server", server.describe()) for server in file.servers)
        if self.pending:
            rows.append(
                (
                    "mcp",
                    'yes starts them for this run; "don\'t ask again" also '
                    "remembers the MCP file with this content",
                )
            )
        return rows

    def remember(self, store: Any) -> None:
        """Approve the pending files for good (``don't ask again``)."""
        from ..tools.mcp_config import approve

        approve(self.pending, store)

    def servers(self) -> list[McpServerConfig]:
        """The servers to start: every approved file's (the pending ones once confirmed)."""
        return self.configs.servers(leave_out=[] if self.confirmed else self.pending)

    def settle(self) -> list[McpServerConfig]:
        """The servers to start, saying on stderr which were left out and how to approve them."""
        from ..tools.mcp_config import left_out_message

        if not self.confirmed:
            for file in self.pending:
                line = left_out_message(file, changed=file in self.changed)
                click.echo(f"jshost: {line}", err=True)
        return self.servers()


def mcp_for_run(opts: dict[str, Any], worker: Any) -> McpApproval | None:
    """The run's MCP configs, or None when its agents get no tools (``--no-tools``, a worker
    that cannot use them) or there are none. Raises ``UsageError`` for a bad config file."""
    if not opts.get("tools_on", True) or not getattr(worker, "supports_tools", True):
        return None
    from ..tools.mcp_config import (
        McpConfigError,
        changed_since_approval,
        load_mcp_configs,
        pending_approval,
    )

    workspace = Path(opts.get("workspace") or os.getcwd())
    try:
        configs = load_mcp_configs(workspace, tuple(opts.get("mcp_config") or ()))
    except McpConfigError as exc:
        raise UsageError(str(exc)) from None
    if not configs.files:
        return None
    from ..store import Store

    try:
        with Store() as store:
            pending = pending_approval(configs, store)
            changed = [f for f in pending if changed_since_approval(f, store)]
    except JshostError:  # no store, no memory: every project file waits
        pending, changed = pending_approval(configs, None), []
    return McpApproval(configs, pending, changed)
