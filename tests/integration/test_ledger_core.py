"""The double-entry core on SQLite, PostgreSQL and MariaDB (one parametrised suite)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from cps_ledger.adapters import journal as journal_module
from cps_ledger.adapters.journal import Journal
from cps_ledger.adapters.schema import current_revision, head_revision, metadata
from cps_ledger.adapters.tables import PostingRow, table
from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.ids import uuid7
from cps_ledger.errors import (
    CurrencyMismatchError,
    IdempotencyConflictError,
    UnknownBookError,
)
from cps_ledger.services.audit import audit
from cps_ledger.services.books import apply_book
from cps_ledger.services.ledger import account_balance, post_entries, post_entry, trial_balance
from cps_ledger.services.uow import UnitOfWork

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"

T0 = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


def sale(book: str, key: str, promoter: str, amount: int, at: datetime = T0) -> Entry:
    fee = amount // 10
    return Entry(
        book=book,
        key=key,
        kind="test",
        effective_at=at,
        postings=(
            Posting("merchant:m1:receivable:estimated", amount, "CNY"),
            Posting(f"promoter:{promoter}:estimated", -(amount - fee), "CNY"),
            Posting("platform:fee:estimated", -fee, "CNY"),
        ),
    )


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for name, t in metadata.tables.items()
        }


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    apply_book(engine, BookDefinition(code=book_code))
    return book_code


def test_the_database_is_migrated_to_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine) == "0003"


def test_a_posted_entry_moves_every_balance_it_names(engine: Engine, book: str) -> None:
    posted = post_entry(engine, sale(book, "k1", "p1", 1000))
    assert not posted.replayed
    assert account_balance(engine, book, "merchant:m1:receivable:estimated").balance_minor == 1000
    assert account_balance(engine, book, "promoter:p1:estimated").balance_minor == 900
    assert account_balance(engine, book, "platform:fee:estimated").balance_minor == 100


def test_an_account_never_posted_to_has_a_zero_balance(engine: Engine, book: str) -> None:
    assert account_balance(engine, book, "promoter:nobody:available").balance_minor == 0


def test_a_replay_with_the_same_payload_returns_the_original_and_writes_nothing(
    engine: Engine, book: str
) -> None:
    first = post_entry(engine, sale(book, "k1", "p1", 1000))
    before = row_counts(engine)
    again = post_entry(engine, sale(book, "k1", "p1", 1000))
    assert again.replayed
    assert again.entry_id == first.entry_id
    assert row_counts(engine) == before
    assert account_balance(engine, book, "promoter:p1:estimated").balance_minor == 900


def test_a_replay_with_another_payload_is_a_conflict(engine: Engine, book: str) -> None:
    post_entry(engine, sale(book, "k1", "p1", 1000))
    before = row_counts(engine)
    with pytest.raises(IdempotencyConflictError) as caught:
        post_entry(engine, sale(book, "k1", "p1", 1001))
    assert caught.value.key == "k1"
    assert row_counts(engine) == before


def test_a_batch_is_written_in_one_transaction_and_a_conflict_writes_none_of_it(
    engine: Engine, book: str
) -> None:
    post_entry(engine, sale(book, "k0", "p1", 1000))
    before = row_counts(engine)
    batch = [sale(book, f"k{i}", "p2", 100) for i in range(1, 50)] + [sale(book, "k0", "p1", 5)]
    with pytest.raises(IdempotencyConflictError):
        list(post_entries(engine, batch))
    assert row_counts(engine) == before
    results = list(post_entries(engine, batch[:-1]))
    assert [r.replayed for r in results] == [False] * 49
    assert account_balance(engine, book, "promoter:p2:estimated").balance_minor == 49 * 90


def test_the_same_key_twice_in_one_batch_is_a_replay_of_the_first(
    engine: Engine, book: str
) -> None:
    results = list(post_entries(engine, [sale(book, "k1", "p1", 10), sale(book, "k1", "p1", 10)]))
    assert [r.replayed for r in results] == [False, True]
    assert results[0].entry_id == results[1].entry_id
    assert account_balance(engine, book, "promoter:p1:estimated").balance_minor == 9


def test_balances_as_of_a_time_count_only_entries_effective_by_then(
    engine: Engine, book: str
) -> None:
    post_entry(engine, sale(book, "k1", "p1", 1000, T0))
    post_entry(engine, sale(book, "k2", "p1", 2000, T0 + timedelta(days=1)))
    acct = "promoter:p1:estimated"
    assert account_balance(engine, book, acct, as_of=T0 - timedelta(seconds=1)).balance_minor == 0
    assert account_balance(engine, book, acct, as_of=T0).balance_minor == 900
    assert account_balance(engine, book, acct, as_of=T0 + timedelta(days=2)).balance_minor == 2700
    assert account_balance(engine, book, acct).balance_minor == 2700


def test_the_trial_balance_columns_are_equal(engine: Engine, book: str) -> None:
    list(post_entries(engine, [sale(book, f"k{i}", f"p{i % 3}", 100 + i) for i in range(30)]))
    tb = trial_balance(engine, book)
    assert tb.total_debit_minor == tb.total_credit_minor == sum(100 + i for i in range(30))
    line = next(a for a in tb.accounts if a.account == "platform:fee:estimated")
    assert line.type == "liability"
    assert line.credit_minor == line.balance_minor > 0


def tamper(engine: Engine, statement: str, **params: object) -> None:
    """Damage the stored books behind the library's back, as a bug or a hand would."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_audit_passes_on_a_sound_book(engine: Engine, book: str) -> None:
    list(post_entries(engine, [sale(book, f"k{i}", "p1", 100) for i in range(10)]))
    report = audit(engine, book)
    assert report.ok, report.failed()
    # docs/cli.md lists every check by name, in order: users' scripts match on them.
    section = CLI_MD.read_text(encoding="utf-8").split("## `audit --book B`")[1].split("```")[0]
    documented = re.findall(r"`([a-z_]+)`", section.split("with checks")[1])
    assert [c.name for c in report.checks] == documented


def test_audit_catches_a_balance_counter_that_disagrees_with_the_postings(
    engine: Engine, book: str
) -> None:
    post_entry(engine, sale(book, "k1", "p1", 100))
    tamper(
        engine,
        "UPDATE account_balances SET balance_minor = balance_minor + 1 WHERE book = :b",
        b=book,
    )
    report = audit(engine, book)
    assert not report.ok
    assert [c.name for c in report.failed()] == ["balances_equal_postings"]


def test_posting_to_an_unknown_book_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownBookError):
        post_entry(engine, sale("nobook", "k1", "p1", 100))


def test_posting_in_another_currency_than_the_books_is_refused(engine: Engine, book: str) -> None:
    before = row_counts(engine)
    usd = Entry(
        book=book,
        key="k1",
        kind="test",
        effective_at=T0,
        postings=(Posting("platform:cash", 5, "USD"), Posting("platform:fee_revenue", -5, "USD")),
    )
    with pytest.raises(CurrencyMismatchError):
        post_entry(engine, usd)
    assert row_counts(engine) == before


@pytest.mark.parametrize("table", ["journal_entries", "postings", "idempotency_keys"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET book = book", "DELETE FROM {t}"])
def test_the_journal_refuses_update_and_delete(
    engine: Engine, book: str, table: str, statement: str
) -> None:
    post_entry(engine, sale(book, "k1", "p1", 100))
    before = row_counts(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement.format(t=table) + " WHERE book = :b"), {"b": book})
    assert row_counts(engine) == before


def test_an_account_opened_by_a_rolled_back_transaction_is_opened_again(
    engine: Engine, book: str
) -> None:
    with UnitOfWork(engine) as uow:
        Journal(uow.conn, book).append([sale(book, "k1", "p9", 100)], [])
        # no commit: leaving the block rolls the account row back with everything else
    post_entry(engine, sale(book, "k2", "p9", 100))
    assert audit(engine, book).ok
    assert "promoter:p9:estimated" in {a.account for a in trial_balance(engine, book).accounts}


def test_the_trial_balance_as_of_an_instant_keeps_a_posting_whose_account_row_is_gone(
    engine: Engine, book: str
) -> None:
    post_entry(engine, sale(book, "k1", "p1", 1000))
    tamper(
        engine,
        "DELETE FROM accounts WHERE book = :b AND code = :c",
        b=book,
        c="promoter:p1:estimated",
    )
    tb = trial_balance(engine, book, as_of=T0)
    line = next(a for a in tb.accounts if a.account == "promoter:p1:estimated")
    assert (line.type, line.credit_minor, line.balance_minor) == ("liability", 900, 900)
    assert tb.total_debit_minor == tb.total_credit_minor == 1000
    # The damage itself is audit's to report.
    assert "no_orphan_postings" in {c.name for c in audit(engine, book).failed()}


def test_audit_catches_a_posting_whose_entry_does_not_exist(engine: Engine, book: str) -> None:
    post_entry(engine, sale(book, "k1", "p1", 100))
    with engine.begin() as conn:
        conn.execute(
            insert(table(PostingRow)).values(
                book=book,
                entry_id=uuid7(),
                seq=0,
                account="platform:cash",
                currency="CNY",
                amount_minor=5,
                effective_at=T0,
            )
        )
    failed = {c.name for c in audit(engine, book).failed()}
    assert "no_orphan_postings" in failed


def test_forgetting_known_accounts_past_the_limit_changes_no_balance(
    engine: Engine, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "KNOWN_ACCOUNTS_MAX", 1)
    list(post_entries(engine, [sale(book, f"k{i}", f"p{i % 4}", 100) for i in range(8)]))
    list(post_entries(engine, [sale(book, "k9", "p1", 100)]))
    assert account_balance(engine, book, "promoter:p1:estimated").balance_minor == 3 * 90
    assert audit(engine, book).ok


def test_a_promoters_balance_stays_on_its_writers_shard_while_hot_accounts_spread(
    engine: Engine, book: str
) -> None:
    for n in range(24):  # 24 transactions of one thread
        post_entry(engine, sale(book, f"shard-{n}", "p1", 1000 + n))
    balances = journal_module.BALANCES
    with engine.connect() as conn:
        # .all(): given the result itself, dict() would take its keys() for a mapping's
        shards: dict[str, int] = dict(
            conn.execute(
                select(balances.c.account, func.count())
                .where(balances.c.book == book)
                .group_by(balances.c.account)
            )
            .tuples()
            .all()
        )
    assert shards["promoter:p1:estimated"] == 1  # one writer, one counter row
    assert shards["platform:fee:estimated"] > 1  # 16 ** -23 to be wrong by chance
    assert account_balance(engine, book, "promoter:p1:estimated").balance_minor == sum(
        (1000 + n) - (1000 + n) // 10 for n in range(24)
    )
