"""A paid order as ingest keeps it from its line's parse to its batch's commit: one flat
tuple of strings, numbers and its time.

A batch holds a thousand parsed events while it is read, decided and written. As pydantic
models, a paid order was five or six objects the collector tracks (the model, its dict, its
list of lines, a model per line) and the :class:`~cps_ledger.services.ingest.Submitted`
around it; living that long, they were promoted to the collector's old generation, and each
quarter of the old generation promoted brings a full collection, a walk of every object the
host process holds (docs/performance.md, findings 39-41). CPython stops tracking an exact
tuple whose items are all untracked at the first collection that looks at it, but a tuple
of tuples only once its items have been untracked, a collection later and by then maybe in
an older generation. So the order is one tuple, nothing nested:

    (position, digest, book, order, link, paid_at,
     line, merchant, sku, category, quantity, amount_minor,   # first line
     line, merchant, ...)                                      # each further line

A line is packed when it is parsed (:func:`~cps_ledger.services.ingest.parse_line`), a
model handed to ``ingest`` as it joins its batch; ``apply_chunk`` applies either form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from operator import itemgetter
from typing import Any, Final

from typing_extensions import TypeIs

from cps_ledger.domain.events import OrderPaid, paid_key

PackedPaid = tuple[Any, ...]
"""A paid order, packed (see the module's docstring)."""
PaidLine = tuple[str, str, str | None, str | None, int, int]
"""line, merchant, sku, category, quantity, amount_minor."""

_HEAD: Final = 6
_LINE: Final = 6


def pack_paid(position: int, event: OrderPaid, digest: str) -> PackedPaid:
    """``event`` at ``position`` with its payload's hex ``digest``, packed."""
    fields: list[Any] = [position, digest, event.book, event.order, event.link, event.paid_at]
    for ln in event.lines:
        fields += (ln.line, ln.merchant, ln.sku, ln.category, ln.quantity, ln.amount_minor)
    return tuple(fields)


def is_packed(item: object) -> TypeIs[PackedPaid]:
    """Whether ``item`` is a packed paid order (the only plain tuple ingest passes on)."""
    return type(item) is tuple


# Readers by position, as C calls: each runs once or twice per order.
position: Final[Callable[[PackedPaid], int]] = itemgetter(0)
"""The order's position in the input (its line number)."""
digest: Final[Callable[[PackedPaid], str]] = itemgetter(1)
"""The hex digest of the line's payload, compared on replay."""
book: Final[Callable[[PackedPaid], str]] = itemgetter(2)
"""The book the order is paid in."""
order: Final[Callable[[PackedPaid], str]] = itemgetter(3)
"""The order's id."""
link: Final[Callable[[PackedPaid], str]] = itemgetter(4)
"""The share link the order was paid through."""
paid_at: Final[Callable[[PackedPaid], datetime]] = itemgetter(5)
"""When the order was paid (aware)."""


def key(p: PackedPaid) -> str:
    """The idempotency key of the order's payment."""
    return paid_key(p[3])


def lines(p: PackedPaid) -> Iterator[PaidLine]:
    """The order's lines, in their order."""
    for start in range(_HEAD, len(p), _LINE):
        yield p[start : start + _LINE]
