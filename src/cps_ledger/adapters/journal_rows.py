"""A batch's journal rows, built entry by entry as the batch is decided.

Ingest decides a thousand events before it writes any. Kept as :class:`Entry` and
:class:`Posting` objects until then, an order's entry lived through several young
collections and was promoted to the collector's old generation (about six tracked objects
per paid order), where each promotion brings the next full collection, a walk of every
object the process holds, a little closer. Turned into rows of strings and numbers at once,
the objects die young and the rows are tuples the collector stops tracking at its first
look (docs/performance.md, finding 34).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from cps_ledger.adapters.bulk import stored_utc, stored_uuid
from cps_ledger.domain.entries import Entry, check_legs
from cps_ledger.domain.ids import uuid7

Row = tuple[Any, ...]


class JournalRows:
    """The rows of one book's entries, postings and keys, and the balance each account moves.

    Amounts and counts are kept in two dicts of numbers, not a list per account: a dict of
    numbers keyed by tuples of strings is one object to the collector, a list per account
    is one more per account.
    """

    def __init__(self, book: str, recorded_at: datetime) -> None:
        self.book = book
        self.stamp = stored_utc(recorded_at)
        self.entries: list[Row] = []
        self.postings: list[Row] = []
        self.keys: list[Row] = []
        self.amounts: dict[tuple[str, str], int] = {}
        """Net amount per (account, currency)."""
        self.counts: dict[tuple[str, str], int] = {}
        """Postings per (account, currency)."""

    def add_entry(self, entry: Entry) -> None:
        """The rows of ``entry`` (checked balanced when it was made)."""
        book = self.book
        if entry.book != book:
            raise AssertionError(f"entry of book {entry.book!r} in journal of {book!r}")
        legs = ((p.account, p.currency, p.amount_minor) for p in entry.postings)
        at = stored_utc(entry.effective_at)
        self._add(stored_uuid(entry.id), at, legs, key=entry.key, kind=entry.kind, memo=entry.memo)

    def add_legs(
        self, key: str, kind: str, at: datetime, legs: Mapping[str, int], currency: str
    ) -> UUID | None:
        """The rows of the entry that moves ``legs`` (account: signed amount) in
        ``currency``, checked as an :class:`Entry` is; None if every leg is zero.

        For the flow that makes most entries (an order paid): its entry and postings become
        rows without an :class:`Entry` and its :class:`Posting` objects made first, a
        twentieth of what deciding an order cost (finding 35).
        """
        moved = [(account, amount) for account, amount in legs.items() if amount]
        if not moved:
            return None  # nothing moved (e.g. a commission of 0): no entry
        stamp = stored_utc(check_legs(moved, currency, at))
        made = uuid7()
        legs_rows = ((account, currency, amount) for account, amount in moved)
        self._add(stored_uuid(made), stamp, legs_rows, key=key, kind=kind, memo="")
        return made

    def _add(
        self,
        entry_id: str,
        at: str,
        legs: Iterable[tuple[str, str, int]],
        *,
        key: str,
        kind: str,
        memo: str,
    ) -> None:
        # One entry's rows from its checked legs (account, currency, signed amount).
        book = self.book
        self.entries.append((book, entry_id, key, kind, at, self.stamp, memo))
        amounts, counts, postings = self.amounts, self.counts, self.postings
        for seq, (account, currency, amount) in enumerate(legs):
            postings.append((book, entry_id, seq, account, currency, amount, at))
            touched = (account, currency)
            amounts[touched] = amounts.get(touched, 0) + amount
            counts[touched] = counts.get(touched, 0) + 1

    def add_key(self, key: str, digest: str, result_json: str) -> None:
        """An idempotency key, stored with the entries of the command that used it."""
        self.keys.append((self.book, key, digest, result_json, self.stamp))
