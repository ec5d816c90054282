"""``jshost validate``: every problem in a workflow script, found without running it.

The load checks of ``load.py`` (what ``run`` refuses) and the static checks of ``lint/``
(tree-sitter) run on the same parse; every diagnostic is kept, sorted by position. Nothing
here spends a token or evaluates the script: QuickJS only compiles it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, final

from tree_sitter import Node

from .._data import Frozen, set_field
from .diagnostics import Diagnostic, excerpt
from .lint import FanOut, lint
from .load import Inspection, Script, inspect_file, inspect_source
from .meta import Meta

__all__ = ["Report", "format_text", "validate_file", "validate_source"]


@final
class Report(Frozen):
    """What ``validate`` found in one script.

    ``script`` is the loadable script when the load checks passed (``run`` still refuses it
    while ``errors`` is non-zero); ``fanout`` is None when the source could not be parsed.
    """

    path: str | None
    source: str
    sha256: str
    diagnostics: list[Diagnostic]
    meta: Meta | None
    script: Script | None
    fanout: FanOut | None
    #: the script reads the global ``args`` (so running it without --args is likely a mistake)
    reads_args: bool = False

    _fields = ("path", "source", "sha256", "diagnostics", "meta", "script", "fanout", "reads_args")

    def __init__(
        self,
        path: str | None,
        source: str,
        sha256: str,
        diagnostics: list[Diagnostic],
        meta: Meta | None,
        script: Script | None,
        fanout: FanOut | None,
        reads_args: bool = False,
    ) -> None:
        set_field(self, "path", path)
        set_field(self, "source", source)
        set_field(self, "sha256", sha256)
        set_field(self, "diagnostics", diagnostics)
        set_field(self, "meta", meta)
        set_field(self, "script", script)
        set_field(self, "fanout", fanout)
        set_field(self, "reads_args", reads_args)

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity == "warning" for d in self.diagnostics)

    def failed(self, *, strict: bool = False) -> bool:
        """Whether ``validate`` fails on this script (with ``strict``, warnings count)."""
        return bool(self.errors or (strict and self.warnings))

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256 or None,
            "name": self.meta.name if self.meta else None,
            "errors": self.errors,
            "warnings": self.warnings,
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "fanout": self.fanout.to_json() if self.fanout else None,
            "reads_args": self.reads_args,
        }


def validate_source(source: str, *, path: str | None = None) -> Report:
    """Every diagnostic for ``source``; see :func:`validate_file`."""
    return _report(inspect_source(source, path=path, collect=True))


def validate_file(path: str | Path) -> Report:
    """Every diagnostic for the script file at ``path``.

    Raises:
        ScriptLoadError: the file is missing, a directory, or unreadable (nothing to check).
    """
    return _report(inspect_file(path, collect=True))


def _report(found: Inspection) -> Report:
    diagnostics = list(found.diagnostics)
    fanout = None
    if found.tree is not None:
        result = lint(
            found.source,
            found.tree,
            path=found.path,
            positions=found.positions,
            meta=found.meta,
            span=found.span,
        )
        # QuickJS stops at an `import` or a `with` with a bare syntax error; the lint's own
        # diagnostic for that statement says more, so the bare one goes.
        starts = found.positions
        diagnostics = [
            d
            for d in diagnostics
            if not (
                d.code == "E104"
                and d.line is not None
                and d.col is not None
                and any(a <= starts.index_of(d.line, d.col) < b for a, b in result.syntax_spans)
            )
        ]
        diagnostics += result.diagnostics
        fanout = result.fanout
    diagnostics.sort(key=lambda d: (d.line or 0, d.col or 0, d.code))
    return Report(
        path=found.path,
        source=found.source,
        sha256=found.sha256,
        diagnostics=diagnostics,
        meta=found.meta,
        script=found.script,
        fanout=fanout,
        reads_args=found.tree is not None
        and _reads_args(found.tree.root_node, found.positions.data),
    )


_DECLARES = frozenset(
    {
        "variable_declarator",
        "formal_parameters",
        "function_declaration",
        "class_declaration",
        "catch_clause",
        "import_specifier",
    }
)


_NAMES = ("identifier", "shorthand_property_identifier")
_ARGS = re.compile(rb"args")


def _reads_args(root: Node, data: bytes) -> bool:
    """Whether the script reads the global ``args``: a reference, and no declaration of its
    own (a script that names a parameter ``args`` is not asking for --args: better silent than
    wrong). ``data`` is the text the tree was parsed from."""
    # Names are compared as written, so each such node sits where the text reads `args`: find
    # the nodes at those places rather than visit the tree (a Python walk over every node was
    # a third of validating 512 KiB, issue 22). One walk in source order finds them all, with
    # their parents: a look-up from the root for each (and Node.parent, another descent from
    # the root) cost the nesting depth per read, seconds in deeply nested scripts.
    found = []
    targets = [m.start() for m in _ARGS.finditer(data)]
    cursor = root.walk()
    node, parents, i = root, [], 0
    while i < len(targets):
        start = targets[i]
        if node.end_byte <= start:  # the node is behind the place: step over it
            while not cursor.goto_next_sibling():
                if not cursor.goto_parent():
                    return _none_declared(found)
                parents.pop()
            node = cursor.node
        elif node.start_byte > start:  # the place is in no leaf
            i += 1
        elif node.start_byte == start and node.end_byte == start + 4 and node.type in _NAMES:
            found.append((node, parents[-1] if parents else None))
            i += 1
        elif cursor.goto_first_child():
            parents.append(node)
            node = cursor.node
        else:  # a leaf holding the place, other than the name
            i += 1
    return _none_declared(found)


def _none_declared(found: list[tuple[Node, Node | None]]) -> bool:
    """Whether some read of ``args`` was ``found`` (with its parent) and none declares it."""
    for node, parent in found:
        declared = parent is not None and (
            parent.type in _DECLARES
            and (parent.type == "formal_parameters" or parent.child_by_field_name("name") == node)
        )
        if parent is not None and parent.type == "arrow_function":
            declared = parent.child_by_field_name("parameter") == node
        if declared:
            return False
    return bool(found)


def format_text(report: Report, *, excerpts: bool = True) -> list[str]:
    """Compiler-style lines: ``path:line:col: error|warning CODE message``.

    Under an error the offending line and a caret follow (with ``excerpts``), then its hint.
    """
    lines: list[str] = []
    for d in report.diagnostics:
        lines.append(str(d))
        if excerpts and d.severity == "error" and d.line is not None and report.source:
            shown = excerpt(report.source, d.line, d.col or 1)
            lines.extend("    " + line for line in shown.split("\n") if shown)
        if d.hint:
            lines.append(f"    hint: {d.hint}")
    return lines
