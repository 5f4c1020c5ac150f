"""Immutable records that are cheap to build: the frozen dataclasses of the hot path.

A paid order builds about 25 frozen records (postings, line contexts, terms, shares, the
order, its entry, its outcome). The ``__init__`` that ``dataclass(frozen=True)`` generates
stores each field through ``object.__setattr__``, to get past the class's own refusing
``__setattr__``: about 0.25 µs a field, three times a plain assignment, and in all a tenth
of a paid order's CPU (docs/performance.md, finding 25). :func:`quick_init` replaces that
``__init__`` with one that stores each field through its slot's descriptor directly: the
same values, the same defaults, factories and ``__post_init__``, the same signature, and
the record stays as frozen as before.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Final, TypeVar

T = TypeVar("T")


class _Factory:
    """Stands for "call the field's default factory" in a generated signature."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY: Final = _Factory()
_RESERVED: Final = ("_set", "_factory", "_default", "_FACTORY")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` a faster ``__init__``; return ``cls``.

    Apply it on top of ``@dataclass(frozen=True, slots=True)``. Anything else (a class
    without slots, init-only variables) is refused with :class:`TypeError` when the class
    is defined, so a record that would not be stored the same way cannot slip through.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init needs a frozen, slotted dataclass, not {cls.__qualname__}")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for index, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        setter = f"_set{index}"
        namespace[setter] = getattr(cls, f.name).__set__
        value = _value_of(f, index, namespace, positional, keyword)
        body.append(f"    {setter}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    params_src = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({params_src}):\n" + "\n".join(body or ["    pass"]) + "\n"
    exec(source, namespace)
    init = namespace["__init__"]
    original = cls.__dict__["__init__"]
    signature = inspect.signature(original)
    if list(inspect.signature(init).parameters) != list(signature.parameters):
        # Init-only variables and the like: not stored in a slot, so not handled here.
        raise TypeError(f"quick_init cannot reproduce the signature of {cls.__qualname__}")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = original.__doc__
    init.__signature__ = signature  # help() and IDEs show the same
    setattr(cls, "__init__", init)  # noqa: B010  (mypy refuses assigning to a method)
    return cls


def _value_of(
    f: dataclasses.Field[Any],
    index: int,
    namespace: dict[str, Any],
    positional: list[str],
    keyword: list[str],
) -> str:
    """The parameter for field ``f`` (added to ``positional`` or ``keyword``) and the
    expression that computes the value stored."""
    if f.name == "self" or f.name.startswith(_RESERVED):
        # The generated code's own names: a field so named would shadow one of them.
        raise TypeError(f"quick_init cannot name a parameter {f.name!r}")
    has_factory = f.default_factory is not dataclasses.MISSING
    if has_factory:
        namespace[f"_factory{index}"] = f.default_factory
    if not f.init:
        if has_factory:
            return f"_factory{index}()"
        if f.default is dataclasses.MISSING:
            raise TypeError(f"quick_init: field {f.name!r} has no init and no default")
        namespace[f"_default{index}"] = f.default
        return f"_default{index}"
    param = f.name
    value = f.name
    if has_factory:
        param = f"{f.name}=_FACTORY"
        value = f"_factory{index}() if {f.name} is _FACTORY else {f.name}"
    elif f.default is not dataclasses.MISSING:
        namespace[f"_default{index}"] = f.default
        param = f"{f.name}=_default{index}"
    (keyword if f.kw_only else positional).append(param)
    return value
