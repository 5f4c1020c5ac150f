"""Payouts (DESIGN §4, §6): request, then complete or fail, each step idempotent.

A request moves money from ``available`` to ``payout_pending`` after checking the balance
under a lock on that one promoter's row (DESIGN §7), so concurrent requests of one promoter
queue while every other promoter goes on. Completion pays out to ``platform:cash`` less the
tax the book's withholding policy keeps in ``platform:tax_payable``; failure gives the money
back to ``available``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert, select, update

from cps_ledger.adapters import cps_repo
from cps_ledger.adapters.cps_tables import PayoutRow
from cps_ledger.adapters.journal import Journal, KeyRecord
from cps_ledger.adapters.tables import table
from cps_ledger.domain.accounts import (
    PLATFORM_CASH,
    PLATFORM_TAX_PAYABLE,
    AccountType,
    promoter_account,
    to_normal,
)
from cps_ledger.domain.books import Book
from cps_ledger.domain.canonical import sha256_of
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.domain.entries import Entry, Posting, compact
from cps_ledger.domain.tax import withholding_policy
from cps_ledger.errors import (
    IdempotencyConflictError,
    InsufficientAvailableError,
    PayoutBelowMinimumError,
    PayoutStateError,
    UnknownPayoutError,
    UnknownPromoterError,
)
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

PAYOUTS = table(PayoutRow)
PENDING: Final = "pending"
COMPLETED: Final = "completed"
FAILED: Final = "failed"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """Where a payout stands after a step, and whether the step was a replay."""

    request_id: str
    promoter: str
    state: str
    amount_minor: int
    tax_minor: int
    replayed: bool


def request_payout(engine: Engine, cmd: RequestPayout) -> PayoutResult:
    """Move ``cmd.amount_minor`` from the promoter's available balance to payout_pending.

    Checked in this order: idempotency (a replay returns the original result even if it
    would now be refused), promoter registered, the book's minimum, the available balance.
    """

    def work(uow: UnitOfWork) -> PayoutResult:
        book = load_book(uow.conn, cmd.book)
        journal = Journal(uow.conn, cmd.book)
        digest = sha256_of(cmd.payload()).hex()
        # The promoter's lock comes before the key is read: a concurrent request with the same
        # id has then committed, and this one is its replay rather than a balance refusal.
        promoter = cps_repo.lock_promoter(uow.conn, cmd.book, cmd.promoter)
        if (stored := journal.stored_keys([cmd.key]).get(cmd.key)) is not None:
            if stored.digest != digest:
                raise IdempotencyConflictError(book=cmd.book, key=cmd.key)
            return replace(_result_of(stored.result_json), replayed=True)
        if promoter is None:
            raise UnknownPromoterError(book=cmd.book, promoter=cmd.promoter)
        if cmd.amount_minor < book.payout_minimum_minor:
            raise PayoutBelowMinimumError(
                amount_minor=cmd.amount_minor, minimum_minor=book.payout_minimum_minor
            )
        available_account = promoter_account(cmd.promoter, "available")
        # Read under the promoter's lock: READ COMMITTED sees every payout committed before.
        available = to_normal(AccountType.LIABILITY, journal.balance(available_account))
        if cmd.amount_minor > available:
            raise InsufficientAvailableError(
                promoter=cmd.promoter, amount_minor=cmd.amount_minor, available_minor=available
            )
        result = PayoutResult(cmd.request_id, cmd.promoter, PENDING, cmd.amount_minor, 0, False)
        entry = _entry(
            book,
            cmd.key,
            "payout_requested",
            cmd.at,
            (
                (available_account, cmd.amount_minor),
                (promoter_account(cmd.promoter, "payout_pending"), -cmd.amount_minor),
            ),
        )
        journal.append([entry], [KeyRecord(cmd.key, digest, _result_json(result))])
        uow.conn.execute(
            insert(PAYOUTS).values(
                book=cmd.book,
                request_id=cmd.request_id,
                promoter=cmd.promoter,
                amount_minor=cmd.amount_minor,
                tax_minor=0,
                state=PENDING,
                requested_at=cmd.at,
                resolved_at=None,
                details_json=json.dumps({"entry_id": str(entry.id)}),
            )
        )
        uow.commit()
        return result

    return transact(engine, work)


def complete_payout(engine: Engine, cmd: CompletePayout) -> PayoutResult:
    """The payout was paid: payout_pending -> cash, less the tax withheld -> tax payable."""
    return transact(engine, lambda uow: _resolve(uow, cmd, COMPLETED))


def fail_payout(engine: Engine, cmd: FailPayout) -> PayoutResult:
    """The payout could not be paid: payout_pending -> available."""
    return transact(engine, lambda uow: _resolve(uow, cmd, FAILED))


def _resolve(uow: UnitOfWork, cmd: CompletePayout | FailPayout, target: str) -> PayoutResult:
    book = load_book(uow.conn, cmd.book)
    row = _lock_payout(uow.conn, cmd.book, cmd.request_id)
    if row is None:
        raise UnknownPayoutError(book=cmd.book, request_id=cmd.request_id)
    current = PayoutResult(
        row.request_id, row.promoter, row.state, row.amount_minor, row.tax_minor, False
    )
    if row.state == target:
        return replace(current, replayed=True)
    if row.state != PENDING:
        action = "complete" if target == COMPLETED else "fail"
        raise PayoutStateError(request_id=cmd.request_id, state=row.state, action=action)
    amount = row.amount_minor
    pending = promoter_account(row.promoter, "payout_pending")
    legs: tuple[tuple[str, int], ...]
    if target == COMPLETED:
        tax = withholding_policy(book.withholding).tax_minor(amount)
        legs = ((pending, amount), (PLATFORM_CASH, -(amount - tax)), (PLATFORM_TAX_PAYABLE, -tax))
        kind = "payout_completed"
    else:
        tax = 0
        legs = ((pending, amount), (promoter_account(row.promoter, "available"), -amount))
        kind = "payout_failed"
    result = replace(current, state=target, tax_minor=tax)
    entry = _entry(book, cmd.key, kind, cmd.at, legs)
    digest = sha256_of(cmd.payload()).hex()
    Journal(uow.conn, cmd.book).append([entry], [KeyRecord(cmd.key, digest, _result_json(result))])
    uow.conn.execute(
        update(PAYOUTS)
        .where(PAYOUTS.c.book == cmd.book, PAYOUTS.c.request_id == cmd.request_id)
        .values(state=target, tax_minor=tax, resolved_at=cmd.at)
    )
    uow.commit()
    return result


def _lock_payout(conn: Connection, book: str, request_id: str) -> Any:
    """The payout row, locked FOR UPDATE so two resolutions of one payout queue."""
    return conn.execute(
        select(PAYOUTS)
        .where(PAYOUTS.c.book == book, PAYOUTS.c.request_id == request_id)
        .with_for_update()
    ).first()


def _entry(
    book: Book, key: str, kind: str, at: datetime, legs: tuple[tuple[str, int], ...]
) -> Entry:
    # compact drops a zero tax leg: a payout without withholding has two postings.
    postings = compact(Posting(account, amount, book.currency) for account, amount in legs)
    return Entry(book=book.code, key=key, kind=kind, effective_at=at, postings=postings)


def _result_json(result: PayoutResult) -> str:
    return json.dumps(asdict(result))


def _result_of(text: str) -> PayoutResult:
    return PayoutResult(**json.loads(text))
