"""The tree-sitter JavaScript parser every check shares, built once per process."""

from __future__ import annotations

import functools

from tree_sitter import Language, Parser

__all__ = ["js_parser"]


def _js_language() -> object:
    """The JavaScript grammar's language pointer, from the package's compiled binding alone.

    ``tree_sitter_javascript/__init__`` imports ``importlib.resources`` for query files jshost
    never reads, a few milliseconds of every ``jshost run``'s start-up (issue 22). Anything
    unexpected about the package's layout falls back to the ordinary import.
    """
    import sys
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec
    from pathlib import Path

    name = "tree_sitter_javascript._binding"
    binding = sys.modules.get(name)
    if binding is None:
        try:
            # importlib.util's find_spec and module_from_spec would import importlib.util
            # (another millisecond); a top-level package is found by the path finder alone.
            from importlib._bootstrap import module_from_spec
            from importlib.machinery import PathFinder

            package = PathFinder.find_spec("tree_sitter_javascript")  # runs none of it
            folders = list(package.submodule_search_locations or ()) if package else []
            path = next(
                p
                for folder in folders
                for suffix in EXTENSION_SUFFIXES
                if (p := Path(folder, "_binding" + suffix)).is_file()
            )
            spec = ModuleSpec(name, ExtensionFileLoader(name, str(path)), origin=str(path))
            binding = module_from_spec(spec)
            spec.loader.exec_module(binding)  # type: ignore[union-attr]
            sys.modules[name] = binding
        except Exception:
            import tree_sitter_javascript

            return tree_sitter_javascript.language()
    return binding.language()


@functools.cache
def js_parser() -> Parser:
    """The process's tree-sitter JavaScript parser (built once)."""
    return Parser(Language(_js_language()))
