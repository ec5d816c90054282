"""What every built-in tool shares: Claude Code's names and input shapes, kinds for the
permission modes, resolved targets, and input checks."""

from __future__ import annotations

import json

import pytest
from tool_kit import call, make_workspace

from jshost.tools import Tool, ToolInputError
from jshost.tools.builtin import (
    BUILTIN_TOOL_NAMES,
    BUILTIN_TOOLS,
    PathOutsideWorkspace,
    allow_paths,
    builtin_tools,
)

# Claude Code's input fields per tool (agents-and-tools.md §3.2), minus the ones not offered
# here (Read's pages/allow_large for PDFs, Bash's run_in_background and sandbox switch, Grep -o)
SHAPES = {
    "Read": ({"file_path"}, {"file_path", "offset", "limit"}, "read"),
    "Glob": ({"pattern"}, {"pattern", "path"}, "read"),
    "Grep": (
        {"pattern"},
        {
            "pattern",
            "path",
            "glob",
            "output_mode",
            "-B",
            "-A",
            "-C",
            "context",
            "-n",
            "-i",
            "type",
            "head_limit",
            "offset",
            "multiline",
        },
        "read",
    ),
    "Bash": ({"command"}, {"command", "timeout", "description"}, "exec"),
    "Edit": (
        {"file_path", "old_string", "new_string"},
        {"file_path", "old_string", "new_string", "replace_all"},
        "edit",
    ),
    "Write": ({"file_path", "content"}, {"file_path", "content"}, "edit"),
}


def test_names_and_instances():
    assert BUILTIN_TOOL_NAMES == ("Read", "Glob", "Grep", "Bash", "Edit", "Write")
    tools = builtin_tools()
    assert [t.name for t in tools] == list(BUILTIN_TOOL_NAMES)
    assert all(isinstance(t, Tool) for t in tools) and len(BUILTIN_TOOLS) == 6
    assert builtin_tools()[0] is not tools[0]  # fresh instances each time


@pytest.mark.parametrize("tool", builtin_tools(), ids=lambda t: t.name)
def test_input_shapes_are_claude_codes(tool):
    required, fields, kind = SHAPES[tool.name]
    api = tool.spec.to_api()
    schema = api["input_schema"]
    assert api["name"] == tool.name and len(api["description"]) > 40
    assert set(schema["required"]) == required and set(schema["properties"]) == fields
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert tool.kind == kind
    json.dumps(api)  # what the Messages API is sent


@pytest.mark.parametrize("tool", builtin_tools(), ids=lambda t: t.name)
def test_a_lone_surrogate_is_an_input_error(tmp_path, tool):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "f").write_text("x\n")
    bad = "\ud800"
    tool_input = {
        "Read": {"file_path": "f" + bad},
        "Glob": {"pattern": bad},
        "Grep": {"pattern": bad},
        "Bash": {"command": "echo " + bad},
        "Edit": {"file_path": "f", "old_string": "x", "new_string": bad},
        "Write": {"file_path": "f", "content": bad},
    }[tool.name]
    with pytest.raises(ToolInputError, match=r"surrogate|cannot be resolved"):
        call(tool, tool_input, workspace)
    assert (workspace.root / "f").read_text() == "x\n"


@pytest.mark.parametrize("tool", builtin_tools(), ids=lambda t: t.name)
def test_targets_are_resolved_paths(tmp_path, tool):
    workspace, outside = make_workspace(tmp_path)
    (workspace.root / "sub").mkdir()
    field = {"Glob": "path", "Grep": "path"}.get(tool.name, "file_path")
    if tool.name == "Bash":
        assert tool.targets({"command": "cat ../outside/secret.txt"}, workspace) == []
        return
    base = {"Glob": {"pattern": "*"}, "Grep": {"pattern": "x"}, "Edit": {"old_string": "a",
            "new_string": "b"}, "Write": {"content": ""}}.get(tool.name, {})  # fmt: skip
    got = tool.targets({**base, field: "sub/../../outside/secret.txt"}, workspace)
    assert got == [outside / "secret.txt"]
    assert tool.targets({**base, field: "sub"}, workspace) == [workspace.root / "sub"]


def test_allow_paths_widens_only_by_what_it_is_given(tmp_path):
    workspace, outside = make_workspace(tmp_path)
    assert allow_paths(workspace, [workspace.root / "x"]) is workspace
    wider = allow_paths(workspace, [outside])
    assert wider.extra_dirs == (outside,) and wider.root == workspace.root
    read, *_ = builtin_tools()
    assert call(read, {"file_path": str(outside / "secret.txt")}, wider).content.endswith("secret")
    with pytest.raises(PathOutsideWorkspace):
        call(read, {"file_path": str(outside / "secret.txt")}, workspace)
