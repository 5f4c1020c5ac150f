"""A book's report for a period: GMV, commission, fee, refunds, settlement, payouts, clawbacks.

Every figure is one aggregate query (GROUP BY), never a query per order or promoter. Order
figures cover the orders paid in the period (book time zone, half-open month) that were not
cancelled; refunds, settlement and payouts those dated in the period; receivables and
clawbacks are balances now.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, literal, select, union_all

from cps_ledger.adapters.cps_repo import LINES, ORDERS, REFUND_LINES
from cps_ledger.adapters.cps_tables import PayoutRow, SettlementRow
from cps_ledger.adapters.journal import BALANCES
from cps_ledger.adapters.tables import table
from cps_ledger.domain.periods import Period, zone
from cps_ledger.errors import InvalidAmountError
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

SETTLEMENTS = table(SettlementRow)
PAYOUTS = table(PayoutRow)
TOP_MAX = 1000


@dataclass(frozen=True, slots=True)
class MerchantFigures:
    """A merchant's GMV and commission in the period, and what it owes now."""

    merchant: str
    gmv_minor: int
    commission_minor: int
    receivable_minor: int
    receivable_estimated_minor: int


@dataclass(frozen=True, slots=True)
class PromoterFigures:
    """A promoter's commission (own and upline shares, after refunds) on the period's lines."""

    promoter: str
    commission_minor: int
    lines: int


@dataclass(frozen=True, slots=True)
class BookReport:
    """The figures of one book for one period, in minor units of ``currency``."""

    book: str
    period: str
    currency: str
    starts_at: datetime
    ends_at: datetime
    orders: int
    gmv_minor: int
    commission_original_minor: int
    commission_minor: int
    platform_fee_minor: int
    refunds: int
    refunds_minor: int
    refunds_commission_minor: int
    settled_promoters: int
    settled_minor: int
    payouts: int
    paid_out_minor: int
    tax_withheld_minor: int
    clawback_promoters: int
    clawbacks_outstanding_minor: int
    merchants: tuple[MerchantFigures, ...]
    top_promoters: tuple[PromoterFigures, ...]


def report(engine: Engine, book: str, period: str, *, top: int = 10) -> BookReport:
    """The report of ``book`` for ``period`` (``YYYY-MM``) with the ``top`` promoters."""
    month = Period.parse(period)
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= TOP_MAX:
        raise InvalidAmountError(field="top", value=top, reason=f"must be in [0, {TOP_MAX}]")

    def work(uow: UnitOfWork) -> BookReport:
        conn = uow.conn
        found = load_book(conn, book)
        tz = zone(found.timezone)
        start, end = month.start(found.timezone), month.end(found.timezone)
        lines = _period_lines(book, start, end)
        totals = conn.execute(
            select(
                func.count(func.distinct(lines.c.order_id)),
                func.coalesce(func.sum(lines.c.amount_minor), 0),
                func.coalesce(func.sum(lines.c.commission_minor), 0),
                func.coalesce(func.sum(lines.c.platform_minor), 0),
            )
        ).one()
        # Refund deltas are negative: the original commission is what remains minus them.
        reversed_minor = conn.execute(
            select(func.coalesce(func.sum(REFUND_LINES.c.commission_delta_minor), 0))
            .join(
                lines,
                and_(
                    lines.c.order_id == REFUND_LINES.c.order_id,
                    lines.c.line == REFUND_LINES.c.line,
                ),
            )
            .where(REFUND_LINES.c.book == book)
        ).scalar_one()
        refunds = conn.execute(
            select(
                func.count(func.distinct(REFUND_LINES.c.refund_id)),
                func.coalesce(func.sum(REFUND_LINES.c.amount_minor), 0),
                func.coalesce(func.sum(REFUND_LINES.c.commission_delta_minor), 0),
            ).where(
                REFUND_LINES.c.book == book,
                REFUND_LINES.c.refunded_at >= start,
                REFUND_LINES.c.refunded_at < end,
            )
        ).one()
        settled = conn.execute(
            select(
                func.coalesce(func.sum(case((SETTLEMENTS.c.amount_minor != 0, 1), else_=0)), 0),
                func.coalesce(func.sum(SETTLEMENTS.c.amount_minor), 0),
            ).where(SETTLEMENTS.c.book == book, SETTLEMENTS.c.period == str(month))
        ).one()
        paid = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(PAYOUTS.c.amount_minor), 0),
                func.coalesce(func.sum(PAYOUTS.c.tax_minor), 0),
            ).where(
                PAYOUTS.c.book == book,
                PAYOUTS.c.state == "completed",
                PAYOUTS.c.resolved_at >= start,
                PAYOUTS.c.resolved_at < end,
            )
        ).one()
        claw_promoters, claw_minor = _clawbacks(conn, book)
        return BookReport(
            book=book,
            period=str(month),
            currency=found.currency,
            starts_at=start.astimezone(tz),
            ends_at=end.astimezone(tz),
            orders=int(totals[0]),
            gmv_minor=int(totals[1]),
            commission_original_minor=int(totals[2]) - int(reversed_minor),
            commission_minor=int(totals[2]),
            platform_fee_minor=int(totals[3]),
            refunds=int(refunds[0]),
            refunds_minor=int(refunds[1]),
            refunds_commission_minor=-int(refunds[2]),
            settled_promoters=int(settled[0]),
            settled_minor=int(settled[1]),
            payouts=int(paid[0]),
            paid_out_minor=int(paid[1]),
            tax_withheld_minor=int(paid[2]),
            clawback_promoters=claw_promoters,
            clawbacks_outstanding_minor=claw_minor,
            merchants=_merchants(conn, book, lines),
            top_promoters=_top_promoters(conn, lines, top),
        )

    return transact(engine, work, read_only=True)


def _period_lines(book: str, start: datetime, end: datetime) -> Any:
    """The lines of orders paid in the period and not cancelled, as a subquery."""
    return (
        select(LINES)
        .join(ORDERS, and_(ORDERS.c.book == LINES.c.book, ORDERS.c.order_id == LINES.c.order_id))
        .where(
            LINES.c.book == book,
            ORDERS.c.paid_at >= start,
            ORDERS.c.paid_at < end,
            ORDERS.c.state != "cancelled",
        )
        .subquery("period_lines")
    )


def _balances_like(conn: Connection, book: str, pattern: str) -> dict[str, int]:
    """Signed (debit-positive) balances now of the accounts matching a LIKE pattern."""
    rows = conn.execute(
        select(BALANCES.c.account, func.sum(BALANCES.c.balance_minor))
        .where(BALANCES.c.book == book, BALANCES.c.account.like(pattern))
        .group_by(BALANCES.c.account)
    )
    return {str(a): int(t) for a, t in rows}


def _clawbacks(conn: Connection, book: str) -> tuple[int, int]:
    """Promoters whose ``available`` is negative now, and the total they owe back."""
    per_account = (
        select(BALANCES.c.account, func.sum(BALANCES.c.balance_minor).label("signed"))
        .where(BALANCES.c.book == book, BALANCES.c.account.like("promoter:%:available"))
        .group_by(BALANCES.c.account)
        # A liability is credit-normal: a negative available is a debit (positive) balance.
        .having(func.sum(BALANCES.c.balance_minor) > 0)
        .subquery()
    )
    count, total = conn.execute(
        select(func.count(), func.coalesce(func.sum(per_account.c.signed), 0))
    ).one()
    return int(count), int(total)


def _merchants(conn: Connection, book: str, lines: Any) -> tuple[MerchantFigures, ...]:
    figures: dict[str, list[int]] = {}
    for merchant, gmv, commission in conn.execute(
        select(lines.c.merchant, func.sum(lines.c.amount_minor), func.sum(lines.c.commission_minor))
        .group_by(lines.c.merchant)
    ):  # fmt: skip
        figures[str(merchant)] = [int(gmv), int(commission), 0, 0]
    for account, signed in _balances_like(conn, book, "merchant:%").items():
        _, merchant, *rest = account.split(":")
        row = figures.setdefault(merchant, [0, 0, 0, 0])
        row[3 if rest == ["receivable", "estimated"] else 2] += signed
    return tuple(
        MerchantFigures(m, *values)
        for m, values in sorted(figures.items())
        if any(values)  # a merchant with nothing in the period and nothing owed is noise
    )


def _top_promoters(conn: Connection, lines: Any, top: int) -> tuple[PromoterFigures, ...]:
    shares = union_all(
        select(lines.c.promoter.label("promoter"), lines.c.promoter_minor.label("share")),
        select(lines.c.upline.label("promoter"), lines.c.upline_minor.label("share")).where(
            lines.c.upline.is_not(None)
        ),
    ).subquery("shares")
    total = func.sum(shares.c.share)
    rows = conn.execute(
        select(shares.c.promoter, total, func.count(literal(1)))
        .group_by(shares.c.promoter)
        .order_by(total.desc(), shares.c.promoter)
        .limit(top)
    )
    return tuple(PromoterFigures(str(p), int(t), int(n)) for p, t, n in rows)


def report_json(r: BookReport) -> dict[str, Any]:
    """The report as one JSON-able document: money as ints, datetimes ISO."""
    doc = asdict(r)
    doc["starts_at"] = r.starts_at.isoformat()
    doc["ends_at"] = r.ends_at.isoformat()
    doc["merchants"] = [asdict(m) for m in r.merchants]
    doc["top_promoters"] = [asdict(p) for p in r.top_promoters]
    return doc
