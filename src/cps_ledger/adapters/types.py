"""Column types that behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
        return require_aware(value, field="datetime").replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back text on some code paths
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class DecimalText(TypeDecorator[Decimal]):
    """A rate kept exactly as written ("0.20"), so explanations quote the book file."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
