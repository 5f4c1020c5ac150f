"""Loading and storing promoters, share links, orders and lines, set-based per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import ColumnElement, Connection, Row, select

from cps_ledger.adapters.bulk import insert_rows, stored_utc
from cps_ledger.adapters.cps_tables import (
    OrderLineRow,
    OrderRow,
    PromoterRow,
    RefundLineRow,
    ShareLinkRow,
)
from cps_ledger.adapters.dialect import id_filters
from cps_ledger.adapters.keyed_rows import update_rows
from cps_ledger.adapters.order_rows import (
    StoredOrder,
    line_rows,
    line_state,
    order_of,
    order_row,
    totals,
    utc_or_none,
)
from cps_ledger.adapters.tables import AccountRow, table
from cps_ledger.domain.orders import LineState, Order, RefundedLine

PROMOTERS = table(PromoterRow)
LINKS = table(ShareLinkRow)
ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
REFUND_LINES = table(RefundLineRow)
ACCOUNTS = table(AccountRow)


# Named tuples, not frozen dataclasses: every order of a batch brings its link and the
# link's owner, and a named tuple is the cheaper to build from a row (finding 20). The
# collector still tracks them: CPython stops tracking exact tuples only (finding 37).
class Promoter(NamedTuple):
    """A registered promoter."""

    promoter: str
    upline: str | None
    tier: str | None
    registered_at: datetime


class ShareLink(NamedTuple):
    """A share link and the promoter it attributes orders to."""

    link: str
    promoter: str
    group: str | None
    sku: str | None
    created_at: datetime


_PROMOTER_COLUMNS: Final = (
    PROMOTERS.c.promoter,
    PROMOTERS.c.upline,
    PROMOTERS.c.tier,
    PROMOTERS.c.registered_at,
)
_LINK_COLUMNS: Final = (
    LINKS.c.link,
    LINKS.c.promoter,
    LINKS.c.group_id,
    LINKS.c.sku,
    LINKS.c.created_at,
)


def load_promoters(conn: Connection, book: str, ids: Iterable[str]) -> dict[str, Promoter]:
    """The registered promoters among ``ids``."""
    # The columns in the record's field order, built by position.
    return {r[0]: Promoter(*r) for r in _promoter_rows(conn, book, ids, _PROMOTER_COLUMNS)}


PromoterTerms = tuple[str | None, str | None]
"""What an order paid through a promoter's link snapshots of the promoter: upline, tier."""


def load_promoter_terms(
    conn: Connection, book: str, ids: Iterable[str]
) -> dict[str, PromoterTerms]:
    """The upline and tier of each registered promoter among ``ids``.

    For ingest, which loads the owner of every link a batch pays through and keeps them
    until the batch is decided: a plain tuple of strings, unlike a :class:`Promoter`, is
    not tracked by the collector past its first collection (finding 41).
    """
    columns = (PROMOTERS.c.promoter, PROMOTERS.c.upline, PROMOTERS.c.tier)
    return {r[0]: (r[1], r[2]) for r in _promoter_rows(conn, book, ids, columns)}


def _promoter_rows(
    conn: Connection, book: str, ids: Iterable[str], columns: Sequence[ColumnElement[Any]]
) -> Iterator[Row[Any]]:
    for among in id_filters(conn, PROMOTERS.c.promoter, ids):
        query = select(*columns).where(PROMOTERS.c.book == book, among)
        yield from conn.execute(query).all()


def lock_promoter(conn: Connection, book: str, promoter: str) -> Promoter | None:
    """Lock one promoter's row: the only lock a payout takes (DESIGN §7)."""
    r = conn.execute(
        select(PROMOTERS)
        .where(PROMOTERS.c.book == book, PROMOTERS.c.promoter == promoter)
        .with_for_update()
    ).first()
    return None if r is None else Promoter(r.promoter, r.upline, r.tier, r.registered_at)


def load_links(conn: Connection, book: str, ids: Iterable[str]) -> dict[str, ShareLink]:
    """The share links among ``ids``."""
    found: dict[str, ShareLink] = {}
    for among in id_filters(conn, LINKS.c.link, ids):
        query = select(*_LINK_COLUMNS).where(LINKS.c.book == book, among)
        for r in conn.execute(query).tuples().all():
            found[r[0]] = ShareLink(*r)
    return found


def books_of_links(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """For links missing from a book: which other book, if any, has them."""
    found: dict[str, str] = {}
    for among in id_filters(conn, LINKS.c.link, ids):
        for link, book in conn.execute(select(LINKS.c.link, LINKS.c.book).where(among)):
            found.setdefault(link, book)
    return found


def lock_accounts(conn: Connection, book: str, codes: Iterable[str]) -> None:
    """Lock account rows (in code order) that guard a balance check, e.g. a receivable."""
    for among in id_filters(conn, ACCOUNTS.c.code, codes):
        conn.execute(
            select(ACCOUNTS.c.code)
            .where(ACCOUNTS.c.book == book, among)
            .order_by(ACCOUNTS.c.code)
            .with_for_update()
        ).all()


def load_orders(conn: Connection, book: str, ids: Iterable[str], *, lock: bool) -> dict[str, Order]:
    """Orders with their lines; ``lock`` takes their rows FOR UPDATE in id order."""
    found: dict[str, Order] = {}
    for among in id_filters(conn, ORDERS.c.order_id, ids):
        query = select(ORDERS).where(ORDERS.c.book == book, among).order_by(ORDERS.c.order_id)
        if lock:
            query = query.with_for_update()
        rows = conn.execute(query).all()
        if not rows:
            continue
        lines: dict[str, list[LineState]] = defaultdict(list)
        for of_orders in id_filters(conn, LINES.c.order_id, [r.order_id for r in rows]):
            line_rows = conn.execute(
                select(LINES)
                .where(LINES.c.book == book, of_orders)
                .order_by(LINES.c.order_id, LINES.c.line)
            ).all()
            for lr in line_rows:
                lines[lr.order_id].append(line_state(lr))
        for r in rows:
            found[r.order_id] = order_of(r, lines[r.order_id])
    return found


def insert_promoters(conn: Connection, book: str, promoters: Sequence[Promoter]) -> None:
    """Store newly registered promoters."""
    insert_rows(
        conn,
        PROMOTERS,
        [(book, p.promoter, p.upline, p.tier, stored_utc(p.registered_at)) for p in promoters],
    )


def insert_links(conn: Connection, book: str, links: Sequence[ShareLink]) -> None:
    """Store new share links."""
    insert_rows(
        conn,
        LINKS,
        [(book, s.link, s.promoter, s.group, s.sku, stored_utc(s.created_at)) for s in links],
    )


def insert_orders(conn: Connection, orders: Sequence[StoredOrder]) -> None:
    """Store new orders and their lines (see :func:`order_rows`): one bulk statement per
    table."""
    insert_rows(conn, ORDERS, [order_row(stored) for stored in orders])
    insert_rows(conn, LINES, [line for stored in orders for line in line_rows(stored)])


def update_orders(
    conn: Connection,
    book: str,
    orders: Sequence[Order],
    changed_lines: Sequence[tuple[str, LineState]],
) -> None:
    """Store the new state of existing orders and the new targets of refunded lines."""
    update_rows(
        conn,
        ORDERS,
        [
            (
                book,
                o.order,
                o.state.value,
                utc_or_none(o.completed_at),
                utc_or_none(o.cancelled_at),
                *totals(o)[:2],
            )
            for o in orders
        ],
        key=("book", "order_id"),
        columns=("state", "completed_at", "cancelled_at", "promoter_minor", "upline_minor"),
    )
    update_rows(
        conn,
        LINES,
        [
            (
                book,
                order_id,
                ln.line,
                ln.refunded_minor,
                ln.shares.commission_minor,
                ln.shares.promoter_minor,
                ln.shares.upline_minor,
                ln.shares.platform_minor,
            )
            for order_id, ln in changed_lines
        ],
        key=("book", "order_id", "line"),
        columns=(
            "refunded_minor",
            "commission_minor",
            "promoter_minor",
            "upline_minor",
            "platform_minor",
        ),
    )


def insert_refund_lines(
    conn: Connection, book: str, rows: Sequence[tuple[str, str, datetime, RefundedLine]]
) -> None:
    """Store what each refund took from each line: (refund id, order id, at, line)."""
    insert_rows(
        conn,
        REFUND_LINES,
        [
            (
                book,
                refund_id,
                r.line,
                order_id,
                r.amount_minor,
                r.delta.commission_minor,
                r.delta.promoter_minor,
                r.delta.upline_minor,
                r.delta.platform_minor,
                r.promoter_stage.value,
                r.upline_stage.value,
                stored_utc(at),
            )
            for refund_id, order_id, at, r in rows
        ],
    )
