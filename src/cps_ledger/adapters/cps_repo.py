"""Loading and storing promoters, share links, orders and lines, set-based per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from cps_ledger.adapters.cps_tables import (
    OrderLineRow,
    OrderRow,
    PromoterRow,
    RefundLineRow,
    ShareLinkRow,
)
from cps_ledger.adapters.dialect import append_rows, id_chunks
from cps_ledger.adapters.tables import AccountRow, table
from cps_ledger.domain.commission import LineTerms, Shares
from cps_ledger.domain.orders import LineState, Order, OrderState, RefundedLine
from cps_ledger.domain.splits import SplitWeights

PROMOTERS = table(PromoterRow)
LINKS = table(ShareLinkRow)
ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
REFUND_LINES = table(RefundLineRow)
ACCOUNTS = table(AccountRow)


@dataclass(frozen=True, slots=True)
class Promoter:
    """A registered promoter."""

    promoter: str
    upline: str | None
    tier: str | None
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A share link and the promoter it attributes orders to."""

    link: str
    promoter: str
    group: str | None
    sku: str | None
    created_at: datetime


def load_promoters(conn: Connection, book: str, ids: Iterable[str]) -> dict[str, Promoter]:
    """The registered promoters among ``ids``."""
    found: dict[str, Promoter] = {}
    for chunk in id_chunks(ids):
        for r in conn.execute(
            select(PROMOTERS).where(PROMOTERS.c.book == book, PROMOTERS.c.promoter.in_(chunk))
        ):
            found[r.promoter] = Promoter(r.promoter, r.upline, r.tier, r.registered_at)
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
    for chunk in id_chunks(ids):
        for r in conn.execute(select(LINKS).where(LINKS.c.book == book, LINKS.c.link.in_(chunk))):
            found[r.link] = ShareLink(r.link, r.promoter, r.group_id, r.sku, r.created_at)
    return found


def books_of_links(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """For links missing from a book: which other book, if any, has them."""
    found: dict[str, str] = {}
    for chunk in id_chunks(ids):
        for link, book in conn.execute(
            select(LINKS.c.link, LINKS.c.book).where(LINKS.c.link.in_(chunk))
        ):
            found.setdefault(link, book)
    return found


def lock_accounts(conn: Connection, book: str, codes: Iterable[str]) -> None:
    """Lock account rows (in code order) that guard a balance check, e.g. a receivable."""
    for chunk in id_chunks(codes):
        conn.execute(
            select(ACCOUNTS.c.code)
            .where(ACCOUNTS.c.book == book, ACCOUNTS.c.code.in_(chunk))
            .order_by(ACCOUNTS.c.code)
            .with_for_update()
        ).all()


def _line_state(r: Any) -> LineState:
    terms = LineTerms(
        rule=r.rule,
        rule_version=r.rule_version,
        rate=r.rate,
        cap_minor=r.cap_minor,
        base_minor=r.amount_minor,
        weights=SplitWeights(r.weight_promoter, r.weight_upline, r.weight_platform),
        explanation=r.explanation,
    )
    return LineState(
        line=r.line,
        merchant=r.merchant,
        sku=r.sku,
        category=r.category,
        quantity=r.quantity,
        amount_minor=r.amount_minor,
        terms=terms,
        refunded_minor=r.refunded_minor,
        shares=Shares(r.commission_minor, r.promoter_minor, r.upline_minor, r.platform_minor),
        promoter_settled=r.promoter_settled,
        upline_settled=r.upline_settled,
    )


def load_orders(conn: Connection, book: str, ids: Iterable[str], *, lock: bool) -> dict[str, Order]:
    """Orders with their lines; ``lock`` takes their rows FOR UPDATE in id order."""
    found: dict[str, Order] = {}
    for chunk in id_chunks(ids):
        query = (
            select(ORDERS)
            .where(ORDERS.c.book == book, ORDERS.c.order_id.in_(chunk))
            .order_by(ORDERS.c.order_id)
        )
        if lock:
            query = query.with_for_update()
        rows = conn.execute(query).all()
        if not rows:
            continue
        lines: dict[str, list[LineState]] = defaultdict(list)
        line_rows = conn.execute(
            select(LINES)
            .where(LINES.c.book == book, LINES.c.order_id.in_([r.order_id for r in rows]))
            .order_by(LINES.c.order_id, LINES.c.line)
        )
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
            )
    return found


def insert_promoters(conn: Connection, book: str, promoters: Sequence[Promoter]) -> None:
    """Store newly registered promoters."""
    if promoters:
        append_rows(
            conn,
            PROMOTERS,
            [
                {
                    "book": book,
                    "promoter": p.promoter,
                    "upline": p.upline,
                    "tier": p.tier,
                    "registered_at": p.registered_at,
                }
                for p in promoters
            ],
        )


def insert_links(conn: Connection, book: str, links: Sequence[ShareLink]) -> None:
    """Store new share links."""
    if links:
        append_rows(
            conn,
            LINKS,
            [
                {
                    "book": book,
                    "link": s.link,
                    "promoter": s.promoter,
                    "group_id": s.group,
                    "sku": s.sku,
                    "created_at": s.created_at,
                }
                for s in links
            ],
        )


def _order_row(book: str, o: Order) -> dict[str, Any]:
    return {
        "book": book,
        "order_id": o.order,
        "link": o.link,
        "promoter": o.promoter,
        "upline": o.upline,
        "state": o.state.value,
        "rules_version": o.rules_version,
        "paid_at": o.paid_at,
        "completed_at": o.completed_at,
        "cancelled_at": o.cancelled_at,
    }


def _line_row(book: str, o: Order, ln: LineState) -> dict[str, Any]:
    t = ln.terms
    return {
        "book": book,
        "order_id": o.order,
        "line": ln.line,
        "merchant": ln.merchant,
        "sku": ln.sku,
        "category": ln.category,
        "quantity": ln.quantity,
        "amount_minor": ln.amount_minor,
        "refunded_minor": ln.refunded_minor,
        "promoter": o.promoter,
        "upline": o.upline,
        "rule": t.rule,
        "rule_version": t.rule_version,
        "rate": t.rate,
        "cap_minor": t.cap_minor,
        "weight_promoter": t.weights.promoter,
        "weight_upline": t.weights.upline,
        "weight_platform": t.weights.platform,
        "explanation": t.explanation[:512],
        "commission_minor": ln.shares.commission_minor,
        "promoter_minor": ln.shares.promoter_minor,
        "upline_minor": ln.shares.upline_minor,
        "platform_minor": ln.shares.platform_minor,
        "promoter_settled": ln.promoter_settled,
        "upline_settled": ln.upline_settled,
    }


def insert_orders(conn: Connection, book: str, orders: Sequence[Order]) -> None:
    """Store new orders and their lines: one multi-row statement per table."""
    if orders:
        append_rows(conn, ORDERS, [_order_row(book, o) for o in orders])
        append_rows(conn, LINES, [_line_row(book, o, ln) for o in orders for ln in o.lines])


def update_orders(
    conn: Connection,
    book: str,
    orders: Sequence[Order],
    changed_lines: Sequence[tuple[str, LineState]],
) -> None:
    """Store the new state of existing orders and the new targets of refunded lines."""
    if orders:
        conn.execute(
            update(ORDERS)
            .where(and_(ORDERS.c.book == book, ORDERS.c.order_id == bindparam("b_order")))
            .values(
                state=bindparam("b_state"),
                completed_at=bindparam("b_completed"),
                cancelled_at=bindparam("b_cancelled"),
            ),
            [
                {
                    "b_order": o.order,
                    "b_state": o.state.value,
                    "b_completed": o.completed_at,
                    "b_cancelled": o.cancelled_at,
                }
                for o in orders
            ],
        )
    if changed_lines:
        conn.execute(
            update(LINES)
            .where(
                and_(
                    LINES.c.book == book,
                    LINES.c.order_id == bindparam("b_order"),
                    LINES.c.line == bindparam("b_line"),
                )
            )
            .values(
                refunded_minor=bindparam("b_refunded"),
                commission_minor=bindparam("b_c"),
                promoter_minor=bindparam("b_p"),
                upline_minor=bindparam("b_u"),
                platform_minor=bindparam("b_f"),
            ),
            [
                {
                    "b_order": order_id,
                    "b_line": ln.line,
                    "b_refunded": ln.refunded_minor,
                    "b_c": ln.shares.commission_minor,
                    "b_p": ln.shares.promoter_minor,
                    "b_u": ln.shares.upline_minor,
                    "b_f": ln.shares.platform_minor,
                }
                for order_id, ln in changed_lines
            ],
        )


def insert_refund_lines(
    conn: Connection, book: str, rows: Sequence[tuple[str, str, datetime, RefundedLine]]
) -> None:
    """Store what each refund took from each line: (refund id, order id, at, line)."""
    if rows:
        append_rows(
            conn,
            REFUND_LINES,
            [
                {
                    "book": book,
                    "refund_id": refund_id,
                    "line": r.line,
                    "order_id": order_id,
                    "amount_minor": r.amount_minor,
                    "commission_delta_minor": r.delta.commission_minor,
                    "promoter_delta_minor": r.delta.promoter_minor,
                    "upline_delta_minor": r.delta.upline_minor,
                    "platform_delta_minor": r.delta.platform_minor,
                    "promoter_stage": r.promoter_stage.value,
                    "upline_stage": r.upline_stage.value,
                    "refunded_at": at,
                }
                for refund_id, order_id, at, r in rows
            ],
        )
