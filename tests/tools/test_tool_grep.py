"""Grep: every documented flag, through both engines (the Python search and a real ripgrep),
which must print exactly the same thing.

ripgrep comes from the ``ripgrep`` wheel in the test extra; the Python search runs whenever
``rg`` is not on PATH (as on this project's machines), so both are always tested.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import trio
from tool_kit import call, make_workspace, rg_program, touch

from jshost.tools import ToolInputError, Workspace
from jshost.tools.builtin import GrepTool, PathOutsideWorkspace
from jshost.tools.builtin._caps import GREP_MAX_LINE_CHARS, MAX_OUTPUT_BYTES
from jshost.tools.builtin._proc import off_loop
from jshost.tools.builtin._pygrep import Query, compile_regex, search_files
from jshost.tools.builtin._rg import rg_argv, rg_search
from jshost.tools.builtin._walk import Walk

T0 = 1_700_000_000


@pytest.fixture(params=["python", "rg"])
def grep(request):
    return GrepTool(rg=None) if request.param == "python" else GrepTool(rg=rg_program())


@pytest.fixture
def ws(tmp_path):
    workspace, outside = make_workspace(tmp_path)
    root = workspace.root
    touch(root / "app.py", T0 + 3, "import os\n\n\ndef main():\n    return os.getcwd()\n")
    touch(root / "notes.md", T0 + 9, "# Notes\nTODO: write docs\nsee app.py\n")
    touch(root / "src" / "lib.ts", T0 + 5, "export const TODO = 1;\n// todo later\n")
    return workspace, outside


def lines(out, root):
    return [line.replace(f"{root}/", "") for line in out.content.splitlines()]


def test_files_with_matches_is_the_default_newest_first(grep, ws):
    workspace, _ = ws
    out = call(grep, {"pattern": "TODO"}, workspace)
    assert lines(out, workspace.root) == ["notes.md", "src/lib.ts"]
    assert out.content.splitlines()[0] == str(workspace.root / "notes.md")
    assert out.summary.startswith("Grep 'TODO' (2 files")
    assert out.summary.endswith(", rg)") == (grep.rg_program() is not None)


def test_ripgrep_is_used_when_on_path_else_python(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert GrepTool().rg_program() is None
    (tmp_path / "rg").symlink_to(rg_program())
    assert GrepTool().rg_program() == str(tmp_path / "rg")
    assert GrepTool(rg=None).rg_program() is None


def test_content_mode_numbers_and_context(grep, ws):
    workspace, _ = ws
    out = call(grep, {"pattern": "os", "output_mode": "content"}, workspace)
    assert lines(out, workspace.root) == ["app.py:1:import os", "app.py:5:    return os.getcwd()"]
    out = call(grep, {"pattern": "os", "output_mode": "content", "-n": False}, workspace)
    assert lines(out, workspace.root) == ["app.py:import os", "app.py:    return os.getcwd()"]
    out = call(grep, {"pattern": "^def", "output_mode": "content", "-B": 1}, workspace)
    assert lines(out, workspace.root) == ["app.py-3-", "app.py:4:def main():"]
    out = call(grep, {"pattern": "import", "output_mode": "content", "-A": 1}, workspace)
    assert lines(out, workspace.root) == ["app.py:1:import os", "app.py-2-"]
    out = call(grep, {"pattern": "TODO|see", "output_mode": "content", "-C": 1}, workspace)
    assert lines(out, workspace.root) == [
        "notes.md-1-# Notes",
        "notes.md:2:TODO: write docs",
        "notes.md:3:see app.py",
        "--",
        "src/lib.ts:1:export const TODO = 1;",
        "src/lib.ts-2-// todo later",
    ]
    same = call(grep, {"pattern": "TODO|see", "output_mode": "content", "context": 1}, workspace)
    assert same.content == out.content


def test_separator_between_groups_in_one_file(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "f.txt").write_text("hit\na\nb\nc\nd\nhit\n")
    tool_input = {"pattern": "hit", "path": "f.txt", "output_mode": "content", "-A": 1}
    out = call(grep, tool_input, workspace)
    assert out.content.splitlines() == ["1:hit", "2-a", "--", "6:hit"]


def test_ignore_case_glob_and_type(grep, ws):
    workspace, _ = ws
    out = call(grep, {"pattern": "todo", "-i": True, "output_mode": "count"}, workspace)
    assert lines(out, workspace.root) == ["notes.md:1", "src/lib.ts:2"]
    out = call(grep, {"pattern": "todo", "-i": True, "glob": "*.ts"}, workspace)
    assert lines(out, workspace.root) == ["src/lib.ts"]
    out = call(grep, {"pattern": "todo", "-i": True, "glob": "src/*.{ts,js}"}, workspace)
    assert lines(out, workspace.root) == ["src/lib.ts"]
    out = call(grep, {"pattern": "o", "type": "py"}, workspace)
    assert lines(out, workspace.root) == ["app.py"]
    out = call(grep, {"pattern": "o", "type": "md"}, workspace)
    assert lines(out, workspace.root) == ["notes.md"]


def test_multiline(grep, ws):
    workspace, _ = ws
    pattern = r"def main\(\):\s+return"
    assert call(grep, {"pattern": pattern}, workspace).content == "No matches found"
    out = call(grep, {"pattern": pattern, "multiline": True, "output_mode": "content"}, workspace)
    assert lines(out, workspace.root) == ["app.py:4:def main():", "app.py:5:    return os.getcwd()"]
    out = call(grep, {"pattern": "Notes.TODO", "multiline": True}, workspace)
    assert lines(out, workspace.root) == ["notes.md"]  # . crosses the newline


def test_head_limit_and_offset_page_through(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "many.txt").write_text("".join(f"hit {i}\n" for i in range(1, 301)))
    out = call(grep, {"pattern": "hit", "output_mode": "content"}, workspace)
    got = out.content.splitlines()
    assert len(got) == 251 and got[249].endswith("many.txt:250:hit 250") and out.truncated
    assert "offset=250" in got[-1]
    out = call(grep, {"pattern": "hit", "output_mode": "content", "offset": 295}, workspace)
    got = lines(out, workspace.root)
    assert got == [f"many.txt:{i}:hit {i}" for i in range(296, 301)] and not out.truncated
    out = call(grep, {"pattern": "hit", "output_mode": "content", "head_limit": 2}, workspace)
    assert lines(out, workspace.root)[:2] == ["many.txt:1:hit 1", "many.txt:2:hit 2"]
    assert "offset=2" in out.content.splitlines()[-1]
    out = call(grep, {"pattern": "hit", "output_mode": "content", "head_limit": 0}, workspace)
    assert len(out.content.splitlines()) == 300 and not out.truncated


def test_many_files_are_listed_up_to_head_limit(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    for i in range(300):
        touch(workspace.root / f"f{i:03}.txt", T0 + i, "needle\n")
    out = call(grep, {"pattern": "needle"}, workspace)
    got = out.content.splitlines()
    assert len(got) == 251 and got[0].endswith("f299.txt") and "300 files in all" in got[-1]


def test_long_lines_are_cut(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "min.js").write_text("x" * 3000 + "needle" + "\n")
    out = call(grep, {"pattern": "needle", "output_mode": "content", "path": "min.js"}, workspace)
    assert out.content == "1:" + "x" * GREP_MAX_LINE_CHARS + " [… line cut: 3,006 characters]"


def test_binary_gitignore_git_hidden_and_symlinks_are_skipped(grep, tmp_path):
    workspace, outside = make_workspace(tmp_path)
    root = workspace.root
    (outside / "o.txt").write_text("needle\n")
    touch(root / "plain.txt", T0, "needle\n")
    (root / "blob.bin").write_bytes(b"needle\0\1\2")
    touch(root / ".git" / "config", T0, "needle\n")
    touch(root / ".hidden.txt", T0, "needle\n")
    touch(root / "dist" / "out.js", T0, "needle\n")
    touch(root / "wt" / "agent-2" / "f.txt", T0, "needle\n")
    (root / ".gitignore").write_text("dist/\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "link.txt").symlink_to(outside / "o.txt")
    hidden = Workspace(root, hidden=(root / "wt" / "agent-2",))
    out = call(grep, {"pattern": "needle"}, hidden)
    assert sorted(lines(out, root)) == [".hidden.txt", "plain.txt"]
    with pytest.raises(ToolInputError, match="hidden"):
        call(grep, {"pattern": "needle", "path": "wt/agent-2"}, hidden)
    with pytest.raises(ToolInputError, match="binary"):
        call(grep, {"pattern": "needle", "path": "blob.bin"}, hidden)


def test_outside_the_workspace_is_refused(grep, ws):
    workspace, outside = ws
    (workspace.root / "link").symlink_to(outside, target_is_directory=True)
    for path in ("..", str(outside), "link", "link/secret.txt", "../outside/secret.txt"):
        with pytest.raises(PathOutsideWorkspace):
            call(grep, {"pattern": "secret", "path": path}, workspace)
    assert grep.targets({"pattern": "x", "path": "link"}, workspace) == [outside]


def test_no_matches_and_a_pattern_that_cannot_compile(grep, ws):
    workspace, _ = ws
    out = call(grep, {"pattern": "zzz-nowhere"}, workspace)
    assert out.content == "No matches found" and not out.is_error
    with pytest.raises(ToolInputError):
        call(grep, {"pattern": "(unclosed"}, workspace)
    with pytest.raises(ToolInputError, match="needs 'pattern'"):
        call(grep, {}, workspace)
    with pytest.raises(ToolInputError, match="output_mode must be one of"):
        call(grep, {"pattern": "x", "output_mode": "lines"}, workspace)
    with pytest.raises(ToolInputError, match="has no field '-x'"):
        call(grep, {"pattern": "x", "-x": True}, workspace)


def test_python_search_of_a_backtracking_pattern_is_linear(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "a.txt").write_text(("a" * 5000 + "\n") * 200)
    started = time.monotonic()
    out = call(GrepTool(rg=None), {"pattern": "(a+)+$b", "output_mode": "count"}, workspace)
    assert out.content == "No matches found"
    assert time.monotonic() - started < 3


def test_python_search_of_an_empty_match_pattern_costs_one_search_per_line(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    # long lines: one search per character would be 4 million matches, one per line is 4,000
    (workspace.root / "big.txt").write_text(("abcd" * 250 + "\n") * 4000)
    started = time.monotonic()
    out = call(GrepTool(rg=None), {"pattern": "x*", "output_mode": "count"}, workspace)
    assert out.content == f"{workspace.root}/big.txt:4000"
    assert time.monotonic() - started < 1.5


def test_an_empty_line_is_not_the_end_after_the_last_newline(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "full.txt").write_text("a\nb\n")
    (workspace.root / "gap.txt").write_text("a\n\nb")
    out = call(grep, {"pattern": "^$"}, workspace)
    assert lines(out, workspace.root) == ["gap.txt"]
    out = call(grep, {"pattern": "^$", "output_mode": "content"}, workspace)
    assert lines(out, workspace.root) == ["gap.txt:2:"]


def test_unknown_type_in_python_lists_the_known_ones(ws):
    workspace, _ = ws
    with pytest.raises(ToolInputError, match=r"unknown file type 'cobol'.*known: c, cpp"):
        call(GrepTool(rg=None), {"pattern": "x", "type": "cobol"}, workspace)


@pytest.mark.parametrize(
    "tool_input",
    [
        {"pattern": "o"},
        {"pattern": "o", "output_mode": "count"},
        {"pattern": "O|t", "-i": True, "output_mode": "content", "-C": 2},
        {"pattern": "^$", "output_mode": "content"},
        {"pattern": "^$"},  # the end of a file after its last newline is not an empty line
        {"pattern": r"\w+\(", "output_mode": "content", "-n": False, "glob": "**/*.py"},
        {"pattern": "e", "output_mode": "content", "head_limit": 3, "offset": 2},
        {"pattern": "TODO.*\n.*todo", "multiline": True, "output_mode": "content"},
    ],
)
def test_both_engines_print_the_same(ws, tool_input):
    workspace, _ = ws
    python = call(GrepTool(rg=None), tool_input, workspace)
    rg = call(GrepTool(rg=rg_program()), tool_input, workspace)
    assert python.content == rg.content and python.content != "No matches found"
    assert python.truncated == rg.truncated


def test_a_cancelled_python_search_returns_at_once_and_its_thread_stops():
    finished = threading.Event()

    def spin(*, stop: threading.Event) -> None:
        while not stop.wait(0.01):
            pass
        finished.set()

    async def main() -> None:
        with trio.move_on_after(0.2):
            await off_loop(spin)

    started = time.monotonic()
    trio.run(main)
    assert time.monotonic() - started < 1
    assert finished.wait(2)  # the abandoned thread saw the stop and ended


def test_walk_and_search_end_at_a_stop(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    for i in range(20):
        touch(workspace.root / f"f{i}.txt", T0, "needle\n")
    stop = threading.Event()
    stop.set()
    walk = Walk(workspace.root, workspace, stop=stop)
    assert list(walk) == [] and walk.stopped == "was cancelled"
    query = Query(compile_regex("needle", ignore_case=False, multiline=False), "count")
    result = search_files(sorted(workspace.root.iterdir()), query, stop=stop)
    assert result.files == [] and result.stopped == "was cancelled"


def _children_running(marker: str) -> list[int]:
    """Live processes whose command line mentions ``marker`` (zombies do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in argv and state != "Z":
            found.append(int(entry))
    return found


def test_a_cancelled_ripgrep_leaves_no_process(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    fifo = workspace.root / "never-written"
    os.mkfifo(fifo)  # ripgrep blocks reading it: a search that does not end by itself
    query = Query(None, "content")
    argv = rg_argv(rg_program(), "x", fifo, workspace, query, ignore_case=False, glob=None,
                   file_type=None)  # fmt: skip

    async def main() -> None:
        seen: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rg_search, argv, workspace.root, query)
            for _ in range(500):
                await trio.sleep(0.01)
                if seen := _children_running(str(fifo)):
                    break
            nursery.cancel_scope.cancel()
        assert seen, "ripgrep never started"

    started = time.monotonic()
    trio.run(main)
    assert time.monotonic() - started < 6
    end = time.monotonic() + 2
    while _children_running(str(fifo)) and time.monotonic() < end:
        time.sleep(0.01)
    assert _children_running(str(fifo)) == []


def test_a_pattern_is_never_a_flag_or_shell_text(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "opts.txt").write_text("--files\n--pre=sh\n$(touch pwned)\n")
    for pattern, expected in (("--files", "--files"), ("--pre=sh", "--pre=sh"), ("-f", "--files")):
        tool_input = {"pattern": pattern, "path": "opts.txt", "output_mode": "content", "-n": False}
        assert call(grep, tool_input, workspace).content == expected
    out = call(grep, {"pattern": r"\$\(touch pwned\)", "glob": "$(touch pwned2)"}, workspace)
    assert out.content == "No matches found"
    assert not (workspace.root / "pwned").exists() and not (workspace.root / "pwned2").exists()


def test_a_leading_slash_ties_the_glob_to_the_top(grep, ws):
    workspace, _ = ws
    touch(workspace.root / "src" / "deep.py", T0, "import os\n")
    out = call(grep, {"pattern": "import", "glob": "/*.py"}, workspace)
    assert lines(out, workspace.root) == ["app.py"]


@pytest.mark.parametrize("mode", ["content", "count", "files_with_matches"])
def test_both_engines_keep_the_same_files_when_a_cap_cuts_the_search_short(tmp_path, mode):
    workspace, _ = make_workspace(tmp_path)
    names = ["a/x.txt", "a.txt", "a-b/y.txt", "B/z.txt", "_u.txt", "z/deep/er/w.txt", "a/b/c.txt"]
    for i, name in enumerate(names * 1):
        touch(workspace.root / name, T0 + i, "hit one\nmiss\nhit two\n")
    tool_input = {"pattern": "hit", "output_mode": mode, "head_limit": 5, "offset": 1}
    python = call(GrepTool(rg=None), tool_input, workspace)
    rg = call(GrepTool(rg=rg_program()), tool_input, workspace)
    assert python.content == rg.content and python.truncated


def test_a_ripgrep_that_cannot_start_falls_back_to_python(ws):
    workspace, _ = ws
    out = call(GrepTool(rg=str(workspace.root / "no-such-rg")), {"pattern": "TODO"}, workspace)
    assert lines(out, workspace.root) == ["notes.md", "src/lib.ts"]
    assert not out.summary.endswith(", rg)")


def test_an_unknown_type_is_an_input_error_in_both(grep, ws):
    workspace, _ = ws
    with pytest.raises(ToolInputError, match="cobol"):
        call(grep, {"pattern": "x", "type": "cobol"}, workspace)


def test_huge_output_is_capped_in_bytes_with_a_way_on(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    (workspace.root / "big.txt").write_text(("needle " + "x" * 400 + "\n") * 5000)
    tool_input = {"pattern": "needle", "output_mode": "content", "head_limit": 0}
    out = call(grep, tool_input, workspace)
    assert out.truncated and len(out.content.encode()) <= MAX_OUTPUT_BYTES + 300
    last = out.content.splitlines()[-1]
    assert last.startswith("[… 5,000 lines in all; showing 1–") and "Use offset=" in last


def test_a_walk_stops_at_its_entry_cap_and_says_so(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    for i in range(30):
        touch(workspace.root / f"d{i}" / "f.txt", T0, "x\n")
    walk = Walk(workspace.root, workspace, max_entries=10)
    assert len(list(walk)) < 10 and walk.stopped == "looked at 10 entries"


def test_ignore_files_count_from_the_workspace_down(grep, tmp_path):
    workspace, _ = make_workspace(tmp_path)
    root = workspace.root
    (root.parent / ".gitignore").write_text("*.txt\n")  # above the workspace: not its rules
    (root / ".rgignore").write_text("skip.md\n")
    (root / "sub").mkdir()
    (root / "sub" / ".ignore").write_text("local.py\n")
    for name in ("a.txt", "skip.md", "keep.md", "sub/local.py", "sub/other.py"):
        touch(root / name, T0, "needle\n")
    out = call(grep, {"pattern": "needle"}, workspace)
    assert sorted(lines(out, root)) == ["a.txt", "keep.md", "sub/other.py"]
    # searching a subdirectory still applies the workspace's own ignore files above it
    (root / "sub" / "x.md").write_text("needle\n")
    (root / ".gitignore").write_text("x.md\n")
    out = call(grep, {"pattern": "needle", "path": "sub"}, workspace)
    assert lines(out, root) == ["sub/other.py"]


@pytest.mark.slow
def test_a_python_search_leaves_the_trio_thread_free(tmp_path):
    workspace, _ = make_workspace(tmp_path)
    block = ("filler line without the word\n" * 4000).encode()
    for i in range(300):
        (workspace.root / f"f{i:03}.txt").write_bytes(block + b"needle\n")
    gaps: list[float] = []

    async def main() -> None:
        done = trio.Event()

        async def tick() -> None:
            last = time.monotonic()
            while not done.is_set():
                await trio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick)
            for tool_input in ({"pattern": "needle", "output_mode": "count", "head_limit": 0},
                               {"pattern": "w.rd\\b", "output_mode": "content"}):  # fmt: skip
                await GrepTool(rg=None).run(tool_input, workspace)
            done.set()

    trio.run(main)
    assert len(gaps) > 5, "the search was too quick to tell"
    assert max(gaps) < 0.25, f"the trio thread was held for {max(gaps):.3f} s"
