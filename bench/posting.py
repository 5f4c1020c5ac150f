"""Workloads 1 and 3a: the double-entry core, and hot versus spread accounts."""

from __future__ import annotations

from bench.common import Context, new_book, rate, stopwatch
from bench.data import four_posting_entries
from bench.raw import reinsert
from cps_ledger.services.ledger import post_entries

POSTING_BASE = 20_000
HOT_BASE = 10_000


def _post(ctx: Context, book: str, count: int, *, hot: bool) -> float:
    entries = four_posting_entries(book, count, seed=ctx.seed, hot=hot)
    with stopwatch() as elapsed:
        for _ in post_entries(ctx.engine, entries):
            pass
    return elapsed()


def core_posting(ctx: Context) -> None:
    """N four-posting entries through ``post_entries``, against a raw bulk insert of them."""
    n = ctx.size(POSTING_BASE, 100)
    book = new_book(ctx.engine, "post")
    seconds = _post(ctx, book, n, hot=True)
    ours = rate(n, seconds)
    ctx.add("posting", "entries", n, "entries")
    ctx.add("posting", "throughput", ours, "entries/s")
    _rows, raw_s = reinsert(
        ctx.engine, ["journal_entries", "postings"], book, new_book(ctx.engine, "raw")
    )
    raw_entries_s = rate(n, raw_s)
    ctx.add("posting", "raw bulk insert", raw_entries_s, "entries/s")
    ctx.add("posting", "ratio to raw", ours / raw_entries_s if raw_entries_s else 0.0, "x")


def hot_vs_spread(ctx: Context) -> None:
    """Every entry touching the platform's account versus entries over many accounts."""
    n = ctx.size(HOT_BASE, 100)
    spread = rate(n, _post(ctx, new_book(ctx.engine, "spread"), n, hot=False))
    hot = rate(n, _post(ctx, new_book(ctx.engine, "hot"), n, hot=True))
    ctx.add("hot_vs_spread", "spread accounts", spread, "entries/s")
    ctx.add("hot_vs_spread", "hot platform account", hot, "entries/s")
    ctx.add("hot_vs_spread", "hot / spread", hot / spread if spread else 0.0, "x")
