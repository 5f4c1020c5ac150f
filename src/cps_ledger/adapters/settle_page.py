"""SQL of one settlement page: find, lock and mark the orders whose shares it settles.

A page is up to 250 promoters (``PROMOTERS_PER_BATCH``). Its orders are those with a row
in ``settlement_due`` for one of them (as promoter or as upline) that completed before the
period's end. They are locked FOR UPDATE in id order, as refund ingest locks orders, so the
two never deadlock; each due side is marked with the period on the order and its due row
deleted. What comes back is every due share with its amount and number of lines, summed
per party from the orders' totals: no line is read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select, update

from cps_ledger.adapters.cps_tables import OrderRow
from cps_ledger.adapters.dialect import id_filters
from cps_ledger.adapters.settlement_due import PROMOTER, DueSide, due_before, settle_due
from cps_ledger.adapters.tables import table

ORDERS = table(OrderRow)
COMPLETED: Final = "completed"
_READ: Final = tuple(
    ORDERS.c[name]
    for name in (
        "order_id",
        "state",
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


def settle_page(
    conn: Connection, book: str, period: str, promoters: Sequence[str], end: datetime
) -> list[SettledShares]:
    """Lock and mark the orders whose shares ``period`` settles for ``promoters``; return
    each party's total, in party order."""
    if not promoters:
        return []
    due = due_before(conn, book, promoters, end)
    by_order: dict[str, list[tuple[str, str]]] = {}
    for party, side, order_id in due:
        by_order.setdefault(order_id, []).append((party, side))
    totals: dict[str, list[int]] = {}
    settled: list[DueSide] = []
    marks: dict[str, list[str]] = {"promoter_settled": [], "upline_settled": []}
    # Half a million orders pass here in a large run: rows are unpacked by position and
    # summed at once, with no object per order.
    for order_id, state, p_settled, u_settled, p_minor, u_minor, lines in _locked(
        conn, book, by_order
    ):
        if state != COMPLETED:  # pragma: no cover - a due row is only written on completion
            raise AssertionError(f"order {order_id} is due for settlement but {state}")
        for party, side in by_order[order_id]:
            # Marked already: a concurrent run of this period got the lock first and
            # settled it; its due row is gone with that run's commit.
            if (p_settled if side == PROMOTER else u_settled) is not None:
                continue
            total = totals.setdefault(party, [0, 0])
            total[0] += p_minor if side == PROMOTER else u_minor
            total[1] += lines
            marks["promoter_settled" if side == PROMOTER else "upline_settled"].append(order_id)
            settled.append((party, side, order_id))
    # Marked by id: an UPDATE that found its rows itself would lock them in index order,
    # and joined to the locking read it was planned as a hash join over the whole book.
    for marker, order_ids in marks.items():
        for among in id_filters(conn, ORDERS.c.order_id, order_ids):
            conn.execute(
                update(ORDERS).where(ORDERS.c.book == book, among).values({marker: period})
            )
    settle_due(conn, book, promoters, settled)
    return [SettledShares(p, amount, lines) for p, (amount, lines) in sorted(totals.items())]


def _locked(conn: Connection, book: str, order_ids: Collection[str]) -> list[Any]:
    """The due orders, locked FOR UPDATE in id order and read as locked.

    Locked by id after the due rows were read, not joined to them: on MariaDB a locking
    read would otherwise take its locks in the join's order, and a refund locks in id
    order. A refund that held one of these orders has committed by the time it is read, so
    the shares read are the ones after that refund.
    """
    rows: list[Any] = []
    for among in id_filters(conn, ORDERS.c.order_id, order_ids):
        rows += conn.execute(
            select(*_READ)
            .where(ORDERS.c.book == book, among)
            .order_by(ORDERS.c.order_id)
            .with_for_update()
        ).all()
    return rows
