"""Deterministic workloads from a seed: raw entries, and event streams as JSON objects."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.events import parse_event
from cps_ledger.services.ingest import Submitted

T0: Final = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
"""Early October in Shanghai: a whole month of events fits before the period ends."""
MERCHANTS: Final = 200


def at(seconds: float) -> str:
    """An ISO timestamp ``seconds`` after T0."""
    return (T0 + timedelta(seconds=seconds)).isoformat()


def four_posting_entries(
    book: str, count: int, *, seed: int, promoters: int = 10_000, hot: bool = True
) -> Iterator[Entry]:
    """Entries of four legs, like a paid order: receivable against three parties.

    ``hot``: every entry credits the platform's fee account; otherwise the third leg goes to
    one of many promoters, so no account is shared by most entries.
    """
    rnd = random.Random(seed)
    for i in range(count):
        c = rnd.randint(100, 10_000)
        m, p, u = rnd.randrange(MERCHANTS), rnd.randrange(promoters), rnd.randrange(promoters)
        third = (
            "platform:fee:estimated" if hot else f"promoter:{rnd.randrange(promoters)}:confirmed"
        )
        yield Entry(
            book=book,
            key=f"bench:{i}",
            kind="bench",
            effective_at=T0 + timedelta(seconds=i),
            postings=(
                Posting(f"merchant:m{m}:receivable:estimated", c, "CNY"),
                Posting(f"promoter:p{p}:estimated", -(c * 8 // 10), "CNY"),
                Posting(f"promoter:p{u}:estimated", -(c // 10), "CNY"),
                Posting(third, -(c - c * 8 // 10 - c // 10), "CNY"),
            ),
        )


def setup_events(book: str, promoters: int, *, seed: int) -> Iterator[dict[str, Any]]:
    """Promoters (every fifth under an upline) and one share link each."""
    rnd = random.Random(seed)
    for p in range(promoters):
        event: dict[str, Any] = {
            "type": "promoter_registered",
            "book": book,
            "promoter": f"p{p}",
            "at": at(p / 1000),
        }
        if p % 5 == 4:  # 20% of orders then carry an upline share
            event["upline"] = f"p{rnd.randrange(p)}"
        yield event
    for p in range(promoters):
        yield {
            "type": "share_link_created",
            "book": book,
            "link": f"L{p}",
            "promoter": f"p{p}",
            "at": at(100 + p / 1000),
        }


def paid_order(book: str, order: str, link: str, when: float, rnd: random.Random) -> dict[str, Any]:
    """An order of 1–3 lines paid through ``link``."""
    lines = []
    for n in range(rnd.randint(1, 3)):
        line: dict[str, Any] = {
            "line": str(n + 1),
            "merchant": f"m{rnd.randrange(MERCHANTS)}",
            "quantity": rnd.randint(1, 3),
            "amount_minor": rnd.randint(500, 50_000),
        }
        if rnd.random() < 0.1:
            line["sku"] = "sku-hot"
        lines.append(line)
    return {
        "type": "order_paid",
        "book": book,
        "order": order,
        "link": link,
        "paid_at": at(when),
        "lines": lines,
    }


def paid_orders(
    book: str, count: int, promoters: int, *, seed: int, prefix: str = "o"
) -> Iterator[dict[str, Any]]:
    """``count`` paid orders through random links, one a millisecond after the links."""
    rnd = random.Random(seed)
    for i in range(count):
        yield paid_order(book, f"{prefix}{i}", f"L{rnd.randrange(promoters)}", 1000 + i / 1000, rnd)


def submitted(events: Iterator[dict[str, Any]], start: int = 1) -> Iterator[Submitted]:
    """Parse raw events into what the batch API takes, numbered from ``start``."""
    for n, raw in enumerate(events, start=start):
        yield Submitted(n, parse_event(raw), raw)
