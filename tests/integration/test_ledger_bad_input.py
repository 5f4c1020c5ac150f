"""Bad input to the generic ledger raises its typed error and leaves the database unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from cps_ledger.domain.accounts import AccountType
from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.commands import PostEntry
from cps_ledger.errors import (
    CpsLedgerError,
    EntryShapeError,
    InvalidAccountCodeError,
    InvalidAmountError,
    NaiveDatetimeError,
    UnbalancedEntryError,
    UnknownAccountTypeError,
)
from cps_ledger.services.books import apply_book
from cps_ledger.services.ledger import post_commands
from tests.integration.test_ledger_core import row_counts

GOOD: dict[str, Any] = {
    "key": "k1",
    "kind": "manual",
    "effective_at": "2026-11-11T00:00:00+08:00",
    "postings": [
        {"account": "platform:cash", "amount_minor": 500},
        {"account": "platform:fee_revenue", "amount_minor": -500},
    ],
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (
            _with(
                postings=[
                    {"account": "platform:cash", "amount_minor": 500},
                    {"account": "platform:fee_revenue", "amount_minor": -499},
                ]
            ),
            UnbalancedEntryError,
        ),
        (
            _with(
                postings=[
                    {"account": "platform:cash", "amount_minor": 500, "currency": "CNY"},
                    {"account": "platform:fee_revenue", "amount_minor": -500, "currency": "USD"},
                ]
            ),
            UnbalancedEntryError,
        ),
        (_with(effective_at="2026-11-11T00:00:00"), NaiveDatetimeError),
        (
            _with(
                postings=[
                    {"account": "platform:cash", "amount_minor": 5.0},
                    {"account": "platform:fee_revenue", "amount_minor": -5},
                ]
            ),
            InvalidAmountError,
        ),
        (
            _with(
                postings=[
                    {"account": "platform:petty", "amount_minor": 5},
                    {"account": "platform:fee_revenue", "amount_minor": -5},
                ]
            ),
            InvalidAccountCodeError,
        ),
        (_with(postings=[]), EntryShapeError),
    ],
    ids=[
        "unbalanced",
        "mixed-currencies",
        "naive-datetime",
        "float-amount",
        "unknown-account",
        "empty",
    ],
)
def test_bad_input_raises_its_typed_error_and_changes_nothing(
    engine: Engine, book_code: str, payload: dict[str, Any], error: type[CpsLedgerError]
) -> None:
    apply_book(engine, BookDefinition(code=book_code))
    before = row_counts(engine)
    with pytest.raises(error):
        list(post_commands(engine, [PostEntry.model_validate({**payload, "book": book_code})]))
    assert row_counts(engine) == before


def test_an_unknown_account_type_is_a_typed_error() -> None:
    with pytest.raises(UnknownAccountTypeError) as caught:
        AccountType.parse("equityish")
    assert caught.value.account_type == "equityish"


def test_a_good_command_posts(engine: Engine, book_code: str) -> None:
    apply_book(engine, BookDefinition(code=book_code))
    (posted,) = post_commands(engine, [PostEntry.model_validate({**GOOD, "book": book_code})])
    assert not posted.replayed
