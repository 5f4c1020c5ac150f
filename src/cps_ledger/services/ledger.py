"""The double-entry core: post entries idempotently in batches, read balances."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Final, NamedTuple
from uuid import UUID

from sqlalchemy import Engine

from cps_ledger.adapters.journal import Journal, KeyRecord
from cps_ledger.domain.accounts import AccountType, account_type, to_normal
from cps_ledger.domain.commands import PostEntry
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.periods import require_aware
from cps_ledger.errors import CurrencyMismatchError, IdempotencyConflictError
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

ENTRIES_PER_TRANSACTION: Final = 1000


@dataclass(frozen=True, slots=True)
class Posted:
    """The outcome of posting one entry: its id, and whether it was a replay."""

    key: str
    entry_id: UUID
    replayed: bool


def entry_digest(entry: Entry) -> str:
    """What "the same payload" means for a raw entry: everything but its generated id."""
    payload = {
        "book": entry.book,
        "kind": entry.kind,
        "effective_at": entry.effective_at.isoformat(),
        "memo": entry.memo,
        "postings": [[p.account, p.currency, p.amount_minor] for p in entry.postings],
    }
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()


def post_entries(
    engine: Engine, entries: Iterable[Entry], *, batch_size: int = ENTRIES_PER_TRANSACTION
) -> Iterator[Posted]:
    """Post entries in transactions of ``batch_size``, streaming results.

    Inside a batch everything is all-or-nothing: a conflict or a bad entry raises before
    anything of that batch is written. A replayed key returns the original entry id.
    """
    it = iter(entries)
    while batch := list(islice(it, batch_size)):

        def work(uow: UnitOfWork, batch: list[Entry] = batch) -> list[Posted]:
            return _post_batch(uow, batch)

        yield from transact(engine, work)


def _post_batch(uow: UnitOfWork, batch: Sequence[Entry]) -> list[Posted]:
    results: list[Posted] = []
    by_book: dict[str, list[Entry]] = {}
    for entry in batch:
        by_book.setdefault(entry.book, []).append(entry)
    for book_code, entries in by_book.items():
        book = load_book(uow.conn, book_code)
        journal = Journal(uow.conn, book_code)
        stored = journal.stored_keys(e.key for e in entries)
        fresh: dict[str, tuple[Entry, str]] = {}
        for entry in entries:
            for p in entry.postings:
                if p.currency != book.currency:
                    raise CurrencyMismatchError(
                        book=book_code, expected=book.currency, got=p.currency
                    )
            digest = entry_digest(entry)
            if entry.key in stored or entry.key in fresh:
                original_digest, original_id = (
                    (
                        stored[entry.key].digest,
                        UUID(json.loads(stored[entry.key].result_json)["entry_id"]),
                    )
                    if entry.key in stored
                    else (fresh[entry.key][1], fresh[entry.key][0].id)
                )
                if original_digest != digest:
                    raise IdempotencyConflictError(book=book_code, key=entry.key)
                results.append(Posted(entry.key, original_id, replayed=True))
                continue
            fresh[entry.key] = (entry, digest)
            results.append(Posted(entry.key, entry.id, replayed=False))
        journal.append(
            [e for e, _ in fresh.values()],
            [KeyRecord(k, d, json.dumps({"entry_id": str(e.id)})) for k, (e, d) in fresh.items()],
        )
    uow.commit()
    return results


def post_commands(engine: Engine, commands: Iterable[PostEntry]) -> Iterator[Posted]:
    """Post generic :class:`PostEntry` commands; a posting without currency uses the book's."""
    currencies: dict[str, str] = {}

    def currency_of(book: str) -> str:
        if book not in currencies:
            currencies[book] = transact(
                engine, lambda uow: load_book(uow.conn, book).currency, point_read=True
            )
        return currencies[book]

    def to_entry(cmd: PostEntry) -> Entry:
        postings = tuple(
            Posting(p.account, p.amount_minor, p.currency or currency_of(cmd.book))
            for p in cmd.postings
        )
        return Entry(
            book=cmd.book,
            key=cmd.key,
            kind=cmd.kind,
            effective_at=cmd.effective_at,
            postings=postings,
            memo=cmd.memo,
        )

    return post_entries(engine, (to_entry(cmd) for cmd in commands))


def post_entry(engine: Engine, entry: Entry) -> Posted:
    """Post one entry: a batch of one."""
    return next(post_entries(engine, [entry]))


class TrialBalanceLine(NamedTuple):
    """One account's balance, in its debit or its credit column and in its normal direction.

    A named tuple (immutable, as beancount's directives): a trial balance builds 100,000 of
    them, and a frozen dataclass cost five times as much to construct (finding 20).
    """

    account: str
    type: str
    currency: str
    debit_minor: int
    credit_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Every account of a book; the two column totals are always equal."""

    book: str
    accounts: tuple[TrialBalanceLine, ...]
    total_debit_minor: int
    total_credit_minor: int

    def by_account(self) -> dict[str, int]:
        """Signed (debit-positive) balance of each account with a non-zero balance."""
        return {
            line.account: line.debit_minor - line.credit_minor
            for line in self.accounts
            if line.debit_minor or line.credit_minor
        }


_NORMAL_SIGN: Final = {kind.value: kind.normal_sign for kind in AccountType}


def trial_balance(engine: Engine, book: str, *, as_of: datetime | None = None) -> TrialBalance:
    """The trial balance of ``book`` now, or as of an instant (by effective time)."""
    if as_of is not None:
        as_of = require_aware(as_of, field="as_of")

    def work(uow: UnitOfWork) -> TrialBalance:
        load_book(uow.conn, book)
        lines = []
        debits = credits = 0
        for account, kind, currency, signed in Journal(uow.conn, book).account_totals(as_of):
            debit, credit = (signed, 0) if signed >= 0 else (0, -signed)
            debits += debit
            credits += credit
            lines.append(
                TrialBalanceLine(
                    account, kind, currency, debit, credit, signed * _NORMAL_SIGN[kind]
                )
            )
        return TrialBalance(
            book=book,
            accounts=tuple(lines),
            total_debit_minor=debits,
            total_credit_minor=credits,
        )

    return transact(engine, work, read_only=True)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balance in its normal direction."""

    account: str
    currency: str
    balance_minor: int


def account_balance(
    engine: Engine, book: str, account: str, *, as_of: datetime | None = None
) -> AccountBalance:
    """Balance of ``account`` (normal direction) now or as of an instant; 0 if never posted."""
    kind: AccountType = account_type(account)
    if as_of is not None:
        as_of = require_aware(as_of, field="as_of")

    def work(uow: UnitOfWork) -> AccountBalance:
        currency = load_book(uow.conn, book).currency
        signed = Journal(uow.conn, book).balance(account, as_of)
        return AccountBalance(account, currency, to_normal(kind, signed))

    return transact(engine, work, point_read=True)
