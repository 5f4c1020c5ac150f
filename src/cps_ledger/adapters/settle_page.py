"""SQL of one settlement page: find, lock and mark the orders whose shares it settles.

A page is up to a thousand promoters. Its orders are the completed ones (before the period's
end) with a share of one of them not yet settled: as promoter, or as upline. They are locked
FOR UPDATE in id order, as refund ingest locks orders, so the two never deadlock, and each
due side is marked with the period. What comes back is every due share with its amount
and number of lines, from the order's totals: no line is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, or_, select, update

from cps_ledger.adapters.cps_tables import OrderRow
from cps_ledger.adapters.dialect import id_filters
from cps_ledger.adapters.tables import table

ORDERS = table(OrderRow)
COMPLETED: Final = "completed"
_READ: Final = tuple(
    ORDERS.c[name]
    for name in (
        "order_id",
        "promoter",
        "upline",
        "promoter_settled",
        "upline_settled",
        "promoter_minor",
        "upline_minor",
        "line_count",
    )
)


@dataclass(frozen=True, slots=True)
class SettledShare:
    """One party's shares of one order, settled by this page: who, how much, how many lines."""

    promoter: str
    amount_minor: int
    lines: int


def _among(conn: Connection, column: Any, ids: Sequence[str]) -> Any:
    filters = id_filters(conn, column, ids)
    return filters[0] if len(filters) == 1 else or_(*filters)


def _candidates(conn: Connection, book: str, promoters: Sequence[str], end: datetime) -> Any:
    # Each side by its own index: one condition with both sides OR-ed together scanned
    # every order of the book for every page.
    return [
        select(ORDERS.c.order_id).where(
            ORDERS.c.book == book,
            _among(conn, party, promoters),
            marker.is_(None),
            ORDERS.c.state == COMPLETED,
            ORDERS.c.completed_at < end,
        )
        for party, marker in (
            (ORDERS.c.promoter, ORDERS.c.promoter_settled),
            (ORDERS.c.upline, ORDERS.c.upline_settled),
        )
    ]


def settle_page(
    conn: Connection, book: str, period: str, promoters: Sequence[str], end: datetime
) -> list[SettledShare]:
    """Lock, mark and return the shares of ``promoters`` that ``period`` settles."""
    if not promoters:
        return []
    chosen = set(promoters)
    shares: list[SettledShare] = []
    marks: dict[str, list[str]] = {"promoter_settled": [], "upline_settled": []}
    for r in _locked(conn, book, promoters, end):
        if r.promoter_settled is None and r.promoter in chosen:
            shares.append(SettledShare(r.promoter, r.promoter_minor, r.line_count))
            marks["promoter_settled"].append(r.order_id)
        if r.upline_settled is None and r.upline in chosen:
            shares.append(SettledShare(r.upline, r.upline_minor, r.line_count))
            marks["upline_settled"].append(r.order_id)
    # Marked by id: an UPDATE that found its rows itself would lock them in index order,
    # and joined to the locking read it was planned as a hash join over the whole book.
    for marker, order_ids in marks.items():
        for among in id_filters(conn, ORDERS.c.order_id, order_ids):
            conn.execute(
                update(ORDERS).where(ORDERS.c.book == book, among).values({marker: period})
            )
    return shares


def _locked(conn: Connection, book: str, promoters: Sequence[str], end: datetime) -> list[Any]:
    """The candidate orders, locked FOR UPDATE in id order and read as locked.

    The ids are read first and then locked by id. Found and locked in one statement, a
    row that another page updated while this one waited for it could drop out of the
    result (the recheck after the wait re-runs the candidate search on the new version),
    and its shares would wait for the next period; by id, a locked row is always returned,
    as it is now. On MariaDB it also keeps the subquery's reads from taking locks in index
    order.
    """
    found = {
        order
        for side in _candidates(conn, book, promoters, end)
        for order in conn.execute(side).scalars()
    }
    rows: list[Any] = []
    for among in id_filters(conn, ORDERS.c.order_id, found):
        rows += conn.execute(
            select(*_READ)
            .where(ORDERS.c.book == book, among)
            .order_by(ORDERS.c.order_id)
            .with_for_update()
        ).all()
    return rows
