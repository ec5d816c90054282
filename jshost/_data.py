"""What ``@dataclass`` gave the records on the start-up path, written out once (issue 22).

Each ``@dataclass`` generates the source of five or six methods and compiles it when its module
is imported: 2–4 M instructions a class, and a one-agent `jshost run` imported about forty
such classes. A class here lists its fields in ``_fields`` and writes its ``__init__`` out;
the rest is shared: ``==`` over the fields of the same class, the dataclass ``repr``,
``__match_args__``, and for :class:`Frozen` the ``FrozenInstanceError`` on assignment and a
hash over the fields (for :class:`Record`, which may change, none: unhashable, as a
dataclass). Copy and pickle work as they did. What these classes do not have is the dataclass
machinery (``dataclasses.fields``, ``replace``, ``asdict``): the public records
(``AgentRequest``, ``AgentResult``, ``Usage``, ``Limits``, ``SandboxLimits``,
``ToolOptions``) stay dataclasses for that reason.
"""

from __future__ import annotations

import reprlib
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar

__all__ = ["Frozen", "Record", "set_field"]

#: what a frozen record's ``__init__`` sets its fields with
set_field = object.__setattr__


class _Fields:
    _fields: ClassVar[tuple[str, ...]] = ()
    #: fields left out of the hash (``field(hash=False)``)
    _unhashed: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = cls._fields

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"


class Frozen(_Fields):
    """``@dataclass(frozen=True)``: fields set once, by ``__init__``; equal and hashed by value."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        if self._unhashed:
            return hash(tuple([getattr(self, n) for n in self._fields if n not in self._unhashed]))
        return hash(self._values())


class Record(_Fields):
    """``@dataclass``: fields that may change; equal by value, so not hashable."""

    __hash__ = None  # type: ignore[assignment]
