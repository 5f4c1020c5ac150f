"""Several OS processes on one PostgreSQL or MariaDB database: nothing lost, nothing paid twice.

Workers live in tests/support/workers/concurrency_worker.py and run as real processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL

from cps_ledger.adapters.cps_tables import (
    OrderLineRow,
    OrderRow,
    PayoutRow,
    RefundLineRow,
    SettlementRow,
)
from cps_ledger.adapters.engine import make_engine
from cps_ledger.adapters.tables import JournalEntryRow, table
from cps_ledger.domain.books import BookDefinition
from cps_ledger.services.audit import audit
from cps_ledger.services.balances import promoter_balances
from cps_ledger.services.books import apply_book
from cps_ledger.services.ledger import account_balance
from cps_ledger.services.settlement import settle
from tests.integration.test_settlement import ingest_ok, settlement_entries
from tests.support.books import make_book
from tests.support.workers.concurrency_worker import (
    ENTRIES_PER_POSTER,
    NOW,
    PROMOTERS,
    SHARED_EVERY,
    late_refund,
    poster_entries,
)

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "2025-12-01T00:00:00+08:00"
"""Promoters and links exist before the first order of 2026."""
ENTRIES = table(JournalEntryRow)
ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
REFUNDS = table(RefundLineRow)
SETTLEMENTS = table(SettlementRow)
PAYOUTS = table(PayoutRow)


@pytest.fixture
def server_engine(server_backend: str, database_url_for: dict[str, URL]) -> Any:
    eng = make_engine(database_url_for[server_backend])
    yield eng
    eng.dispose()


def run_workers(url: URL, book: str, roles: list[tuple[str, str]]) -> list[dict[str, int]]:
    """Start every worker at once, wait for all, and fail on any worker's error."""
    plain = url.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.workers.concurrency_worker",
                role,
                plain,
                book,
                wid,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role, wid in roles
    ]
    results = []
    for proc, (role, wid) in zip(procs, roles, strict=True):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{role} {wid} failed:\n{err[-3000:]}"
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.slow
def test_four_processes_posting_to_a_hot_account_lose_and_double_nothing(
    server_engine: Engine, server_backend: str, database_url_for: dict[str, URL], book_code: str
) -> None:
    apply_book(server_engine, BookDefinition(code=book_code))
    workers = ["w1", "w2", "w3", "w4"]
    counts = run_workers(
        database_url_for[server_backend], book_code, [("post", w) for w in workers]
    )
    shared = ENTRIES_PER_POSTER // SHARED_EVERY
    unique = ENTRIES_PER_POSTER - shared
    assert sum(c["posted"] for c in counts) == len(workers) * unique + shared
    assert sum(c["replayed"] for c in counts) == (len(workers) - 1) * shared
    expected: dict[str, int] = defaultdict(int)
    for worker in workers:
        for entry in poster_entries(book_code, worker):
            for p in entry.postings:
                expected[p.account] += p.amount_minor
    shared_once = sum(i + 1 for i in range(0, ENTRIES_PER_POSTER, SHARED_EVERY))
    expected["platform:cash"] -= (len(workers) - 1) * shared_once
    for i in range(0, ENTRIES_PER_POSTER, SHARED_EVERY):
        expected[f"promoter:shared{i % 7}:available"] += (len(workers) - 1) * (i + 1)
    for account, signed in expected.items():
        normal = signed if account == "platform:cash" else -signed
        assert account_balance(server_engine, book_code, account).balance_minor == normal, account
    with server_engine.connect() as conn:
        entries = conn.execute(select(func.count()).where(ENTRIES.c.book == book_code)).scalar_one()
    assert entries == len(workers) * unique + shared
    assert audit(server_engine, book_code).ok


def register_promoters(engine: Engine, book: str) -> None:
    events: list[dict[str, Any]] = []
    for i, p in enumerate(PROMOTERS):
        upline = {"upline": "c0"} if 1 <= i <= 4 else {}
        events += [
            {"type": "promoter_registered", "book": book, "promoter": p, "at": BEFORE, **upline},
            {
                "type": "share_link_created",
                "book": book,
                "link": f"L{p}",
                "promoter": p,
                "at": BEFORE,
            },
        ]
    ingest_ok(engine, *events)


def per_promoter(engine: Engine, book: str) -> dict[str, dict[str, int]]:
    """Settled, clawed back, pending and paid per promoter, from the domain tables."""
    figures: dict[str, dict[str, int]] = {p: defaultdict(int) for p in PROMOTERS}
    with engine.connect() as conn:
        for p, amount in conn.execute(
            select(SETTLEMENTS.c.promoter, SETTLEMENTS.c.amount_minor).where(
                SETTLEMENTS.c.book == book
            )
        ):
            figures[p]["settled"] += amount
        refunds = conn.execute(
            select(
                ORDERS.c.promoter,
                ORDERS.c.upline,
                REFUNDS.c.promoter_delta_minor,
                REFUNDS.c.promoter_stage,
                REFUNDS.c.upline_delta_minor,
                REFUNDS.c.upline_stage,
            )
            .select_from(REFUNDS.join(ORDERS, ORDERS.c.order_id == REFUNDS.c.order_id))
            .where(REFUNDS.c.book == book, ORDERS.c.book == book)
        )
        for promoter, upline, p_delta, p_stage, u_delta, u_stage in refunds:
            if p_stage == "available":
                figures[promoter]["clawback"] -= p_delta
            if upline is not None and u_stage == "available":
                figures[upline]["clawback"] -= u_delta
        for p, state, amount in conn.execute(
            select(PAYOUTS.c.promoter, PAYOUTS.c.state, PAYOUTS.c.amount_minor).where(
                PAYOUTS.c.book == book
            )
        ):
            figures[p][state] += amount
        lines = conn.execute(
            select(
                ORDERS.c.state,
                LINES.c.promoter,
                LINES.c.upline,
                LINES.c.promoter_minor,
                LINES.c.upline_minor,
            )
            .select_from(LINES.join(ORDERS, ORDERS.c.order_id == LINES.c.order_id))
            .where(LINES.c.book == book, ORDERS.c.book == book)
        )
        for state, promoter, upline, p_minor, u_minor in lines:
            if state == "paid":
                figures[promoter]["estimated"] += p_minor
                if upline is not None:
                    figures[upline]["estimated"] += u_minor
    return figures


@pytest.mark.slow
def test_ingest_settlement_and_payouts_from_four_processes_pay_exactly_once(
    server_engine: Engine, server_backend: str, database_url_for: dict[str, URL], book_code: str
) -> None:
    engine = server_engine
    book = make_book(engine, book_code)
    register_promoters(engine, book)
    roles = [("ingest", "a"), ("ingest", "b"), ("settle", "s"), ("payouts", "p")]
    counts = run_workers(database_url_for[server_backend], book, roles)
    assert counts[2]["replayed"] >= 12  # the 2nd and 3rd passes over the six months
    # late lines of the last months land in the next run
    settle(engine, book, "2026-07", now=NOW)
    # refunds after everything was settled: clawbacks for sure, whatever the interleaving
    ingest_ok(engine, *(late_refund(book, f"a-{k}", "after") for k in range(1, 90, 10)))

    assert audit(engine, book).ok
    assert all(n == 1 for n in settlement_entries(engine, book).values())
    figures = per_promoter(engine, book)
    for p in PROMOTERS:
        f, b = figures[p], promoter_balances(engine, book, p)
        assert b.estimated == f["estimated"], p
        assert b.confirmed == 0, p
        assert b.payout_pending == f["pending"], p
        assert b.available == f["settled"] - f["clawback"] - f["pending"] - f["completed"], p
        # payouts never overdrew: available is negative only by what refunds clawed back
        assert f["pending"] + f["completed"] <= f["settled"], p
    total = {k: sum(f[k] for f in figures.values()) for k in ("settled", "clawback", "pending")}
    assert total["clawback"] > 0
    available = sum(promoter_balances(engine, book, p).available for p in PROMOTERS)
    paid = sum(f["completed"] for f in figures.values())
    assert paid == total["settled"] - total["clawback"] - available - total["pending"]
    assert account_balance(engine, book, "platform:cash").balance_minor == -paid
    with engine.connect() as conn:
        completions = conn.execute(
            select(func.count()).where(ENTRIES.c.book == book, ENTRIES.c.kind == "payout_completed")
        ).scalar_one()
        unsettled = conn.execute(
            select(func.count())
            .select_from(LINES.join(ORDERS, ORDERS.c.order_id == LINES.c.order_id))
            .where(
                LINES.c.book == book,
                ORDERS.c.book == book,
                ORDERS.c.state == "completed",
                ORDERS.c.promoter_settled.is_(None),
            )
        ).scalar_one()
    assert completions == counts[3]["completed"]
    assert unsettled == 0
