"""The shapes every tool shares: what the model sees, what a call returns, where it may act."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar, Literal

from .._data import Frozen, set_field

__all__ = ["Tool", "ToolInputError", "ToolKind", "ToolOutput", "ToolSpec", "Workspace"]

#: what a tool does, for permission modes: ``read`` tools are on by default inside the
#: workspace, ``edit`` tools with ``acceptEdits`` or a rule, ``exec`` and ``mcp`` only by rule.
ToolKind = Literal["read", "edit", "exec", "mcp"]


class ToolInputError(ValueError):
    """A tool call's input is unusable (missing field, relative path, bad pattern).

    The message goes back to the model as an error ``tool_result``, so it says what to fix.
    """


class ToolSpec(Frozen):
    """A tool as the model sees it (the Messages API's ``tools`` entry)."""

    name: str
    description: str
    input_schema: dict[str, Any]

    _fields = ("name", "description", "input_schema")

    def __init__(self, name: str, description: str, input_schema: dict[str, Any]) -> None:
        set_field(self, "name", name)
        set_field(self, "description", description)
        set_field(self, "input_schema", input_schema)

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


class ToolOutput(Frozen):
    """What a call returns to the model: text (or content blocks) and whether it failed.

    ``summary`` is a short line for views and transcripts (``read 120 lines of src/a.py``);
    ``truncated`` says the output was cut to the tool's caps (the text says so too).
    """

    content: str | list[dict[str, Any]]
    is_error: bool = False
    summary: str = ""
    truncated: bool = False

    _fields = ("content", "is_error", "summary", "truncated")

    def __init__(
        self,
        content: str | list[dict[str, Any]],
        is_error: bool = False,
        summary: str = "",
        truncated: bool = False,
    ) -> None:
        set_field(self, "content", content)
        set_field(self, "is_error", is_error)
        set_field(self, "summary", summary)
        set_field(self, "truncated", truncated)

    def to_api(self, tool_use_id: str) -> dict[str, Any]:
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": self.content,
        }
        if self.is_error:
            block["is_error"] = True
        return block


class Workspace(Frozen):
    """Where an agent acts.

    ``root`` is the workspace directory (resolved: no symlinks), the agent's working
    directory; a worktree-isolated agent gets its worktree here. ``extra_dirs`` are further
    directories rules or settings (``additionalDirectories``) open to it. ``hidden`` are
    directories that ``Glob`` and ``Grep`` never descend into (other agents' worktrees).
    """

    root: Path
    extra_dirs: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    #: the original checkout when ``root`` is an agent's worktree (for rule paths like ``/x``)
    project_root: Path | None = None
    env: dict[str, str]

    _fields = ("root", "extra_dirs", "hidden", "project_root", "env")
    _uncompared = ("env",)
    _no_repr = ("env",)

    def __init__(
        self,
        root: Path,
        extra_dirs: tuple[Path, ...] = (),
        hidden: tuple[Path, ...] = (),
        project_root: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        set_field(self, "root", root)
        set_field(self, "extra_dirs", extra_dirs)
        set_field(self, "hidden", hidden)
        set_field(self, "project_root", project_root)
        set_field(self, "env", {} if env is None else env)

    def contains(self, path: Path) -> bool:
        """Whether a resolved ``path`` lies inside the workspace or one of its extra dirs."""
        return any(path == d or d in path.parents for d in (self.root, *self.extra_dirs))


class Tool(abc.ABC):
    """One tool. Subclasses set ``spec`` and ``kind`` and implement :meth:`run`."""

    spec: ClassVar[ToolSpec]
    kind: ClassVar[ToolKind]

    @property
    def name(self) -> str:
        return self.spec.name

    def targets(self, tool_input: dict[str, Any], workspace: Workspace) -> list[Path]:
        """The resolved paths a call would read or write (symlinks followed), for the
        permission check; raises :class:`ToolInputError` for an unusable input."""
        return []

    def command(self, tool_input: dict[str, Any]) -> str | None:
        """The shell command a call would run (``Bash``), for ``Bash(...)`` rules."""
        return None

    @abc.abstractmethod
    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        """Run the call; cancellation (trio) must stop it, child processes included.

        Raises :class:`ToolInputError` for an unusable input; any other failure is
        returned as ``ToolOutput(is_error=True)`` with a message the model can act on.
        """
