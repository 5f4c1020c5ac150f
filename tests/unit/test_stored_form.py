"""The stored form of bulk rows is what the column types' own bind processing stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from cps_ledger.adapters.bulk import stored_utc, stored_uuid
from cps_ledger.adapters.types import UtcDateTime, aware_utc, naive_utc
from cps_ledger.errors import NaiveDatetimeError

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
ZONES = st.one_of(st.just(UTC), OFFSETS, st.timezones())
INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2999, 12, 31),  # noqa: DTZ001
    timezones=ZONES,
)


@given(INSTANTS)
def test_stored_utc_is_the_bind_processed_value(value: datetime) -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    bound = UtcDateTime().process_bind_param(value, dialect)
    expected = value.astimezone(UTC).replace(tzinfo=None)  # the obvious way, independently
    assert bound == expected
    assert bound is not None
    assert bound.tzinfo is None
    assert stored_utc(value) == expected.isoformat(" ", "microseconds")
    assert datetime.fromisoformat(stored_utc(value)).replace(tzinfo=UTC) == value.astimezone(UTC)


@given(st.datetimes())
def test_a_stored_time_reads_back_aware_in_utc(stored: datetime) -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    read = UtcDateTime().process_result_value(stored, dialect)
    assert read == stored.replace(tzinfo=UTC)
    assert read is not None
    assert read.tzinfo is UTC
    assert aware_utc(stored) == read
    assert naive_utc(read) == stored
    text = stored.isoformat(" ", "microseconds")  # SQLite may hand back the text
    assert UtcDateTime().process_result_value(text, dialect) == read


def test_stored_utc_refuses_a_naive_time() -> None:
    with pytest.raises(NaiveDatetimeError):
        stored_utc(datetime(2026, 11, 11, 0, 0))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(NaiveDatetimeError):
        naive_utc(datetime(2026, 11, 11, 0, 0))  # noqa: DTZ001 - naive on purpose


def test_stored_utc_keeps_the_microseconds_of_a_whole_second() -> None:
    at = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    assert stored_utc(at) == "2026-11-10 16:00:00.000000"
    shanghai = at.astimezone(timezone(timedelta(hours=8)))
    assert stored_utc(shanghai) == "2026-11-10 16:00:00.000000"


@given(st.uuids())
def test_stored_uuid_is_32_hex_digits(value: UUID) -> None:
    assert stored_uuid(value) == value.hex
    assert UUID(stored_uuid(value)) == value
