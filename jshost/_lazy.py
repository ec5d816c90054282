"""Names a package exports but imports only when first used (PEP 562), written once; and
regexes compiled only when first used.

``jshost``, ``jshost.script`` and ``jshost.permissions`` keep start-up small this way: a name
is imported from its module at first use and then kept in the package like any other.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

__all__ = ["lazy_exports", "lazy_pattern"]


class _LazyPattern:
    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        value = getattr(re.compile(*self._source), name)
        self.__dict__[name] = value  # the next use of .match (or any) is a plain attribute
        return value


def lazy_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, done at the pattern's first use.

    Compiling a regex runs Python's regex compiler: a module-level pattern that most runs
    never use costs every run 0.1–1.5 M instructions at import (issue 22). Use it only where
    the pattern is read through its methods and attributes (``.match``, ``.sub``, …), never
    handed to ``re`` functions or checked with ``isinstance``.
    """
    return cast("re.Pattern[str]", _LazyPattern(pattern, flags))


def lazy_exports(
    package: str, where: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose name ``n`` lives in its module
    ``where[n]`` (relative to the package)."""
    listed = frozenset(names)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *listed})

    return __getattr__, __dir__
