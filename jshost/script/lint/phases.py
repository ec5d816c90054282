"""Phases against ``meta.phases``: titles used but not declared (W701), declared but never
used (W702)."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ..meta import unparen
from .linter import _Linter


def check_phases(linter: _Linter) -> None:
    if linter.meta is None:
        return
    declared = [p.title for p in linter.meta.phases]
    used: set[str] = set()
    dynamic = False
    titled: list[tuple[str, Node]] = []
    for _, args in linter.global_calls("phase"):
        title = linter.string_value(args[0]) if args else None
        if title is None:
            dynamic = True
        else:
            titled.append((title, args[0]))
    # The `phase` options of agent() calls, and whether an options object spreads another
    # (unknown keys), as check_options found them in the calls' order.
    if linter.options_spread:
        dynamic = True
    for value in linter.option_phases:
        title = linter.string_value(value) if value is not None else None
        if title is None:
            dynamic = True
        elif value is not None:
            titled.append((title, value))
    listed = ", ".join(repr(t) for t in declared) if declared else "none"
    for title, node in titled:
        used.add(title)
        if title not in declared:
            linter.report(
                "W701",
                f"phase {title!r} is not declared in meta.phases",
                node,
                hint=f"declared phases: {listed}",
            )
    if dynamic or not linter.complete:
        return
    for title, node in declared_phase_nodes(linter):
        if title not in used:
            linter.report(
                "W702",
                f"phase {title!r} is declared in meta.phases but never used by phase() "
                "or agent({phase})",
                node,
            )


def declared_phase_nodes(linter: _Linter) -> Iterator[tuple[str, Node]]:
    statement = linter.meta_statement
    declaration = statement.child_by_field_name("declaration") if statement else None
    if declaration is None:
        return
    for declarator in declaration.named_children:
        obj = declarator.child_by_field_name("value")
        if obj is None or unparen(obj).type != "object":
            continue
        for pair in unparen(obj).named_children:
            if pair.type != "pair" or linter.key(pair.child_by_field_name("key")) != "phases":
                continue
            phases = pair.child_by_field_name("value")
            if phases is None or unparen(phases).type != "array":
                continue
            for entry in unparen(phases).named_children:
                if unparen(entry).type != "object":
                    continue
                for field_ in unparen(entry).named_children:
                    if field_.type != "pair":
                        continue
                    if linter.key(field_.child_by_field_name("key")) != "title":
                        continue
                    value = field_.child_by_field_name("value")
                    title = linter.string_value(value) if value is not None else None
                    if title is not None and value is not None:
                        yield title, value
