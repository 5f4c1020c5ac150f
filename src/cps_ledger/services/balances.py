"""A promoter's four balances (DESIGN §6 ``balance --promoter``), in the normal direction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from cps_ledger.adapters.journal import Journal
from cps_ledger.domain.accounts import (
    PROMOTER_BUCKETS,
    AccountType,
    account_type,
    promoter_account,
    to_normal,
)
from cps_ledger.domain.periods import require_aware
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact


@dataclass(frozen=True, slots=True)
class PromoterBalances:
    """Estimated, confirmed, available and payout_pending, in minor units (liabilities)."""

    promoter: str
    estimated: int
    confirmed: int
    available: int
    payout_pending: int


def promoter_balances(
    engine: Engine, book: str, promoter: str, *, as_of: datetime | None = None
) -> PromoterBalances:
    """A promoter's balances now (balance counters) or as of an instant (postings).

    A promoter never posted to has four zeros, as an account never posted to has 0.
    """
    accounts = [promoter_account(promoter, bucket) for bucket in PROMOTER_BUCKETS]
    account_type(accounts[0])  # refuses an id that cannot be part of an account code
    if as_of is not None:
        as_of = require_aware(as_of, field="as_of")

    def work(uow: UnitOfWork) -> PromoterBalances:
        journal = Journal(uow.conn, book)
        if as_of is None:
            signed = journal.balances(accounts)
        else:
            signed = journal.balances_as_of(accounts, as_of)
        if not any(signed.values()):
            # An unknown book is an error, not four zeros. Asked only now: a promoter with
            # money (the usual case) proves the book exists, and saves a round trip.
            load_book(uow.conn, book)
        normal = [to_normal(AccountType.LIABILITY, signed[a]) for a in accounts]
        return PromoterBalances(promoter, *normal)

    return transact(engine, work, point_read=True)
