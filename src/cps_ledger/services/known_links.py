"""Share links one ingest call has read, so its later batches do not read them again.

A batch of paid orders reads the share link of every order it holds: on a festival day
the same links recur batch after batch, and reading them again was a twentieth of the
deciding thread's time (docs/performance.md, finding 35). A stored share link never
changes and is never deleted (no statement updates or deletes one), so a link read once
from a committed row is true for the rest of the call. Only links read from the database
are kept: one created by a batch that may still roll back is not.

The memory is bounded: when :data:`~cps_ledger.limits.LINKS_KNOWN_MAX` links are known,
the next read starts afresh rather than tracking which link is the oldest.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from cps_ledger.adapters import cps_repo as repo
from cps_ledger.adapters.cps_repo import ShareLink
from cps_ledger.limits import LINKS_KNOWN_MAX


class KnownLinks:
    """The share links read so far, per book; one per ingest call (or worker process)."""

    def __init__(self, limit: int = LINKS_KNOWN_MAX) -> None:
        self.limit = limit
        self._books: dict[str, dict[str, ShareLink]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def load(self, conn: Connection, book: str, ids: Iterable[str]) -> dict[str, ShareLink]:
        """The share links of ``book`` among ``ids``: those known, and the rest read."""
        known = self._books.get(book, {})
        found: dict[str, ShareLink] = {}
        missing: list[str] = []
        for link_id in ids:
            if (link := known.get(link_id)) is None:
                missing.append(link_id)
            else:
                found[link_id] = link
        if missing:
            read = repo.load_links(conn, book, missing)
            self._remember(book, read)
            found |= read
        return found

    def _remember(self, book: str, read: dict[str, ShareLink]) -> None:
        if self._count + len(read) > self.limit:
            self._books.clear()
            self._count = 0
            if len(read) > self.limit:
                return
        self._books.setdefault(book, {}).update(read)
        self._count += len(read)
