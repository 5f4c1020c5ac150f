"""Overlapped ingest on SQLite gives exactly what one batch after the other gives.

On a SQLite file ``ingest`` decides the next batch in a read transaction while a writer
thread writes the one before (services/ingest_sqlite.py). The reference is the plain loop
of ``apply_chunk`` into a second book. Then what only SQLite needs: a commit by another
connection between a batch's decision and its write makes the batch run again, so a
completion decided before a cancellation committed is not written over it. (Stopping
early is tested with PostgreSQL's, in test_ingest_pipeline.py.)
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Table, event, text
from sqlalchemy.engine import URL

from cps_ledger.adapters.cps_repo import LINES, ORDERS
from cps_ledger.adapters.engine import READ_ONLY, make_engine
from cps_ledger.adapters.json_rows import JsonRows, TableWrite, kept
from cps_ledger.api import CpsLedger
from cps_ledger.services import ingest_sqlite
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import Outcome, Status, apply_chunk
from cps_ledger.services.ingest_sqlite import can_overlap_sqlite
from cps_ledger.testing.databases import migrated, sqlite_url
from tests.integration.test_ingest_pipeline import (
    books,
    full_stream,
    linked_book,
    one_after_the_other,
    orders,
    paid,
)
from tests.integration.test_parallel_ingest import summary
from tests.support.books import at, make_book

pytestmark = pytest.mark.slow


@pytest.fixture
def lite(database_url_for: dict[str, URL]) -> Iterator[Engine]:
    engine = make_engine(database_url_for["sqlite"])
    yield engine
    engine.dispose()


@pytest.fixture
def sequential_fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches the pipeline applied the sequential way (chunks of parse rejections only
    are not counted: nothing is decided or written for them)."""
    calls: list[int] = []
    plain = apply_chunk

    def counted(engine: Engine, chunk: list[Any], links: Any = None) -> list[Outcome]:
        if any(not isinstance(item, Outcome) for item in chunk):
            calls.append(len(chunk))
        return plain(engine, chunk, links)

    monkeypatch.setattr(ingest_sqlite, "apply_chunk", counted)  # the pipeline's own name
    return calls


@settings(max_examples=6)
@given(seed=st.integers(0, 10_000), batch_size=st.integers(1, 40))
@example(seed=11, batch_size=1)  # every pair of neighbours split: every dependency crossed
def test_overlapped_ingest_gives_the_outcomes_and_books_of_one_batch_after_the_other(
    lite: Engine, sequential_fallbacks: list[int], seed: int, batch_size: int
) -> None:
    assert can_overlap_sqlite(lite)
    code = f"b{secrets.token_hex(5)}"  # a new book for every example, shrinking included
    one, two = make_book(lite, code + "a"), make_book(lite, code + "b")
    reference = one_after_the_other(lite, full_stream(one, seed), batch_size)
    sequential_fallbacks.clear()
    overlapped = list(CpsLedger(lite).ingest_lines(full_stream(two, seed), batch_size=batch_size))

    assert sequential_fallbacks == []  # every batch went through the writer thread
    assert summary(overlapped) == summary(reference)
    assert {o.status for o in reference} == set(Status)
    assert books(lite, two) == books(lite, one)
    assert orders(lite, two) == orders(lite, one)
    assert audit(lite, two).ok


def event_line(book: str, **event: Any) -> str:
    return json.dumps({"book": book, **event})


def test_a_commit_by_another_connection_between_decision_and_write_makes_the_batch_run_again(
    lite: Engine, book_code: str, sequential_fallbacks: list[int]
) -> None:
    book = linked_book(lite, book_code)
    ledger = CpsLedger(lite)
    assert [o.status for o in ledger.ingest_lines(paid(book, 1))] == [Status.APPLIED]  # o0
    lines = [
        *paid(book, 3)[1:],  # batch 1: o1, o2
        event_line(book, type="order_completed", order="o0", at=at(90)),  # batch 2
    ]
    outcomes = ledger.ingest_lines(lines, batch_size=2)
    first = [next(outcomes), next(outcomes)]  # batch 1 committed, batch 2 decided: o0 paid
    # Another connection cancels o0 in the meantime; the completion decided before it must
    # not be written over it.
    cancel = event_line(book, type="order_cancelled", order="o0", at=at(80))
    assert [o.status for o in ledger.ingest_lines([cancel])] == [Status.APPLIED]
    rest = list(outcomes)

    assert [o.status for o in first] == [Status.APPLIED] * 2
    assert [(o.status, type(o.error).__name__) for o in rest] == [
        (Status.REJECTED, "OrderStateError")
    ]
    assert sequential_fallbacks == [1]  # batch 2, run again once the check had failed
    with lite.connect() as conn:
        state = conn.execute(
            text("SELECT state FROM orders WHERE book = :b AND order_id = 'o0'"), {"b": book}
        ).scalar_one()
    assert state == "cancelled"
    assert audit(lite, book).ok


def test_a_failed_write_is_applied_again_once(tmp_path: Path) -> None:
    # A real failure, not a mock: a trigger aborts the first journal row written, through a
    # function that says yes once (its count lives in Python, so the rollback keeps it).
    url = sqlite_url(str(tmp_path / "failing.sqlite3"))
    migrated(url).dispose()
    engine = make_engine(url)
    calls = count(1)

    @event.listens_for(engine, "connect")
    def _register(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("first_time", 0, lambda: int(next(calls) == 1))

    try:
        book = linked_book(engine, "failing")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TRIGGER fail_once BEFORE INSERT ON journal_entries"
                    " WHEN first_time() BEGIN SELECT RAISE(ABORT, 'injected'); END"
                )
            )
        outcomes = list(CpsLedger(engine).ingest_lines(paid(book, 9), batch_size=3))
        with engine.connect() as conn:
            entries = conn.execute(
                text("SELECT count(*) FROM journal_entries WHERE book = :b"), {"b": book}
            ).scalar_one()
        fired = next(calls) - 1
        healthy = audit(engine, book).ok
    finally:
        engine.dispose()

    assert fired > 9  # the failed first attempt, then every entry written once
    assert [o.status for o in outcomes] == [Status.APPLIED] * 9
    assert entries == 9
    assert healthy


def test_a_write_lock_held_elsewhere_past_the_busy_timeout_is_waited_for_as_usual(
    tmp_path: Path, sequential_fallbacks: list[int]
) -> None:
    # Another connection holds the write lock; the writer's BEGIN IMMEDIATE gives up after
    # 50 ms, and the lock is let go as that error is raised: the batch goes the sequential
    # way, which retries, as ingest always did.
    path = tmp_path / "locked.sqlite3"
    migrated(sqlite_url(str(path))).dispose()
    engine = make_engine(sqlite_url(str(path)))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 50")

    @event.listens_for(engine, "handle_error")
    def _let_go(context: Any) -> None:
        if holder.in_transaction and "locked" in str(context.original_exception):
            holder.execute("ROLLBACK")

    try:
        book = linked_book(engine, "locked")
        sequential_fallbacks.clear()
        holder.execute("BEGIN IMMEDIATE")
        outcomes = list(CpsLedger(engine).ingest_lines(paid(book, 6), batch_size=2))
        healthy = audit(engine, book).ok
    finally:
        holder.close()
        engine.dispose()
    assert [o.status for o in outcomes] == [Status.APPLIED] * 6
    assert sequential_fallbacks == [2]  # the first batch; the others overlapped again
    assert healthy


def test_the_writer_gives_its_connection_back_as_it_found_it(tmp_path: Path) -> None:
    url = sqlite_url(str(tmp_path / "pool.sqlite3"))
    migrated(url).dispose()
    engine = make_engine(url, pool_size=2, max_overflow=0)
    try:
        book = linked_book(engine, "pooled")
        assert [o.status for o in CpsLedger(engine).ingest_lines(paid(book, 6), batch_size=2)] == [
            Status.APPLIED
        ] * 6
        # Both connections of the pool, the writer's and the decider's; read-only (BEGIN, not
        # BEGIN IMMEDIATE), so that the second does not wait for the first's write lock.
        with (
            engine.connect().execution_options(**{READ_ONLY: True}) as first,
            engine.connect().execution_options(**{READ_ONLY: True}) as second,
        ):
            pages = [
                c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() for c in (first, second)
            ]
            query_only = [
                c.exec_driver_sql("PRAGMA query_only").scalar_one() for c in (first, second)
            ]
    finally:
        engine.dispose()
    assert pages == [1000, 1000]  # SQLite's default, not the writer's larger threshold
    assert query_only == [0, 0]  # the deciding connection may write again


def test_only_a_database_file_with_room_for_two_connections_overlaps(tmp_path: Path) -> None:
    memory = make_engine("sqlite://")
    shared = make_engine("sqlite:///file:shared?mode=memory&cache=shared&uri=true")
    single = make_engine(sqlite_url(str(tmp_path / "one.sqlite3")), pool_size=1, max_overflow=0)
    file = make_engine(sqlite_url(str(tmp_path / "two.sqlite3")))
    try:
        refused = [can_overlap_sqlite(e) for e in (memory, shared, single)]
        assert refused == [False, False, False]
        assert can_overlap_sqlite(file)
    finally:
        for engine in (memory, shared, single, file):
            engine.dispose()


@pytest.mark.parametrize(
    ("table", "key", "column", "row"),
    [
        (ORDERS, ("book", "order_id"), "state", ("b1", "o{}", "completed")),
        (LINES, ("book", "order_id", "line"), "refunded_minor", ("b1", "o{}", "1", 100)),
    ],
)
def test_an_update_looks_each_row_up_by_its_whole_key(
    lite: Engine, table: Table, key: tuple[str, ...], column: str, row: tuple[Any, ...]
) -> None:
    # The rows of one book: with the book bound once, the planner scanned the book's whole
    # table for every batch (minutes for a lifecycle of 100,000 events).
    rows = [(row[0], row[1].format(i), *row[2:]) for i in range(50)]
    statement = kept(lite.dialect, TableWrite(table, "update", key, (column,)), rows)
    assert isinstance(statement, JsonRows)
    with lite.connect() as conn:
        plan = [
            str(r[3])
            for r in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement.statement}", statement.params
            )
        ]
    assert plan[0].startswith("SCAN v"), plan  # the batch's rows are the outer loop
    among = " AND ".join(f"{k}=?" for k in key)
    assert plan[1].startswith(f"SEARCH {table.name}"), plan
    assert f"({among})" in plan[1], plan
