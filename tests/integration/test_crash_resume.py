"""A settlement run killed with SIGKILL at several points resumes and pays each promoter once.

The run happens in a real subprocess (tests/support/workers/settle_worker.py) whose progress
callback kills the process right after the N-th batch committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from cps_ledger.services.audit import audit
from cps_ledger.services.balances import promoter_balances
from cps_ledger.services.settlement import PAGES_AT_ONCE, settle
from tests.integration.test_settlement import NOW, completed, ingest_ok, settlement_entries
from tests.support.books import at, make_book
from tests.support.workers.settle_worker import KILL_AFTER_ENV

ROOT = Path(__file__).resolve().parents[2]
PROMOTERS = [f"p{i:02d}" for i in range(21)]
PER_BATCH = 3
BATCHES = 7  # 21 promoters, 3 a batch


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The crash test runs on the embedded database and on a server one."""
    return str(request.param)


def population(book: str) -> list[dict[str, Any]]:
    """p00 is the upline of every even promoter; each promoter sells one order in October."""
    events: list[dict[str, Any]] = [
        {"type": "promoter_registered", "book": book, "promoter": "p00", "at": at(0)}
    ]
    for i, p in enumerate(PROMOTERS[1:], start=1):
        upline = {"upline": "p00"} if i % 2 == 0 else {}
        events += [
            {"type": "promoter_registered", "book": book, "promoter": p, "at": at(1), **upline},
            {
                "type": "share_link_created",
                "book": book,
                "link": f"L{p}",
                "promoter": p,
                "at": at(2),
            },
            {
                "type": "order_paid",
                "book": book,
                "order": f"o{p}",
                "link": f"L{p}",
                "paid_at": at(3),
                "lines": [
                    {"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 10_000 * i},
                    {"line": "2", "merchant": "m2", "quantity": 1, "amount_minor": 333 * i},
                ],
            },
            completed(book, f"o{p}", at(60 + i)),
        ]
    return events


def settle_in_subprocess(url: URL, book: str, kill_after: int) -> int:
    env = {**os.environ, KILL_AFTER_ENV: str(kill_after)}
    args = [url.render_as_string(hide_password=False), book, "2026-10", NOW.isoformat(), "3"]
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.workers.settle_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 4, BATCHES])
def test_a_run_killed_after_some_batches_resumes_and_settles_each_promoter_exactly_once(
    engine: Engine, db_url: URL, book_code: str, kill_after: int
) -> None:
    book = make_book(engine, book_code)
    ingest_ok(engine, *population(book))
    confirmed = {p: promoter_balances(engine, book, p).confirmed for p in PROMOTERS}
    assert all(confirmed.values())

    assert settle_in_subprocess(db_url, book, kill_after) == -signal.SIGKILL
    # Every batch reported before the kill committed whole; of the pages settled side by
    # side (PAGES_AT_ONCE on a server), the others committed whole or not at all.
    settled = len(settlement_entries(engine, book))
    in_flight = 1 if engine.dialect.name == "sqlite" else PAGES_AT_ONCE
    assert settled % PER_BATCH == 0
    assert PER_BATCH * kill_after <= settled <= PER_BATCH * min(kill_after + in_flight - 1, BATCHES)

    result = settle(engine, book, "2026-10", now=NOW, promoters_per_batch=PER_BATCH)
    assert (result.promoters, result.amount_minor) == (len(PROMOTERS), sum(confirmed.values()))
    assert settlement_entries(engine, book) == {f"settle:{book}:2026-10:{p}": 1 for p in PROMOTERS}
    after = {p: promoter_balances(engine, book, p) for p in PROMOTERS}
    assert {p: b.available for p, b in after.items()} == confirmed
    assert all(b.confirmed == 0 for b in after.values())
    assert settle(engine, book, "2026-10", now=NOW).replayed
    assert audit(engine, book).ok


@pytest.mark.slow
def test_a_run_that_was_not_killed_completes_in_the_subprocess(
    engine: Engine, db_url: URL, book_code: str
) -> None:
    book = make_book(engine, book_code)
    ingest_ok(engine, *population(book))
    assert settle_in_subprocess(db_url, book, kill_after=0) == 0
    again = settle(engine, book, "2026-10", now=NOW)
    assert again.replayed
    assert again.promoters == len(PROMOTERS)
