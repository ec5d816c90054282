"""Static checks on a workflow script's syntax tree (tree-sitter), for ``jshost validate``.

The load checks (size, control characters, syntax, meta) live in ``load.py``; this package
adds what the sandbox would only find out while running, or never: features it does not have,
clocks and randomness, names nobody defines, bad ``agent()`` options and schemas, promises
handed to ``parallel()``, phases, budget loops, and an estimate of the agent fan-out.

Names are resolved through real scopes (functions, blocks, hoisted ``var``), so a local that
shadows a global — a ``const log = …`` or a parameter named ``agent`` — is never mistaken for
it. Every check only reports what is evident from the text; where a value is computed, it
stays quiet.

This module is the driver: it runs the passes in order, and that order is the order of the
diagnostics. ``linter`` holds the state they share; ``scopes`` is pass 1 (scopes,
declarations, references); then one module per family of rules: ``names`` (absent features,
undefined names) with ``determinism`` (clocks, randomness), ``agents`` (``agent()`` options
and schemas), ``parallel`` (``parallel()``, ``pipeline()``), ``workflows`` (``workflow()``
paths), ``budget`` (``budget()``, budget loops), ``phases``; last ``fanout``, the estimate.
A new rule goes into the module of its family, and its call into :func:`lint` below.
"""

from __future__ import annotations

from typing import final

from tree_sitter import Tree

from ..._data import Frozen, set_field
from ..diagnostics import Diagnostic, SourceMap
from ..meta import Meta, MetaSpan
from .agents import AGENT_OPTIONS, EFFORTS, check_agent
from .budget import check_budget_calls, check_loops
from .fanout import FanOut, estimate
from .linter import _Linter, _Scope
from .names import check_globals
from .parallel import check_parallel, check_pipeline
from .phases import check_phases
from .scopes import resolve, walk
from .workflows import check_script_path

__all__ = ["AGENT_OPTIONS", "EFFORTS", "FanOut", "Lint", "lint"]


@final
class Lint(Frozen):
    """What :func:`lint` found."""

    diagnostics: list[Diagnostic]
    fanout: FanOut
    #: character spans of statements whose own diagnostic explains QuickJS's syntax error
    syntax_spans: list[tuple[int, int]]

    _fields = ("diagnostics", "fanout", "syntax_spans")

    def __init__(
        self, diagnostics: list[Diagnostic], fanout: FanOut, syntax_spans: list[tuple[int, int]]
    ) -> None:
        set_field(self, "diagnostics", diagnostics)
        set_field(self, "fanout", fanout)
        set_field(self, "syntax_spans", syntax_spans)


def lint(
    source: str,
    tree: Tree,
    *,
    path: str | None,
    positions: SourceMap | None = None,
    meta: Meta | None = None,
    span: MetaSpan | None = None,
) -> Lint:
    """Run every static check on ``source`` (already parsed into ``tree``).

    Args:
        source: the script text.
        tree: its tree-sitter tree.
        path: the script's path, for diagnostics.
        positions: a :class:`SourceMap` of ``source`` to share.
        meta: the script's meta when it is valid (phases are checked against it).
        span: where the ``export const meta`` statement is, if there is one.

    The checks that need the whole tree (undefined names, unused phases) are skipped when
    tree-sitter had to recover from syntax errors: declarations may be lost in recovery.
    """
    linter = _Linter(source, tree, path, positions or SourceMap(source), meta, span)
    walk(linter, tree.root_node, _Scope(None, function=True))
    resolve(linter)
    check_globals(linter)
    _check_calls(linter)
    check_loops(linter)
    check_phases(linter)
    fanout = estimate(linter)
    return Lint(linter.out, fanout, linter.syntax_spans)


def _check_calls(linter: _Linter) -> None:
    """The calls of agent(), parallel(), pipeline(), workflow() and budget(), in that order."""
    for call, args in linter.global_calls("agent"):
        check_agent(linter, call, args)
    for call, args in linter.global_calls("parallel"):
        check_parallel(linter, call, args)
    for call, args in linter.global_calls("pipeline"):
        check_pipeline(linter, call, args)
    for _, args in linter.global_calls("workflow"):
        if args:
            check_script_path(linter, args[0])
    check_budget_calls(linter)
