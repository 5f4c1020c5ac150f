"""Commands that are not events: payouts, settlement and the generic ledger posting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cps_ledger.domain.commands import (
    CompletePayout,
    FailPayout,
    PostEntry,
    RequestPayout,
    Settle,
)
from cps_ledger.domain.periods import Period
from cps_ledger.errors import (
    InvalidAccountCodeError,
    InvalidAmountError,
    InvalidEventError,
    InvalidPeriodError,
    NaiveDatetimeError,
)

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _request(**changes: Any) -> RequestPayout:
    fields: dict[str, Any] = {
        "book": "fenxiang",
        "promoter": "p1",
        "amount_minor": 500,
        "request_id": "w1",
        "at": AT,
    }
    return RequestPayout.model_validate({**fields, **changes})


def _entry(**changes: Any) -> PostEntry:
    fields: dict[str, Any] = {
        "book": "fenxiang",
        "key": "adjust:2026-11:1",
        "kind": "adjustment",
        "effective_at": "2026-11-30T12:00:00+08:00",
        "postings": [
            {"account": "platform:cash", "amount_minor": 100},
            {"account": "platform:fee_revenue", "amount_minor": -100},
        ],
    }
    return PostEntry.model_validate({**fields, **changes})


def test_a_payout_request_has_the_payout_key() -> None:
    request = _request()
    assert request.key == "payout:w1"
    assert request.amount_minor == 500


def test_completing_and_failing_a_payout_have_their_own_keys_under_the_request() -> None:
    assert CompletePayout(book="b", request_id="w1", at=AT).key == "payout:w1:completed"
    assert FailPayout(book="b", request_id="w1", at=AT).key == "payout:w1:failed"


def test_a_retried_payout_request_at_another_time_has_the_same_payload() -> None:
    assert _request().payload() == _request(at="2026-12-02T00:00:00+08:00").payload()
    assert _request().payload() != _request(amount_minor=501).payload()


@pytest.mark.parametrize("amount", [0, -5, 1.0, "500", True, 10**15 + 1])
def test_a_payout_amount_must_be_a_positive_integer(amount: object) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        _request(amount_minor=amount)
    assert caught.value.values["field"] == "amount_minor"


def test_a_payout_at_a_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError) as caught:
        _request(at=datetime(2026, 12, 1))  # noqa: DTZ001
    assert caught.value.values["field"] == "at"


def test_a_payout_without_request_id_is_refused_naming_it() -> None:
    fields = _request().model_dump()
    del fields["request_id"]
    with pytest.raises(InvalidEventError, match=r"^request_id: ") as caught:
        RequestPayout.model_validate(fields)
    assert caught.value.values["field"] == "request_id"


def test_a_payout_with_an_extra_field_is_refused() -> None:
    with pytest.raises(InvalidEventError) as caught:
        _request(currency="CNY")
    assert caught.value.values["field"] == "currency"


def test_a_settlement_names_its_period_and_key() -> None:
    settle = Settle(book="fenxiang", period="2026-11")
    assert settle.parsed_period == Period(2026, 11)
    assert settle.key == "settle:fenxiang:2026-11"
    assert settle.at is None
    assert settle.payload() == {"book": "fenxiang", "period": "2026-11"}


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "11/2026", "2026-11-01"])
def test_a_settlement_period_must_be_written_yyyy_mm(period: str) -> None:
    with pytest.raises(InvalidPeriodError):
        Settle(book="fenxiang", period=period)


def test_a_settlement_period_must_be_a_string() -> None:
    with pytest.raises(InvalidEventError) as caught:
        Settle.model_validate({"book": "fenxiang", "period": 202611})
    assert caught.value.values["field"] == "period"


def test_a_settlement_at_a_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        Settle(book="fenxiang", period="2026-11", at=datetime(2026, 12, 1))  # noqa: DTZ001


def test_a_ledger_entry_command_keeps_signed_postings() -> None:
    entry = _entry()
    assert [p.amount_minor for p in entry.postings] == [100, -100]
    assert entry.key == "adjust:2026-11:1"
    assert entry.memo == ""
    assert entry.payload()["postings"][1] == {
        "account": "platform:fee_revenue",
        "amount_minor": -100,
        "currency": None,
    }


def test_a_posting_to_an_account_outside_the_chart_is_refused() -> None:
    postings = [
        {"account": "platform:bank", "amount_minor": 100},
        {"account": "platform:cash", "amount_minor": -100},
    ]
    with pytest.raises(InvalidAccountCodeError) as caught:
        _entry(postings=postings)
    assert caught.value.values["account"] == "platform:bank"


@pytest.mark.parametrize("amount", [1.5, "100", False, -(10**15) - 1, 10**15 + 1])
def test_a_posting_amount_must_be_an_integer_within_the_limit(amount: object) -> None:
    postings = [
        {"account": "platform:cash", "amount_minor": amount},
        {"account": "platform:fee_revenue", "amount_minor": 0},
    ]
    with pytest.raises(InvalidAmountError) as caught:
        _entry(postings=postings)
    assert caught.value.values["field"] == "postings.0.amount_minor"


def test_a_posting_of_minus_the_maximum_is_accepted() -> None:
    postings = [
        {"account": "platform:cash", "amount_minor": 10**15},
        {"account": "platform:fee_revenue", "amount_minor": -(10**15)},
    ]
    assert _entry(postings=postings).postings[1].amount_minor == -(10**15)


def test_an_entry_key_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InvalidEventError) as caught:
        _entry(key="k" * 201)
    assert caught.value.values["field"] == "key"
