"""Book files and event builders shared by the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.domain.events import Event, parse_event
from cps_ledger.services.books import apply_book
from cps_ledger.services.ingest import Outcome, Submitted, ingest
from cps_ledger.testing.model import DEFAULT_BOOK_TOML

T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)

BOOK_TOML = DEFAULT_BOOK_TOML
"""The DESIGN §6 example book (plus a category rule for 3C), with a ``{code}`` placeholder."""


def make_book(engine: Engine, code: str, toml: str = BOOK_TOML) -> str:
    """Apply the DESIGN §6 example book under ``code``."""
    apply_book(engine, parse_book_file(toml.format(code=code)).definition())
    return code


def at(minutes: int) -> str:
    """An ISO timestamp ``minutes`` after T0, with an offset."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def run(engine: Engine, *events: dict[str, Any]) -> list[Outcome]:
    """Ingest raw event objects as one stream; positions are 1-based."""
    items = [Submitted(i, _parse(e), e) for i, e in enumerate(events, start=1)]
    return list(ingest(engine, items))


def _parse(obj: dict[str, Any]) -> Event:
    return parse_event(obj)


def starter(book: str) -> list[dict[str, Any]]:
    """Two promoters (p1 under p0), a link of p1 and a paid order of two lines."""
    return [
        {"type": "promoter_registered", "book": book, "promoter": "p0", "at": at(0)},
        {
            "type": "promoter_registered",
            "book": book,
            "promoter": "p1",
            "upline": "p0",
            "at": at(1),
        },
        {"type": "share_link_created", "book": book, "link": "L1", "promoter": "p1", "at": at(2)},
        {
            "type": "order_paid",
            "book": book,
            "order": "o1",
            "link": "L1",
            "paid_at": at(3),
            "lines": [
                {
                    "line": "1",
                    "merchant": "m1",
                    "sku": "100012043978",
                    "quantity": 1,
                    "amount_minor": 19900,
                },
                {
                    "line": "2",
                    "merchant": "m2",
                    "category": "food",
                    "quantity": 2,
                    "amount_minor": 1250,
                },
            ],
        },
    ]
