"""The schema: every per-book table carries ``book`` in its primary key (DESIGN §7).

Ids are time-ordered UUIDs, not sequences; there are no cross-book foreign keys, and no row
that every order updates (balances are sharded counters, see docs/accounting.md).
The journal tables (entries, postings, idempotency keys) are append-only; the migration adds
triggers that refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cps_ledger.adapters.types import (
    ACCOUNT_LENGTH,
    ID_LENGTH,
    KEY_LENGTH,
    DecimalText,
    UtcDateTime,
    text_column,
)

JOURNAL_TABLES: Final = ("journal_entries", "postings", "idempotency_keys")
BALANCE_SHARDS: Final = 16
"""Counter rows per account: concurrent writers to one hot account pick different rows."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_MYSQL: Final = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _args(*items: Any) -> tuple[Any, ...]:
    return (*items, _MYSQL)


def _id() -> Mapped[str]:
    return mapped_column(text_column(ID_LENGTH))


def _opt_id() -> Mapped[str | None]:
    return mapped_column(text_column(ID_LENGTH), nullable=True)


class Base(DeclarativeBase):
    """Declarative base holding the one MetaData that migrations are compared against."""

    metadata = MetaData(naming_convention=NAMING)


class BookRow(Base):
    """A programme: its currency, time zone, payout minimum and current rules version."""

    __tablename__ = "books"
    __table_args__ = _args(PrimaryKeyConstraint("code"))
    code: Mapped[str] = _id()
    currency: Mapped[str] = mapped_column(text_column(3))
    timezone: Mapped[str] = mapped_column(text_column(64))
    payout_minimum_minor: Mapped[int] = mapped_column(BigInteger)
    withholding: Mapped[str] = mapped_column(text_column(64))
    rules_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RuleSetRow(Base):
    """One published version of a book's rules and split; never changed once written."""

    __tablename__ = "rule_sets"
    __table_args__ = _args(PrimaryKeyConstraint("book", "version"))
    book: Mapped[str] = _id()
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(text_column(64))
    rules_json: Mapped[str] = mapped_column(Text)
    fee_rate: Mapped[Decimal] = mapped_column(DecimalText())
    upline_rate: Mapped[Decimal] = mapped_column(DecimalText())
    split_policy: Mapped[str] = mapped_column(text_column(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AccountRow(Base):
    """An account of the chart, opened by its first posting."""

    __tablename__ = "accounts"
    __table_args__ = _args(PrimaryKeyConstraint("book", "code"))
    book: Mapped[str] = _id()
    code: Mapped[str] = mapped_column(text_column(ACCOUNT_LENGTH))
    type: Mapped[str] = mapped_column(text_column(16))
    currency: Mapped[str] = mapped_column(text_column(3))


class JournalEntryRow(Base):
    """A balanced entry. Append-only."""

    __tablename__ = "journal_entries"
    __table_args__ = _args(
        PrimaryKeyConstraint("book", "id"),
        Index(None, "book", "key"),
        Index(None, "book", "effective_at"),
    )
    book: Mapped[str] = _id()
    id: Mapped[uuid.UUID] = mapped_column(Uuid())
    key: Mapped[str] = mapped_column(text_column(KEY_LENGTH))
    kind: Mapped[str] = mapped_column(text_column(32))
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    memo: Mapped[str] = mapped_column(text_column(255))


class PostingRow(Base):
    """One leg of an entry, debit positive. Append-only.

    No foreign key to ``journal_entries``: both are written by the one journal write path in
    the same transaction, ``audit`` checks for orphans, and a per-row key check planned while
    the tables were small made bulk loads on PostgreSQL quadratic (docs/performance.md).
    """

    __tablename__ = "postings"
    __table_args__ = _args(
        PrimaryKeyConstraint("book", "entry_id", "seq"),
        Index(None, "book", "account", "effective_at", "amount_minor"),
    )
    book: Mapped[str] = _id()
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    seq: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(text_column(ACCOUNT_LENGTH))
    currency: Mapped[str] = mapped_column(text_column(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKeyRow(Base):
    """A command that was carried out, stored in the same transaction as its entries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = _args(PrimaryKeyConstraint("book", "key"))
    book: Mapped[str] = _id()
    key: Mapped[str] = mapped_column(text_column(KEY_LENGTH))
    digest: Mapped[str] = mapped_column(text_column(64))
    """sha256 hex of the canonical payload."""
    result_json: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AccountBalanceRow(Base):
    """A shard of an account's running balance; the balance is the sum of its shards.

    A cache of the postings, checked against them by ``audit``.
    """

    __tablename__ = "account_balances"
    __table_args__ = _args(PrimaryKeyConstraint("book", "account", "shard"))
    book: Mapped[str] = _id()
    account: Mapped[str] = mapped_column(text_column(ACCOUNT_LENGTH))
    shard: Mapped[int] = mapped_column(Integer)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    postings: Mapped[int] = mapped_column(BigInteger)


def table(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class, for set-based statements without the ORM."""
    return cast(Table, model.__table__)
