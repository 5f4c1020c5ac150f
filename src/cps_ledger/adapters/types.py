"""Column types that behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import DateTime, Dialect, String, TypeDecorator
from sqlalchemy.dialects import mysql

from cps_ledger.domain.periods import require_aware

ID_LENGTH = 64
ACCOUNT_LENGTH = 128
KEY_LENGTH = 200


def text_column(length: int) -> String:
    """A string column of ``length`` characters.

    Case sensitivity on MariaDB (``P1`` and ``p1`` are different promoters) comes from the
    tables' ``utf8mb4_bin`` collation, not from each column.
    """
    return String(length)


_NAIVE_EPOCH: Final = datetime(1970, 1, 1)  # noqa: DTZ001  (naive on purpose)
_UTC_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def naive_utc(value: datetime) -> datetime:
    """An aware datetime as the naive UTC time stored; a naive one is refused."""
    if value.tzinfo is not UTC:
        value = require_aware(value, field="datetime")
    # Arithmetic, not value.replace(tzinfo=None): replace() parses its keyword arguments
    # on every call, 2.3 µs against 0.2 on a slow host; a row read or written per order
    # pays it (docs/performance.md, finding 26).
    return _NAIVE_EPOCH + (value - _UTC_EPOCH)


def aware_utc(value: datetime) -> datetime:
    """A stored naive UTC time as the aware datetime it stands for."""
    return _UTC_EPOCH + (value - _NAIVE_EPOCH)


def loaded_utc(value: datetime | str | None) -> datetime | None:
    """A stored time (naive UTC, or its text) as read back: aware, in UTC; None stays."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text on some code paths
        value = datetime.fromisoformat(value)
    return aware_utc(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC with microseconds, returned aware in UTC.

    MariaDB's DATETIME has no zone and SQLite has no datetime type at all; storing UTC
    everywhere makes comparisons and period cuts identical on every database.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return naive_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return loaded_utc(value)


class DecimalText(TypeDecorator[Decimal]):
    """A rate kept exactly as written ("0.20"), so explanations quote the book file."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
