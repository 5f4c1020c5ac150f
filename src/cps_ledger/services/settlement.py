"""Monthly settlement (DESIGN §4, §6): confirmed commission moves to ``available``.

A run pages through the book's promoters in id order, one transaction per batch, so memory
stays flat whatever the number of lines. Each promoter gets one entry per period under
``settle:{book}:{period}:{promoter}``, stored with the lines it settles: a run killed at any
point is simply run again and settles every promoter exactly once.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Connection, Engine

from cps_ledger.adapters import settlement_repo as repo
from cps_ledger.adapters.dialect import plan_each_statement
from cps_ledger.adapters.journal import Journal, KeyRecord
from cps_ledger.adapters.settle_page import settle_page
from cps_ledger.adapters.settlement_repo import SettlementRecord
from cps_ledger.domain.accounts import promoter_account
from cps_ledger.domain.books import Book
from cps_ledger.domain.canonical import sha256_of
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.periods import Period, require_aware
from cps_ledger.errors import InvalidAmountError, SettlementOrderError
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

PROMOTERS_PER_BATCH: Final = 250
"""Promoters per page (one transaction). Pages running side by side wait for each other on
every order whose promoter is on one and whose upline is on the other; at 1,000 a page
almost every pair of pages shared some, and a third of the backends' time was such waits
(docs/performance.md, finding 24: 1,000,000 lines in 24.5–25.1 s instead of 30.9–31.8)."""
PAGES_AT_ONCE: Final = 2
"""Pages settled at once on a server database: one waits on the server while one computes."""
WORKERS_MAX: Final = 16
SETTLEMENT_KIND: Final = "settlement"


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """What a run settled: promoters with a non-zero amount and the gross amount moved."""

    book: str
    period: str
    promoters: int
    amount_minor: int
    replayed: bool


def settlement_key(book: str, period: str, promoter: str) -> str:
    """``settle:{book}:{period}:{promoter}``: one promoter's entry in one period."""
    return f"settle:{book}:{period}:{promoter}"


def settle(
    engine: Engine,
    book: str,
    period: str,
    *,
    now: datetime | None = None,
    promoters_per_batch: int = PROMOTERS_PER_BATCH,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> SettlementResult:
    """Settle ``book`` for ``period`` (``YYYY-MM``), or resume a run that was interrupted.

    ``progress`` is called after each batch with the number of promoters done so far.
    A completed period returns its stored figures with ``replayed=True`` and writes nothing.

    Pages of promoters are independent transactions, so ``workers`` of them run at once
    (default: :data:`PAGES_AT_ONCE` on PostgreSQL and MariaDB, 1 on SQLite, which has one
    writer). They lock orders in id order like every other writer, so they may wait for
    each other on an order shared by a promoter and its upline, never deadlock.
    """
    text = str(Period.parse(period))
    at = datetime.now(UTC) if now is None else require_aware(now, field="now")
    if isinstance(promoters_per_batch, bool) or promoters_per_batch < 1:
        raise InvalidAmountError(
            field="promoters_per_batch", value=promoters_per_batch, reason="must be >= 1"
        )
    if workers is None:
        workers = 1 if engine.dialect.name == "sqlite" else PAGES_AT_ONCE
    if isinstance(workers, bool) or not 1 <= workers <= WORKERS_MAX:
        raise InvalidAmountError(
            field="workers", value=workers, reason=f"must be between 1 and {WORKERS_MAX}"
        )

    def begin(uow: UnitOfWork) -> SettlementResult | Book:
        code = load_book(uow.conn, book)
        return _begin(uow, code, text, at)

    started = transact(engine, begin)
    if isinstance(started, SettlementResult):
        return started
    end = Period.parse(text).end(started.timezone)

    def one_page(page: list[str]) -> int:
        def work(uow: UnitOfWork) -> int:
            plan_each_statement(uow.conn)
            _settle_batch(uow.conn, started, text, end=end, now=at, page=page)
            uow.commit()
            return len(page)

        return transact(engine, work)

    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cps-settle") as pool:
        running: deque[Future[int]] = deque()
        for page in _pages(engine, book, promoters_per_batch):
            running.append(pool.submit(one_page, page))
            while len(running) >= workers or (running and running[0].done()):
                done += running.popleft().result()
                if progress is not None:
                    progress(done)
        while running:
            done += running.popleft().result()
            if progress is not None:
                progress(done)

    def finish(uow: UnitOfWork) -> repo.RunState:
        state = repo.complete_run(uow.conn, book, text, at)
        uow.commit()
        return state

    state = transact(engine, finish)
    return SettlementResult(book, text, state.promoters, state.amount_minor, replayed=False)


def _pages(engine: Engine, book: str, size: int) -> Iterator[list[str]]:
    """The book's promoters in id order, a page at a time, each read in its own transaction."""
    after: str | None = None
    while True:

        def read(uow: UnitOfWork, after: str | None = after) -> list[str]:
            return repo.promoter_page(uow.conn, book, after, size)

        page = transact(engine, read, read_only=True)
        if page:
            yield page
            after = page[-1]
        if len(page) < size:
            return


def _begin(uow: UnitOfWork, book: Book, period: str, now: datetime) -> SettlementResult | Book:
    """Replay a completed run, refuse one out of order, or record that the run started."""
    run = repo.run_state(uow.conn, book.code, period)
    # Idempotency before business rules (DESIGN §6): a completed run is a replay.
    if run is not None and run.completed_at is not None:
        return SettlementResult(book.code, period, run.promoters, run.amount_minor, replayed=True)
    end = Period.parse(period).end(book.timezone)
    if now < end:
        raise SettlementOrderError(
            book=book.code,
            period=period,
            reason=f"the period ends at {end.isoformat()}, after {now.isoformat()}",
        )
    last = repo.last_completed_period(uow.conn, book.code)
    if run is None and last is not None and last > period:
        raise SettlementOrderError(
            book=book.code,
            period=period,
            reason=f"{last} is settled and {period}, before it, never was",
        )
    repo.start_run(uow.conn, book.code, period, now)
    uow.commit()
    return book


def _settle_batch(
    conn: Connection,
    book: Book,
    period: str,
    *,
    end: datetime,
    now: datetime,
    page: Sequence[str],
) -> None:
    """Settle one page of promoters in the caller's transaction."""
    journal = Journal(conn, book.code)
    keys = {p: settlement_key(book.code, period, p) for p in page}
    stored = journal.stored_keys(keys.values())
    # A promoter settled in this period already (a concurrent run, or a resumed one) is not
    # settled twice: its lines completed since then land in the next period. Its key and
    # its settlements row are stored in one transaction, so the key alone tells.
    wanted = sorted(p for p, key in keys.items() if key not in stored)
    # Lock first, read second: a refund holding one of these orders finishes before we read
    # its shares, and one arriving later sees the order settled and takes from available.
    settled = settle_page(conn, book.code, period, wanted, end)
    amounts = {s.promoter: s.amount_minor for s in settled}
    counts = {s.promoter: s.lines for s in settled}
    entries: list[Entry] = []
    records: list[KeyRecord] = []
    settlements: list[SettlementRecord] = []
    for promoter in sorted(counts):
        amount = amounts[promoter]
        entry = _entry(book, period, promoter, amount, end) if amount else None
        if entry is not None:
            entries.append(entry)
        entry_id = None if entry is None else entry.id
        digest = sha256_of({"book": book.code, "period": period, "promoter": promoter}).hex()
        result = {"entry_id": None if entry_id is None else str(entry_id), "amount_minor": amount}
        records.append(KeyRecord(keys[promoter], digest, json.dumps(result)))
        settlements.append(SettlementRecord(promoter, amount, counts[promoter], entry_id))
    journal.append(entries, records)
    repo.insert_settlements(conn, book.code, period, now, settlements)


def _entry(book: Book, period: str, promoter: str, amount: int, end: datetime) -> Entry:
    """Dr confirmed / Cr available, effective at the period's end (its accounting date)."""
    return Entry(
        book=book.code,
        key=settlement_key(book.code, period, promoter),
        kind=SETTLEMENT_KIND,
        effective_at=end,
        postings=(
            Posting(promoter_account(promoter, "confirmed"), amount, book.currency),
            Posting(promoter_account(promoter, "available"), -amount, book.currency),
        ),
        memo=f"settlement {period}",
    )
