"""The built-in tools, with Claude Code's names and input shapes: ``Read``, ``Write``,
``Edit``, ``Glob``, ``Grep``, ``Bash``.

Each is a :class:`~jshost.tools.base.Tool`. Paths are resolved the same way everywhere
(:mod:`._paths`: relative to the workspace root, symlinks followed, ``~`` refused) and a tool
refuses a resolved path outside its :class:`~jshost.tools.base.Workspace` even when called
directly; whoever allows more passes a workspace widened with :func:`allow_paths`. Write and
Edit never change git's own files or the permission settings (:func:`protected`). Output is
capped (:mod:`._caps`) with a note saying what was cut. Nothing a call does runs unbounded on
the trio thread: file work goes to a worker thread that a cancellation abandons, programs run
in a process group that a cancellation kills (:mod:`._proc`).
"""

from __future__ import annotations

from ..base import Tool
from ._paths import PathOutsideWorkspace, allow_paths, resolve
from .bash import BashTool
from .edit import EditTool, WriteTool, protected
from .glob import GlobTool
from .grep import GrepTool
from .read import ReadTool

__all__ = [
    "BUILTIN_TOOLS",
    "BUILTIN_TOOL_NAMES",
    "BashTool",
    "EditTool",
    "GlobTool",
    "GrepTool",
    "PathOutsideWorkspace",
    "ReadTool",
    "WriteTool",
    "allow_paths",
    "builtin_tools",
    "protected",
    "resolve",
]

#: the built-in tool classes, in the order the model is shown them
BUILTIN_TOOLS: tuple[type[Tool], ...] = (
    ReadTool,
    GlobTool,
    GrepTool,
    BashTool,
    EditTool,
    WriteTool,
)
BUILTIN_TOOL_NAMES: tuple[str, ...] = tuple(t.spec.name for t in BUILTIN_TOOLS)


def builtin_tools() -> list[Tool]:
    """A fresh instance of every built-in tool (Grep uses ripgrep when it is on PATH)."""
    return [cls() for cls in BUILTIN_TOOLS]
