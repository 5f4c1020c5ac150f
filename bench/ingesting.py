"""Workloads 2, 3b and 4: paid orders through the batch API, concurrency, a lifecycle."""

from __future__ import annotations

import json
import multiprocessing
import random
from typing import Any

from sqlalchemy import Engine

from bench.common import Context, analyze, new_book, rate, stopwatch
from bench.data import at, paid_order, paid_orders, setup_events, submitted
from bench.raw import reinsert
from cps_ledger.adapters.engine import make_engine
from cps_ledger.api import CpsLedger
from cps_ledger.services.ingest import Status, ingest
from cps_ledger.tuning import bulk_work

INGEST_BASE = 20_000
CONCURRENT_BASE = 10_000
LIFECYCLE_BASE = 10_000
PROMOTERS = 5_000
PARALLEL_WORKERS = 2
INGEST_TABLES = ["journal_entries", "postings", "idempotency_keys", "orders", "order_lines"]


def _run(engine: Engine, events: Any, start: int = 1) -> int:
    """Ingest ``events``; the number applied (a rejection is a bench bug: raise)."""
    applied = 0
    for outcome in ingest(engine, submitted(events, start)):
        if outcome.status is Status.REJECTED:
            raise RuntimeError(f"event {outcome.position} rejected: {outcome.error}")
        applied += 1
    return applied


def prepared_book(ctx: Context, prefix: str, promoters: int) -> str:
    """A book with ``promoters`` promoters and a link each (not timed)."""
    book = new_book(ctx.engine, prefix)
    _run(ctx.engine, setup_events(book, promoters, seed=ctx.seed))
    # What autovacuum does within a minute of a load this size (threshold: 50 rows + 10% of
    # the table); this machine's server runs with autovacuum off.
    analyze(ctx.engine)
    return book


def ingest_orders(ctx: Context) -> None:
    """Paid orders (1–3 lines, 20% with an upline) through ``ingest``, against raw inserts;
    on a server database also as JSON lines through two worker processes.

    Each way of ingesting is compared with a raw insert of the rows it wrote, timed right
    after it: on a host whose speed drifts from one minute to the next (stop 17's moved
    by a fifth), a baseline taken a minute earlier misstates the ratio of the later runs.
    """
    n = ctx.size(INGEST_BASE, 100)
    promoters = min(PROMOTERS, n)
    book = prepared_book(ctx, "ingest", promoters)
    # Every measurement takes the same JSON lines, made before the clock starts: making the
    # orders is the bench's work, not the library's (finding 26); parsing them is timed.
    seconds = _lines(ctx, _order_lines(ctx, book, n, promoters), workers=1)
    ctx.add("ingest", "orders", n, "orders")
    raw_rows = _against_raw(ctx, book, n, seconds, "")
    ctx.add("ingest", "rows written", rate(raw_rows, seconds), "rows/s")
    # The same orders in a host that opted into bulk_work() (the CLI's bulk commands do):
    # what a batch script gets by asking for it (docs/performance.md, finding 21).
    book = prepared_book(ctx, "ingestbulk", promoters)
    lines = _order_lines(ctx, book, n, promoters)
    with bulk_work():
        tuned_s = _lines(ctx, lines, workers=1)
    _against_raw(ctx, book, n, tuned_s, ", in bulk_work()")
    if ctx.engine.dialect.name == "sqlite":
        return  # one writer: workers would only queue for the lock
    book = prepared_book(ctx, "ingest2", promoters)
    workers_s = _lines(ctx, _order_lines(ctx, book, n, promoters), workers=PARALLEL_WORKERS)
    _against_raw(ctx, book, n, workers_s, f", {PARALLEL_WORKERS} workers")


def _against_raw(ctx: Context, book: str, n: int, seconds: float, how: str) -> int:
    """Record the throughput of ``n`` orders ingested into ``book`` in ``seconds``, a raw
    insert of the same rows timed now, and their ratio; the rows written."""
    raw_rows, raw_s = reinsert(ctx.engine, INGEST_TABLES, book, new_book(ctx.engine, "raw"))
    ours, raw = rate(n, seconds), rate(n, raw_s)
    ctx.add("ingest", f"throughput{how}", ours, "orders/s")
    ctx.add("ingest", f"raw bulk insert{how}", raw, "orders/s")
    ctx.add("ingest", f"ratio to raw{how}", ours / raw if raw else 0.0, "x")
    return raw_rows


def _order_lines(ctx: Context, book: str, n: int, promoters: int) -> list[str]:
    """The ingest workload's paid orders into ``book`` as JSON lines (the same every time)."""
    return [json.dumps(e) for e in paid_orders(book, n, promoters, seed=ctx.seed)]


def _lines(ctx: Context, lines: list[str], *, workers: int, start: int = 1) -> float:
    """Seconds to ingest JSON lines, in this process or with ``workers`` processes (their
    start-up included)."""
    ledger = CpsLedger(ctx.engine)
    with stopwatch() as elapsed:
        for outcome in ledger.ingest_lines(lines, workers=workers):
            if outcome.status is Status.REJECTED:
                raise RuntimeError(f"line {outcome.position + start - 1}: {outcome.error}")
    return elapsed()


def _worker(  # noqa: PLR0917  (a multiprocessing target takes positional args)
    url: str, book: str, count: int, promoters: int, seed: int, prefix: str, start: Any
) -> None:
    events = list(paid_orders(book, count, promoters, seed=seed, prefix=prefix))
    engine = make_engine(url)
    with engine.connect():
        pass  # the pool's first connection is opened before the clock starts
    start.wait()
    _run(engine, events)
    engine.dispose()


def _processes(url: str, book: str, n: int, promoters: int, *, seed: int, workers: int) -> float:
    """Seconds from the moment every worker has imported, generated its orders and connected
    (a barrier) until the last one has ingested them: start-up is not what is compared."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(workers + 1)
    procs = [
        spawn.Process(
            target=_worker,
            args=(url, book, n // workers, promoters, seed + w, f"w{w}-", start),
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    start.wait(timeout=600)
    with stopwatch() as elapsed:
        for p in procs:
            p.join()
    if any(p.exitcode for p in procs):
        raise RuntimeError("a worker process failed")
    return elapsed()


def concurrent_ingest(ctx: Context) -> None:
    """Two processes ingesting into one book against one (throughput ratio)."""
    n = ctx.size(CONCURRENT_BASE, 100)
    promoters = min(PROMOTERS, n)
    one = rate(
        n,
        _processes(
            ctx.target.url,
            prepared_book(ctx, "one", promoters),
            n,
            promoters,
            seed=ctx.seed,
            workers=1,
        ),
    )
    two = rate(
        n,
        _processes(
            ctx.target.url,
            prepared_book(ctx, "two", promoters),
            n,
            promoters,
            seed=ctx.seed,
            workers=2,
        ),
    )
    ctx.add("concurrent", "1 process", one, "orders/s")
    ctx.add("concurrent", "2 processes", two, "orders/s")
    ctx.add("concurrent", "2 / 1", two / one if one else 0.0, "x")


def lifecycle_events(book: str, n: int, promoters: int, seed: int) -> list[list[dict[str, Any]]]:
    """Phases: paid; completed (85%) / cancelled (10%) / refunds before completion; refunds
    after completion (and after settlement, when the bench settles between phases)."""
    rnd = random.Random(seed)
    paid = [
        paid_order(book, f"o{i}", f"L{rnd.randrange(promoters)}", 1000 + i / 100, rnd)
        for i in range(n)
    ]
    later: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for i, order in enumerate(paid):
        fate = rnd.random()
        refund = rnd.random() < 0.08
        lines = [
            {"line": ln["line"], "amount_minor": ln["amount_minor"] // rnd.choice((1, 2))}
            for ln in order["lines"]
        ]
        ev = {
            "type": "refund",
            "book": book,
            "refund": f"r{i}",
            "order": order["order"],
            "lines": lines,
        }
        when = 1000 + n / 100 + i / 100
        if fate < 0.85:
            later.append(
                {"type": "order_completed", "book": book, "order": order["order"], "at": at(when)}
            )
            if refund:
                after.append({**ev, "at": at(40 * 86400 + i / 100)})
        elif fate < 0.95:
            later.append(
                {"type": "order_cancelled", "book": book, "order": order["order"], "at": at(when)}
            )
        elif refund:
            later.append({**ev, "at": at(when)})
    return [paid, later, after]


def mixed_lifecycle(ctx: Context) -> None:
    """Paid → 85% completed, 10% cancelled, 8% refunded (some after settlement): events/s,
    in one process and, on a server database, as JSON lines through two workers."""
    n = ctx.size(LIFECYCLE_BASE, 100)
    promoters = min(PROMOTERS, n)
    runs = [1] if ctx.engine.dialect.name == "sqlite" else [1, PARALLEL_WORKERS]
    for workers in runs:
        book = prepared_book(ctx, "life", promoters)
        phases = lifecycle_events(book, n, promoters, ctx.seed)
        seconds, events = 0.0, 0
        for number, phase in enumerate(phases):
            if number == 2:
                _settle_october(ctx, book)
            if workers == 1:
                with stopwatch() as elapsed:
                    _run(ctx.engine, iter(phase), start=events + 1)
                seconds += elapsed()
            else:
                lines = [json.dumps(e) for e in phase]
                seconds += _lines(ctx, lines, workers=workers, start=events + 1)
            events += len(phase)
        label = "throughput" if workers == 1 else f"throughput, {workers} workers"
        if workers == 1:
            ctx.add("lifecycle", "events", events, "events")
        ctx.add("lifecycle", label, rate(events, seconds), "events/s")


def _settle_october(ctx: Context, book: str) -> None:
    # Refunds of the last phase then claw back from ``available``; without the settlement
    # module they come from ``confirmed`` instead, still a late refund.
    try:
        from cps_ledger.services.settlement import settle  # noqa: PLC0415  (late: may be absent)
    except ImportError:
        ctx.add("lifecycle", "settled between phases (0 = settlement module absent)", 0, "flag")
        return
    settle(ctx.engine, book, "2026-10")
    ctx.add("lifecycle", "settled between phases (0 = settlement module absent)", 1, "flag")
