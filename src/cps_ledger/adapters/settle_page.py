"""SQL of one settlement page: find, lock and mark the orders whose shares it settles.

A page is up to 250 promoters (``PROMOTERS_PER_BATCH``). Its orders are the completed ones
(before the period's end) with a share of one of them not yet settled: as promoter, or as
upline. They are locked FOR UPDATE in id order, as refund ingest locks orders, so the two
never deadlock, and each due side is marked with the period. What comes back is every due
share with its amount and number of lines, summed per party from the orders' totals: no
line is read.
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
class SettledShares:
    """What one party gets from the orders this page settled for it, and how many lines."""

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
) -> list[SettledShares]:
    """Lock and mark the orders whose shares ``period`` settles for ``promoters``; return
    each party's total, in party order."""
    if not promoters:
        return []
    chosen = set(promoters)
    totals: dict[str, list[int]] = {}
    marks: dict[str, list[str]] = {"promoter_settled": [], "upline_settled": []}
    # Half a million orders pass here in a large run: rows are unpacked by position and
    # summed at once, with no object per order.
    for order_id, promoter, upline, p_settled, u_settled, p_minor, u_minor, lines in _locked(
        conn, book, promoters, end
    ):
        if p_settled is None and promoter in chosen:
            total = totals.setdefault(promoter, [0, 0])
            total[0] += p_minor
            total[1] += lines
            marks["promoter_settled"].append(order_id)
        if u_settled is None and upline in chosen:
            total = totals.setdefault(upline, [0, 0])
            total[0] += u_minor
            total[1] += lines
            marks["upline_settled"].append(order_id)
    # Marked by id: an UPDATE that found its rows itself would lock them in index order,
    # and joined to the locking read it was planned as a hash join over the whole book.
    for marker, order_ids in marks.items():
        for among in id_filters(conn, ORDERS.c.order_id, order_ids):
            conn.execute(
                update(ORDERS).where(ORDERS.c.book == book, among).values({marker: period})
            )
    return [SettledShares(p, amount, lines) for p, (amount, lines) in sorted(totals.items())]


def _locked(conn: Connection, book: str, promoters: Sequence[str], end: datetime) -> list[Any]:
    """The candidate orders, locked FOR UPDATE in id order and read as locked.

    Their ids are read first (each side by index scans), then locked by id. Two ways of
    doing both in one statement were worse: joined to a union of the candidate ids, the
    recheck after waiting for a concurrent page dropped rows that page had updated (their
    shares waited a period); as one condition OR-ing both sides, the planner took a bitmap
    OR of the indexes, and bitmap scans never mark the index entries of versions earlier
    pages replaced as dead, so every page searched slower than the one before (37 s of
    searching in a 100,000-promoter run instead of 8). On MariaDB reading first also keeps
    a locking read from taking locks in index order.
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
