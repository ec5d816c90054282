"""Tools an agent may use on the user's machine: the built-in ``Read``, ``Grep``, ``Glob``,
``Bash``, ``Edit``, ``Write`` and the tools of MCP servers.

A tool knows its input shape and how to run; it does not decide whether it may run. That is
:mod:`jshost.permissions`' job: the agent loop asks a tool which paths a call touches
(:meth:`Tool.targets`, symlinks resolved), asks the permission policy about the call, and only
then runs it. Nothing here imports the engine, a worker or a view: workers import tools.
"""

from .base import Tool, ToolInputError, ToolOutput, ToolSpec, Workspace

__all__ = ["DEFAULT_MAX_TURNS", "Tool", "ToolInputError", "ToolOutput", "ToolSpec", "Workspace"]

#: the turns (model requests) an agent may take before it fails (``--max-turns``); here, not in
#: ``toolbox`` (which imports trio), so that ``jshost --help`` can show it
DEFAULT_MAX_TURNS = 50
