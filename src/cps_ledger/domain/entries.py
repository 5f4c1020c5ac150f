"""Journal entries: immutable postings that must balance per currency to exist at all."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cps_ledger.domain.accounts import account_type
from cps_ledger.domain.ids import uuid7
from cps_ledger.domain.money import AMOUNT_MAX_MINOR, require_amount
from cps_ledger.domain.periods import require_aware
from cps_ledger.domain.records import quick_init
from cps_ledger.errors import EntryShapeError, UnbalancedEntryError

POSTINGS_PER_ENTRY_MIN: Final = 2
POSTINGS_PER_ENTRY_MAX: Final = 256
"""An order of many lines posts four legs a line; 256 covers 60+ lines per order."""
KEY_LENGTH_MAX: Final = 200


@quick_init
@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of an entry: debit positive, credit negative, in minor units."""

    account: str
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        account_type(self.account)  # refuses codes outside the chart
        # Every posting passes here, so the common case is two cheap comparisons.
        if type(self.amount_minor) is not int or abs(self.amount_minor) > AMOUNT_MAX_MINOR:
            require_amount(self.amount_minor, field="amount_minor")
            require_amount(abs(self.amount_minor), field="amount_minor")


def check_balanced(postings: Sequence[Posting]) -> None:
    """Raise unless there are 2..max postings summing to zero in every currency."""
    if not POSTINGS_PER_ENTRY_MIN <= len(postings) <= POSTINGS_PER_ENTRY_MAX:
        raise EntryShapeError(
            count=len(postings), minimum=POSTINGS_PER_ENTRY_MIN, maximum=POSTINGS_PER_ENTRY_MAX
        )
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount_minor
    if any(totals.values()):
        for currency, total in sorted(totals.items()):
            if total != 0:
                raise UnbalancedEntryError(currency=currency, imbalance_minor=total)


def check_legs(legs: Sequence[tuple[str, int]], currency: str, effective_at: datetime) -> datetime:
    """Raise what making the :class:`Posting` objects and the :class:`Entry` of these legs
    (account, signed amount) in one currency would raise, in the same order; return the
    entry's time in UTC. For a flow that makes rows, not objects."""
    total = 0
    for account, amount in legs:
        account_type(account)
        if type(amount) is not int or abs(amount) > AMOUNT_MAX_MINOR:
            require_amount(amount, field="amount_minor")
            require_amount(abs(amount), field="amount_minor")
        total += amount
    at = require_aware(effective_at, field="effective_at")
    if not POSTINGS_PER_ENTRY_MIN <= len(legs) <= POSTINGS_PER_ENTRY_MAX:
        raise EntryShapeError(
            count=len(legs), minimum=POSTINGS_PER_ENTRY_MIN, maximum=POSTINGS_PER_ENTRY_MAX
        )
    if total != 0:
        raise UnbalancedEntryError(currency=currency, imbalance_minor=total)
    return at


@quick_init
@dataclass(frozen=True, slots=True)
class Entry:
    """A balanced journal entry of one book. It cannot be constructed unbalanced."""

    book: str
    key: str
    kind: str
    effective_at: datetime
    postings: tuple[Posting, ...]
    memo: str = ""
    id: uuid.UUID = field(default_factory=uuid7)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "effective_at", require_aware(self.effective_at, field="effective_at")
        )
        check_balanced(self.postings)


def compact(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """Merge postings to the same account and currency and drop zero legs.

    Domain flows compute one leg per party; merging keeps entries small and means a party
    whose share is zero leaves no trace in the journal.
    """
    sums: dict[tuple[str, str], int] = {}
    for p in postings:
        sums[(p.account, p.currency)] = sums.get((p.account, p.currency), 0) + p.amount_minor
    return tuple(
        Posting(account, amount, currency) for (account, currency), amount in sums.items() if amount
    )
