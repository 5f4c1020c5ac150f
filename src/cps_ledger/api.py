"""The facade backends import: ``CpsLedger.open(url)`` and one method per use case.

Commands are the pydantic models of :mod:`cps_ledger.domain.events` and
:mod:`cps_ledger.domain.commands`; results are the services' frozen dataclasses. Batch
methods take iterables and stream their results, one transaction per batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TextIO

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError as SAOperationalError

from cps_ledger.adapters.engine import DEFAULT_URL, make_engine, mask_url
from cps_ledger.adapters.schema import current_revision, head_revision, upgrade
from cps_ledger.domain.bookfile import BookFile, load_book_file
from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.domain.entries import Entry
from cps_ledger.domain.events import Event, parse_event, parse_event_line
from cps_ledger.errors import (
    BadInputError,
    DatabaseUnavailableError,
    InvalidEventError,
    SchemaNotReadyError,
)
from cps_ledger.services import audit as audit_service
from cps_ledger.services import books, ledger
from cps_ledger.services import ingest as ingest_service
from cps_ledger.services.balances import PromoterBalances, promoter_balances
from cps_ledger.services.export import export_beancount
from cps_ledger.services.ingest import EVENTS_PER_TRANSACTION, Outcome, Status, Submitted
from cps_ledger.services.payouts import (
    PayoutResult,
    complete_payout,
    fail_payout,
    request_payout,
)
from cps_ledger.services.reports import BookReport, report
from cps_ledger.services.settlement import SettlementResult, settle
from cps_ledger.services.statements import Statement, statement

URL_ENV: Final = "CPS_LEDGER_DATABASE_URL"
"""The environment variable naming the database when no URL is given."""


def default_url() -> str:
    """``$CPS_LEDGER_DATABASE_URL``, else the SQLite file ``cps_ledger.sqlite3`` in the cwd."""
    return os.environ.get(URL_ENV) or DEFAULT_URL


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is migrated to this version's head; unreachable: typed error."""
    try:
        return current_revision(engine) == head_revision(engine)
    except (SAOperationalError, InterfaceError) as exc:
        raise DatabaseUnavailableError(url=mask_url(engine.url), reason=_first_line(exc)) from None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- books and events ------------------------------------------------------------------

    def apply_book(
        self, book: BookDefinition | BookFile | str | Path, *, at: datetime | None = None
    ) -> books.BookApplied:
        """Create or update a book from a definition, a parsed book file or a file's path."""
        if isinstance(book, str | Path):
            book = load_book_file(Path(book))
        if isinstance(book, BookFile):
            book = book.definition()
        return books.apply_book(self.engine, book, at=at)

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

        def submitted() -> Iterator[Submitted | Outcome]:
            for position, item in enumerate(events, start=1):
                if isinstance(item, Submitted):
                    yield item
                elif isinstance(item, dict):
                    try:
                        yield Submitted(position, parse_event(item), item)
                    except BadInputError as exc:
                        yield Outcome(position, None, Status.REJECTED, exc)
                else:
                    yield Submitted(position, item)

        return self._ingest(submitted(), batch_size=batch_size)

    def ingest_lines(
        self,
        lines: Iterable[str | bytes],
        *,
        batch_size: int = EVENTS_PER_TRANSACTION,
        stop_at_first_rejection: bool = False,
    ) -> Iterator[Outcome]:
        """Apply JSON Lines; positions are line numbers from 1 and blank lines are skipped.

        With ``stop_at_first_rejection`` every event before the first rejected line is
        applied and nothing after it; each event is then its own transaction, because a
        batch cannot take back what follows a refusal inside it.
        """

        def parsed() -> Iterator[Submitted | Outcome]:
            for number, line in enumerate(lines, start=1):
                try:
                    text = line.decode("utf-8") if isinstance(line, bytes) else line
                except UnicodeDecodeError as exc:
                    yield Outcome(number, None, Status.REJECTED, _not_utf8(exc))
                    continue
                if not text.strip():
                    continue
                try:
                    event, raw = parse_event_line(text)
                except BadInputError as exc:
                    yield Outcome(number, None, Status.REJECTED, exc)
                    continue
                yield Submitted(number, event, raw)

        outcomes = self._ingest(parsed(), batch_size=1 if stop_at_first_rejection else batch_size)
        for outcome in outcomes:
            yield outcome
            if stop_at_first_rejection and outcome.status is Status.REJECTED:
                return

    def _ingest(
        self, items: Iterable[Submitted | Outcome], *, batch_size: int
    ) -> Iterator[Outcome]:
        # Parse failures are kept in place so the stream stays in input order; each chunk
        # is read lazily, which keeps memory bounded by the batch size.
        it = iter(items)
        while chunk := list(islice(it, batch_size)):
            valid = [item for item in chunk if isinstance(item, Submitted)]
            done = {o.position: o for o in ingest_service.ingest(self.engine, valid)}
            for item in chunk:
                yield item if isinstance(item, Outcome) else done[item.position]

    def post_entries(self, entries: Iterable[Entry]) -> Iterator[ledger.Posted]:
        """Post raw balanced entries idempotently, in batches, streaming results."""
        return ledger.post_entries(self.engine, entries)

    # -- settlement and payouts ------------------------------------------------------------

    def settle(self, book: str, period: str, *, now: datetime | None = None) -> SettlementResult:
        """Settle ``book``'s confirmed commission up to the end of ``period`` (YYYY-MM)."""

        return settle(self.engine, book, period, now=now)

    def request_payout(self, command: RequestPayout) -> PayoutResult:
        """Move part of a promoter's available balance to payout_pending."""

        return request_payout(self.engine, command)

    def complete_payout(self, command: CompletePayout) -> PayoutResult:
        """Mark a requested payout paid (withholding tax where the book applies it)."""

        return complete_payout(self.engine, command)

    def fail_payout(self, command: FailPayout) -> PayoutResult:
        """Return a requested payout to the promoter's available balance."""

        return fail_payout(self.engine, command)

    # -- reading ---------------------------------------------------------------------------

    def balance(
        self, book: str, account: str, *, as_of: datetime | None = None
    ) -> ledger.AccountBalance:
        """An account's balance in its normal direction; 0 for one never posted to."""
        return ledger.account_balance(self.engine, book, account, as_of=as_of)

    def promoter_balances(
        self, book: str, promoter: str, *, as_of: datetime | None = None
    ) -> PromoterBalances:
        """A promoter's estimated, confirmed, available and payout_pending balances."""

        return promoter_balances(self.engine, book, promoter, as_of=as_of)

    def trial_balance(self, book: str, *, as_of: datetime | None = None) -> ledger.TrialBalance:
        """Every account of ``book`` in its debit or credit column."""
        return ledger.trial_balance(self.engine, book, as_of=as_of)

    def statement(self, book: str, promoter: str, period: str) -> Statement:
        """What a promoter earned, lost, was settled and was paid in ``period``, and why."""

        return statement(self.engine, book, promoter, period)

    def report(self, book: str, period: str) -> BookReport:
        """GMV, commission, fee, refunds, settled, paid and clawbacks of ``period``."""

        return report(self.engine, book, period)

    def audit(self, book: str) -> audit_service.AuditReport:
        """Check the invariants of ``book`` against what is stored."""
        return audit_service.audit(self.engine, book)

    def export_beancount(self, book: str, out: TextIO) -> None:
        """Write ``book`` as a beancount ledger to ``out``."""

        export_beancount(self.engine, book, out)


def _upgrade(engine: Engine) -> str:
    try:
        return upgrade(engine)
    except (SAOperationalError, InterfaceError) as exc:
        raise DatabaseUnavailableError(url=mask_url(engine.url), reason=_first_line(exc)) from None


def _not_utf8(exc: UnicodeDecodeError) -> BadInputError:
    return InvalidEventError(f"line is not UTF-8: {exc.reason} at byte {exc.start}")
