"""Helpers for the built-in tools' tests: a workspace in a temporary directory, a sibling
directory outside it (what an escape would reach), and a way to call a tool from sync code."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path
from typing import Any

import trio

from jshost.tools import Tool, ToolOutput, Workspace

__all__ = ["call", "make_workspace", "rg_program", "touch"]


def make_workspace(tmp_path: Path, **kw: Any) -> tuple[Workspace, Path]:
    """A workspace ``ws`` and a directory ``outside`` next to it holding ``secret.txt``."""
    base = tmp_path.resolve()
    root = base / "ws"
    root.mkdir()
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the secret\n")
    return Workspace(root, **kw), outside


def call(tool: Tool, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
    async def main() -> ToolOutput:
        return await tool.run(tool_input, workspace)

    return trio.run(main)


def touch(path: Path, mtime: float, text: str | None = None) -> Path:
    """Write ``text`` (when given) to ``path`` and set its modification time."""
    if text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def rg_program() -> str:
    """The ripgrep the test extra installs (the ``ripgrep`` wheel), or one on PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "rg"
    found = str(candidate) if candidate.exists() else shutil.which("rg")
    assert found, "ripgrep is missing: install the test extra (pip install -e '.[test]')"
    return found
