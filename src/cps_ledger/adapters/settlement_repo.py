"""SQL of settlement runs: promoter pages, unsettled lines, order locks, run bookkeeping.

Every statement is filtered to one book, and every batch statement is set-based: one query
or one multi-row (executemany) statement per table per batch of promoters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from sqlalchemy import Connection, case, func, select, update

from cps_ledger.adapters.bulk import insert_rows, stored_utc, stored_uuid
from cps_ledger.adapters.cps_tables import (
    OrderLineRow,
    OrderRow,
    PromoterRow,
    SettlementRow,
    SettlementRunRow,
)
from cps_ledger.adapters.dialect import insert_missing
from cps_ledger.adapters.tables import table

ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
PROMOTERS = table(PromoterRow)
RUNS = table(SettlementRunRow)
SETTLEMENTS = table(SettlementRow)
COMPLETED: Final = "completed"


@dataclass(frozen=True, slots=True)
class RunState:
    """A settlement run as stored; ``completed_at`` is None while it is under way."""

    period: str
    started_at: datetime
    completed_at: datetime | None
    promoters: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """A ``settlements`` row: what one promoter received in one period."""

    promoter: str
    amount_minor: int
    lines: int
    entry_id: UUID | None


def run_state(conn: Connection, book: str, period: str) -> RunState | None:
    """The run of ``period``, if one was ever started."""
    r = conn.execute(select(RUNS).where(RUNS.c.book == book, RUNS.c.period == period)).first()
    if r is None:
        return None
    return RunState(r.period, r.started_at, r.completed_at, r.promoters, r.amount_minor)


def last_completed_period(conn: Connection, book: str) -> str | None:
    """The latest period whose run completed (``YYYY-MM`` sorts as text)."""
    value = conn.execute(
        select(func.max(RUNS.c.period)).where(RUNS.c.book == book, RUNS.c.completed_at.is_not(None))
    ).scalar_one()
    return None if value is None else str(value)


def start_run(conn: Connection, book: str, period: str, now: datetime) -> None:
    """Record that a run of ``period`` started; a run already recorded is left as it is."""
    insert_missing(
        conn,
        RUNS,
        [
            {
                "book": book,
                "period": period,
                "started_at": now,
                "completed_at": None,
                "promoters": 0,
                "amount_minor": 0,
            }
        ],
    )


def promoter_page(conn: Connection, book: str, after: str | None, limit: int) -> list[str]:
    """The next ``limit`` registered promoters after ``after``, in id order."""
    query = select(PROMOTERS.c.promoter).where(PROMOTERS.c.book == book)
    if after is not None:
        query = query.where(PROMOTERS.c.promoter > after)
    return list(conn.execute(query.order_by(PROMOTERS.c.promoter).limit(limit)).scalars())


def insert_settlements(
    conn: Connection, book: str, period: str, now: datetime, rows: Sequence[SettlementRecord]
) -> None:
    """Store one ``settlements`` row per promoter settled in this batch."""
    settled_at = stored_utc(now)
    insert_rows(
        conn,
        SETTLEMENTS,
        [
            (
                book,
                period,
                r.promoter,
                r.amount_minor,
                r.lines,
                None if r.entry_id is None else stored_uuid(r.entry_id),
                settled_at,
            )
            for r in rows
        ],
    )


def complete_run(conn: Connection, book: str, period: str, now: datetime) -> RunState:
    """Close the run with its totals, summed from its settlements (robust to resumes)."""
    count, total = conn.execute(
        select(
            # MariaDB has no aggregate FILTER clause: count the non-zero ones with a CASE.
            func.coalesce(func.sum(case((SETTLEMENTS.c.amount_minor != 0, 1), else_=0)), 0),
            func.coalesce(func.sum(SETTLEMENTS.c.amount_minor), 0),
        ).where(SETTLEMENTS.c.book == book, SETTLEMENTS.c.period == period)
    ).one()
    conn.execute(
        update(RUNS)
        .where(RUNS.c.book == book, RUNS.c.period == period, RUNS.c.completed_at.is_(None))
        .values(completed_at=now, promoters=int(count), amount_minor=int(total))
    )
    state = run_state(conn, book, period)
    if state is None:  # pragma: no cover - the run row is written before any batch
        raise AssertionError(f"settlement run {book}/{period} vanished")
    return state
