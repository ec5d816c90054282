"""Agent types: the definitions ``agent(prompt, {agentType})`` names (reference §3.1, §6.1).

They are Claude Code's own subagent files, so a definition written for Claude Code works here:
a markdown file whose YAML frontmatter holds ``name`` and ``description`` (both required, as
Claude Code requires them; the file name is never used as a name) and optionally ``tools``,
``disallowedTools`` (a comma-separated string or a YAML list), ``model`` and
``permissionMode``; the body is the agent's system prompt. Found in, first wins on a name:

- project: ``.claude/agents/*.md`` in every directory from the workspace up to its repository
  root (just the workspace outside a repository), the closest first, as saved workflows are
  found (:mod:`jshost.library`);
- user: ``~/.claude/agents/*.md`` (``$CLAUDE_CONFIG_DIR/agents`` when that is set);
- built-in: ``general-purpose`` and ``Explore`` (below). A file beats a built-in of its name.

A file that is not a usable definition is skipped with the reason (``jshost agents`` lists
them) and never stops discovery. Files are read with bounds: at most
:data:`MAX_AGENT_FILE_BYTES` each, a frontmatter of at most :data:`MAX_FRONTMATTER_CHARS`, at
most :data:`MAX_FILES_PER_DIR` files a directory. Discovery reads files: callers on the trio
thread run it in a worker thread.

No ``agentType``: the agent is the reference's implicit ``workflow-subagent``
(:data:`WORKFLOW_SUBAGENT`, not a name a script can ask for), and ``AgentRequest.agent_definition``
is None.
"""

from __future__ import annotations

from .files import discover_agent_types, parse_agent_file
from .types import (
    BUILTIN_TYPES,
    MAX_AGENT_FILE_BYTES,
    MAX_FILES_PER_DIR,
    MAX_FRONTMATTER_CHARS,
    PERMISSION_MODES,
    WORKFLOW_SUBAGENT,
    AgentType,
    AgentTypeDenied,
    AgentTypeError,
    AgentTypeNotFound,
    AgentTypes,
    Denial,
    SkippedAgentFile,
    denial_from_rules,
    system_prompt_for,
    workflow_note,
)

__all__ = [
    "BUILTIN_TYPES",
    "MAX_AGENT_FILE_BYTES",
    "MAX_FILES_PER_DIR",
    "MAX_FRONTMATTER_CHARS",
    "PERMISSION_MODES",
    "WORKFLOW_SUBAGENT",
    "AgentType",
    "AgentTypeDenied",
    "AgentTypeError",
    "AgentTypeNotFound",
    "AgentTypes",
    "Denial",
    "SkippedAgentFile",
    "denial_from_rules",
    "discover_agent_types",
    "parse_agent_file",
    "system_prompt_for",
    "workflow_note",
]
