"""Books: create or update one from its definition, publish rules versions, load them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, update

from cps_ledger.adapters.tables import BookRow, RuleSetRow, table
from cps_ledger.domain.books import Book, BookDefinition, RulesVersion
from cps_ledger.errors import BookFileError, UnknownBookError
from cps_ledger.services.uow import UnitOfWork, transact

BOOKS = table(BookRow)
RULE_SETS = table(RuleSetRow)


@dataclass(frozen=True, slots=True)
class BookApplied:
    """What ``book apply`` did: the rules version now in force and whether it changed."""

    book: str
    rules_version: int
    changed: bool


def apply_book(
    engine: Engine, definition: BookDefinition, *, at: datetime | None = None
) -> BookApplied:
    """Create the book if new; publish its rules as a new version if they differ.

    Currency and time zone are fixed at creation: changing them would re-price money already
    booked or re-cut periods already settled.
    """
    now = at or datetime.now(UTC)

    def work(uow: UnitOfWork) -> BookApplied:
        conn = uow.conn
        row = conn.execute(
            select(BOOKS).where(BOOKS.c.code == definition.code).with_for_update()
        ).first()
        digest = definition.rules_digest()
        if row is None:
            conn.execute(
                insert(BOOKS).values(
                    code=definition.code,
                    currency=definition.currency,
                    timezone=definition.timezone,
                    payout_minimum_minor=definition.payout_minimum_minor,
                    withholding=definition.withholding,
                    rules_version=1,
                    created_at=now,
                )
            )
            _publish(conn, definition, 1, digest, now)
            uow.commit()
            return BookApplied(definition.code, 1, True)
        for name in ("currency", "timezone"):
            if getattr(row, name) != getattr(definition, name):
                raise BookFileError(
                    f"book.{name}: {getattr(row, name)!r} cannot change to "
                    f"{getattr(definition, name)!r} once the book exists",
                    field=f"book.{name}",
                )
        current = conn.execute(
            select(RULE_SETS.c.digest).where(
                RULE_SETS.c.book == definition.code, RULE_SETS.c.version == row.rules_version
            )
        ).scalar_one()
        settings_changed = (row.payout_minimum_minor, row.withholding) != (
            definition.payout_minimum_minor,
            definition.withholding,
        )
        version = row.rules_version
        if current != digest:
            version += 1
            _publish(conn, definition, version, digest, now)
        if current != digest or settings_changed:
            conn.execute(
                update(BOOKS)
                .where(BOOKS.c.code == definition.code)
                .values(
                    rules_version=version,
                    payout_minimum_minor=definition.payout_minimum_minor,
                    withholding=definition.withholding,
                )
            )
        uow.commit()
        return BookApplied(definition.code, version, current != digest or settings_changed)

    return transact(engine, work)


def _publish(
    conn: Connection, definition: BookDefinition, version: int, digest: str, now: datetime
) -> None:
    conn.execute(
        insert(RULE_SETS).values(
            book=definition.code,
            version=version,
            digest=digest,
            rules_json=json.dumps(list(definition.rules), default=str),
            fee_rate=definition.fee_rate,
            upline_rate=definition.upline_rate,
            split_policy=definition.split_policy,
            published_at=now,
        )
    )


def load_book(conn: Connection, code: str) -> Book:
    """The book ``code`` or :class:`UnknownBookError`."""
    row = conn.execute(select(BOOKS).where(BOOKS.c.code == code)).first()
    if row is None:
        raise UnknownBookError(book=code)
    return Book(
        code=row.code,
        currency=row.currency,
        timezone=row.timezone,
        payout_minimum_minor=row.payout_minimum_minor,
        withholding=row.withholding,
        rules_version=row.rules_version,
    )


def load_rules_version(conn: Connection, book: str, version: int) -> RulesVersion:
    """A published rules version of ``book``."""
    row = conn.execute(
        select(RULE_SETS).where(RULE_SETS.c.book == book, RULE_SETS.c.version == version)
    ).one()
    return RulesVersion(
        book=book,
        version=version,
        digest=row.digest,
        rules=tuple(json.loads(row.rules_json)),
        fee_rate=row.fee_rate,
        upline_rate=row.upline_rate,
        split_policy=row.split_policy,
    )
