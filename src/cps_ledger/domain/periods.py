"""Time-zone-correct instants and periods (DESIGN §2.7).

Naive datetimes are refused everywhere; periods are half-open calendar months cut in the
book's time zone, so 00:00 on the 1st belongs to the new month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cps_ledger.errors import InvalidEventError, InvalidPeriodError, NaiveDatetimeError

DEFAULT_TIMEZONE = "Asia/Shanghai"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def require_aware(value: datetime, *, field: str) -> datetime:
    """Return ``value`` converted to UTC, refusing a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(field=field, value=value.isoformat())
    return value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` or a typed error naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidEventError(f"unknown time zone {name!r}", field="timezone") from None


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar month, e.g. ``Period(2026, 11)`` for ``2026-11``."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY-MM`` or raise :class:`InvalidPeriodError`."""
        match = _PERIOD.match(text)
        if match is None:
            raise InvalidPeriodError(period=text)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, instant: datetime, timezone: str) -> Period:
        """The period in which ``instant`` falls, in the book's time zone."""
        local = require_aware(instant, field="instant").astimezone(zone(timezone))
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        """The following month."""
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def start(self, timezone: str) -> datetime:
        """00:00 on the 1st in ``timezone``, as a UTC instant (inclusive)."""
        return datetime(self.year, self.month, 1, tzinfo=zone(timezone)).astimezone(UTC)

    def end(self, timezone: str) -> datetime:
        """00:00 on the 1st of the next month in ``timezone``, as UTC (exclusive)."""
        return self.next().start(timezone)
