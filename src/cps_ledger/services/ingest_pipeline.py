"""Ingest on PostgreSQL: the next batch is read and decided while this one is written.

Sequentially, a batch's time is the Python that decides it, then the server's time to
take its rows and commit, and each side idles while the other works (finding 27). Here the
writes and the commit run in a writer thread, on the batch's own connection and
transaction, while this thread loads and decides the next batch on a second connection:
the server's work overlaps the Python's.

Why the result is the one sequential ingest gives: a batch is decided before the one
before it has committed, so it must not read anything that one writes. Each batch's
*footprint* names what it reads and writes (its keys, orders, share links and
promoters; whether it reads a merchant's receivable); when two consecutive footprints
meet, the later batch waits for the earlier one's commit before it is loaded. Otherwise
what it reads is exactly what it would have read after that commit. Against other
processes nothing changes: each batch still loads, locks, writes and commits in one
transaction of its own.

What the caller sees does not change either: a batch's outcomes come out only after it
has committed, and a batch is written only after the caller has taken every outcome of
the one before (so a caller that stops at a rejection stops every later write; what was
decided and not written is rolled back). If a write fails, the decided batch after it is
rolled back and both run again the sequential way, with its retries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from cps_ledger.adapters.bulk import Deferred, deferred
from cps_ledger.domain.events import (
    MerchantPayment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    Refund,
    ShareLinkCreated,
)
from cps_ledger.limits import WRITE_BEHIND_LOCK_WAIT_MS
from cps_ledger.services import packed
from cps_ledger.services.ingest import Outcome, apply_chunk, decide
from cps_ledger.services.ingest_items import Pending, Verdict, key_of, outcome_of, pending
from cps_ledger.services.known_links import KnownLinks
from cps_ledger.services.packed import is_packed
from cps_ledger.services.uow import UnitOfWork
from cps_ledger.tuning import writing

Chunk = list[Pending | Outcome]
CONNECTIONS_PER_INGEST: Final = 2


@dataclass(frozen=True, slots=True)
class Footprint:
    """What a batch reads or writes, as far as the batch after it is concerned.

    Ids are compared across books (a link paid in one book is looked up in the others when
    missing): never less precise than a per-book comparison. No event changes a promoter
    or a link once stored (a move under another upline is not an event, and commits on
    its own), so a batch reads one that the batch before writes only by naming it: an
    order's link owner and that owner's upline were stored before the link was.
    """

    keys: frozenset[str]
    orders: frozenset[str]
    links_read: frozenset[str]  # paid through, or created
    links_written: frozenset[str]
    promoters_read: frozenset[str]  # registered, named as an upline, or given a link
    promoters_written: frozenset[str]
    receivables: bool  # a merchant payment: reads balances, which every batch writes

    @classmethod
    def of(cls, batch: Sequence[Pending]) -> Footprint:
        """The footprint of ``batch``."""
        orders: set[str] = set()
        links_read: set[str] = set()
        links_written: set[str] = set()
        promoters_read: set[str] = set()
        promoters_written: set[str] = set()
        receivables = False
        for item in batch:
            if is_packed(item):
                orders.add(packed.order(item))  # a paid order, as below
                links_read.add(packed.link(item))
                continue
            match event := item.event:
                case OrderPaid():
                    orders.add(event.order)
                    links_read.add(event.link)
                case OrderCompleted() | OrderCancelled() | Refund():
                    orders.add(event.order)
                case PromoterRegistered():
                    promoters_written.add(event.promoter)
                    promoters_read.add(event.promoter)
                    if event.upline is not None:
                        promoters_read.add(event.upline)
                case ShareLinkCreated():
                    links_written.add(event.link)
                    links_read.add(event.link)
                    promoters_read.add(event.promoter)
                case MerchantPayment():
                    receivables = True
        return cls(
            frozenset(key_of(item) for item in batch),
            frozenset(orders),
            frozenset(links_read),
            frozenset(links_written),
            frozenset(promoters_read),
            frozenset(promoters_written),
            receivables,
        )

    def must_precede(self, later: Footprint) -> bool:
        """Whether a batch with ``later``'s footprint must wait for this one's commit."""
        return (
            self.receivables
            or later.receivables
            or not self.keys.isdisjoint(later.keys)
            or not self.orders.isdisjoint(later.orders)
            or not self.links_written.isdisjoint(later.links_read)
            or not self.promoters_written.isdisjoint(later.promoters_read)
        )


@dataclass(slots=True)
class _Batch:
    """A batch decided in its open transaction, its writes ready to send."""

    chunk: Chunk
    uow: UnitOfWork
    decided: list[Verdict]
    footprint: Footprint
    writes: Deferred

    def outcomes(self) -> list[Outcome]:
        return in_place(self.chunk, self.decided)

    def roll_back(self) -> None:
        self.uow.__exit__(None, None, None)


def can_overlap(engine: Engine) -> bool:
    """Whether ingest on ``engine`` can decide one batch while it writes another.

    PostgreSQL only (SQLite has a pipeline of its own, services/ingest_sqlite.py): MariaDB's
    driver formats rows in Python as it sends them, so a writer thread would only contend
    for the GIL. And only with room for two connections: a pool of one would make the
    second batch wait for a connection the first holds until the pool's timeout.
    """
    if engine.dialect.name != "postgresql":
        return False
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return True  # a connection per checkout, or the host's own pool
    return room_for_two(pool)


def room_for_two(pool: QueuePool) -> bool:
    """Whether ``pool`` can hand out the two connections an overlapped ingest holds."""
    overflow = int(getattr(pool, "_max_overflow", 0))
    return overflow < 0 or pool.size() + overflow >= CONNECTIONS_PER_INGEST


def in_place(chunk: Chunk, decided: Sequence[Verdict]) -> list[Outcome]:
    """The chunk's outcomes in input order: those decided before (lines that did not
    parse) where they stand, ``decided`` (in batch order) in the places of the events."""
    done = iter(decided)
    return [item if isinstance(item, Outcome) else outcome_of(next(done)) for item in chunk]


def ingest_overlapped(
    engine: Engine, chunks: Iterator[Chunk], links: KnownLinks
) -> Iterator[Outcome]:
    """Apply ``chunks`` (each one transaction), the next decided while this one is written;
    ``links`` keeps the share links read, for the batches after."""
    writer: ThreadPoolExecutor | None = None
    decided: _Batch | None = None  # decided, not yet handed to the writer
    writing: _Writing | None = None
    try:
        for chunk in chunks:
            batch = pending(chunk)
            footprint = Footprint.of(batch)
            if writing is not None and writing.batch.footprint.must_precede(footprint):
                yield from writing.finish(engine, links)
                writing = None
            decided = _decide(engine, chunk, batch, footprint, links) if batch else None
            if writing is not None:
                if decided is not None and not writing.committed():
                    # Its locks must not outlive the failed write that it was decided beside;
                    # it is applied below, after that batch is applied again.
                    decided.roll_back()
                    decided = None
                yield from writing.finish(engine, links)
                writing = None
            if decided is None:
                yield from apply_chunk(engine, chunk, links)  # nothing to write, or a retry
                continue
            writer = writer or ThreadPoolExecutor(1, thread_name_prefix="cps-ingest-writer")
            writing = _Writing(decided, writer.submit(_write, decided))
            decided = None
        if writing is not None:
            yield from writing.finish(engine, links)
            writing = None
    finally:
        if decided is not None:
            decided.roll_back()
        if writing is not None:
            writing.done.exception()  # let it end before the connection goes back
        if writer is not None:
            writer.shutdown()


@dataclass(frozen=True, slots=True)
class _Writing:
    """A batch handed to the writer thread."""

    batch: _Batch
    done: Future[None]

    def committed(self) -> bool:
        """Wait for the commit: True if it committed, False after a database error (rolled
        back, to be applied again); any other error is raised."""
        error = self.done.exception()
        if error is None:
            return True
        if isinstance(error, DBAPIError):
            return False
        raise error

    def finish(self, engine: Engine, links: KnownLinks) -> Iterator[Outcome]:
        """Wait for the commit and give the outcomes (applied again if the write failed)."""
        if self.committed():
            yield from self.batch.outcomes()
        else:
            yield from apply_chunk(engine, self.batch.chunk, links)


def _decide(
    engine: Engine,
    chunk: Chunk,
    batch: Sequence[Pending],
    footprint: Footprint,
    links: KnownLinks,
) -> _Batch | None:
    """Decide ``batch`` in a new transaction, left open; None after a transient conflict
    (the caller then applies the chunk with :func:`apply_chunk`, which retries)."""
    uow = UnitOfWork(engine).__enter__()
    try:
        # The decided batch holds its order locks while it waits for the commit of the one
        # before, out of the server's sight: were that write to wait on a lock behind a
        # transaction that waits for these, nobody would see the deadlock. A bounded wait
        # turns it into an error, and both batches run again one after the other. (Set
        # here, in this transaction, so the writer spends no round trip on it.)
        uow.conn.exec_driver_sql(f"SET LOCAL lock_timeout = {WRITE_BEHIND_LOCK_WAIT_MS}")
        decided = decide(uow, batch, links)
        # Rows built and COPY data formatted here: the writer thread then holds the GIL
        # only between its sends, and the Python of the two threads does not interleave.
        with deferred(uow.conn) as writes:
            decided.write()
        # Only the outcomes are kept: the batch's records, entries and postings are freed
        # now instead of living on (and into the collector's old generation) until the
        # commit.
        return _Batch(chunk, uow, decided.outcomes, footprint, writes)
    except DBAPIError:
        uow.__exit__(None, None, None)
        return None
    except BaseException as exc:
        uow.__exit__(type(exc), exc, exc.__traceback__)
        raise


def _write(batch: _Batch) -> None:
    """In the writer thread: write and commit, then give the connection back."""
    conn = batch.uow.conn
    try:
        with writing():
            batch.writes.run(conn)
            batch.uow.commit()
    finally:
        batch.uow.__exit__(None, None, None)
