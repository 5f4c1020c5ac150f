"""Orders on every database: paid, completed, cancelled and refunded, with exact figures."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from cps_ledger.adapters.cps_repo import LINES, ORDERS, REFUND_LINES
from cps_ledger.domain.events import parse_event
from cps_ledger.errors import (
    IdempotencyConflictError,
    LinkOfAnotherBookError,
    OrderBeforeLinkError,
    OrderStateError,
    RefundExceedsBaseError,
    UnknownBookError,
    UnknownLineError,
    UnknownLinkError,
    UnknownOrderError,
    UplineError,
)
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import Status, Submitted, ingest
from cps_ledger.services.ledger import account_balance, trial_balance
from tests.integration.test_ledger_core import row_counts
from tests.support.books import at, make_book, run, starter


def bal(engine: Engine, book: str, account: str) -> int:
    return account_balance(engine, book, account).balance_minor


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    return make_book(engine, book_code)


def test_a_paid_order_accrues_every_partys_estimated_share(engine: Engine, book: str) -> None:
    outcomes = run(engine, *starter(book))
    assert [o.status for o in outcomes] == [Status.APPLIED] * 4
    # line 1: 19900 x 0.20 = 3980 (cap 5000) -> [3184, 398, 398]
    # line 2: 1250 x 0.03 = 37.5 -> 38 -> allocate(38, [.8,.1,.1]) = [30.4, 3.8, 3.8] -> [30, 4, 4]
    assert bal(engine, book, "promoter:p1:estimated") == 3184 + 30
    assert bal(engine, book, "promoter:p0:estimated") == 398 + 4
    assert bal(engine, book, "platform:fee:estimated") == 398 + 4
    assert bal(engine, book, "merchant:m1:receivable:estimated") == 3980
    assert bal(engine, book, "merchant:m2:receivable:estimated") == 38
    assert audit(engine, book).ok


def test_completion_moves_the_money_to_confirmed_and_receivable(engine: Engine, book: str) -> None:
    run(
        engine,
        *starter(book),
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
    )
    assert bal(engine, book, "promoter:p1:estimated") == 0
    assert bal(engine, book, "promoter:p1:confirmed") == 3214
    assert bal(engine, book, "promoter:p0:confirmed") == 402
    assert bal(engine, book, "platform:fee_revenue") == 402
    assert bal(engine, book, "merchant:m1:receivable") == 3980
    assert bal(engine, book, "merchant:m1:receivable:estimated") == 0


def test_a_refund_of_5000_then_the_rest_brings_every_party_to_zero(
    engine: Engine, book: str
) -> None:
    run(engine, *starter(book))
    refund = {"type": "refund", "book": book, "order": "o1", "at": at(10)}
    run(engine, {**refund, "refund": "r1", "lines": [{"line": "1", "amount_minor": 5000}]})
    # remaining base 14900 x 0.20 = 2980 -> [2384, 298, 298]
    assert bal(engine, book, "promoter:p1:estimated") == 2384 + 30
    assert bal(engine, book, "merchant:m1:receivable:estimated") == 2980
    run(
        engine,
        {
            **refund,
            "refund": "r2",
            "lines": [{"line": "1", "amount_minor": 14900}, {"line": "2", "amount_minor": 1250}],
        },
    )
    tb = trial_balance(engine, book)
    assert tb.by_account() == {}
    assert audit(engine, book).ok


def test_a_refund_after_completion_comes_out_of_confirmed(engine: Engine, book: str) -> None:
    run(
        engine,
        *starter(book),
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
    )
    run(
        engine,
        {
            "type": "refund",
            "book": book,
            "refund": "r1",
            "order": "o1",
            "at": at(70),
            "lines": [{"line": "2", "amount_minor": 1250}],
        },
    )
    assert bal(engine, book, "promoter:p1:confirmed") == 3184
    assert bal(engine, book, "merchant:m2:receivable") == 0
    assert bal(engine, book, "platform:fee_revenue") == 398


def test_cancel_reverses_what_remains_and_then_refunds_are_refused(
    engine: Engine, book: str
) -> None:
    outcomes = run(
        engine,
        *starter(book),
        {"type": "order_cancelled", "book": book, "order": "o1", "at": at(5)},
        {
            "type": "refund",
            "book": book,
            "refund": "r1",
            "order": "o1",
            "at": at(6),
            "lines": [{"line": "1", "amount_minor": 1}],
        },
        {"type": "order_completed", "book": book, "order": "o1", "at": at(7)},
    )
    assert [o.status for o in outcomes][-3:] == [Status.APPLIED, Status.REJECTED, Status.REJECTED]
    assert isinstance(outcomes[-2].error, OrderStateError)
    assert isinstance(outcomes[-1].error, OrderStateError)
    assert trial_balance(engine, book).by_account() == {}


def test_cancelling_a_completed_order_is_refused(engine: Engine, book: str) -> None:
    outcomes = run(
        engine,
        *starter(book),
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
        {"type": "order_cancelled", "book": book, "order": "o1", "at": at(61)},
    )
    assert isinstance(outcomes[-1].error, OrderStateError)


def test_replaying_the_whole_stream_changes_nothing(engine: Engine, book: str) -> None:
    events = [
        *starter(book),
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
    ]
    run(engine, *events)
    before = row_counts(engine)
    outcomes = run(engine, *events)
    assert {o.status for o in outcomes} == {Status.REPLAYED}
    assert row_counts(engine) == before


def test_a_replayed_order_with_another_amount_is_a_conflict(engine: Engine, book: str) -> None:
    events = starter(book)
    run(engine, *events)
    changed = {**events[3], "lines": [{**events[3]["lines"][0], "amount_minor": 1}]}
    before = row_counts(engine)
    (outcome,) = run(engine, changed)
    assert isinstance(outcome.error, IdempotencyConflictError)
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"type": "order_completed", "order": "nope", "at": at(9)}, UnknownOrderError),
        (
            {
                "type": "refund",
                "refund": "r9",
                "order": "o1",
                "at": at(9),
                "lines": [{"line": "9", "amount_minor": 1}],
            },
            UnknownLineError,
        ),
        (
            {
                "type": "refund",
                "refund": "r9",
                "order": "o1",
                "at": at(9),
                "lines": [{"line": "1", "amount_minor": 19901}],
            },
            RefundExceedsBaseError,
        ),
        (
            {
                "type": "order_paid",
                "order": "o9",
                "link": "nolink",
                "paid_at": at(9),
                "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 1}],
            },
            UnknownLinkError,
        ),
        (
            {
                "type": "order_paid",
                "order": "o9",
                "link": "L1",
                "paid_at": at(-60),
                "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 1}],
            },
            OrderBeforeLinkError,
        ),
        (
            {"type": "promoter_registered", "promoter": "p9", "upline": "ghost", "at": at(9)},
            UplineError,
        ),
        (
            {"type": "promoter_registered", "promoter": "p9", "upline": "p9", "at": at(9)},
            UplineError,
        ),
    ],
)
def test_bad_business_input_is_refused_with_its_typed_error_and_writes_nothing(
    engine: Engine, book: str, event: dict[str, object], error: type[Exception]
) -> None:
    run(engine, *starter(book))
    before = row_counts(engine)
    (outcome,) = run(engine, {**event, "book": book})
    assert outcome.status is Status.REJECTED
    assert isinstance(outcome.error, error)
    assert row_counts(engine) == before


def test_an_unknown_book_is_refused(engine: Engine) -> None:
    (outcome,) = run(
        engine, {"type": "promoter_registered", "book": "nobook", "promoter": "p1", "at": at(0)}
    )
    assert isinstance(outcome.error, UnknownBookError)


def test_a_command_naming_one_book_never_uses_another_books_link(
    engine: Engine, book: str, book_code: str
) -> None:
    other = make_book(engine, book_code + "x")
    run(engine, *starter(book))
    before = row_counts(engine)
    (outcome,) = run(engine, {**starter(other)[3], "book": other})
    assert isinstance(outcome.error, LinkOfAnotherBookError)
    assert row_counts(engine) == before
    assert trial_balance(engine, other).accounts == ()


def test_merchant_payments_are_checked_against_the_receivable_owed_now(
    engine: Engine, book: str
) -> None:
    pay = {"type": "merchant_payment", "book": book, "merchant": "m1", "at": at(61)}
    outcomes = run(
        engine,
        *starter(book),
        {**pay, "payment": "mp0", "amount_minor": 1},  # nothing owed yet: estimated does not count
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
        {**pay, "payment": "mp1", "amount_minor": 3980},
        {**pay, "payment": "mp2", "amount_minor": 1},
    )
    assert [o.status for o in outcomes][-4:] == [
        Status.REJECTED,
        Status.APPLIED,
        Status.APPLIED,
        Status.REJECTED,
    ]
    assert bal(engine, book, "platform:cash") == 3980
    assert bal(engine, book, "merchant:m1:receivable") == 0
    run(
        engine,
        {
            "type": "refund",
            "book": book,
            "refund": "r1",
            "order": "o1",
            "at": at(70),
            "lines": [{"line": "1", "amount_minor": 19900}],
        },
    )
    assert bal(engine, book, "merchant:m1:receivable") == -3980  # a credit owed back


def _stored_orders(engine: Engine, book: str) -> list[tuple[object, ...]]:
    """Every order, line and refund line of ``book`` (without the book), in key order."""
    with engine.connect() as conn:
        return [
            tuple(row)[1:]
            for t in (ORDERS, LINES, REFUND_LINES)
            for row in conn.execute(
                select(t).where(t.c.book == book).order_by(*t.primary_key.columns)
            )
        ]


def test_orders_paid_and_changed_in_one_batch_are_stored_as_event_by_event(
    engine: Engine, book_code: str
) -> None:
    # A batch keeps an order it paid as rows and rebuilds it when a later event of the same
    # batch touches it (finding 34): what it stores must be what separate batches store.
    together, apart = (make_book(engine, f"{book_code}{side}") for side in ("t", "a"))

    def stream(book: str) -> list[dict[str, Any]]:
        paid = starter(book)[-1]
        refund = {"type": "refund", "book": book, "order": "o1", "at": at(10)}
        return [
            *starter(book),
            {**paid, "order": "o2", "paid_at": at(4)},
            {**refund, "refund": "r1", "lines": [{"line": "1", "amount_minor": 5000}]},
            {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
            {**refund, "refund": "r2", "at": at(61), "lines": [{"line": "2", "amount_minor": 1}]},
            {"type": "order_cancelled", "book": book, "order": "o2", "at": at(62)},
        ]

    def items(book: str) -> list[Submitted]:
        return [Submitted(i, parse_event(e), e) for i, e in enumerate(stream(book), start=1)]

    one_batch = list(ingest(engine, items(together)))
    one_each = list(ingest(engine, items(apart), batch_size=1))
    assert [o.status for o in one_batch] == [Status.APPLIED] * 9
    assert [o.status for o in one_each] == [Status.APPLIED] * 9
    assert _stored_orders(engine, together) == _stored_orders(engine, apart)
    assert trial_balance(engine, together).by_account() == (
        trial_balance(engine, apart).by_account()
    )
    assert audit(engine, together).ok


def test_a_batch_across_books_gives_its_outcomes_in_input_order(
    engine: Engine, book: str, book_code: str
) -> None:
    other = make_book(engine, book_code + "y")
    ours, theirs = starter(book), starter(other)
    stray = {"type": "promoter_registered", "book": "nobook", "promoter": "p1", "at": at(0)}
    # Interleaved, with a replay and an unknown book: each book is decided on its own, so
    # the outcomes must be put back where their events stood.
    events = [ours[0], theirs[0], stray, ours[1], theirs[1], ours[0], ours[2], theirs[2]]
    outcomes = run(engine, *events)
    assert [o.position for o in outcomes] == list(range(1, len(events) + 1))
    assert [o.status for o in outcomes] == [
        Status.APPLIED,
        Status.APPLIED,
        Status.REJECTED,
        Status.APPLIED,
        Status.APPLIED,
        Status.REPLAYED,
        Status.APPLIED,
        Status.APPLIED,
    ]
    assert [o.key for o in outcomes] == [
        "promoter:p0",
        "promoter:p0",
        "promoter:p1",
        "promoter:p1",
        "promoter:p1",
        "promoter:p0",
        "link:L1",
        "link:L1",
    ]
    assert isinstance(outcomes[2].error, UnknownBookError)
    assert [o.error for i, o in enumerate(outcomes) if i != 2] == [None] * 7
