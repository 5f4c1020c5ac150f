"""One way to find pluggable pieces: built-ins first, then the entry-point group.

Rule kinds (``cps_ledger.rules``), split policies (``cps_ledger.splits``) and withholding
policies (``cps_ledger.withholding``) all resolve through :func:`resolve`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

T = TypeVar("T")


@functools.cache
def _registered(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def resolve(
    group: str, name: str, builtins: Mapping[str, T], unknown: Callable[[], Exception]
) -> T:
    """The built-in called ``name``, else the object the entry point ``name`` loads.

    Built-ins win over a plug-in of the same name, so installing a package can never
    change what an existing book's ``default`` rule or ``standard`` split means.
    """
    if (builtin := builtins.get(name)) is not None:
        return builtin
    if (ep := _registered(group).get(name)) is None:
        raise unknown()
    loaded: T = ep.load()
    return loaded


def names(group: str, builtins: Mapping[str, object]) -> list[str]:
    """Every name resolvable in ``group``: the built-ins and the installed plug-ins."""
    return sorted({*builtins, *_registered(group)})
