"""Workloads 5 and 6: settlement (in a child process, for its peak RSS) and payouts."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Context, SkippedError, rate
from bench.data import at, paid_orders
from bench.ingesting import _run, prepared_book

TIMER = "/usr/bin/time"
"""GNU time: the peak RSS of the command it runs (``-v``)."""
SETTLE_LINES_BASE = 20_000
SETTLE_PROMOTERS_BASE = 2_000
PAYOUTS_BASE = 1_000
PAYOUT_PROCESSES = 4


def _need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SkippedError(f"{module} is not there yet ({exc})") from None


def _completed_book(ctx: Context, lines: int, promoters: int) -> str:
    book = prepared_book(ctx, "settle", promoters)
    orders = list(paid_orders(book, max(1, lines // 2), promoters, seed=ctx.seed))
    _run(ctx.engine, iter(orders))
    done = (
        {"type": "order_completed", "book": book, "order": o["order"], "at": at(86400)}
        for o in orders
    )
    _run(ctx.engine, done, start=len(orders) + 1)
    return book


def settlement(ctx: Context) -> None:
    """M completed lines over P promoters settled by ``cps-ledger settle``: what an operator
    runs. Seconds (the command's whole run, start-up included), lines/s, peak RSS."""
    _need("cps_ledger.services.settlement")
    lines = ctx.size(SETTLE_LINES_BASE, 100)
    book = _completed_book(ctx, lines, ctx.size(SETTLE_PROMOTERS_BASE, 10))
    with ctx.engine.connect() as conn:
        from sqlalchemy import text  # noqa: PLC0415  (late: may be absent)

        counted = conn.execute(
            text("SELECT count(*) FROM order_lines WHERE book = :b"), {"b": book}
        ).scalar_one()
    cli = Path(sys.executable).with_name("cps-ledger")
    command = [str(cli), "--database-url", ctx.target.url, "--json", "settle"]
    timer = [TIMER, "-v"] if Path(TIMER).exists() else []
    start = time.perf_counter()
    done = subprocess.run(
        [*timer, *command, "--book", book, "--period", "2026-10"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    result = json.loads(done.stdout)
    peak_kb = next(
        (int(ln.split(":")[1]) for ln in done.stderr.splitlines() if "Maximum resident" in ln),
        0,
    )
    ctx.add("settlement", "lines", counted, "lines")
    ctx.add("settlement", "promoters settled", result["promoters"], "promoters")
    ctx.add("settlement", "time", seconds, "s")
    ctx.add("settlement", "throughput", rate(counted, seconds), "lines/s")
    ctx.add("settlement", "peak RSS", peak_kb / 1024, "MB")


def _requester(url: str, book: str, promoters: list[str], out: Any) -> None:
    from cps_ledger.adapters.engine import make_engine  # noqa: PLC0415  (late: may be absent)
    from cps_ledger.domain.commands import RequestPayout  # noqa: PLC0415  (late: may be absent)
    from cps_ledger.services import payouts, uow  # noqa: PLC0415  (late: may be absent)

    engine = make_engine(url)
    for n, p in enumerate(promoters):
        cmd = RequestPayout(
            book=book, promoter=p, amount_minor=100, request_id=f"{p}-{n}", at=at(40 * 86400)
        )
        payouts.request_payout(engine, cmd)
    out.put(uow.retries_seen)


def payouts(ctx: Context) -> None:
    """Payout requests from four processes: requests/s and retries seen."""
    _need("cps_ledger.services.payouts")
    _need("cps_ledger.services.settlement")
    from cps_ledger.services.settlement import settle  # noqa: PLC0415  (late: may be absent)

    requests = ctx.size(PAYOUTS_BASE, PAYOUT_PROCESSES)
    promoters = min(2000, requests)
    book = _completed_book(ctx, promoters * 20, promoters)
    settle(ctx.engine, book, "2026-10")
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    share = requests // PAYOUT_PROCESSES
    names = [
        f"p{(w * share + i) % promoters}" for w in range(PAYOUT_PROCESSES) for i in range(share)
    ]
    procs = [
        spawn.Process(
            target=_requester,
            args=(ctx.target.url, book, names[w * share : (w + 1) * share], queue),
        )
        for w in range(PAYOUT_PROCESSES)
    ]

    start = time.perf_counter()
    for p in procs:
        p.start()
    retries = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    seconds = time.perf_counter() - start
    ctx.add("payouts", "requests", share * PAYOUT_PROCESSES, "requests")
    ctx.add("payouts", "throughput", rate(share * PAYOUT_PROCESSES, seconds), "requests/s")
    ctx.add("payouts", "retries seen", retries, "retries")
