"""``Grep``: search file contents by regex, with ripgrep when it is installed, else in Python.

Both engines return a :class:`~._pygrep.Result` and this module renders it, so the model sees
one output shape whichever ran:

* ``files_with_matches`` (default): matching files' absolute paths, most recently modified first;
* ``content``: ``path:N:line`` for a matching line and ``path-N-line`` for a context line
  (``-n`` false drops ``N``; searching one file drops ``path``), ``--`` between separate groups
  when context is asked for, lines longer than 500 characters cut;
* ``count``: ``path:N`` (matching lines per file), by path.

``offset`` skips that many output lines (or files) and ``head_limit`` keeps that many (default
250, 0 = all, still within the byte cap); a note says when more exist and which offset shows them.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar

from ..base import ToolInputError, ToolKind, ToolOutput, ToolSpec, Workspace
from . import _args
from ._caps import GREP_MAX_LINE_CHARS, MAX_OUTPUT_BYTES, cap_lines, cut_line
from ._paths import PathTool, check_inside, display, in_hidden
from ._proc import off_loop
from ._pygrep import Query, Result, compile_regex, search_files
from ._rg import RgError, rg_argv, rg_search
from ._walk import Walk, compile_glob
from .glob import search_dir
from .read import SNIFF_BYTES, is_binary

__all__ = ["DEFAULT_HEAD_LIMIT", "FILE_TYPES", "GrepTool"]

DEFAULT_HEAD_LIMIT = 250
MAX_CONTEXT = 100
#: output lines a search collects when head_limit is 0 ("all"), at most
_ALL_LINES = 20_000
_MODES = ("files_with_matches", "content", "count")

#: ``type`` names the Python search knows (ripgrep knows these and many more)
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "c": ("*.c", "*.h"),
    "cpp": ("*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.hxx", "*.h", "*.inl"),
    "cs": ("*.cs",),
    "css": ("*.css", "*.scss"),
    "go": ("*.go",),
    "html": ("*.html", "*.htm"),
    "java": ("*.java",),
    "js": ("*.js", "*.mjs", "*.cjs", "*.jsx", "*.vue"),
    "json": ("*.json",),
    "kotlin": ("*.kt", "*.kts"),
    "lua": ("*.lua",),
    "markdown": ("*.md", "*.markdown", "*.mdx"),
    "md": ("*.md", "*.markdown", "*.mdx"),
    "php": ("*.php",),
    "py": ("*.py", "*.pyi"),
    "rb": ("*.rb", "*.gemspec", "Gemfile", "Rakefile"),
    "ruby": ("*.rb", "*.gemspec", "Gemfile", "Rakefile"),
    "rust": ("*.rs",),
    "sh": ("*.sh", "*.bash", "*.zsh", ".bashrc", ".zshrc"),
    "sql": ("*.sql",),
    "swift": ("*.swift",),
    "toml": ("*.toml",),
    "ts": ("*.ts", "*.tsx", "*.mts", "*.cts"),
    "txt": ("*.txt",),
    "xml": ("*.xml", "*.xsd", "*.svg"),
    "yaml": ("*.yaml", "*.yml"),
}

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": "Regular expression (ripgrep/RE2 syntax; escape braces and dots "
            "for literal text).",
        },
        "path": {
            "type": "string",
            "description": "File or directory to search (default: the workspace root).",
        },
        "glob": {
            "type": "string",
            "description": "Only files whose name matches this glob (e.g. *.py, *.{ts,tsx}; "
            "with a / it matches the path under the searched directory).",
        },
        "output_mode": {
            "type": "string",
            "enum": list(_MODES),
            "description": "files_with_matches (default): file paths; content: the matching "
            "lines; count: matches per file.",
        },
        "-B": {
            "type": "integer",
            "minimum": 0,
            "description": "Lines before each match (content mode).",
        },
        "-A": {
            "type": "integer",
            "minimum": 0,
            "description": "Lines after each match (content mode).",
        },
        "-C": {
            "type": "integer",
            "minimum": 0,
            "description": "Lines before and after each match (content mode).",
        },
        "context": {"type": "integer", "minimum": 0, "description": "Same as -C."},
        "-n": {"type": "boolean", "description": "Show line numbers (content mode; default true)."},
        "-i": {"type": "boolean", "description": "Ignore case."},
        "type": {
            "type": "string",
            "description": "Only files of this type (py, js, ts, rust, go, java, md, …).",
        },
        "head_limit": {
            "type": "integer",
            "minimum": 0,
            "description": "Show at most this many "
            f"lines or files (default {DEFAULT_HEAD_LIMIT}; 0 = all).",
        },
        "offset": {
            "type": "integer",
            "minimum": 0,
            "description": "Skip this many lines or files first (to page through results).",
        },
        "multiline": {
            "type": "boolean",
            "description": "Let the pattern match across lines (. matches newlines too).",
        },
    },
    "required": ["pattern"],
    "additionalProperties": False,
}

_DESCRIPTION = (
    "Search the contents of files in the workspace with a regular expression. Lists matching "
    "files by default; output_mode content shows the matching lines (with -A/-B/-C context), "
    "count shows matches per file. Filter files with glob or type. Honours .gitignore, skips "
    "binary files, .git and symlinks. Page through long results with head_limit and offset."
)


class _Filter:
    """Which walked files a search looks at: ``glob`` and ``type``, as ripgrep applies them."""

    def __init__(self, top: Path, glob: str | None, file_type: str | None) -> None:
        self.top = top
        self.glob = compile_glob(glob.removeprefix("/")) if glob else None
        # as in .gitignore: a slash anywhere but at the end ties the glob to the path
        self.glob_on_path = bool(glob) and "/" in glob.rstrip("/")
        self.types = None
        if file_type:
            self.types = [compile_glob(g) for g in FILE_TYPES[file_type]]

    def __call__(self, path: Path) -> bool:
        if self.glob is not None:
            subject = path.relative_to(self.top).as_posix() if self.glob_on_path else path.name
            if self.glob.search(subject) is None:
                return False
        return self.types is None or any(t.search(path.name) for t in self.types)


def _py_search(
    top: Path, workspace: Workspace, query: Query, keep: _Filter, *, stop: threading.Event
) -> Result:
    if top.is_file():
        return search_files([top], query, stop=stop)
    walk = Walk(top, workspace, stop=stop)
    result = search_files((p for p in walk if keep(p)), query, stop=stop)
    if walk.stopped and not result.stopped:
        result.stopped = f"the walk {walk.stopped}"
    return result


def _render(result: Result, query: Query, single_file: bool, numbers: bool) -> list[str]:
    files = result.files
    if query.mode == "files_with_matches":

        def mtime(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        return [os.fspath(h.path) for h in sorted(files, key=lambda h: (-mtime(h.path), h.path))]
    files = sorted(files, key=lambda h: h.path)
    if query.mode == "count":
        return [f"{h.path}:{h.count}" for h in files]
    out: list[str] = []
    grouped = bool(query.before or query.after)
    for hits in files:
        previous: int | None = None
        for number, text, is_match in hits.lines:
            if grouped and out and (previous is None or number > previous + 1):
                out.append("--")
            previous = number
            sep = ":" if is_match else "-"
            head = "" if single_file else f"{hits.path}{sep}"
            if numbers:
                head += f"{number}{sep}"
            out.append(head + cut_line(text, GREP_MAX_LINE_CHARS))
    return out


class GrepTool(PathTool):
    """``Grep {pattern, path?, glob?, output_mode?, -B?, -A?, -C?, context?, -n?, -i?, type?,
    head_limit?, offset?, multiline?}``.

    ``rg``: the ripgrep program to run; by default the ``rg`` on PATH when the call runs, and
    None for the Python search always.
    """

    spec: ClassVar[ToolSpec] = ToolSpec("Grep", _DESCRIPTION, _SCHEMA)
    kind: ClassVar[ToolKind] = "read"

    def __init__(self, rg: str | bool | None = True) -> None:
        self._rg = rg

    def rg_program(self) -> str | None:
        """The ripgrep this tool would run now, or None for the Python search."""
        if self._rg is True:
            return shutil.which("rg")
        return self._rg or None

    def target(self, tool_input: dict[str, Any], workspace: Workspace) -> Path:
        return search_dir(tool_input, workspace)

    async def run(self, tool_input: dict[str, Any], workspace: Workspace) -> ToolOutput:
        self.checked(tool_input)
        pattern = _args.text(tool_input, "pattern")
        if not pattern:
            raise ToolInputError("pattern must be a non-empty regular expression")
        mode = _args.one_of(tool_input, "output_mode", _MODES, "files_with_matches")
        context = _args.integer(tool_input, "context", high=MAX_CONTEXT, low=0)
        context = _args.integer(tool_input, "-C", default=context, high=MAX_CONTEXT, low=0)
        before = _args.integer(tool_input, "-B", default=context, high=MAX_CONTEXT, low=0) or 0
        after = _args.integer(tool_input, "-A", default=context, high=MAX_CONTEXT, low=0) or 0
        numbers = _args.boolean(tool_input, "-n", default=True)
        ignore_case = _args.boolean(tool_input, "-i")
        multiline = _args.boolean(tool_input, "multiline")
        file_type = _args.text(tool_input, "type") or None
        glob = _args.text(tool_input, "glob") or None
        head_limit = _args.integer(tool_input, "head_limit", default=DEFAULT_HEAD_LIMIT, low=0)
        offset = _args.integer(tool_input, "offset", default=0, low=0)
        assert head_limit is not None and offset is not None
        top = check_inside(search_dir(tool_input, workspace), workspace)
        if not top.exists():
            raise ToolInputError(f"path {top} does not exist")
        if in_hidden(top, workspace):
            raise ToolInputError(f"{top} is hidden from this agent's searches")
        single_file = top.is_file()
        if single_file:
            with open(top, "rb") as f:
                if is_binary(f.read(SNIFF_BYTES)):
                    raise ToolInputError(f"{top} is a binary file; Grep searches text files")
        elif not top.is_dir():
            raise ToolInputError(f"path {top} is not a file or a directory")
        if mode != "content":
            before = after = 0
        want = head_limit + offset if head_limit else _ALL_LINES
        query = Query(
            program=None,
            mode=mode,
            before=before,
            after=after,
            multiline=multiline,
            max_lines=want if mode == "content" else None,
        )
        rg = self.rg_program()
        result: Result | None = None
        engine = "rg"
        if rg:
            argv = rg_argv(
                rg, pattern, top, workspace, query,
                ignore_case=ignore_case, glob=glob, file_type=file_type,
            )  # fmt: skip
            try:
                result = await rg_search(argv, workspace.root, query)
            except RgError as exc:
                raise ToolInputError(f"Grep cannot run this search: {exc}") from None
            except OSError:  # the program cannot start (gone, not executable): search in Python
                result = None
        if result is None:
            engine = "python"
            if file_type and file_type not in FILE_TYPES:
                raise ToolInputError(
                    f"unknown file type {file_type!r} (known: {', '.join(sorted(FILE_TYPES))}); "
                    "or use glob"
                )
            program = compile_regex(pattern, ignore_case=ignore_case, multiline=multiline)
            keep = _Filter(top, glob, file_type)
            query = Query(program, mode, before, after, multiline, query.max_lines)
            result = await off_loop(_py_search, top, workspace, query, keep)
        lines = _render(result, query, single_file, numbers)
        return _output(lines, result, pattern, top, workspace, mode, head_limit, offset, engine)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _output(
    lines: list[str],
    result: Result,
    pattern: str,
    top: Path,
    workspace: Workspace,
    mode: str,
    head_limit: int,
    offset: int,
    engine: str,
) -> ToolOutput:
    where = display(top, workspace)
    shown_pattern = pattern if len(pattern) <= 60 else pattern[:59] + "…"
    summary = f"Grep {shown_pattern!r}" + ("" if where == "." else f" in {where}")
    unit = "lines" if mode == "content" else "files"
    more_exist = result.stopped == "enough"
    stopped = "" if more_exist else result.stopped
    if not lines:
        text = "No matches found"
        if stopped:
            text += f" (the search stopped early: it {stopped})"
        return ToolOutput(text, summary=f"{summary}: no matches", truncated=bool(stopped))
    window = lines[offset : offset + head_limit] if head_limit else lines[offset:]
    kept, cut = cap_lines(window, max_lines=len(window) + 1, max_bytes=MAX_OUTPUT_BYTES)
    notes: list[str] = []
    end = offset + len(kept)
    if cut or end < len(lines) or more_exist:
        total = "more" if more_exist else f"{len(lines):,}"
        notes.append(
            f"[… {total} {unit} in all; showing {offset + 1}–{end}. "
            f"Use offset={end} for the next ones]"
        )
    if stopped:
        notes.append(f"[… the search stopped early: it {stopped}; narrow path, glob or type]")
    if not kept:
        notes.insert(0, f"(offset {offset} is past the {len(lines):,} {unit} found)")
    found = _plural(len(result.files), "file") if mode != "content" else _plural(len(lines), "line")
    return ToolOutput(
        "\n".join([*kept, *notes]),
        summary=f"{summary} ({found}{', ' + engine if engine == 'rg' else ''})",
        truncated=bool(notes),
    )
