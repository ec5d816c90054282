"""``workflow()`` calls: a literal ``scriptPath`` names a ``.js`` file that is there (W801)."""

from __future__ import annotations

from pathlib import Path

from tree_sitter import Node

from ..meta import unparen
from .linter import _Linter


def check_script_path(linter: _Linter, ref: Node) -> None:
    """``workflow({scriptPath: '…'})`` with a literal path: the file must be there, where
    the engine looks (as given, so the current directory first; then beside the script)."""
    ref = unparen(ref)
    if ref.type != "object":
        return
    for pair in ref.named_children:
        key = pair.child_by_field_name("key") if pair.type == "pair" else None
        if key is None or linter.text(key).strip("'\"") != "scriptPath":
            continue
        value = pair.child_by_field_name("value")
        raw = None if value is None else linter.string_value(value)
        if raw is None or value is None:
            return  # computed: only the run can tell
        path = Path(raw).expanduser()
        places = [path]
        beside = None if linter.path is None else Path(linter.path).parent
        if not path.is_absolute() and beside is not None and beside.resolve() != Path.cwd():
            places.append(beside / path)
        if not path.name.endswith(".js"):
            linter.report(
                "W801",
                f"workflow({{scriptPath}}): only .js files are workflows, not {path.name!r}",
                value,
            )
        elif not any(p.is_file() for p in places):
            where = (
                ""
                if path.is_absolute()
                else (
                    " (looked in the current directory"
                    + (f" and in {places[-1].parent}" if len(places) > 1 else "")
                    + ")"
                )
            )
            linter.report("W801", f"workflow({{scriptPath: {raw!r}}}): no such file{where}", value)
        return
