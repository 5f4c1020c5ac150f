"""Loading and storing promoters, share links, orders and lines, set-based per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select

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
from cps_ledger.adapters.tables import AccountRow, table
from cps_ledger.domain.commission import LineTerms, Shares
from cps_ledger.domain.orders import LineState, Order, OrderState, RefundedLine
from cps_ledger.domain.records import quick_init
from cps_ledger.domain.splits import SplitWeights

PROMOTERS = table(PromoterRow)
LINKS = table(ShareLinkRow)
ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
REFUND_LINES = table(RefundLineRow)
ACCOUNTS = table(AccountRow)


@quick_init
@dataclass(frozen=True, slots=True)
class Promoter:
    """A registered promoter."""

    promoter: str
    upline: str | None
    tier: str | None
    registered_at: datetime


@quick_init
@dataclass(frozen=True, slots=True)
class ShareLink:
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
    found: dict[str, Promoter] = {}
    for among in id_filters(conn, PROMOTERS.c.promoter, ids):
        # The columns in the record's field order, built by position: every order of a
        # batch brings its link's owner and upline here.
        query = select(*_PROMOTER_COLUMNS).where(PROMOTERS.c.book == book, among)
        for r in conn.execute(query).tuples().all():
            found[r[0]] = Promoter(*r)
    return found


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


def _line_state(r: Any) -> LineState:
    # Unpacked by position (the table's column order): the lines of every order a batch
    # touches pass here, and attribute look-ups on a row cost more than the objects built.
    (
        _book,
        _order,
        line,
        merchant,
        sku,
        category,
        quantity,
        amount,
        refunded,
        _promoter,
        _upline,
        rule,
        rule_version,
        rate,
        cap,
        weight_promoter,
        weight_upline,
        weight_platform,
        explanation,
        commission,
        promoter_share,
        upline_share,
        platform_share,
    ) = r
    weights = SplitWeights(weight_promoter, weight_upline, weight_platform)
    terms = LineTerms(rule, rule_version, rate, cap, amount, weights, explanation)
    shares = Shares(commission, promoter_share, upline_share, platform_share)
    return LineState(
        line,
        merchant,
        sku,
        category,
        quantity,
        amount,
        terms,
        refunded,
        shares,
    )


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
                lines[lr.order_id].append(_line_state(lr))
        for r in rows:
            found[r.order_id] = Order(
                order=r.order_id,
                link=r.link,
                promoter=r.promoter,
                upline=r.upline,
                state=OrderState(r.state),
                rules_version=r.rules_version,
                paid_at=r.paid_at,
                completed_at=r.completed_at,
                cancelled_at=r.cancelled_at,
                lines=tuple(lines[r.order_id]),
                promoter_settled=r.promoter_settled,
                upline_settled=r.upline_settled,
            )
    return found


def _utc(value: datetime | None) -> str | None:
    return None if value is None else stored_utc(value)


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


def _line_row(book: str, o: Order, ln: LineState) -> tuple[Any, ...]:
    t, w, sh = ln.terms, ln.terms.weights, ln.shares
    return (
        book,
        o.order,
        ln.line,
        ln.merchant,
        ln.sku,
        ln.category,
        ln.quantity,
        ln.amount_minor,
        ln.refunded_minor,
        o.promoter,
        o.upline,
        t.rule,
        t.rule_version,
        str(t.rate),
        t.cap_minor,
        str(w.promoter),
        str(w.upline),
        str(w.platform),
        t.explanation[:512],
        sh.commission_minor,
        sh.promoter_minor,
        sh.upline_minor,
        sh.platform_minor,
    )


def insert_orders(conn: Connection, book: str, orders: Sequence[Order]) -> None:
    """Store new orders and their lines: one bulk statement per table."""
    insert_rows(
        conn,
        ORDERS,
        [
            (
                book,
                o.order,
                o.link,
                o.promoter,
                o.upline,
                o.state.value,
                o.rules_version,
                stored_utc(o.paid_at),
                _utc(o.completed_at),
                _utc(o.cancelled_at),
                o.promoter_settled,
                o.upline_settled,
                *_totals(o),
            )
            for o in orders
        ],
    )
    insert_rows(conn, LINES, [_line_row(book, o, ln) for o in orders for ln in o.lines])


def _totals(o: Order) -> tuple[int, int, int]:
    """What the order row sums of its lines: promoter and upline shares, number of lines."""
    promoter = upline = 0
    for ln in o.lines:
        promoter += ln.shares.promoter_minor
        upline += ln.shares.upline_minor
    return promoter, upline, len(o.lines)


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
                _utc(o.completed_at),
                _utc(o.cancelled_at),
                *_totals(o)[:2],
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
