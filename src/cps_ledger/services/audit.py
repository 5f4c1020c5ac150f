"""Audit: the invariants of the books, checked in SQL against what is stored.

Returns a typed report instead of raising, so users' tests can assert on each check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, literal, select, text, union_all

from cps_ledger.adapters.cps_tables import OrderLineRow, OrderRow, SettlementDueRow
from cps_ledger.adapters.tables import (
    AccountBalanceRow,
    AccountRow,
    IdempotencyKeyRow,
    JournalEntryRow,
    PostingRow,
    table,
)
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

ENTRIES = table(JournalEntryRow)
POSTINGS = table(PostingRow)
KEYS = table(IdempotencyKeyRow)
ACCOUNTS = table(AccountRow)
BALANCES = table(AccountBalanceRow)
LINES = table(OrderLineRow)
ORDERS = table(OrderRow)
DUE = table(SettlementDueRow)
EXAMPLES_MAX = 5


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """One invariant: its name, whether it holds, and what was found."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Every check of a book; ``ok`` only if all of them hold."""

    book: str
    checks: tuple[AuditCheck, ...]

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return all(c.ok for c in self.checks)

    def failed(self) -> list[AuditCheck]:
        """The checks that did not hold."""
        return [c for c in self.checks if not c.ok]


def _check(name: str, offenders: Sequence[object], what: str) -> AuditCheck:
    if not offenders:
        return AuditCheck(name, True, f"no {what}")
    shown = ", ".join(str(o) for o in offenders[:EXAMPLES_MAX])
    return AuditCheck(name, False, f"{len(offenders)} {what}: {shown}")


def _unbalanced_entries(conn: Connection, book: str) -> AuditCheck:
    rows = conn.execute(
        select(POSTINGS.c.entry_id, POSTINGS.c.currency, func.sum(POSTINGS.c.amount_minor))
        .where(POSTINGS.c.book == book)
        .group_by(POSTINGS.c.entry_id, POSTINGS.c.currency)
        .having(func.sum(POSTINGS.c.amount_minor) != 0)
    ).all()
    return _check("entries_balance", [f"{e}:{c}:{s}" for e, c, s in rows], "unbalanced entries")


def _short_entries(conn: Connection, book: str) -> AuditCheck:
    counts = (
        select(POSTINGS.c.entry_id, func.count().label("n"))
        .where(POSTINGS.c.book == book)
        .group_by(POSTINGS.c.entry_id)
        .subquery()
    )
    rows = conn.execute(
        select(ENTRIES.c.id)
        .select_from(ENTRIES.outerjoin(counts, counts.c.entry_id == ENTRIES.c.id))
        .where(ENTRIES.c.book == book, func.coalesce(counts.c.n, 0) < 2)
    ).all()
    return _check("entries_have_two_postings", [r[0] for r in rows], "entries with < 2 postings")


def _orphans(conn: Connection, book: str) -> AuditCheck:
    no_entry = conn.execute(
        select(POSTINGS.c.entry_id)
        .select_from(
            POSTINGS.outerjoin(
                ENTRIES,
                and_(ENTRIES.c.book == POSTINGS.c.book, ENTRIES.c.id == POSTINGS.c.entry_id),
            )
        )
        .where(POSTINGS.c.book == book, ENTRIES.c.id.is_(None))
    ).all()
    no_account = conn.execute(
        select(POSTINGS.c.account)
        .distinct()
        .select_from(
            POSTINGS.outerjoin(
                ACCOUNTS,
                and_(ACCOUNTS.c.book == POSTINGS.c.book, ACCOUNTS.c.code == POSTINGS.c.account),
            )
        )
        .where(POSTINGS.c.book == book, ACCOUNTS.c.code.is_(None))
    ).all()
    offenders = [f"entry {r[0]}" for r in no_entry] + [f"account {r[0]}" for r in no_account]
    return _check("no_orphan_postings", offenders, "orphan postings")


def _unique_keys(conn: Connection, book: str) -> AuditCheck:
    rows = conn.execute(
        select(KEYS.c.key).where(KEYS.c.book == book).group_by(KEYS.c.key).having(func.count() > 1)
    ).all()
    return _check("idempotency_keys_unique", [r[0] for r in rows], "duplicated keys")


def _counters(conn: Connection, book: str) -> AuditCheck:
    from_postings: dict[str, int] = {
        str(a): int(t)
        for a, t in conn.execute(
            select(POSTINGS.c.account, func.sum(POSTINGS.c.amount_minor))
            .where(POSTINGS.c.book == book)
            .group_by(POSTINGS.c.account)
        )
    }
    from_counters: dict[str, int] = {
        str(a): int(t)
        for a, t in conn.execute(
            select(BALANCES.c.account, func.sum(BALANCES.c.balance_minor))
            .where(BALANCES.c.book == book)
            .group_by(BALANCES.c.account)
        )
    }
    offenders = [
        f"{a}: counters {from_counters.get(a, 0)} != postings {from_postings.get(a, 0)}"
        for a in sorted(set(from_postings) | set(from_counters))
        if from_counters.get(a, 0) != from_postings.get(a, 0)
    ]
    return _check("balances_equal_postings", offenders, "accounts whose balance != postings")


def _trial_balance_zero(conn: Connection, book: str) -> AuditCheck:
    rows = conn.execute(
        select(POSTINGS.c.currency, func.sum(POSTINGS.c.amount_minor))
        .where(POSTINGS.c.book == book)
        .group_by(POSTINGS.c.currency)
    ).all()
    return _check(
        "trial_balance_zero",
        [f"{c}:{s}" for c, s in rows if int(s) != 0],
        "currencies not summing to 0",
    )


def _line_shares(conn: Connection, book: str) -> AuditCheck:
    rows = conn.execute(
        select(LINES.c.order_id, LINES.c.line).where(
            LINES.c.book == book,
            (
                LINES.c.promoter_minor + LINES.c.upline_minor + LINES.c.platform_minor
                != LINES.c.commission_minor
            )
            | (LINES.c.promoter_minor < 0)
            | (LINES.c.upline_minor < 0)
            | (LINES.c.platform_minor < 0)
            | (LINES.c.refunded_minor > LINES.c.amount_minor),
        )
    ).all()
    return _check(
        "line_shares_sum_to_commission",
        [f"{order}/{line}" for order, line in rows],
        "lines out of shape",
    )


def _order_totals(conn: Connection, book: str) -> AuditCheck:
    sums = (
        select(
            LINES.c.order_id,
            func.sum(LINES.c.promoter_minor).label("promoter_minor"),
            func.sum(LINES.c.upline_minor).label("upline_minor"),
            func.count().label("line_count"),
        )
        .where(LINES.c.book == book)
        .group_by(LINES.c.order_id)
        .subquery()
    )
    rows = conn.execute(
        select(ORDERS.c.order_id)
        .select_from(ORDERS.outerjoin(sums, sums.c.order_id == ORDERS.c.order_id))
        .where(
            ORDERS.c.book == book,
            (sums.c.order_id.is_(None))
            | (ORDERS.c.promoter_minor != sums.c.promoter_minor)
            | (ORDERS.c.upline_minor != sums.c.upline_minor)
            | (ORDERS.c.line_count != sums.c.line_count),
        )
    ).all()
    return _check(
        "order_totals_equal_lines", [order for (order,) in rows], "orders whose totals differ"
    )


def _due_sides(conn: Connection, book: str) -> AuditCheck:
    # Due rows must be exactly the completed orders' unmarked sides: a missing one would
    # never be settled, an extra one settled twice.
    sides = (
        ("promoter", ORDERS.c.promoter, ORDERS.c.promoter_settled),
        ("upline", ORDERS.c.upline, ORDERS.c.upline_settled),
    )
    owed = union_all(
        *(
            select(
                party.label("party"),
                literal(side).label("side"),
                ORDERS.c.order_id,
                ORDERS.c.completed_at,
            ).where(
                ORDERS.c.book == book,
                ORDERS.c.state == "completed",
                party.is_not(None),
                marker.is_(None),
            )
            for side, party, marker in sides
        )
    ).subquery()
    stored = select(DUE).where(DUE.c.book == book).subquery()
    match = and_(
        owed.c.party == stored.c.party,
        owed.c.side == stored.c.side,
        owed.c.order_id == stored.c.order_id,
        owed.c.completed_at == stored.c.completed_at,
    )
    missing = (
        select(owed.c.order_id, owed.c.side)
        .select_from(owed.outerjoin(stored, match))
        .where(stored.c.order_id.is_(None))
    )
    extra = (
        select(stored.c.order_id, stored.c.side)
        .select_from(stored.outerjoin(owed, match))
        .where(owed.c.order_id.is_(None))
    )
    found = [f"{order}/{side} not due" for order, side in conn.execute(extra)]
    found += [f"{order}/{side} due, no row" for order, side in conn.execute(missing)]
    return _check("settlement_due_matches_orders", sorted(found), "due sides out of step")


CHECKS: tuple[Callable[[Connection, str], AuditCheck], ...] = (
    _unbalanced_entries,
    _short_entries,
    _orphans,
    _unique_keys,
    _counters,
    _trial_balance_zero,
    _line_shares,
    _order_totals,
    _due_sides,
)


def audit(engine: Engine, book: str) -> AuditReport:
    """Check every invariant of ``book`` against the stored journal."""

    def work(uow: UnitOfWork) -> AuditReport:
        load_book(uow.conn, book)
        if uow.conn.dialect.name == "postgresql":
            # Every check scans a whole book. On tables whose statistics are stale (a fresh
            # load, before autovacuum's ANALYZE) the planner would pick nested loops and the
            # orphan anti-join turns quadratic; hash joins are right for all of them.
            uow.conn.execute(text("SET LOCAL enable_nestloop = off"))
        return AuditReport(book, tuple(check(uow.conn, book) for check in CHECKS))

    return transact(engine, work, read_only=True)
