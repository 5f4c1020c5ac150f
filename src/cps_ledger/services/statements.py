"""A promoter's statement for a period: lines, refunds, settlement, payouts and balances.

Everything is read in one read-only transaction with a handful of set-based queries. The
balances are as of effective time, from the postings, so opening + movements = closing for
each of the promoter's four accounts: that is how a statement reconciles with ``balance``.
Rows for CSV and the JSON document are made by :mod:`cps_ledger.services.statement_format`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Connection, Engine, and_, func, or_, select

from cps_ledger.adapters.cps_repo import LINES, ORDERS, PROMOTERS, REFUND_LINES
from cps_ledger.adapters.cps_tables import PayoutRow, SettlementRow
from cps_ledger.adapters.journal import ENTRIES, POSTINGS
from cps_ledger.adapters.tables import table
from cps_ledger.domain.accounts import PROMOTER_BUCKETS, AccountType, promoter_account, to_normal
from cps_ledger.domain.commission import LineTerms, Shares, explain
from cps_ledger.domain.periods import Period, zone
from cps_ledger.domain.splits import SplitWeights
from cps_ledger.errors import UnknownPromoterError
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

SETTLEMENTS = table(SettlementRow)
PAYOUTS = table(PayoutRow)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One order line the promoter earns on, as promoter or as upline; shares after refunds."""

    order: str
    line: str
    paid_at: datetime
    merchant: str
    sku: str | None
    base_minor: int
    refunded_minor: int
    rule: str
    rule_version: int
    rate: Decimal
    cap_minor: int | None
    commission_minor: int
    promoter_minor: int
    upline_minor: int
    platform_minor: int
    role: str  # "promoter" or "upline"
    share_minor: int
    state: str
    settled: str | None  # the period that moved this party's share to available
    explanation: str


@dataclass(frozen=True, slots=True)
class StatementRefund:
    """What one refund took from one of the promoter's lines, and from which stage."""

    refund: str
    order: str
    line: str
    refunded_at: datetime
    amount_minor: int
    commission_delta_minor: int
    role: str
    delta_minor: int  # the promoter's own share change (negative: taken back)
    stage: str  # estimated | confirmed | available (a clawback)

    @property
    def clawback(self) -> bool:
        """Taken out of money already settled to ``available``."""
        return self.stage == "available"


@dataclass(frozen=True, slots=True)
class StatementSettlement:
    """The promoter's settlement of the period."""

    period: str
    amount_minor: int
    lines: int
    settled_at: datetime
    entry_id: UUID | None


@dataclass(frozen=True, slots=True)
class StatementPayout:
    """A payout requested in the period and where it stands now."""

    request_id: str
    amount_minor: int
    tax_minor: int
    state: str
    requested_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountMovement:
    """One account over the period, in its normal direction (credit positive).

    ``movements`` are per entry kind; ``opening_minor + movement_minor == closing_minor``.
    """

    bucket: str
    account: str
    opening_minor: int
    movements: tuple[tuple[str, int], ...]
    closing_minor: int

    @property
    def movement_minor(self) -> int:
        """The net change over the period."""
        return sum(amount for _, amount in self.movements)


@dataclass(frozen=True, slots=True)
class Statement:
    """A promoter's statement for one period of one book; datetimes in the book's zone."""

    book: str
    promoter: str
    period: str
    currency: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    lines: tuple[StatementLine, ...]
    refunds: tuple[StatementRefund, ...]
    settlement: StatementSettlement | None
    payouts: tuple[StatementPayout, ...]
    accounts: tuple[AccountMovement, ...]

    @property
    def earned_minor(self) -> int:
        """The promoter's own share of the period's lines, after refunds."""
        return sum(line.share_minor for line in self.lines)


def statement(engine: Engine, book: str, promoter: str, period: str) -> Statement:
    """The statement of ``promoter`` in ``book`` for ``period`` (``YYYY-MM``)."""
    month = Period.parse(period)

    def work(uow: UnitOfWork) -> Statement:
        conn = uow.conn
        found = load_book(conn, book)
        registered = conn.execute(
            select(PROMOTERS.c.promoter).where(
                PROMOTERS.c.book == book, PROMOTERS.c.promoter == promoter
            )
        ).first()
        if registered is None:
            raise UnknownPromoterError(book=book, promoter=promoter)
        tz = zone(found.timezone)
        start, end = month.start(found.timezone), month.end(found.timezone)
        return Statement(
            book=book,
            promoter=promoter,
            period=str(month),
            currency=found.currency,
            timezone=found.timezone,
            starts_at=start.astimezone(tz),
            ends_at=end.astimezone(tz),
            lines=tuple(
                dataclasses.replace(ln, paid_at=ln.paid_at.astimezone(tz))
                for ln in _lines(conn, book, promoter, start, end)
            ),
            refunds=tuple(
                dataclasses.replace(r, refunded_at=r.refunded_at.astimezone(tz))
                for r in _refunds(conn, book, promoter, start, end)
            ),
            settlement=_settlement(conn, book, promoter, str(month)),
            payouts=tuple(
                dataclasses.replace(
                    p,
                    requested_at=p.requested_at.astimezone(tz),
                    resolved_at=p.resolved_at.astimezone(tz) if p.resolved_at else None,
                )
                for p in _payouts(conn, book, promoter, start, end)
            ),
            accounts=_accounts(conn, book, promoter, start, end),
        )

    return transact(engine, work, read_only=True)


def _lines(
    conn: Connection, book: str, promoter: str, start: datetime, end: datetime
) -> list[StatementLine]:
    rows = conn.execute(
        select(
            LINES,
            ORDERS.c.paid_at,
            ORDERS.c.state,
            ORDERS.c.promoter_settled,
            ORDERS.c.upline_settled,
        )
        .join(ORDERS, and_(ORDERS.c.book == LINES.c.book, ORDERS.c.order_id == LINES.c.order_id))
        .where(
            LINES.c.book == book,
            or_(ORDERS.c.promoter == promoter, ORDERS.c.upline == promoter),
            ORDERS.c.paid_at >= start,
            ORDERS.c.paid_at < end,
        )
        .order_by(ORDERS.c.paid_at, LINES.c.order_id, LINES.c.line)
    )
    result = []
    for r in rows:
        terms = LineTerms(
            r.rule,
            r.rule_version,
            r.rate,
            r.cap_minor,
            r.amount_minor,
            SplitWeights(r.weight_promoter, r.weight_upline, r.weight_platform),
            r.explanation,
        )
        shares = Shares(r.commission_minor, r.promoter_minor, r.upline_minor, r.platform_minor)
        text = explain(terms, shares, base_minor=r.amount_minor - r.refunded_minor)
        if r.state == "cancelled":
            # A cancelled order keeps its snapshotted targets but its money was reversed.
            shares = Shares(0, 0, 0, 0)
            text += "; order cancelled, all reversed"
        role = "promoter" if r.promoter == promoter else "upline"
        result.append(
            StatementLine(
                order=r.order_id,
                line=r.line,
                paid_at=r.paid_at,
                merchant=r.merchant,
                sku=r.sku,
                base_minor=r.amount_minor,
                refunded_minor=r.refunded_minor,
                rule=r.rule,
                rule_version=r.rule_version,
                rate=r.rate,
                cap_minor=r.cap_minor,
                commission_minor=shares.commission_minor,
                promoter_minor=shares.promoter_minor,
                upline_minor=shares.upline_minor,
                platform_minor=shares.platform_minor,
                role=role,
                share_minor=shares.promoter_minor if role == "promoter" else shares.upline_minor,
                state=r.state,
                settled=r.promoter_settled if role == "promoter" else r.upline_settled,
                explanation=text,
            )
        )
    return result


def _refunds(
    conn: Connection, book: str, promoter: str, start: datetime, end: datetime
) -> list[StatementRefund]:
    r_ = REFUND_LINES.c
    rows = conn.execute(
        select(REFUND_LINES, ORDERS.c.promoter)
        .join(ORDERS, and_(ORDERS.c.book == r_.book, ORDERS.c.order_id == r_.order_id))
        .where(
            r_.book == book,
            or_(ORDERS.c.promoter == promoter, ORDERS.c.upline == promoter),
            r_.refunded_at >= start,
            r_.refunded_at < end,
        )
        .order_by(r_.refunded_at, r_.refund_id, r_.line)
    )
    result = []
    for r in rows:
        mine = r.promoter == promoter
        result.append(
            StatementRefund(
                refund=r.refund_id,
                order=r.order_id,
                line=r.line,
                refunded_at=r.refunded_at,
                amount_minor=r.amount_minor,
                commission_delta_minor=r.commission_delta_minor,
                role="promoter" if mine else "upline",
                delta_minor=r.promoter_delta_minor if mine else r.upline_delta_minor,
                stage=r.promoter_stage if mine else r.upline_stage,
            )
        )
    return result


def _settlement(
    conn: Connection, book: str, promoter: str, period: str
) -> StatementSettlement | None:
    r = conn.execute(
        select(SETTLEMENTS).where(
            SETTLEMENTS.c.book == book,
            SETTLEMENTS.c.period == period,
            SETTLEMENTS.c.promoter == promoter,
        )
    ).first()
    if r is None:
        return None
    return StatementSettlement(r.period, r.amount_minor, r.lines, r.settled_at, r.entry_id)


def _payouts(
    conn: Connection, book: str, promoter: str, start: datetime, end: datetime
) -> list[StatementPayout]:
    rows = conn.execute(
        select(PAYOUTS)
        .where(
            PAYOUTS.c.book == book,
            PAYOUTS.c.promoter == promoter,
            PAYOUTS.c.requested_at >= start,
            PAYOUTS.c.requested_at < end,
        )
        .order_by(PAYOUTS.c.requested_at, PAYOUTS.c.request_id)
    )
    return [
        StatementPayout(
            r.request_id, r.amount_minor, r.tax_minor, r.state, r.requested_at, r.resolved_at
        )
        for r in rows
    ]


def _accounts(
    conn: Connection, book: str, promoter: str, start: datetime, end: datetime
) -> tuple[AccountMovement, ...]:
    codes = {promoter_account(promoter, bucket): bucket for bucket in PROMOTER_BUCKETS}
    p = POSTINGS.c
    mine = and_(p.book == book, p.account.in_(list(codes)))

    def totals_before(instant: datetime) -> dict[str, int]:
        rows = conn.execute(
            select(p.account, func.sum(p.amount_minor))
            .where(mine, p.effective_at < instant)
            .group_by(p.account)
        )
        return {str(a): to_normal(AccountType.LIABILITY, int(t)) for a, t in rows}

    opening, closing = totals_before(start), totals_before(end)
    moved: dict[str, list[tuple[str, int]]] = {code: [] for code in codes}
    for account, kind, total in conn.execute(
        select(p.account, ENTRIES.c.kind, func.sum(p.amount_minor))
        .join(ENTRIES, and_(ENTRIES.c.book == p.book, ENTRIES.c.id == p.entry_id))
        .where(mine, p.effective_at >= start, p.effective_at < end)
        .group_by(p.account, ENTRIES.c.kind)
        .order_by(p.account, ENTRIES.c.kind)
    ):
        moved[str(account)].append((str(kind), to_normal(AccountType.LIABILITY, int(total))))
    return tuple(
        AccountMovement(
            bucket, code, opening.get(code, 0), tuple(moved[code]), closing.get(code, 0)
        )
        for code, bucket in codes.items()
    )
