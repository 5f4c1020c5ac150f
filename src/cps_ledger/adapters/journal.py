"""The journal on SQL: set-based writes of entries, postings, keys and balance counters."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import BigInteger, ColumnElement, Connection, cast, func, select

from cps_ledger.adapters.bulk import insert_rows
from cps_ledger.adapters.dialect import add_to_counters, id_filters, insert_missing
from cps_ledger.adapters.journal_rows import JournalRows
from cps_ledger.adapters.tables import (
    BALANCE_SHARDS,
    AccountBalanceRow,
    AccountRow,
    IdempotencyKeyRow,
    JournalEntryRow,
    PostingRow,
    table,
)
from cps_ledger.domain.accounts import account_type
from cps_ledger.domain.entries import Entry
from cps_ledger.domain.records import quick_init

ENTRIES = table(JournalEntryRow)
POSTINGS = table(PostingRow)
KEYS = table(IdempotencyKeyRow)
ACCOUNTS = table(AccountRow)
BALANCES = table(AccountBalanceRow)


@quick_init
@dataclass(frozen=True, slots=True)
class StoredKey:
    """An idempotency key as stored: the payload's digest and the original result."""

    digest: str
    result_json: str


@quick_init
@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key to store with the entries of the command that used it."""

    key: str
    digest: str
    result_json: str


PROMOTER_PREFIX: Final = "promoter:"
_writer = threading.local()


def writer_shard() -> int:
    """The counter shard this thread writes its promoters' balances to, chosen once.

    Per thread and per process (a forked child chooses again), so concurrent writers
    still spread over the shards.
    """
    pid = os.getpid()
    if getattr(_writer, "pid", None) != pid:
        _writer.pid = pid
        _writer.shard = random.randrange(BALANCE_SHARDS)
    return int(_writer.shard)


KNOWN_ACCOUNTS_MAX: Final = 50_000
"""Accounts remembered as existing per database before the memory is cleared."""
_OPENED = "cps_ledger_opened_accounts"
_KNOWN: dict[str, set[tuple[str, str]]] = {}
"""Accounts known to exist, per database: accounts are never deleted, so once an insert of
one has committed, later batches need not insert it again."""


def _known_accounts(conn: Connection) -> set[tuple[str, str]]:
    return _KNOWN.setdefault(conn.engine.url.render_as_string(hide_password=True), set())


def remember_committed(conn: Connection) -> None:
    """Call after a successful commit: the accounts that transaction opened now exist.

    Only after the commit: an account remembered from a transaction that then rolled back
    would never be inserted again, and its postings would have no account row.
    """
    opened = conn.info.pop(_OPENED, None)
    if opened:
        known = _known_accounts(conn)
        if len(known) + len(opened) > KNOWN_ACCOUNTS_MAX:
            # Forgetting is always safe (the insert skips existing rows); it keeps a long
            # run over hundreds of thousands of promoters at a flat memory.
            known.clear()
        known.update(opened)


def forget_uncommitted(conn: Connection) -> None:
    """Call after a rollback: nothing that transaction opened is known to exist."""
    conn.info.pop(_OPENED, None)


def take_opened(conn: Connection) -> set[tuple[str, str]]:
    """The accounts that rows built on ``conn`` open, taken off it: another connection's
    transaction writes them (SQLite's writer thread, services/ingest_sqlite.py)."""
    opened: set[tuple[str, str]] = conn.info.pop(_OPENED, set())
    return opened


def give_opened(conn: Connection, opened: set[tuple[str, str]]) -> None:
    """Let ``conn``'s transaction, which writes rows built elsewhere, open ``opened``:
    :func:`remember_committed` makes them known once it has committed."""
    if opened:
        conn.info.setdefault(_OPENED, set()).update(opened)


class Journal:
    """Reads and writes one book's journal on one connection (one transaction)."""

    def __init__(self, conn: Connection, book: str) -> None:
        self.conn = conn
        self.book = book

    def stored_keys(self, keys: Iterable[str]) -> dict[str, StoredKey]:
        """The already-stored keys among ``keys``: one query per 500 keys, not one per key."""
        found: dict[str, StoredKey] = {}
        for among in id_filters(self.conn, KEYS.c.key, keys):
            rows = self.conn.execute(
                select(KEYS.c.key, KEYS.c.digest, KEYS.c.result_json).where(
                    KEYS.c.book == self.book, among
                )
            ).all()
            for key, digest, result_json in rows:
                found[key] = StoredKey(digest, result_json)
        return found

    def append(self, entries: Sequence[Entry], keys: Sequence[KeyRecord]) -> None:
        """Write entries, their postings, the keys and the balance counters, set-based.

        One bulk statement per table, whatever the number of entries.
        """
        rows = JournalRows(self.book, datetime.now(UTC))
        for entry in entries:
            rows.add_entry(entry)
        for k in keys:
            rows.add_key(k.key, k.digest, k.result_json)
        self.write(rows)

    def write(self, rows: JournalRows) -> None:
        """Write rows built with :class:`JournalRows` (see :meth:`append`)."""
        if rows.book != self.book:
            raise AssertionError(f"rows of book {rows.book!r} in journal of {self.book!r}")
        book = self.book
        insert_rows(self.conn, KEYS, rows.keys)
        if not rows.entries:
            return
        self._open_accounts(sorted(rows.amounts))
        insert_rows(self.conn, ENTRIES, rows.entries)
        insert_rows(self.conn, POSTINGS, rows.postings)
        # Hot accounts (the platform's, merchants') take one random shard per transaction:
        # concurrent writers mostly land on different counter rows instead of queueing on
        # one. A promoter's accounts take this thread's own shard: the rare writer it
        # meets waits a moment, and a promoter's balance stays one or two rows instead of
        # up to 16, which a trial balance of 100,000 promoters has to add up.
        shard = random.randrange(BALANCE_SHARDS)
        mine = writer_shard()
        add_to_counters(
            self.conn,
            BALANCES,
            [
                {
                    "book": book,
                    "account": account,
                    "shard": mine if account.startswith(PROMOTER_PREFIX) else shard,
                    "balance_minor": amount,
                    "postings": rows.counts[account, currency],
                }
                for (account, currency), amount in rows.amounts.items()
            ],
            key=("book", "account", "shard"),
            increments=("balance_minor", "postings"),
        )

    def _open_accounts(self, touched: Sequence[tuple[str, str]]) -> None:
        """Insert the account rows of ``touched`` (account, currency) not known to exist."""
        book = self.book
        known = _known_accounts(self.conn)
        opened = [
            (account, currency) for account, currency in touched if (book, account) not in known
        ]
        insert_missing(
            self.conn,
            ACCOUNTS,
            [
                {
                    "book": book,
                    "code": account,
                    "type": account_type(account).value,
                    "currency": currency,
                }
                for account, currency in opened
            ],
        )
        self.conn.info.setdefault(_OPENED, set()).update((book, account) for account, _ in opened)

    def balance(self, account: str, as_of: datetime | None = None) -> int:
        """Signed (debit-positive) balance: from the counters now, from postings as of a time."""
        if as_of is None:
            total = self.conn.execute(
                select(func.coalesce(func.sum(BALANCES.c.balance_minor), 0)).where(
                    BALANCES.c.book == self.book, BALANCES.c.account == account
                )
            ).scalar_one()
        else:
            total = self.conn.execute(
                select(func.coalesce(func.sum(POSTINGS.c.amount_minor), 0)).where(
                    POSTINGS.c.book == self.book,
                    POSTINGS.c.account == account,
                    POSTINGS.c.effective_at <= as_of,
                )
            ).scalar_one()
        return int(total)

    def balances_as_of(self, accounts: Sequence[str], as_of: datetime) -> dict[str, int]:
        """Signed balances of several accounts as of an instant, from postings, one query."""
        result = dict.fromkeys(accounts, 0)
        rows = self.conn.execute(
            select(POSTINGS.c.account, func.sum(POSTINGS.c.amount_minor))
            .where(
                POSTINGS.c.book == self.book,
                POSTINGS.c.account.in_(list(accounts)),
                POSTINGS.c.effective_at <= as_of,
            )
            .group_by(POSTINGS.c.account)
        )
        for account, total in rows:
            result[account] = int(total)
        return result

    def balances(self, accounts: Sequence[str]) -> dict[str, int]:
        """Current signed balances of several accounts in one query; absent ones are 0."""
        result = dict.fromkeys(accounts, 0)
        rows = self.conn.execute(
            select(BALANCES.c.account, func.sum(BALANCES.c.balance_minor))
            .where(BALANCES.c.book == self.book, BALANCES.c.account.in_(list(accounts)))
            .group_by(BALANCES.c.account)
        )
        for account, total in rows:
            result[account] = int(total)
        return result

    def account_totals(self, as_of: datetime | None = None) -> list[tuple[str, str, str, int]]:
        """(account, type, currency, signed balance) for every account of the book, by code.

        The type is the one stored when the account was opened, and the sum comes back as a
        BIGINT: a trial balance reads 100,000 rows, where parsing each code and converting
        each NUMERIC sum to a ``Decimal`` cost more than the query (docs/performance.md,
        finding 20). A balance past BIGINT is an error from the server, never a wrong sum.
        """
        total: ColumnElement[Any]
        if as_of is None:
            code, currency = ACCOUNTS.c.code, ACCOUNTS.c.currency
            total = func.coalesce(func.sum(BALANCES.c.balance_minor), 0)
            source = ACCOUNTS.outerjoin(
                BALANCES,
                (BALANCES.c.book == ACCOUNTS.c.book) & (BALANCES.c.account == ACCOUNTS.c.code),
            )
            where = ACCOUNTS.c.book == self.book
        else:
            # From the postings, so a posting is never dropped for want of its account row.
            code, currency = POSTINGS.c.account, POSTINGS.c.currency
            total = func.sum(POSTINGS.c.amount_minor)
            source = POSTINGS.outerjoin(
                ACCOUNTS,
                (ACCOUNTS.c.book == POSTINGS.c.book) & (ACCOUNTS.c.code == POSTINGS.c.account),
            )
            where = (POSTINGS.c.book == self.book) & (POSTINGS.c.effective_at <= as_of)
        query = (
            select(code, ACCOUNTS.c.type, currency, cast(total, BigInteger))
            .select_from(source)
            .where(where)
            .group_by(code, ACCOUNTS.c.type, currency)
        )
        # Plain tuples of strings and numbers, not the result's rows: the collector stops
        # tracking such tuples, where 100,000 rows kept alive would each be walked by every
        # full collection until the trial balance is done (finding 31).
        rows: list[tuple[str, str, str, int]] = [
            (code, account_type(code).value if kind is None else kind, currency, signed)
            for code, kind, currency, signed in self.conn.execute(query).tuples()
        ]
        rows.sort(key=itemgetter(0))  # by code point, the same on every database
        return rows
