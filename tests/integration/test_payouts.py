"""Payouts on every database: the check order, idempotency, state transitions and tax."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from cps_ledger.adapters.cps_tables import PayoutRow
from cps_ledger.adapters.tables import table
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.errors import (
    IdempotencyConflictError,
    InsufficientAvailableError,
    PayoutBelowMinimumError,
    PayoutStateError,
    UnknownPayoutError,
    UnknownPromoterError,
)
from cps_ledger.services.audit import audit
from cps_ledger.services.balances import PromoterBalances, promoter_balances
from cps_ledger.services.ledger import account_balance
from cps_ledger.services.payouts import (
    PayoutResult,
    complete_payout,
    fail_payout,
    request_payout,
)
from cps_ledger.services.settlement import settle
from tests.integration.test_ledger_core import row_counts
from tests.integration.test_settlement import NOW, completed, ingest_ok
from tests.support.books import BOOK_TOML, at, make_book, starter

PAYOUTS = table(PayoutRow)
TAXED_BOOK = BOOK_TOML.replace(
    "payout_minimum_minor = 100",
    'payout_minimum_minor = 100\nwithholding = "cn_labour_remuneration"',
)


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    """p1 has 3214 available and p0 402, settled in October."""
    make_book(engine, book_code)
    ingest_ok(engine, *starter(book_code), completed(book_code, "o1", at(60)))
    settle(engine, book_code, "2026-10", now=NOW)
    return book_code


def ask(book: str, request_id: str, amount: int, promoter: str = "p1") -> RequestPayout:
    return RequestPayout(
        book=book, promoter=promoter, amount_minor=amount, request_id=request_id, at=NOW
    )


def done(book: str, request_id: str) -> CompletePayout:
    return CompletePayout(book=book, request_id=request_id, at=NOW)


def failed(book: str, request_id: str) -> FailPayout:
    return FailPayout(book=book, request_id=request_id, at=NOW)


def state_of(engine: Engine, book: str, request_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(PAYOUTS.c.state).where(
                    PAYOUTS.c.book == book, PAYOUTS.c.request_id == request_id
                )
            ).scalar_one()
        )


def test_a_request_moves_the_amount_from_available_to_payout_pending(
    engine: Engine, book: str
) -> None:
    result = request_payout(engine, ask(book, "w1", 1000))
    assert result == PayoutResult("w1", "p1", "pending", 1000, 0, False)
    assert promoter_balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 2214, 1000)
    assert state_of(engine, book, "w1") == "pending"


def test_a_request_below_the_books_minimum_is_refused_before_the_balance_check(
    engine: Engine, book: str
) -> None:
    with pytest.raises(PayoutBelowMinimumError) as refused:
        request_payout(engine, ask(book, "w1", 99, promoter="p0"))
    assert (refused.value.amount_minor, refused.value.minimum_minor) == (99, 100)
    assert request_payout(engine, ask(book, "w2", 100, promoter="p0")).state == "pending"


def test_a_request_over_the_available_balance_is_refused_and_writes_nothing(
    engine: Engine, book: str
) -> None:
    before = row_counts(engine)
    with pytest.raises(InsufficientAvailableError) as refused:
        request_payout(engine, ask(book, "w1", 3215))
    assert refused.value.available_minor == 3214
    assert row_counts(engine) == before
    assert request_payout(engine, ask(book, "w1", 3214)).amount_minor == 3214


def test_an_unregistered_promoter_is_refused_before_the_minimum(engine: Engine, book: str) -> None:
    with pytest.raises(UnknownPromoterError):
        request_payout(engine, ask(book, "w1", 1, promoter="nobody"))


def test_a_replayed_request_returns_the_original_even_when_it_would_now_be_refused(
    engine: Engine, book: str
) -> None:
    request_payout(engine, ask(book, "w1", 3214))
    before = row_counts(engine)
    again = request_payout(engine, ask(book, "w1", 3214))
    assert again == PayoutResult("w1", "p1", "pending", 3214, 0, True)
    assert row_counts(engine) == before
    assert promoter_balances(engine, book, "p1").payout_pending == 3214


def test_a_replayed_request_with_another_amount_or_promoter_is_a_conflict(
    engine: Engine, book: str
) -> None:
    request_payout(engine, ask(book, "w1", 1000))
    with pytest.raises(IdempotencyConflictError):
        request_payout(engine, ask(book, "w1", 1001))
    with pytest.raises(IdempotencyConflictError):
        request_payout(engine, ask(book, "w1", 1000, promoter="p0"))


def test_completing_pays_out_to_cash_and_completing_twice_returns_the_original(
    engine: Engine, book: str
) -> None:
    request_payout(engine, ask(book, "w1", 1000))
    result = complete_payout(engine, done(book, "w1"))
    assert result == PayoutResult("w1", "p1", "completed", 1000, 0, False)
    assert promoter_balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 2214, 0)
    assert account_balance(engine, book, "platform:cash").balance_minor == -1000
    before = row_counts(engine)
    assert complete_payout(engine, done(book, "w1")) == PayoutResult(
        "w1", "p1", "completed", 1000, 0, True
    )
    assert row_counts(engine) == before
    assert state_of(engine, book, "w1") == "completed"


def test_failing_gives_the_money_back_to_available(engine: Engine, book: str) -> None:
    request_payout(engine, ask(book, "w1", 1000))
    assert fail_payout(engine, failed(book, "w1")).state == "failed"
    assert promoter_balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 3214, 0)
    assert fail_payout(engine, failed(book, "w1")).replayed
    assert state_of(engine, book, "w1") == "failed"
    assert audit(engine, book).ok


def test_failing_a_completed_payout_or_completing_a_failed_one_is_refused(
    engine: Engine, book: str
) -> None:
    request_payout(engine, ask(book, "w1", 1000))
    request_payout(engine, ask(book, "w2", 1000))
    complete_payout(engine, done(book, "w1"))
    fail_payout(engine, failed(book, "w2"))
    before = row_counts(engine)
    with pytest.raises(PayoutStateError) as refused:
        fail_payout(engine, failed(book, "w1"))
    assert (refused.value.state, refused.value.action) == ("completed", "fail")
    with pytest.raises(PayoutStateError):
        complete_payout(engine, done(book, "w2"))
    assert row_counts(engine) == before


def test_an_unknown_request_id_is_refused(engine: Engine, book: str) -> None:
    with pytest.raises(UnknownPayoutError):
        complete_payout(engine, done(book, "nope"))
    with pytest.raises(UnknownPayoutError):
        fail_payout(engine, failed(book, "nope"))


@pytest.mark.parametrize(
    ("amount", "tax"),
    [
        (80_000, 0),  # ¥800: nothing taxable
        (400_000, 64_000),  # ¥4,000: (4000 - 800) x 20% = 640
        (500_000, 80_000),  # ¥5,000: 4000 x 20% = 800
    ],
)
def test_completion_withholds_labour_remuneration_tax_into_tax_payable(
    engine: Engine, book_code: str, amount: int, tax: int
) -> None:
    make_book(engine, book_code, TAXED_BOOK)
    # 25,000,000 x 3% = 750,000 -> p9 has no upline: [600,000, 0, 150,000]
    ingest_ok(
        engine,
        {"type": "promoter_registered", "book": book_code, "promoter": "p9", "at": at(0)},
        {
            "type": "share_link_created",
            "book": book_code,
            "link": "L9",
            "promoter": "p9",
            "at": at(1),
        },
        {
            "type": "order_paid",
            "book": book_code,
            "order": "big",
            "link": "L9",
            "paid_at": at(2),
            "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 25_000_000}],
        },
        completed(book_code, "big", at(60)),
    )
    settle(engine, book_code, "2026-10", now=NOW)
    request_payout(engine, ask(book_code, "w1", amount, promoter="p9"))
    result = complete_payout(engine, done(book_code, "w1"))
    assert (result.amount_minor, result.tax_minor) == (amount, tax)
    assert account_balance(engine, book_code, "platform:cash").balance_minor == -(amount - tax)
    assert account_balance(engine, book_code, "platform:tax_payable").balance_minor == tax
    assert promoter_balances(engine, book_code, "p9").available == 600_000 - amount
    assert audit(engine, book_code).ok


def test_promoter_balances_as_of_an_instant_read_the_postings(engine: Engine, book: str) -> None:
    later = datetime(2027, 7, 1, tzinfo=UTC)
    request_payout(
        engine,
        RequestPayout(book=book, promoter="p1", amount_minor=1000, request_id="w1", at=later),
    )
    assert promoter_balances(engine, book, "p1", as_of=NOW).available == 3214
    assert promoter_balances(engine, book, "p1", as_of=later).available == 2214
    before_settlement = datetime.fromisoformat("2026-10-31T12:00:00+08:00")
    assert promoter_balances(engine, book, "p1", as_of=before_settlement) == PromoterBalances(
        "p1", 0, 3214, 0, 0
    )
