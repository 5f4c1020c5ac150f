"""SQL of settlement runs: promoter pages, unsettled lines, order locks, run bookkeeping.

Every statement is filtered to one book, and every batch statement is set-based: one query
or one multi-row (executemany) statement per table per batch of promoters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Connection, and_, case, func, or_, select, update

from cps_ledger.adapters.bulk import insert_rows, stored_utc, stored_uuid
from cps_ledger.adapters.cps_tables import (
    OrderLineRow,
    OrderRow,
    PromoterRow,
    SettlementRow,
    SettlementRunRow,
)
from cps_ledger.adapters.dialect import id_filters, insert_missing
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


def _among(conn: Connection, column: Any, ids: Sequence[str]) -> Any:
    """``column`` among ``ids`` (a page of promoters) as one condition."""
    filters = id_filters(conn, column, ids)
    return filters[0] if len(filters) == 1 else or_(*filters)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A completed order with a share of the page's promoters still unsettled."""

    order_id: str
    promoter: str
    upline: str | None
    promoter_settled: str | None
    upline_settled: str | None


def lock_candidates(
    conn: Connection, book: str, promoters: Sequence[str], end: datetime
) -> list[Candidate]:
    """Completed orders (before ``end``) with an unsettled share of ``promoters``, locked
    FOR UPDATE in id order, as refund ingest locks them: the two never deadlock."""
    if not promoters:
        return []
    rows = conn.execute(
        select(
            ORDERS.c.order_id,
            ORDERS.c.promoter,
            ORDERS.c.upline,
            ORDERS.c.promoter_settled,
            ORDERS.c.upline_settled,
        )
        .where(
            ORDERS.c.book == book,
            ORDERS.c.state == COMPLETED,
            ORDERS.c.completed_at < end,
            or_(
                and_(
                    _among(conn, ORDERS.c.promoter, promoters),
                    ORDERS.c.promoter_settled.is_(None),
                ),
                and_(_among(conn, ORDERS.c.upline, promoters), ORDERS.c.upline_settled.is_(None)),
            ),
        )
        .order_by(ORDERS.c.order_id)
        .with_for_update()
    )
    return [Candidate(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class SettledShares:
    """What one party gets from the orders settled for it in this run."""

    promoter: str
    amount_minor: int
    lines: int


def settle_shares(
    conn: Connection, book: str, period: str, *, upline: bool, order_ids: Sequence[str]
) -> list[SettledShares]:
    """Mark ``period`` as the settlement of one party's shares of ``order_ids`` (locked by
    this transaction) and sum those shares per party, over every line of the orders."""
    if not order_ids:
        return []
    marker = ORDERS.c.upline_settled if upline else ORDERS.c.promoter_settled
    party = LINES.c.upline if upline else LINES.c.promoter
    share = LINES.c.upline_minor if upline else LINES.c.promoter_minor
    sums: dict[str, list[int]] = {}
    for among in id_filters(conn, ORDERS.c.order_id, order_ids):
        conn.execute(
            update(ORDERS).where(ORDERS.c.book == book, among).values({marker.name: period})
        )
    for of_orders in id_filters(conn, LINES.c.order_id, order_ids):
        rows = conn.execute(
            select(party, func.sum(share), func.count())
            .where(LINES.c.book == book, of_orders)
            .group_by(party)
        )
        for who, amount, count in rows:
            total = sums.setdefault(str(who), [0, 0])
            total[0] += int(amount)
            total[1] += int(count)
    return [SettledShares(who, amount, count) for who, (amount, count) in sorted(sums.items())]


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


def settled_promoters(
    conn: Connection, book: str, period: str, promoters: Sequence[str]
) -> set[str]:
    """Those of ``promoters`` that already have a settlement in ``period``."""
    found: set[str] = set()
    for among in id_filters(conn, SETTLEMENTS.c.promoter, promoters):
        found.update(
            conn.execute(
                select(SETTLEMENTS.c.promoter).where(
                    SETTLEMENTS.c.book == book,
                    SETTLEMENTS.c.period == period,
                    among,
                )
            ).scalars()
        )
    return found


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
