"""JournalRows.add_legs: the rows and the refusals of an Entry made from the same legs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.adapters.journal_rows import JournalRows, Row
from cps_ledger.domain.entries import POSTINGS_PER_ENTRY_MAX, Entry, Posting
from cps_ledger.domain.money import AMOUNT_MAX_MINOR
from cps_ledger.errors import CpsLedgerError, NaiveDatetimeError

RECORDED = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
ACCOUNTS = [
    "merchant:m1:receivable:estimated",
    "merchant:m2:receivable:estimated",
    "promoter:p1:estimated",
    "promoter:p0:estimated",
    "platform:fee:estimated",
    "no-such:account",
]


def without_ids(rows: list[Row], position: int) -> list[Row]:
    return [(*row[:position], None, *row[position + 1 :]) for row in rows]


def by_entry(legs: dict[str, int], at: datetime) -> tuple[JournalRows, Any]:
    """The rows of an Entry made of ``legs``, or the error making it raised."""
    rows = JournalRows("b", RECORDED)
    try:
        postings = tuple(Posting(a, amount, "CNY") for a, amount in legs.items() if amount)
        if postings:
            rows.add_entry(
                Entry(book="b", key="k", kind="order_paid", effective_at=at, postings=postings)
            )
    except CpsLedgerError as exc:
        return rows, type(exc)
    return rows, None


def by_legs(legs: dict[str, int], at: datetime) -> tuple[JournalRows, Any]:
    rows = JournalRows("b", RECORDED)
    try:
        rows.add_legs("k", "order_paid", at, legs, "CNY")
    except CpsLedgerError as exc:
        return rows, type(exc)
    return rows, None


amounts = st.one_of(
    st.integers(-10_000, 10_000),
    st.integers(-AMOUNT_MAX_MINOR - 2, AMOUNT_MAX_MINOR + 2),
)
legs_of = st.dictionaries(st.sampled_from(ACCOUNTS), amounts, max_size=len(ACCOUNTS))


@st.composite
def balanced_or_not(draw: st.DrawFn) -> dict[str, int]:
    legs: dict[str, int] = draw(legs_of)
    balance: bool = draw(st.booleans())
    if legs and balance:
        # Balance it on one account, as most flows do.
        first = next(iter(legs))
        legs[first] -= sum(legs.values())
    return legs


zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))])
times = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.one_of(zones, st.none()),  # naive ones too: refused alike
)


@given(balanced_or_not(), times)
def test_legs_make_the_rows_an_entry_makes_and_are_refused_alike(
    legs: dict[str, int], at: datetime
) -> None:
    entry_rows, entry_error = by_entry(legs, at)
    legs_rows, legs_error = by_legs(legs, at)
    assert legs_error is entry_error
    assert without_ids(legs_rows.entries, 1) == without_ids(entry_rows.entries, 1)
    assert without_ids(legs_rows.postings, 1) == without_ids(entry_rows.postings, 1)
    assert legs_rows.amounts == entry_rows.amounts
    assert legs_rows.counts == entry_rows.counts
    if legs_error is not None:  # a refused entry leaves no row behind
        assert legs_rows.entries == legs_rows.postings == []


def test_every_posting_of_an_entry_names_the_entrys_id() -> None:
    rows = JournalRows("b", RECORDED)
    made = rows.add_legs(
        "k",
        "order_paid",
        RECORDED,
        {"promoter:p1:estimated": -5, "platform:fee:estimated": 5},
        "CNY",
    )
    assert made is not None
    assert {p[1] for p in rows.postings} == {rows.entries[0][1]} == {made.hex}


def test_all_zero_legs_make_no_entry() -> None:
    rows = JournalRows("b", RECORDED)
    assert rows.add_legs("k", "order_paid", RECORDED, {"promoter:p1:estimated": 0}, "CNY") is None
    assert rows.entries == rows.postings == []


def test_too_many_legs_are_refused_like_an_entry() -> None:
    legs = {f"promoter:p{n}:estimated": 1 for n in range(POSTINGS_PER_ENTRY_MAX)}
    legs["platform:fee:estimated"] = -POSTINGS_PER_ENTRY_MAX
    assert by_legs(legs, RECORDED)[1] is by_entry(legs, RECORDED)[1] is not None


def test_a_naive_time_is_refused() -> None:
    legs = {"promoter:p1:estimated": -5, "platform:fee:estimated": 5}
    with pytest.raises(NaiveDatetimeError):
        JournalRows("b", RECORDED).add_legs("k", "order_paid", datetime(2026, 1, 1), legs, "CNY")  # noqa: DTZ001
