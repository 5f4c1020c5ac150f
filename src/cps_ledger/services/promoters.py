"""Promoters outside the event stream: moving a promoter under another upline.

Orders snapshot the upline when they are paid, so a move changes only orders paid later.
"""

from __future__ import annotations

from sqlalchemy import Engine, update

from cps_ledger.adapters import cps_repo as repo
from cps_ledger.errors import UnknownPromoterError, UplineError
from cps_ledger.services.books import load_book
from cps_ledger.services.uow import UnitOfWork, transact

UPLINE_DEPTH_MAX = 10_000
"""Longest upline chain walked when checking for a cycle."""


def change_upline(engine: Engine, book: str, promoter: str, upline: str | None) -> None:
    """Put ``promoter`` under ``upline`` (or under nobody); a cycle is refused."""

    def work(uow: UnitOfWork) -> None:
        load_book(uow.conn, book)
        if repo.lock_promoter(uow.conn, book, promoter) is None:
            raise UnknownPromoterError(book=book, promoter=promoter)
        cursor = upline
        for _ in range(UPLINE_DEPTH_MAX):
            if cursor is None:
                break
            if cursor == promoter:
                raise UplineError(
                    book=book, promoter=promoter, upline=str(upline), reason="would close a cycle"
                )
            found = repo.load_promoters(uow.conn, book, [cursor]).get(cursor)
            if found is None:
                raise UplineError(
                    book=book,
                    promoter=promoter,
                    upline=cursor,
                    reason="is not a registered promoter",
                )
            cursor = found.upline
        uow.conn.execute(
            update(repo.PROMOTERS)
            .where(repo.PROMOTERS.c.book == book, repo.PROMOTERS.c.promoter == promoter)
            .values(upline=upline)
        )
        uow.commit()

    transact(engine, work)
