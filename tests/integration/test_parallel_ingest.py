"""Parallel ingest gives exactly the outcomes and the books of one process.

The same stream goes into two books: one process into one, two workers (with small batches,
so barriers cut batches everywhere) into the other. Every outcome, and every balance, must
be the same; the stream mixes what could go wrong when events race: orders before their
link, merchant payments between completions, a refund id reused on another order, replays,
conflicting payloads, malformed and blank lines.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from cps_ledger.api import CpsLedger
from cps_ledger.errors import InvalidEventError, WorkerFailedError
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import Outcome
from cps_ledger.services.ledger import trial_balance
from cps_ledger.services.parallel import ingest_in_parallel
from cps_ledger.testing.databases import sqlite_url
from tests.support.books import at, make_book

pytestmark = pytest.mark.slow


def stream(book: str, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    lines: list[str] = []  # link ids carry the book: links are unique across books

    def emit(event: dict[str, Any]) -> None:
        lines.append(json.dumps({"book": book, **event}))

    for p in range(12):
        upline = {"upline": f"p{p - 1}"} if p % 3 == 2 else {}
        emit({"type": "promoter_registered", "promoter": f"p{p}", "at": at(p), **upline})
    for p in range(10):  # p10 and p11 get no link: their orders are refused
        emit(
            {"type": "share_link_created", "link": f"{book}L{p}", "promoter": f"p{p}", "at": at(20)}
        )
    paid = []
    for i in range(120):
        link = f"{book}L{rnd.randrange(12)}"
        lines_ = [
            {
                "line": str(n),
                "merchant": f"m{rnd.randrange(3)}",
                "quantity": 1,
                "amount_minor": rnd.randrange(100, 30_000),
            }
            for n in range(1, rnd.randint(1, 3) + 1)
        ]
        event = {
            "type": "order_paid",
            "order": f"o{i}",
            "link": link,
            "paid_at": at(30 + i),
            "lines": lines_,
        }
        emit(event)
        paid.append(event)
        if i % 17 == 0:
            emit(event)  # a replay
        if i % 29 == 0:
            emit({**event, "lines": [*lines_[:1], {**lines_[0], "line": "9"}]})  # conflict
    lines.append("")
    lines.append("{not json")
    emit({"type": "share_link_created", "link": f"{book}L10", "promoter": "p10", "at": at(200)})
    emit(
        {
            "type": "order_paid",
            "order": "late",
            "link": f"{book}L10",  # created just before: applied
            "paid_at": at(201),
            "lines": [{"line": "1", "merchant": "m0", "quantity": 1, "amount_minor": 5000}],
        }
    )
    for n, event in enumerate(paid):
        fate = rnd.random()
        order = event["order"]
        if fate < 0.7:
            emit({"type": "order_completed", "order": order, "at": at(300 + n)})
        elif fate < 0.85:
            emit({"type": "order_cancelled", "order": order, "at": at(300 + n)})
        if rnd.random() < 0.3:
            refund_id = f"r{n % 40}"  # reused on other orders: conflicts, in input order
            emit(
                {
                    "type": "refund",
                    "refund": refund_id,
                    "order": order,
                    "at": at(400 + n),
                    "lines": [{"line": "1", "amount_minor": rnd.randrange(1, 200)}],
                }
            )
        if n % 37 == 36:
            emit(
                {
                    "type": "merchant_payment",
                    "payment": f"mp{n}",
                    "merchant": "m1",
                    "amount_minor": 50,
                    "at": at(400 + n),
                }
            )
    emit({"type": "order_completed", "order": "nope", "at": at(900)})
    return lines


def summary(outcomes: list[Outcome]) -> list[tuple[int, str, str | None]]:
    return [
        (o.position, o.status.value, type(o.error).__name__ if o.error else None) for o in outcomes
    ]


def test_two_workers_give_the_outcomes_and_books_of_one_process(
    engine: Engine, db_url: URL, book_code: str
) -> None:
    one, two = make_book(engine, book_code + "a"), make_book(engine, book_code + "b")
    ledger = CpsLedger(engine)
    sequential = list(ledger.ingest_lines(stream(one), batch_size=7))
    parallel = list(ingest_in_parallel(db_url, stream(two), workers=2, batch_size=7))

    assert summary(parallel) == summary(sequential)
    statuses = {o.status.value for o in sequential}
    assert statuses == {"applied", "replayed", "rejected"}
    errors = {type(o.error).__name__ for o in sequential if o.error}
    assert {"IdempotencyConflictError", "UnknownLinkError", "InvalidEventError"} <= errors

    def books(book: str) -> list[tuple[str, int]]:
        return [(a.account, a.balance_minor) for a in trial_balance(engine, book).accounts]

    assert books(two) == books(one)
    assert audit(engine, two).ok


def test_a_replayed_file_is_all_replays_in_parallel(
    engine: Engine, db_url: URL, book_code: str
) -> None:
    book = make_book(engine, book_code)
    first = list(ingest_in_parallel(db_url, stream(book), workers=2))
    again = list(ingest_in_parallel(db_url, stream(book), workers=2))
    applied = [o.position for o in first if o.status.value == "applied"]
    assert applied
    replayed = {o.position for o in again if o.status.value == "replayed"}
    assert set(applied) <= replayed
    assert [o.position for o in again] == [o.position for o in first]


def test_strict_ingest_refuses_more_than_one_worker(engine: Engine, book_code: str) -> None:
    with pytest.raises(InvalidEventError, match="workers"):
        list(CpsLedger(engine).ingest_lines([], stop_at_first_rejection=True, workers=2))


def test_a_failing_worker_stops_the_run_with_a_typed_error(tmp_path: Path) -> None:
    empty = sqlite_url(str(tmp_path / "never-migrated.sqlite3"))  # no tables at all
    line = json.dumps({"type": "order_completed", "book": "b", "order": "o1", "at": at(1)})
    with pytest.raises(WorkerFailedError, match="worker"):
        list(ingest_in_parallel(empty, [line] * 5, workers=2))
