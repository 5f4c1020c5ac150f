"""One role of the concurrency tests, run as its own OS process.

Usage: ``python -m tests.support.workers.concurrency_worker ROLE URL BOOK WORKER_ID``.
Roles: ``ingest`` (orders, completions and refunds of the shared promoters), ``settle``
(periods 2026-01..06, three times over), ``payouts`` (requests, completions, failures) and
``post`` (the ledger core: 2,000 raw entries, some keys shared by every worker).
Prints one JSON line of counts on success; any unexpected error fails the process.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine

from cps_ledger.adapters.engine import make_engine
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.events import parse_event
from cps_ledger.errors import InsufficientAvailableError
from cps_ledger.services.balances import promoter_balances
from cps_ledger.services.ingest import Status, Submitted, ingest
from cps_ledger.services.ledger import post_entries
from cps_ledger.services.payouts import complete_payout, fail_payout, request_payout
from cps_ledger.services.settlement import settle

NOW: Final = datetime(2027, 6, 1, tzinfo=UTC)
PROMOTERS: Final = [f"c{i}" for i in range(8)]
"""c0 is the upline of c1..c4; c5..c7 have none. Registered by the test before the workers."""
MONTHS: Final = 6
ORDERS_PER_INGESTER: Final = 90
PAYOUT_ATTEMPTS: Final = 5000
PAYOUT_REQUESTS: Final = 40
"""The payout worker stops after this many requests (or attempts, whichever comes first)."""
ENTRIES_PER_POSTER: Final = 2000
SHARED_EVERY: Final = 10
ENTRIES_PER_BATCH: Final = 100


def _ts(month: int, day: int) -> str:
    return f"2026-{month:02d}-{day:02d}T12:00:00+08:00"


def _ingest_events(book: str, worker: str) -> Iterator[dict[str, Any]]:
    for k in range(ORDERS_PER_INGESTER):
        order = f"{worker}-{k}"
        promoter = PROMOTERS[k % len(PROMOTERS)]
        month = 1 + k % MONTHS
        yield {
            "type": "order_paid",
            "book": book,
            "order": order,
            "link": f"L{promoter}",
            "paid_at": _ts(month, 5),
            "lines": [
                {"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 10_000 + 37 * k},
                {"line": "2", "merchant": "m2", "quantity": 2, "amount_minor": 5_000 + 11 * k},
            ],
        }
        if k % 7 == 6:
            continue  # never completed: stays estimated
        yield {"type": "order_completed", "book": book, "order": order, "at": _ts(month, 10)}
        if k % 3 == 0:
            # a refund that may land before or after the month was settled (a clawback)
            yield {
                "type": "refund",
                "book": book,
                "refund": f"r-{order}",
                "order": order,
                "at": _ts(month, 20),
                "lines": [{"line": "1", "amount_minor": 4_000 + k}],
            }


def _late_refunds(book: str, worker: str) -> Iterator[dict[str, Any]]:
    # At the end of the stream: by then the settler has usually settled the month, so these
    # usually claw back from available while the other processes are still running.
    for k in range(0, ORDERS_PER_INGESTER, 5):
        if k % 7 != 6:
            yield late_refund(book, f"{worker}-{k}", "late")


def late_refund(book: str, order: str, tag: str) -> dict[str, Any]:
    """A refund of part of line 2 of ``order``, dated in 2026-07."""
    return {
        "type": "refund",
        "book": book,
        "refund": f"{tag}-{order}",
        "order": order,
        "at": _ts(7, 1),
        "lines": [{"line": "2", "amount_minor": 1_000}],
    }


def run_ingest(engine: Engine, book: str, worker: str) -> dict[str, int]:
    """Ingest this worker's orders in small batches so they interleave with the others."""
    events = [*_ingest_events(book, worker), *_late_refunds(book, worker)]
    items = [Submitted(i, parse_event(e), e) for i, e in enumerate(events)]
    counts = {"applied": 0}
    for outcome in ingest(engine, items, batch_size=6):
        if outcome.status is not Status.APPLIED:
            raise AssertionError(f"event {outcome.position}: {outcome.status} {outcome.error}")
        counts["applied"] += 1
    return counts


def run_settle(engine: Engine, book: str) -> dict[str, int]:
    """Settle every period in order, three times: the repeats are replays."""
    counts = {"runs": 0, "replayed": 0}
    for _ in range(3):
        for month in range(1, MONTHS + 1):
            result = settle(engine, book, f"2026-{month:02d}", now=NOW, promoters_per_batch=3)
            counts["runs"] += 1
            counts["replayed"] += result.replayed
    return counts


def run_payouts(engine: Engine, book: str) -> dict[str, int]:
    """Request half of what is available, then complete, fail or leave each request."""
    counts = {"requested": 0, "refused": 0, "completed": 0, "failed": 0}
    for i in range(PAYOUT_ATTEMPTS):
        if counts["requested"] >= PAYOUT_REQUESTS:
            break
        promoter = PROMOTERS[i % len(PROMOTERS)]
        available = promoter_balances(engine, book, promoter).available
        if available < 100:
            continue
        request = RequestPayout(
            book=book,
            promoter=promoter,
            amount_minor=max(100, available // 2),
            request_id=f"w{i}",
            at=NOW,
        )
        try:
            request_payout(engine, request)
        except InsufficientAvailableError:
            counts["refused"] += 1  # a refund clawed back in between: refused, not overdrawn
            continue
        counts["requested"] += 1
        if not request_payout(engine, request).replayed:
            raise AssertionError(f"replay of {request.request_id} was not a replay")
        if i % 3 == 0:
            complete_payout(engine, CompletePayout(book=book, request_id=f"w{i}", at=NOW))
            complete_payout(engine, CompletePayout(book=book, request_id=f"w{i}", at=NOW))
            counts["completed"] += 1
        elif i % 3 == 1:
            fail_payout(engine, FailPayout(book=book, request_id=f"w{i}", at=NOW))
            counts["failed"] += 1
    return counts


def poster_entries(book: str, worker: str) -> Iterator[Entry]:
    """2,000 entries on the hot platform:cash; every 10th has a key all workers share."""
    for i in range(ENTRIES_PER_POSTER):
        shared = i % SHARED_EVERY == 0
        key = f"shared:{i}" if shared else f"{worker}:{i}"
        promoter = f"shared{i % 7}" if shared else f"{worker}-{i % 5}"
        yield Entry(
            book=book,
            key=key,
            kind="test",
            effective_at=NOW,
            postings=(
                Posting("platform:cash", i + 1, "CNY"),
                Posting(f"promoter:{promoter}:available", -(i + 1), "CNY"),
            ),
        )


def run_post(engine: Engine, book: str, worker: str) -> dict[str, int]:
    """Post this worker's entries in batches; shared keys are replays for all but one."""
    counts = {"posted": 0, "replayed": 0}
    for posted in post_entries(engine, poster_entries(book, worker), batch_size=ENTRIES_PER_BATCH):
        counts["replayed" if posted.replayed else "posted"] += 1
    return counts


def main(argv: list[str]) -> None:
    role, url, book, worker = argv
    engine = make_engine(url)
    if role == "ingest":
        counts = run_ingest(engine, book, worker)
    elif role == "settle":
        counts = run_settle(engine, book)
    elif role == "payouts":
        counts = run_payouts(engine, book)
    elif role == "post":
        counts = run_post(engine, book, worker)
    else:
        raise SystemExit(f"unknown role {role!r}")
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1:])
