"""Properties of the double-entry core over any sequence of posted entries (issue 3)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from cps_ledger.adapters.schema import metadata
from cps_ledger.adapters.tables import PostingRow, table
from cps_ledger.domain.accounts import account_type
from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.errors import EntryShapeError, UnbalancedEntryError
from cps_ledger.services.books import apply_book
from cps_ledger.services.ledger import account_balance, post_entries, trial_balance

POSTINGS = table(PostingRow)
T0 = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
ACCOUNTS = (
    "merchant:m1:receivable:estimated",
    "merchant:m2:receivable",
    "promoter:p1:estimated",
    "promoter:p1:available",
    "promoter:p2:confirmed",
    "platform:fee:estimated",
    "platform:fee_revenue",
    "platform:cash",
)
AMOUNT_MAX_MINOR = 10**12


@st.composite
def balanced_postings(draw: st.DrawFn) -> tuple[Posting, ...]:
    """2..6 legs summing to zero: the last leg balances the others."""
    accounts = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=2, max_size=6))
    amounts = [draw(st.integers(-AMOUNT_MAX_MINOR, AMOUNT_MAX_MINOR)) for _ in accounts[1:]]
    amounts.insert(0, -sum(amounts))
    return tuple(Posting(a, n, "CNY") for a, n in zip(accounts, amounts, strict=True))


@st.composite
def entry_specs(draw: st.DrawFn) -> list[tuple[tuple[Posting, ...], int]]:
    """Postings and minutes after T0 of up to 12 entries."""
    return draw(st.lists(st.tuples(balanced_postings(), st.integers(0, 60 * 24 * 40)), max_size=12))


def build(book: str, specs: list[tuple[tuple[Posting, ...], int]]) -> list[Entry]:
    return [
        Entry(book, f"k{i}", "test", T0 + timedelta(minutes=m), postings)
        for i, (postings, m) in enumerate(specs)
    ]


def fresh_book(engine: Engine) -> str:
    code = f"lp{secrets.token_hex(5)}"
    apply_book(engine, BookDefinition(code=code))
    return code


def sums_of_postings(engine: Engine, book: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(POSTINGS.c.account, func.sum(POSTINGS.c.amount_minor))
            .where(POSTINGS.c.book == book)
            .group_by(POSTINGS.c.account)
        )
        return {str(a): int(s) for a, s in rows if int(s) != 0}


def book_row_counts(engine: Engine, book: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(t).where(t.c.book == book)
            ).scalar_one()
            for name, t in metadata.tables.items()
            if "book" in t.c
        }


@settings(max_examples=15)
@given(specs=entry_specs())
def test_every_balance_equals_the_sum_of_its_postings_and_the_trial_balance_is_zero(
    engine: Engine, specs: list[tuple[tuple[Posting, ...], int]]
) -> None:
    book = fresh_book(engine)
    list(post_entries(engine, build(book, specs), batch_size=5))
    by_postings = sums_of_postings(engine, book)
    tb = trial_balance(engine, book)
    assert tb.by_account() == by_postings
    assert tb.total_debit_minor == tb.total_credit_minor
    assert sum(by_postings.values()) == 0
    for account in ACCOUNTS:
        kind_sign = 1 if "receivable" in account or account == "platform:cash" else -1
        assert account_balance(engine, book, account).balance_minor == kind_sign * by_postings.get(
            account, 0
        )


@settings(max_examples=15)
@given(specs=entry_specs(), minutes=st.integers(-1, 60 * 24 * 40))
def test_the_trial_balance_as_of_any_instant_is_the_sum_of_the_postings_effective_by_then(
    engine: Engine, specs: list[tuple[tuple[Posting, ...], int]], minutes: int
) -> None:
    book = fresh_book(engine)
    list(post_entries(engine, build(book, specs), batch_size=5))
    model: dict[str, int] = {}
    for postings, m in specs:
        for p in postings if m <= minutes else ():
            model[p.account] = model.get(p.account, 0) + p.amount_minor
    tb = trial_balance(engine, book, as_of=T0 + timedelta(minutes=minutes))
    # Every account with a posting by then, and only those, in code-point order.
    assert [line.account for line in tb.accounts] == sorted(model)
    for line in tb.accounts:
        signed = model[line.account]
        assert (line.debit_minor, line.credit_minor) == (max(signed, 0), max(-signed, 0))
        assert line.type == account_type(line.account).value
        assert line.balance_minor == signed * account_type(line.account).normal_sign
    assert tb.total_debit_minor == tb.total_credit_minor == sum(max(v, 0) for v in model.values())


@settings(max_examples=15)
@given(specs=entry_specs(), data=st.data())
def test_replaying_any_prefix_changes_nothing(
    engine: Engine, specs: list[tuple[tuple[Posting, ...], int]], data: st.DataObject
) -> None:
    book = fresh_book(engine)
    entries = build(book, specs)
    list(post_entries(engine, entries))
    counts, balances = book_row_counts(engine, book), trial_balance(engine, book).by_account()
    prefix = entries[: data.draw(st.integers(0, len(entries)), "prefix")]
    # Rebuilt entries get new ids: a replay is recognised by key and payload, not by id.
    again = build(book, specs[: len(prefix)])
    replayed = list(post_entries(engine, again))
    assert all(p.replayed for p in replayed)
    assert [p.entry_id for p in replayed] == [e.id for e in prefix]
    assert book_row_counts(engine, book) == counts
    assert trial_balance(engine, book).by_account() == balances


@given(postings=balanced_postings(), skew=st.integers(-AMOUNT_MAX_MINOR, AMOUNT_MAX_MINOR))
def test_no_unbalanced_entry_can_be_built(postings: tuple[Posting, ...], skew: int) -> None:
    first = postings[0]
    if skew == 0 or abs(first.amount_minor + skew) > 10**15:
        return
    skewed = (Posting(first.account, first.amount_minor + skew, "CNY"), *postings[1:])
    with pytest.raises(UnbalancedEntryError) as raised:
        Entry("b", "k", "test", T0, skewed)
    assert raised.value.imbalance_minor == skew


@given(postings=balanced_postings())
def test_an_entry_of_fewer_than_two_postings_cannot_be_built(
    postings: tuple[Posting, ...],
) -> None:
    with pytest.raises(EntryShapeError):
        Entry("b", "k", "test", T0, postings[:1])
