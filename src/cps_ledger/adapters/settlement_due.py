"""SQL of ``settlement_due``: the completed orders' sides that no settlement has moved yet.

An order's completion adds a row for its promoter and one for its upline; the settlement
that marks a side deletes its row in the same transaction. Settlement finds a page's due
orders by key, in party order, and never reads or touches an order already settled, so a
run costs what is due, not what the book has settled before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, delete, select

from cps_ledger.adapters.bulk import insert_rows, stored_utc
from cps_ledger.adapters.cps_tables import SettlementDueRow
from cps_ledger.adapters.dialect import id_filters
from cps_ledger.adapters.keyed_rows import delete_rows
from cps_ledger.adapters.tables import table
from cps_ledger.domain.orders import Order

DUE = table(SettlementDueRow)
PROMOTER: Final = "promoter"
UPLINE: Final = "upline"
_KEY: Final = ("book", "party", "side", "order_id")

DueSide = tuple[str, str, str]
"""(party, side, order id): one party's unsettled shares of one order."""


def add_due(conn: Connection, book: str, completed: Iterable[Order]) -> None:
    """Record the sides of orders that completed in this batch as due for settlement."""
    rows = []
    for o in completed:
        if o.completed_at is None:  # pragma: no cover - the caller passes completed orders
            raise AssertionError(f"order {o.order} has no completion time")
        at = stored_utc(o.completed_at)
        rows.append((book, o.promoter, PROMOTER, o.order, at))
        if o.upline is not None:
            rows.append((book, o.upline, UPLINE, o.order, at))
    insert_rows(conn, DUE, rows)


def due_before(conn: Connection, book: str, parties: Sequence[str], end: datetime) -> list[DueSide]:
    """The due sides of ``parties`` whose order completed before ``end``."""
    found: list[DueSide] = []
    for among in id_filters(conn, DUE.c.party, parties):
        rows = conn.execute(
            select(DUE.c.party, DUE.c.side, DUE.c.order_id).where(
                DUE.c.book == book, among, DUE.c.completed_at < end
            )
        )
        found += [(party, side, order) for party, side, order in rows]
    return found


def settle_due(
    conn: Connection, book: str, parties: Sequence[str], sides: Sequence[DueSide]
) -> None:
    """Delete the due rows of ``sides`` (of ``parties``): the caller has just marked them."""
    if conn.dialect.name == "postgresql":
        delete_rows(conn, DUE, [(book, *s) for s in sides], key=_KEY)
        return
    # MariaDB's driver sends a DELETE's executemany one row at a time. By party and order
    # instead: an order's other side, if due, belongs to a party of another page, and a
    # row due since the rows were read is of an order not locked here, so neither goes.
    orders = [order for _, _, order in sides]
    for among_orders in id_filters(conn, DUE.c.order_id, orders):
        for among_parties in id_filters(conn, DUE.c.party, parties):
            conn.execute(delete(DUE).where(DUE.c.book == book, among_parties, among_orders))
