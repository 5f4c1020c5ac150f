"""Tables of the CPS domain: promoters, share links, orders and their lines, refunds,
settlements and payouts. Mutable state lives here; money lives only in the journal."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, PrimaryKeyConstraint, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from cps_ledger.adapters.tables import Base, _args, _id, _opt_id
from cps_ledger.adapters.types import DecimalText, UtcDateTime, text_column


class PromoterRow(Base):
    """A registered promoter (推手), its upline (团长) and tier; the row payouts lock."""

    __tablename__ = "promoters"
    __table_args__ = _args(PrimaryKeyConstraint("book", "promoter"))
    book: Mapped[str] = _id()
    promoter: Mapped[str] = _id()
    upline: Mapped[str | None] = _opt_id()
    tier: Mapped[str | None] = _opt_id()
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ShareLinkRow(Base):
    """A product link a promoter shares in a group; orders are attributed through it."""

    __tablename__ = "share_links"
    __table_args__ = _args(PrimaryKeyConstraint("book", "link"))
    book: Mapped[str] = _id()
    link: Mapped[str] = _id()
    promoter: Mapped[str] = _id()
    group_id: Mapped[str | None] = _opt_id()
    sku: Mapped[str | None] = _opt_id()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderRow(Base):
    """An attributed order; promoter and upline are snapshotted when it is paid.

    ``promoter_settled`` / ``upline_settled`` name the period whose settlement moved each
    party's shares of the order's lines to ``available``. They live on the order, not on
    each line: the lines of an order share promoter, upline and completion, so they are
    always settled together, and settlement marks half as many rows (docs/performance.md).
    No index holds them, nor ``state`` and ``completed_at``: completing and settling an
    order then change no index, and on PostgreSQL (where the table keeps 15% of each page
    free, migration 0003) the new version stays on its page (a HOT update). What is still
    to settle is found in ``settlement_due`` instead.
    ``promoter_minor``, ``upline_minor`` and ``line_count`` sum the lines (their current
    targets), so settlement reads no line at all; ``audit`` checks they match.
    """

    __tablename__ = "orders"
    __table_args__ = _args(
        PrimaryKeyConstraint("book", "order_id"),
        Index(None, "book", "paid_at"),
        Index(None, "book", "promoter"),
        Index(None, "book", "upline"),
    )
    book: Mapped[str] = _id()
    order_id: Mapped[str] = _id()
    link: Mapped[str] = _id()
    promoter: Mapped[str] = _id()
    upline: Mapped[str | None] = _opt_id()
    state: Mapped[str] = mapped_column(text_column(16))
    rules_version: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    promoter_settled: Mapped[str | None] = mapped_column(text_column(7), nullable=True)
    upline_settled: Mapped[str | None] = mapped_column(text_column(7), nullable=True)
    promoter_minor: Mapped[int] = mapped_column(BigInteger)
    upline_minor: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)


class SettlementDueRow(Base):
    """A party's shares of a completed order that no settlement has moved yet.

    Written when the order completes (one row for the promoter, one for an upline) and
    deleted by the settlement that marks the order, in the same transaction: the rows of a
    page of promoters are found by their key in party order, whatever the book's history,
    and deleting them changes no index page. ``audit`` checks that they are exactly the
    completed orders' unmarked sides.
    """

    __tablename__ = "settlement_due"
    # Without a rowid SQLite stores the rows in their key's B-tree, as InnoDB does: a page's
    # due rows are read and deleted in one tree instead of an index and the table.
    __table_args__ = (
        PrimaryKeyConstraint("book", "party", "side", "order_id"),
        {**_args()[-1], "sqlite_with_rowid": False},
    )
    book: Mapped[str] = _id()
    party: Mapped[str] = _id()
    side: Mapped[str] = mapped_column(text_column(8))
    order_id: Mapped[str] = _id()
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrderLineRow(Base):
    """A line with its commission terms snapshotted and its current per-party targets.

    ``*_minor`` shares are the targets after the refunds so far; the journal holds the same
    money as postings. ``promoter`` and ``upline`` repeat the order's, for reports.
    """

    __tablename__ = "order_lines"
    __table_args__ = _args(PrimaryKeyConstraint("book", "order_id", "line"))
    book: Mapped[str] = _id()
    order_id: Mapped[str] = _id()
    line: Mapped[str] = _id()
    merchant: Mapped[str] = _id()
    sku: Mapped[str | None] = _opt_id()
    category: Mapped[str | None] = _opt_id()
    quantity: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    promoter: Mapped[str] = _id()
    upline: Mapped[str | None] = _opt_id()
    rule: Mapped[str] = mapped_column(text_column(128))
    rule_version: Mapped[int] = mapped_column(Integer)
    rate: Mapped[Decimal] = mapped_column(DecimalText())
    cap_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    weight_promoter: Mapped[Decimal] = mapped_column(DecimalText())
    weight_upline: Mapped[Decimal] = mapped_column(DecimalText())
    weight_platform: Mapped[Decimal] = mapped_column(DecimalText())
    explanation: Mapped[str] = mapped_column(text_column(512))
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    promoter_minor: Mapped[int] = mapped_column(BigInteger)
    upline_minor: Mapped[int] = mapped_column(BigInteger)
    platform_minor: Mapped[int] = mapped_column(BigInteger)


class RefundLineRow(Base):
    """What one refund took from one line, and from which stage each share came."""

    __tablename__ = "refund_lines"
    __table_args__ = _args(
        PrimaryKeyConstraint("book", "refund_id", "line"),
        Index(None, "book", "order_id"),
    )
    book: Mapped[str] = _id()
    refund_id: Mapped[str] = _id()
    line: Mapped[str] = _id()
    order_id: Mapped[str] = _id()
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    commission_delta_minor: Mapped[int] = mapped_column(BigInteger)
    promoter_delta_minor: Mapped[int] = mapped_column(BigInteger)
    upline_delta_minor: Mapped[int] = mapped_column(BigInteger)
    platform_delta_minor: Mapped[int] = mapped_column(BigInteger)
    promoter_stage: Mapped[str] = mapped_column(text_column(16))
    upline_stage: Mapped[str] = mapped_column(text_column(16))
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SettlementRunRow(Base):
    """A monthly settlement run; ``completed_at`` is set when every promoter is settled."""

    __tablename__ = "settlement_runs"
    __table_args__ = _args(PrimaryKeyConstraint("book", "period"))
    book: Mapped[str] = _id()
    period: Mapped[str] = mapped_column(text_column(7))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    promoters: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class SettlementRow(Base):
    """One promoter's settlement in one period: the entry that moved it to available."""

    __tablename__ = "settlements"
    __table_args__ = _args(PrimaryKeyConstraint("book", "period", "promoter"))
    book: Mapped[str] = _id()
    period: Mapped[str] = mapped_column(text_column(7))
    promoter: Mapped[str] = _id()
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), nullable=True)
    settled_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PayoutRow(Base):
    """A payout request and where it stands: pending, completed or failed."""

    __tablename__ = "payouts"
    __table_args__ = _args(
        PrimaryKeyConstraint("book", "request_id"),
        Index(None, "book", "promoter"),
    )
    book: Mapped[str] = _id()
    request_id: Mapped[str] = _id()
    promoter: Mapped[str] = _id()
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(text_column(16))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    details_json: Mapped[str] = mapped_column(Text)
