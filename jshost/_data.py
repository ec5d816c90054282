"""What ``@dataclass`` gave the records on the start-up path, written out once (issue 22).

Each ``@dataclass`` generates the source of five or six methods and compiles it when its module
is imported: 2–4 M instructions a class, and a one-agent `jshost run` imported about forty
such classes. A class here lists its fields in ``_fields`` and writes its ``__init__`` out;
the rest is shared: ``==`` over the fields of the same class, the dataclass ``repr``,
``__match_args__``, and for :class:`Frozen` the ``FrozenInstanceError`` on assignment and a
hash over the fields (for :class:`Record`, which may change, none: unhashable, as a
dataclass). Copy and pickle work as they did, and so do ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass``: the fields they read are made at their first use, from a
dataclass built then (a factory default shows there as its ``__init__`` default, None).
Inside jshost, :func:`replace` does the same without building it.
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    import dataclasses

__all__ = ["Frozen", "Record", "replace", "set_field"]

_T = TypeVar("_T", bound="_Fields")

#: what a frozen record's ``__init__`` sets its fields with
set_field = object.__setattr__


def replace(obj: _T, /, **changes: Any) -> _T:
    """``dataclasses.replace`` for these classes: a copy with ``changes``, through ``__init__``."""
    values = {name: getattr(obj, name) for name in obj._fields}
    values.update(changes)
    return obj.__class__(**values)


class _DataclassFields:
    """``__dataclass_fields__``, made at its first use (``dataclasses.fields``, ``replace``,
    ``asdict``, ``is_dataclass``) from a dataclass of the same fields and ``__init__`` defaults."""

    def __get__(self, obj: object, cls: type[_Fields]) -> dict[str, dataclasses.Field[Any]]:
        made = cls.__dict__.get("_dataclass_fields")
        if made is None:
            import dataclasses
            import inspect

            params = inspect.signature(cls.__init__).parameters
            spec: list[Any] = []
            for name in cls._fields:
                default = params[name].default
                options: dict[str, Any] = {
                    "repr": name not in cls._no_repr,
                    "compare": name not in cls._uncompared,
                }
                if name in cls._unhashed:
                    options["hash"] = False
                if default is not inspect.Parameter.empty:
                    options["default_factory" if default.__hash__ is None else "default"] = (
                        (lambda d=default: d) if default.__hash__ is None else default
                    )
                spec.append((name, Any, dataclasses.field(**options)))
            frozen = issubclass(cls, Frozen)
            made = dataclasses.make_dataclass(cls.__name__, spec, frozen=frozen)
            made = dict(made.__dataclass_fields__)  # type: ignore[attr-defined]
            type.__setattr__(cls, "_dataclass_fields", made)
        return made


class _Fields:
    _fields: ClassVar[tuple[str, ...]] = ()
    #: fields left out of the hash (``field(hash=False)``)
    _unhashed: ClassVar[tuple[str, ...]] = ()
    #: fields left out of ``==`` and the hash (``field(compare=False)``)
    _uncompared: ClassVar[tuple[str, ...]] = ()
    #: fields left out of the repr (``field(repr=False)``)
    _no_repr: ClassVar[tuple[str, ...]] = ()
    __dataclass_fields__: ClassVar[Any] = _DataclassFields()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = cls._fields
        compared = tuple(n for n in cls._fields if n not in cls._uncompared)
        cls._compared = compared
        cls._hashed = tuple(n for n in compared if n not in cls._unhashed)

    _compared: ClassVar[tuple[str, ...]] = ()
    _hashed: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._compared])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        names = (name for name in self._fields if name not in self._no_repr)
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"


class Frozen(_Fields):
    """``@dataclass(frozen=True)``: fields set once, by ``__init__``; equal and hashed by value."""

    def __setattr__(self, name: str, value: Any) -> None:
        from dataclasses import FrozenInstanceError  # the dataclasses module only for an error

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(tuple([getattr(self, name) for name in self._hashed]))


class Record(_Fields):
    """``@dataclass``: fields that may change; equal by value, so not hashable."""

    __hash__ = None  # type: ignore[assignment]
