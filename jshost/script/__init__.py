"""1 · Check: workflow script text → a :class:`Script`, and every problem in it. Runs nothing.

``load`` reads a script (size, encoding, control characters, syntax, meta), ``meta`` reads its
``export const meta`` header, ``lint`` checks its syntax tree, ``validate`` gathers both into a
report, ``diagnostics`` is the positioned problem they all produce. This stage may compile a
script in the sandbox, never run it, and it imports no engine.

The names below load lazily: importing ``jshost.script.diagnostics`` must not pull in QuickJS or
tree-sitter through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .diagnostics import CODES, Diagnostic, SourceMap, excerpt
    from .error_position import DESTRUCTURING_MESSAGE, destructuring_site
    from .lint import FanOut, Lint
    from .load import (
        CHILD_PREFIX,
        MAX_SCRIPT_CHARS,
        PREFIX,
        SUFFIX,
        Inspection,
        Script,
        inspect_file,
        inspect_source,
        load_child_script,
        load_script,
        parse_script,
    )
    from .meta import Meta, MetaSpan, Phase, parse_meta
    from .validate import Report, format_text, validate_file, validate_source

_WHERE = {
    "CHILD_PREFIX": "load",
    "CODES": "diagnostics",
    "DESTRUCTURING_MESSAGE": "error_position",
    "Diagnostic": "diagnostics",
    "FanOut": "lint",
    "Inspection": "load",
    "Lint": "lint",
    "MAX_SCRIPT_CHARS": "load",
    "Meta": "meta",
    "MetaSpan": "meta",
    "PREFIX": "load",
    "Phase": "meta",
    "Report": "validate",
    "SUFFIX": "load",
    "Script": "load",
    "SourceMap": "diagnostics",
    "destructuring_site": "error_position",
    "excerpt": "diagnostics",
    "format_text": "validate",
    "inspect_file": "load",
    "inspect_source": "load",
    "load_child_script": "load",
    "load_script": "load",
    "parse_meta": "meta",
    "parse_script": "load",
    "validate_file": "validate",
    "validate_source": "validate",
}

__all__ = [
    "CHILD_PREFIX",
    "CODES",
    "DESTRUCTURING_MESSAGE",
    "MAX_SCRIPT_CHARS",
    "PREFIX",
    "SUFFIX",
    "Diagnostic",
    "FanOut",
    "Inspection",
    "Lint",
    "Meta",
    "MetaSpan",
    "Phase",
    "Report",
    "Script",
    "SourceMap",
    "destructuring_site",
    "excerpt",
    "format_text",
    "inspect_file",
    "inspect_source",
    "load_child_script",
    "load_script",
    "parse_meta",
    "parse_script",
    "validate_file",
    "validate_source",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
