"""The facade backends import: ``CpsLedger.open(url)`` and one method per use case.

Commands are the pydantic models of :mod:`cps_ledger.domain.events` and
:mod:`cps_ledger.domain.commands`; results are the services' frozen dataclasses. Batch
methods take iterables and stream their results, one transaction per batch.

Each method imports its service when first called, so that importing this module is cheap
and a process that only reads balances never loads alembic, the book-file parser or the
beancount export.
"""

# ruff: noqa: PLC0415  (each method imports its service when first called: start-up time)

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from cps_ledger.errors import BadInputError, InvalidEventError, SchemaNotReadyError
from cps_ledger.limits import DEFAULT_DATABASE_URL, EVENTS_PER_TRANSACTION

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cps_ledger.domain.bookfile import BookFile
    from cps_ledger.domain.books import BookDefinition
    from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
    from cps_ledger.domain.entries import Entry
    from cps_ledger.domain.events import Event
    from cps_ledger.services.audit import AuditReport
    from cps_ledger.services.balances import PromoterBalances
    from cps_ledger.services.books import BookApplied
    from cps_ledger.services.ingest import Outcome, Submitted
    from cps_ledger.services.ingest_items import Pending
    from cps_ledger.services.ledger import AccountBalance, Posted, TrialBalance
    from cps_ledger.services.payouts import PayoutResult
    from cps_ledger.services.reports import BookReport
    from cps_ledger.services.settlement import SettlementResult
    from cps_ledger.services.statements import Statement

URL_ENV: Final = "CPS_LEDGER_DATABASE_URL"
"""The environment variable naming the database when no URL is given."""


def default_url() -> str:
    """``$CPS_LEDGER_DATABASE_URL``, else the SQLite file ``cps_ledger.sqlite3`` in the cwd."""
    return os.environ.get(URL_ENV) or DEFAULT_DATABASE_URL


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is migrated to this version's head; unreachable: typed error."""
    from cps_ledger.adapters.schema import current_revision, head_revision

    with _connection_errors_typed(engine):
        return current_revision(engine) == head_revision(engine)


class CpsLedger:
    """One database holding any number of books; every method is one or more transactions."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine made by :func:`cps_ledger.adapters.engine.make_engine`."""
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = False) -> CpsLedger:
        """Connect to ``url`` (default: :func:`default_url`).

        With ``migrate`` the schema is upgraded first; otherwise an unmigrated database
        raises :class:`SchemaNotReadyError`.
        """
        from cps_ledger.adapters.engine import make_engine, mask_url

        engine = make_engine(url or default_url())
        try:
            if migrate:
                _upgrade(engine)
            elif not schema_is_current(engine):
                raise SchemaNotReadyError(url=mask_url(engine.url))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    # -- lifecycle -------------------------------------------------------------------------

    def upgrade(self) -> str:
        """Apply every migration; returns the revision the database is now at."""
        return _upgrade(self.engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> CpsLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- books and events ------------------------------------------------------------------

    def apply_book(
        self, book: BookDefinition | BookFile | str | Path, *, at: datetime | None = None
    ) -> BookApplied:
        """Create or update a book from a definition, a parsed book file or a file's path."""
        from cps_ledger.domain.bookfile import BookFile, load_book_file
        from cps_ledger.services.books import apply_book

        if isinstance(book, str | Path):
            book = load_book_file(Path(book))
        if isinstance(book, BookFile):
            book = book.definition()
        return apply_book(self.engine, book, at=at)

    def record(self, event: Event | dict[str, Any] | Submitted) -> Outcome:
        """Apply one event (a batch of one); a refusal is a rejected outcome, not a raise."""
        return next(self.ingest([event]))

    def ingest(
        self,
        events: Iterable[Event | dict[str, Any] | Submitted],
        *,
        batch_size: int = EVENTS_PER_TRANSACTION,
    ) -> Iterator[Outcome]:
        """Apply events in transactions of ``batch_size``, one outcome per event, in order.

        Raw dicts are parsed here; one that is not a valid event becomes a rejected outcome
        at its position (1-based unless a :class:`Submitted` carries its own).
        """
        from cps_ledger.domain.events import parse_event, payload_digest
        from cps_ledger.services.ingest import Outcome, Status, Submitted

        def submitted() -> Iterator[Submitted | Outcome]:
            for position, item in enumerate(events, start=1):
                if isinstance(item, Submitted):
                    yield item
                elif isinstance(item, dict):
                    try:
                        event = parse_event(item)
                    except BadInputError as exc:
                        yield Outcome(position, None, Status.REJECTED, exc)
                        continue
                    # Digested now: the caller may change or drop its dict before the commit.
                    yield Submitted(position, event, digest=payload_digest(item).hex())
                else:
                    yield Submitted(position, item)

        return self._ingest(submitted(), batch_size=batch_size)

    def ingest_lines(
        self,
        lines: Iterable[str | bytes],
        *,
        batch_size: int = EVENTS_PER_TRANSACTION,
        stop_at_first_rejection: bool = False,
        workers: int = 1,
    ) -> Iterator[Outcome]:
        """Apply JSON Lines; positions are line numbers from 1 and blank lines are skipped.

        With ``stop_at_first_rejection`` every event before the first rejected line is
        applied and nothing after it; each event is then its own transaction, because a
        batch cannot take back what follows a refusal inside it.

        ``workers`` > 1 parses and applies the events of different orders in that many
        processes at once (:mod:`cps_ledger.services.parallel`): every outcome is the one
        a single process would give, in the same order. It does not combine with
        ``stop_at_first_rejection``, which needs one event after the other.
        """
        if workers > 1 and stop_at_first_rejection:
            raise InvalidEventError(
                "workers: stopping at the first rejection needs one worker", field="workers"
            )
        from cps_ledger.services.ingest import Status, read_lines

        if workers > 1 and not stop_at_first_rejection:
            from cps_ledger.services.parallel import ingest_in_parallel

            yield from ingest_in_parallel(
                self.engine.url, lines, workers=workers, batch_size=batch_size
            )
            return
        parsed = read_lines(enumerate(lines, start=1))
        outcomes = self._ingest(parsed, batch_size=1 if stop_at_first_rejection else batch_size)
        for outcome in outcomes:
            yield outcome
            if stop_at_first_rejection and outcome.status is Status.REJECTED:
                return

    def _ingest(self, items: Iterable[Pending | Outcome], *, batch_size: int) -> Iterator[Outcome]:
        from cps_ledger.services.ingest import ingest

        # Parse failures are kept in place so the stream stays in input order; each chunk
        # is read lazily, which keeps memory bounded by the batch size.
        return ingest(self.engine, items, batch_size=batch_size)

    def post_entries(self, entries: Iterable[Entry]) -> Iterator[Posted]:
        """Post raw balanced entries idempotently, in batches, streaming results."""
        from cps_ledger.services.ledger import post_entries

        return post_entries(self.engine, entries)

    # -- settlement and payouts ------------------------------------------------------------

    def settle(
        self,
        book: str,
        period: str,
        *,
        now: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> SettlementResult:
        """Settle ``book``'s confirmed commission up to the end of ``period`` (YYYY-MM).

        ``progress`` is called after each batch with the number of promoters done so far;
        ``workers`` pages of promoters are settled at once (default: 2 on a server database).
        """
        from cps_ledger.services.settlement import settle

        return settle(self.engine, book, period, now=now, progress=progress, workers=workers)

    def request_payout(self, command: RequestPayout) -> PayoutResult:
        """Move part of a promoter's available balance to payout_pending."""
        from cps_ledger.services.payouts import request_payout

        return request_payout(self.engine, command)

    def complete_payout(self, command: CompletePayout) -> PayoutResult:
        """Mark a requested payout paid (withholding tax where the book applies it)."""
        from cps_ledger.services.payouts import complete_payout

        return complete_payout(self.engine, command)

    def fail_payout(self, command: FailPayout) -> PayoutResult:
        """Return a requested payout to the promoter's available balance."""
        from cps_ledger.services.payouts import fail_payout

        return fail_payout(self.engine, command)

    # -- reading ---------------------------------------------------------------------------

    def balance(self, book: str, account: str, *, as_of: datetime | None = None) -> AccountBalance:
        """An account's balance in its normal direction; 0 for one never posted to."""
        from cps_ledger.services.ledger import account_balance

        return account_balance(self.engine, book, account, as_of=as_of)

    def promoter_balances(
        self, book: str, promoter: str, *, as_of: datetime | None = None
    ) -> PromoterBalances:
        """A promoter's estimated, confirmed, available and payout_pending balances."""
        from cps_ledger.services.balances import promoter_balances

        return promoter_balances(self.engine, book, promoter, as_of=as_of)

    def trial_balance(self, book: str, *, as_of: datetime | None = None) -> TrialBalance:
        """Every account of ``book`` in its debit or credit column."""
        from cps_ledger.services.ledger import trial_balance

        return trial_balance(self.engine, book, as_of=as_of)

    def statement(self, book: str, promoter: str, period: str) -> Statement:
        """What a promoter earned, lost, was settled and was paid in ``period``, and why."""
        from cps_ledger.services.statements import statement

        return statement(self.engine, book, promoter, period)

    def report(self, book: str, period: str) -> BookReport:
        """GMV, commission, fee, refunds, settled, paid and clawbacks of ``period``."""
        from cps_ledger.services.reports import report

        return report(self.engine, book, period)

    def audit(self, book: str) -> AuditReport:
        """Check the invariants of ``book`` against what is stored."""
        from cps_ledger.services.audit import audit

        return audit(self.engine, book)

    def export_beancount(self, book: str, out: TextIO) -> None:
        """Write ``book`` as a beancount ledger to ``out``."""
        from cps_ledger.services.export import export_beancount

        export_beancount(self.engine, book, out)


def _upgrade(engine: Engine) -> str:
    from cps_ledger.adapters.schema import upgrade

    with _connection_errors_typed(engine):
        return upgrade(engine)


@contextmanager
def _connection_errors_typed(engine: Engine) -> Iterator[None]:
    """A failure to reach the database inside the block is DatabaseUnavailableError."""
    from sqlalchemy.exc import InterfaceError
    from sqlalchemy.exc import OperationalError as SAOperationalError

    from cps_ledger.services.uow import database_unavailable

    try:
        yield
    except (SAOperationalError, InterfaceError) as exc:
        raise database_unavailable(engine.url, exc) from None
