"""Glob: patterns, newest first, capped, and never into hidden dirs, .git or out by a symlink."""

from __future__ import annotations

import time

import pytest
from tool_kit import call, make_workspace, touch

from jshost.tools import ToolInputError, Workspace
from jshost.tools.builtin import GlobTool, PathOutsideWorkspace
from jshost.tools.builtin._caps import GLOB_MAX_FILES, MAX_OUTPUT_BYTES

GLOB = GlobTool()
T0 = 1_700_000_000


@pytest.fixture
def ws(tmp_path):
    workspace, outside = make_workspace(tmp_path)
    root = workspace.root
    touch(root / "setup.py", T0 + 1, "")
    touch(root / "src" / "app.py", T0 + 5, "")
    touch(root / "src" / "util.ts", T0 + 3, "")
    touch(root / "src" / "deep" / "x.py", T0 + 4, "")
    touch(root / "src" / "deep" / "y.tsx", T0 + 2, "")
    return workspace, outside


def paths(out, root):
    return [line.removeprefix(f"{root}/") for line in out.content.splitlines()]


def test_double_star_crosses_directories_newest_first(ws):
    workspace, _ = ws
    out = call(GLOB, {"pattern": "**/*.py"}, workspace)
    assert paths(out, workspace.root) == ["src/app.py", "src/deep/x.py", "setup.py"]
    assert out.summary == "Glob **/*.py (3 files)" and not out.truncated
    # absolute paths, so the model can Read them as they are
    assert out.content.splitlines()[0] == str(workspace.root / "src/app.py")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.py", ["setup.py"]),  # one directory only
        ("src/*", ["src/app.py", "src/util.ts"]),
        ("src/**", ["src/app.py", "src/deep/x.py", "src/util.ts", "src/deep/y.tsx"]),
        ("**/*.{ts,tsx}", ["src/util.ts", "src/deep/y.tsx"]),
        ("src/**/?.py", ["src/deep/x.py"]),
        ("**/[xy].*", ["src/deep/x.py", "src/deep/y.tsx"]),
        ("**/[!xy].py", []),
        ("./src/*.py", ["src/app.py"]),
        ("nothing/**", []),
    ],
)
def test_pattern_forms(ws, pattern, expected):
    workspace, _ = ws
    out = call(GLOB, {"pattern": pattern}, workspace)
    assert paths(out, workspace.root) == (expected or ["No files found"])


def test_path_narrows_and_an_absolute_pattern_under_it_works(ws):
    workspace, _ = ws
    out = call(GLOB, {"pattern": "*.py", "path": "src/deep"}, workspace)
    assert paths(out, workspace.root) == ["src/deep/x.py"]
    assert out.summary == "Glob *.py in src/deep (1 file)"
    absolute = call(GLOB, {"pattern": f"{workspace.root}/src/*.ts"}, workspace)
    assert paths(absolute, workspace.root) == ["src/util.ts"]
    with pytest.raises(ToolInputError, match="not under"):
        call(GLOB, {"pattern": "/etc/*", "path": "src"}, workspace)
    with pytest.raises(ToolInputError, match=r"'\.\.'"):
        call(GLOB, {"pattern": "../outside/*"}, workspace)


def test_hidden_dirs_git_and_ignored_files_are_skipped(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    root = workspace.root
    touch(root / "keep.py", T0, "")
    touch(root / ".git" / "hook.py", T0, "")
    touch(root / ".claude" / "worktrees" / "wf-1" / "other.py", T0, "")
    touch(root / "build" / "gen.py", T0, "")
    touch(root / "pkg" / "debug.py", T0, "")
    touch(root / "pkg" / "keep_me.py", T0, "")
    (root / ".gitignore").write_text("build/\n")
    (root / "pkg" / ".gitignore").write_text("debug.py\n")
    hidden = Workspace(root, hidden=(root / ".claude" / "worktrees",))
    out = call(GLOB, {"pattern": "**/*.py"}, hidden)
    assert sorted(paths(out, root)) == ["keep.py", "pkg/keep_me.py"]
    with pytest.raises(ToolInputError, match="hidden"):
        call(GLOB, {"pattern": "*", "path": ".claude/worktrees/wf-1"}, hidden)
    # dotfiles themselves are listed
    assert ".gitignore" in paths(call(GLOB, {"pattern": ".*"}, hidden), root)


def test_symlinks_are_not_followed_and_outside_is_refused(ws):
    workspace, outside = ws
    (workspace.root / "out").symlink_to(outside, target_is_directory=True)
    (workspace.root / "loop").symlink_to(workspace.root, target_is_directory=True)
    out = call(GLOB, {"pattern": "**/*.txt"}, workspace)
    assert out.content == "No files found"
    assert call(GLOB, {"pattern": "out/*"}, workspace).content == "No files found"
    with pytest.raises(PathOutsideWorkspace):
        call(GLOB, {"pattern": "*", "path": "out"}, workspace)
    with pytest.raises(PathOutsideWorkspace):
        call(GLOB, {"pattern": "*", "path": str(outside)}, workspace)
    assert GLOB.targets({"pattern": "*", "path": "out"}, workspace) == [outside]


def test_results_are_capped_with_a_note(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    for i in range(GLOB_MAX_FILES + 30):
        touch(workspace.root / f"f{i:03}.txt", T0 + i, "")
    out = call(GLOB, {"pattern": "*.txt"}, workspace)
    lines = out.content.splitlines()
    assert len(lines) == GLOB_MAX_FILES + 1 and out.truncated
    assert lines[0].endswith(f"f{GLOB_MAX_FILES + 29:03}.txt")  # the newest
    assert "130 files match" in lines[-1]


def test_a_pathological_pattern_runs_in_linear_time(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    for i in range(50):
        touch(workspace.root / ("a" * 200 + str(i)), T0, "")
    started = time.monotonic()
    out = call(GLOB, {"pattern": "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"}, workspace)
    assert out.content == "No files found"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("tool_input", "message"),
    [
        ({}, "needs 'pattern'"),
        ({"pattern": ""}, "non-empty"),
        ({"pattern": "{a,b"}, "unclosed"),
        ({"pattern": "*", "path": "setup.py"}, "not a directory"),
        ({"pattern": "*", "path": "missing"}, "does not exist"),
    ],
)
def test_unusable_input(ws, tool_input, message):
    workspace, _ = ws
    with pytest.raises(ToolInputError, match=message):
        call(GLOB, tool_input, workspace)


def test_a_hidden_dir_holding_the_root_hides_nothing_from_its_agent(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    worktrees = workspace.root / ".claude" / "worktrees"
    mine = worktrees / "wf-1"
    touch(mine / "src" / "a.py", T0, "x = 1\n")
    agent = Workspace(mine, hidden=(worktrees,))
    out = call(GLOB, {"pattern": "**/*.py"}, agent)
    assert out.content == str(mine / "src" / "a.py")


def test_long_paths_are_capped_in_bytes(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    deep = workspace.root.joinpath(*(c * 250 for c in "abcd"))
    for i in range(GLOB_MAX_FILES):
        touch(deep / (f"{i:03}" + "f" * 200), T0 + i, "")
    out = call(GLOB, {"pattern": "**/*"}, workspace)
    assert out.truncated and len(out.content.encode()) <= MAX_OUTPUT_BYTES + 300
    assert f"{GLOB_MAX_FILES} files match; showing the" in out.content.splitlines()[-1]
