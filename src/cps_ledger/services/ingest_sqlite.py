"""Ingest on SQLite: the next batch is decided while this one is written.

One batch after the other, SQLite's ingest spent two fifths of its time inserting and
committing, in C, while nothing else ran (docs/performance.md, finding 36). Here a writer
thread writes and commits each batch on a connection of its own while this thread decides
the next one in a read transaction on another. The writes reach the writer as one JSON
text per table (adapters/json_rows.py): an ``executemany`` would ask for the GIL back
after every row, and wait for this thread each time.

SQLite cannot turn a read snapshot into a write once another connection has committed, so
a batch is written in a transaction that begins after its decision. Why the result is the
one sequential ingest gives: a decision holds if nothing it read changed before its
write transaction began. The batch written meanwhile is kept apart by the footprints, as
on PostgreSQL (services/ingest_pipeline.py). Anything else is caught by the writer
connection's ``PRAGMA data_version``, which changes exactly when another connection has
committed since that connection last looked:

- batch k is decided only after the writer has begun transaction k-1, whose version is v;
- nothing else commits while that transaction holds the write lock;
- transaction k checks that its version is still v, so nothing else committed between
  the two; where it is not, batch k is rolled back and applied again the sequential way.

The first batch of a chain has no transaction before it: the writer begins its
transaction first, and the batch is decided while it holds the lock. What the caller sees
is what :func:`~cps_ledger.services.ingest.ingest` promises: outcomes after the commit,
and a batch written only once the caller has taken every outcome of the one before.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from cps_ledger.adapters.bulk import Deferred, deferred, driver_connection
from cps_ledger.adapters.journal import give_opened, remember_committed, take_opened
from cps_ledger.adapters.json_rows import SQLITE_JSON_MIN
from cps_ledger.limits import INGEST_CHECKPOINT_PAGES
from cps_ledger.services.ingest import Outcome, apply_chunk, decide
from cps_ledger.services.ingest_items import Pending, Verdict, pending
from cps_ledger.services.ingest_pipeline import Chunk, Footprint, in_place, room_for_two
from cps_ledger.services.known_links import KnownLinks
from cps_ledger.services.uow import UnitOfWork
from cps_ledger.tuning import writing


def can_overlap_sqlite(engine: Engine) -> bool:
    """Whether ingest on ``engine`` can decide one SQLite batch while it writes another:
    a database file (each connection to ``:memory:`` is a database of its own, and one in
    shared memory has no write-ahead log to read a snapshot from), a SQLite with ``->>``
    (3.38), and a pool with room for two connections."""
    if engine.dialect.name != "sqlite" or sqlite3.sqlite_version_info < SQLITE_JSON_MIN:
        return False
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return False
    if engine.url.query.get("mode") == "memory":
        return False
    # Not a pool that shares one connection (StaticPool, SingletonThreadPool).
    return isinstance(engine.pool, QueuePool) and room_for_two(engine.pool)


@dataclass(frozen=True, slots=True)
class _Decided:
    """A batch decided in a read transaction (ended since), its writes kept."""

    chunk: Chunk
    outcomes: list[Verdict]
    footprint: Footprint
    writes: Deferred
    opened: set[tuple[str, str]]

    def all_outcomes(self) -> list[Outcome]:
        return in_place(self.chunk, self.outcomes)


@dataclass(frozen=True, slots=True)
class _Writing:
    """A decided batch handed to the writer: ``began`` is set once its transaction has
    begun (or failed to); ``done`` gives its version once committed, None if another
    commit came in between (rolled back), or raises the database error that rolled it
    back."""

    batch: _Decided
    began: threading.Event
    done: Future[int | None]

    def committed(self) -> int | None:
        try:
            return self.done.result()
        except DBAPIError:
            return None


class _Open(NamedTuple):
    """The writer's transaction, begun, and its ``data_version``."""

    conn: Connection
    tx: RootTransaction
    version: int


class _Writer:
    """The writer thread and its connection, one transaction at a time, in order."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="cps-ingest-writer")
        self._conn: Connection | None = None  # touched in the writer thread only
        self._open: _Open | None = None
        self._checkpoint_pages = 0

    def begin_ahead(self) -> bool:
        """Begin the next write transaction now and wait until it holds the lock; False if
        the database refused (locked past the busy timeout, say): the caller then applies
        the batch the sequential way, which retries."""
        try:
            self._thread.submit(self._begin).result()
        except DBAPIError:
            self.abandon()
            return False
        return True

    def abandon(self) -> None:
        """Roll back the transaction begun ahead: its batch will not come."""
        self._thread.submit(self._roll_back).result()

    def write(self, batch: _Decided, check: int | None) -> _Writing:
        """Write ``batch`` in the transaction begun ahead, or (``check`` given) in a new one
        that first checks the version is still ``check``."""
        began = threading.Event()
        return _Writing(batch, began, self._thread.submit(self._write, batch, check, began))

    def close(self) -> None:
        """Roll back a transaction begun ahead and never used; end the thread."""
        try:
            self._thread.submit(self._close).result()
        finally:
            self._thread.shutdown()

    # -- in the writer thread ---------------------------------------------------------------

    def _begin(self) -> _Open:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._checkpoint_pages = _pragma(self._conn, "wal_autocheckpoint")
            _pragma(self._conn, f"wal_autocheckpoint = {INGEST_CHECKPOINT_PAGES}")
        tx = self._conn.begin()  # BEGIN IMMEDIATE (adapters/engine.py)
        version = int(self._conn.exec_driver_sql("PRAGMA data_version").scalar_one())
        self._open = _Open(self._conn, tx, version)
        return self._open

    def _write(self, batch: _Decided, check: int | None, began: threading.Event) -> int | None:
        # All of it marked as writing: the deciding thread then lets this one have the GIL
        # when it comes back from SQLite (tuning.yield_gil), BEGIN included.
        with writing():
            try:
                conn, tx, version = self._open or self._begin()
                began.set()
                if check is not None and version != check:
                    self._roll_back()
                    return None
                give_opened(conn, batch.opened)
                batch.writes.run(conn)
                tx.commit()
                self._open = None
                remember_committed(conn)
                return version
            except BaseException:
                self._roll_back()
                raise
            finally:
                began.set()

    def _roll_back(self) -> None:
        if self._open is not None:
            conn, tx, _ = self._open
            self._open = None
            take_opened(conn)  # none of it exists
            if tx.is_active:
                tx.rollback()

    def _close(self) -> None:
        self._roll_back()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                # What the default threshold would have left in the log, moved now: the next
                # writer's commit should not pay for this ingest's pages.
                _pragma(conn, "wal_checkpoint(PASSIVE)")
                _pragma(conn, f"wal_autocheckpoint = {self._checkpoint_pages}")
            finally:
                conn.close()


def _pragma(conn: Connection, pragma: str) -> int:
    # On the driver's connection, outside any transaction (SQLAlchemy would begin one, and
    # BEGIN IMMEDIATE with it): the pragma's first value.
    cursor = driver_connection(conn).cursor()
    try:
        row = cursor.execute(f"PRAGMA {pragma}").fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row else 0


def ingest_sqlite_overlapped(
    engine: Engine, chunks: Iterator[Chunk], links: KnownLinks
) -> Iterator[Outcome]:
    """Apply ``chunks`` (each one transaction), the next decided while this one is written;
    ``links`` keeps the share links read, for the batches after."""
    writer = _Writer(engine)
    current: _Writing | None = None
    chain: int | None = None  # the version of the writer's last transaction, if no other
    # commit can have come since that the next write's check would not see
    try:
        for chunk in chunks:
            batch = pending(chunk)
            footprint = Footprint.of(batch)
            # A chunk of rejected lines only: its outcomes come in their place, after those
            # of the batch before.
            if current is not None and (
                not batch or current.batch.footprint.must_precede(footprint)
            ):
                chain = yield from _finish(engine, current, links)
                current = None
            if not batch:
                yield from apply_chunk(engine, chunk, links)
                continue
            ahead = current is None and chain is None
            if ahead and not writer.begin_ahead():
                yield from apply_chunk(engine, chunk, links)
                continue
            if current is not None:
                current.began.wait()  # decided only after the batch before has begun
            decided = _decide(engine, chunk, batch, footprint, links)
            if current is not None:
                chain = yield from _finish(engine, current, links)
                current = None
                if chain is None:
                    decided = None  # decided beside a batch that was not written as decided
            if decided is None:
                if ahead:
                    writer.abandon()
                chain = None  # a commit of another connection, as far as the writer knows
                yield from apply_chunk(engine, chunk, links)
                continue
            current = writer.write(decided, None if ahead else chain)
        if current is not None:
            yield from _finish(engine, current, links)
            current = None
    finally:
        if current is not None:
            current.done.exception()  # let it end before the connection goes back
        writer.close()


def _finish(
    engine: Engine, current: _Writing, links: KnownLinks
) -> Generator[Outcome, None, int | None]:
    """Wait for the commit and give the outcomes; applied again the sequential way if
    another commit came first or the write failed. Returns the version to check next, or
    None when the writer's chain is broken."""
    version = current.committed()
    if version is not None:
        yield from current.batch.all_outcomes()
        return version
    yield from apply_chunk(engine, current.batch.chunk, links)
    return None


def _decide(
    engine: Engine,
    chunk: Chunk,
    batch: Sequence[Pending],
    footprint: Footprint,
    links: KnownLinks,
) -> _Decided | None:
    """Decide ``batch`` in a read transaction and keep its writes; None after a database
    error (the caller then applies the chunk with :func:`apply_chunk`, which retries)."""
    try:
        with UnitOfWork(engine, read_only=True) as uow:
            conn = uow.conn
            # A write that was not kept would need the lock the writer holds: refused at
            # once instead (and the batch applied the sequential way).
            conn.exec_driver_sql("PRAGMA query_only = 1")
            try:
                decided = decide(uow, batch, links)
                with deferred(conn) as writes:
                    decided.write()
                opened = take_opened(conn)
            finally:
                conn.exec_driver_sql("PRAGMA query_only = 0")
    except DBAPIError:
        return None
    return _Decided(chunk, decided.outcomes, footprint, writes, opened)
