"""Read: numbered lines, windows, caps, and every way a path could lead out of the workspace."""

from __future__ import annotations

import os
import time

import pytest
from tool_kit import call, make_workspace

from jshost.tools import ToolInputError
from jshost.tools.builtin import PathOutsideWorkspace, ReadTool, allow_paths
from jshost.tools.builtin._caps import MAX_OUTPUT_BYTES, READ_MAX_LINE_CHARS

READ = ReadTool()


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path)


def test_lines_are_numbered_like_cat_n(ws):
    workspace, _ = ws
    (workspace.root / "a.py").write_text("import os\n\ndef f():\n    return 1\n")
    out = call(READ, {"file_path": str(workspace.root / "a.py")}, workspace)
    assert not out.is_error and not out.truncated
    assert out.content == "     1\timport os\n     2\t\n     3\tdef f():\n     4\t    return 1"
    assert out.summary == "Read a.py (4 lines)"


def test_offset_and_limit_choose_a_window_and_say_how_to_go_on(ws):
    workspace, _ = ws
    (workspace.root / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = call(READ, {"file_path": "n.txt", "offset": 4, "limit": 3}, workspace)
    assert out.content.splitlines()[:3] == ["     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "offset=7" in out.content.splitlines()[3] and out.truncated
    assert out.summary == "Read n.txt (lines 4–6)"
    last = call(READ, {"file_path": "n.txt", "offset": 9}, workspace)
    assert last.content == "     9\tline 9\n    10\tline 10" and not last.truncated


def test_default_is_2000_lines_with_a_note(ws):
    workspace, _ = ws
    (workspace.root / "long.txt").write_text("".join(f"{i}\n" for i in range(1, 2501)))
    out = call(READ, {"file_path": "long.txt"}, workspace)
    lines = out.content.splitlines()
    assert len(lines) == 2001 and lines[1999] == "  2000\t2000"
    assert "offset=2001" in lines[-1] and out.truncated


def test_output_is_capped_in_bytes(ws):
    workspace, _ = ws
    (workspace.root / "wide.txt").write_text(("x" * 1000 + "\n") * 1500)  # 1.5 MB
    out = call(READ, {"file_path": "wide.txt"}, workspace)
    assert out.truncated and len(out.content.encode()) <= MAX_OUTPUT_BYTES + 200
    assert "read on with offset=" in out.content.splitlines()[-1]


def test_a_long_line_is_cut_and_a_huge_one_is_not_loaded_whole(ws):
    workspace, _ = ws
    (workspace.root / "min.js").write_text("a" * 5000 + "\nshort\n")
    out = call(READ, {"file_path": "min.js"}, workspace)
    first, second = out.content.splitlines()
    assert first.startswith("     1\t" + "a" * READ_MAX_LINE_CHARS + " [… line cut: 5,001 bytes]")
    assert second == "     2\tshort"
    (workspace.root / "huge").write_bytes(b"b" * (64 << 20))  # one 64 MiB line
    started = time.monotonic()
    out = call(READ, {"file_path": "huge"}, workspace)
    assert "line cut: 67,108,864 bytes" in out.content
    assert len(out.content) < READ_MAX_LINE_CHARS + 100
    assert time.monotonic() - started < 5


def test_binary_file_is_refused_not_dumped(ws):
    workspace, _ = ws
    (workspace.root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    out = call(READ, {"file_path": "img.png"}, workspace)
    assert out.is_error and "binary file" in out.content and "IHDR" not in out.content


def test_directory_points_to_glob(ws):
    workspace, _ = ws
    (workspace.root / "src").mkdir()
    out = call(READ, {"file_path": "src"}, workspace)
    assert out.is_error and "directory" in out.content and "Glob" in out.content


def test_missing_empty_and_past_the_end(ws):
    workspace, _ = ws
    out = call(READ, {"file_path": "nope.txt"}, workspace)
    assert out.is_error and "does not exist" in out.content
    (workspace.root / "empty").write_text("")
    out = call(READ, {"file_path": "empty"}, workspace)
    assert not out.is_error and "empty" in out.content
    (workspace.root / "two").write_text("a\nb\n")
    out = call(READ, {"file_path": "two", "offset": 5}, workspace)
    assert "has 2 lines" in out.content and "past its end" in out.content


def test_a_fifo_is_refused_without_blocking(ws):
    workspace, _ = ws
    os.mkfifo(workspace.root / "pipe")
    started = time.monotonic()
    out = call(READ, {"file_path": "pipe"}, workspace)
    assert out.is_error and "not a regular file" in out.content
    assert time.monotonic() - started < 2


def test_crlf_lines_show_without_the_carriage_return(ws):
    workspace, _ = ws
    (workspace.root / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    out = call(READ, {"file_path": "dos.txt"}, workspace)
    assert out.content == "     1\tone\n     2\ttwo"


def test_relative_path_is_taken_from_the_workspace_root(ws):
    workspace, _ = ws
    (workspace.root / "sub").mkdir()
    (workspace.root / "sub" / "f.txt").write_text("hi\n")
    assert READ.targets({"file_path": "sub/f.txt"}, workspace) == [workspace.root / "sub/f.txt"]
    assert call(READ, {"file_path": "sub/f.txt"}, workspace).content == "     1\thi"


@pytest.mark.parametrize(
    "escape",
    [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "{outside}/secret.txt",
        "/etc/hostname",
    ],
)
def test_paths_outside_the_workspace_are_refused(ws, escape):
    workspace, outside = ws
    (workspace.root / "sub").mkdir()
    raw = escape.format(outside=outside)
    target = READ.targets({"file_path": raw}, workspace)[0]
    assert not workspace.contains(target) and ".." not in target.parts
    with pytest.raises(PathOutsideWorkspace, match="outside the workspace"):
        call(READ, {"file_path": raw}, workspace)


def test_symlinks_are_resolved_before_the_check(ws):
    workspace, outside = ws
    (workspace.root / "link.txt").symlink_to(outside / "secret.txt")
    (workspace.root / "linkdir").symlink_to(outside, target_is_directory=True)
    (workspace.root / "real.txt").write_text("inside\n")
    (workspace.root / "ok.txt").symlink_to(workspace.root / "real.txt")
    assert READ.targets({"file_path": "link.txt"}, workspace) == [outside / "secret.txt"]
    for raw in ("link.txt", "linkdir/secret.txt", str(workspace.root / "linkdir/secret.txt")):
        with pytest.raises(PathOutsideWorkspace):
            call(READ, {"file_path": raw}, workspace)
    assert READ.targets({"file_path": "ok.txt"}, workspace) == [workspace.root / "real.txt"]
    assert call(READ, {"file_path": "ok.txt"}, workspace).content == "     1\tinside"


def test_a_path_the_caller_allows_can_be_read(ws):
    workspace, outside = ws
    secret = outside / "secret.txt"
    wider = allow_paths(workspace, READ.targets({"file_path": str(secret)}, workspace))
    assert call(READ, {"file_path": str(secret)}, wider).content == "     1\tthe secret"
    # only that file: its neighbour stays out
    (outside / "other.txt").write_text("x\n")
    with pytest.raises(PathOutsideWorkspace):
        call(READ, {"file_path": str(outside / "other.txt")}, wider)


@pytest.mark.parametrize(
    ("tool_input", "message"),
    [
        ({}, "needs 'file_path'"),
        ({"file_path": ""}, "non-empty path"),
        ({"file_path": "~/.ssh/id_rsa"}, "not expanded"),
        ({"file_path": "a\0b"}, "NUL"),
        ({"file_path": "a", "offset": "3"}, "offset must be an integer"),
        ({"file_path": "a", "limit": 0}, "limit must be at least 1"),
        ({"file_path": "a", "pages": "1"}, "has no field 'pages'"),
        ("a", "object"),
    ],
)
def test_unusable_input_says_what_to_fix(ws, tool_input, message):
    workspace, _ = ws
    with pytest.raises(ToolInputError, match=message):
        call(READ, tool_input, workspace)


def test_a_path_is_never_shell_text(ws):
    workspace, _ = ws
    out = call(READ, {"file_path": "$(touch pwned)"}, workspace)
    assert out.is_error and "does not exist" in out.content
    out = call(READ, {"file_path": "`touch pwned2`; touch pwned3"}, workspace)
    assert out.is_error
    assert sorted(p.name for p in workspace.root.iterdir()) == []
