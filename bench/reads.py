"""Workload 7: balances now and as of a past time (p50/p99), trial balance, audit."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bench.common import Context, new_book, rate, stopwatch
from bench.data import T0, four_posting_entries
from cps_ledger.services.audit import audit
from cps_ledger.services.balances import promoter_balances
from cps_ledger.services.ledger import account_balance, post_entries, trial_balance

READ_ENTRIES_BASE = 20_000
CALLS = 1000
HOT_CALLS = 3


def _percentiles(samples_ms: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples_ms, n=100)
    return q[49], q[98]


def _settled_after_load(engine: Engine) -> bool:
    """On PostgreSQL, what a default server has done within minutes of a large load:
    autovacuum's VACUUM and ANALYZE (since PostgreSQL 13 inserts alone trigger it; it sets
    the visibility map that lets the as-of balance read the postings index without
    visiting the table) and a checkpoint (``checkpoint_timeout``, 5 min), so the load's
    dirty buffers are not written out during the timed reads. Whether it checkpointed."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
        try:
            conn.execute(text("CHECKPOINT"))
        except DBAPIError:
            return False  # not a superuser (nor pg_checkpoint): reads run beside the writing
    return True


def reads(ctx: Context) -> None:
    """Reads at the postings count reached (four postings per entry): a promoter's four
    balances now and as of a past time, a hot account as of a past time, trial balance,
    audit. One promoter per 25 entries: 100,000 of them at 10,000,000 postings."""
    n = ctx.size(READ_ENTRIES_BASE, 100)
    promoters = max(1000, n // 25)
    book = new_book(ctx.engine, "reads")
    entries = four_posting_entries(book, n, seed=ctx.seed, promoters=promoters)
    for _ in post_entries(ctx.engine, entries):
        pass
    ctx.add("reads", "postings", 4 * n, "postings")
    ctx.add("reads", "promoters", promoters, "promoters")
    # Without statistics the planner scans (docs/performance.md, "run ANALYZE after the
    # first large load"); without a vacuum every as-of read visits the table's pages.
    ctx.add("reads", "checkpoint before reads", float(_settled_after_load(ctx.engine)), "flag")
    rnd = random.Random(ctx.seed)
    middle = T0 + timedelta(seconds=n // 2)
    for label, as_of in (("promoter balances now", None), ("promoter balances as-of", middle)):
        samples = []
        for _ in range(CALLS):
            promoter = f"p{rnd.randrange(promoters)}"
            start = time.perf_counter()
            promoter_balances(ctx.engine, book, promoter, as_of=as_of)
            samples.append((time.perf_counter() - start) * 1000)
        p50, p99 = _percentiles(samples)
        ctx.add("reads", f"{label} p50", p50, "ms")
        ctx.add("reads", f"{label} p99", p99, "ms")
    with stopwatch() as elapsed:
        for _ in range(HOT_CALLS):
            account_balance(ctx.engine, book, "platform:fee:estimated", as_of=middle)
    ctx.add("reads", "hot account as-of (half the postings)", elapsed() / HOT_CALLS, "s")
    with stopwatch() as elapsed:
        trial_balance(ctx.engine, book)
    ctx.add("reads", "trial balance", elapsed(), "s")
    with stopwatch() as elapsed:
        report = audit(ctx.engine, book)
    ctx.add("reads", "audit", elapsed(), "s")
    ctx.add("reads", "audit ok", float(report.ok), "flag")
    ctx.add("reads", "audit postings/s", rate(4 * n, elapsed()), "postings/s")
