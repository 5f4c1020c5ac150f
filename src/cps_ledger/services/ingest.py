"""Ingest: events in batches, each event its own command, set-based writes per batch.

A batch runs in one transaction. Events are applied in order to an in-memory view of the
state they touch (loaded with one query per table, the touched orders locked in id order),
so a later event of the batch sees what an earlier one did. A bad event is rejected with
its typed error and contributes nothing; the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from uuid import UUID

from sqlalchemy import Engine

from cps_ledger.adapters.dialect import plan_each_statement
from cps_ledger.adapters.journal import Journal
from cps_ledger.domain.events import (
    MerchantPayment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    Refund,
    ShareLinkCreated,
    parse_event_line_digest,
)
from cps_ledger.errors import (
    BadInputError,
    IdempotencyConflictError,
    InvalidEventError,
    UnknownBookError,
)
from cps_ledger.limits import EVENTS_PER_GIL_YIELD, EVENTS_PER_TRANSACTION
from cps_ledger.services.batch_state import BatchState
from cps_ledger.services.books import load_book
from cps_ledger.services.ingest_items import (
    Outcome,
    Pending,
    Status,
    Submitted,
    Verdict,
    book_of,
    digest_of,
    event_of,
    key_of,
    outcome_of,
    packed_on_entry,
    pending,
    position_of,
)
from cps_ledger.services.known_links import KnownLinks
from cps_ledger.services.packed import is_packed, pack_paid
from cps_ledger.services.uow import UnitOfWork, transact
from cps_ledger.tuning import yield_gil

__all__ = [  # Outcome, Status and Submitted are defined in ingest_items and public here
    "Decided",
    "Outcome",
    "Status",
    "Submitted",
    "apply_chunk",
    "decide",
    "ingest",
    "parse_line",
    "read_lines",
]


def ingest(
    engine: Engine,
    items: Iterable[Pending | Outcome],
    *,
    batch_size: int = EVENTS_PER_TRANSACTION,
) -> Iterator[Outcome]:
    """Apply events in transactions of ``batch_size``, streaming one outcome per item.

    ``items`` may hold outcomes already decided (a line that did not parse); they are
    passed through in place, so outcomes come out in input order. Each paid order is
    packed as it joins its batch (:mod:`cps_ledger.services.packed`). A batch's outcomes
    come out once it has committed, and a batch is written only when the caller has taken
    every outcome of the one before: a caller that stops early stops every later write. On
    PostgreSQL and on a SQLite file the next batch is read and decided (not written)
    while one is written (:mod:`cps_ledger.services.ingest_pipeline`,
    :mod:`cps_ledger.services.ingest_sqlite`), so memory holds two batches and a batch's
    outcomes come out once the next one has been read (or the input has ended);
    elsewhere a batch is read only when the caller has taken every outcome of the one
    before.
    """
    it = map(packed_on_entry, items)
    chunks = iter(lambda: list(islice(it, batch_size)), [])
    # Imported here: the pipeline module builds on this one.
    from cps_ledger.services.ingest_pipeline import can_overlap, ingest_overlapped  # noqa: PLC0415
    from cps_ledger.services.ingest_sqlite import (  # noqa: PLC0415
        can_overlap_sqlite,
        ingest_sqlite_overlapped,
    )

    links = KnownLinks()
    if can_overlap(engine):
        yield from ingest_overlapped(engine, chunks, links)
        return
    if can_overlap_sqlite(engine):
        yield from ingest_sqlite_overlapped(engine, chunks, links)
        return
    for chunk in chunks:
        yield from apply_chunk(engine, chunk, links)


def apply_chunk(
    engine: Engine, chunk: Sequence[Pending | Outcome], links: KnownLinks | None = None
) -> list[Outcome]:
    """Apply one batch in one transaction; already-decided outcomes pass through in place.

    ``links``: the share links the caller's earlier batches read (none by default).
    """
    batch = pending(chunk)
    known = KnownLinks() if links is None else links

    def work(uow: UnitOfWork) -> list[Outcome]:
        return _apply(uow, batch, known)

    done = iter(transact(engine, work) if batch else ())
    return [item if isinstance(item, Outcome) else next(done) for item in chunk]


def _apply(uow: UnitOfWork, batch: Sequence[Pending], links: KnownLinks) -> list[Outcome]:
    """Apply ``batch`` and commit; the outcomes come back in ``batch`` order."""
    decided = decide(uow, batch, links)
    decided.write()
    uow.commit()
    return [outcome_of(verdict) for verdict in decided.outcomes]


@dataclass(frozen=True, slots=True)
class Decided:
    """A batch checked and applied in memory, its transaction open: the outcomes, and the
    writes that make them true once committed."""

    outcomes: list[Verdict]
    writes: list[tuple[BatchState, Journal]]

    def write(self) -> None:
        """Write every book's rows (set-based, one statement or COPY per table)."""
        for state, journal in self.writes:
            state.write()
            journal.write(state.journal_rows)


def decide(uow: UnitOfWork, batch: Sequence[Pending], links: KnownLinks) -> Decided:
    """Read what ``batch`` touches (locking its orders) and apply it in memory, book by
    book; nothing is written yet. The outcomes come back in ``batch`` order. ``links``
    holds the share links already read, and takes those read now."""
    plan_each_statement(uow.conn)
    by_book: dict[str, list[int]] = {}
    for index, item in enumerate(batch):
        by_book.setdefault(book_of(item), []).append(index)
    outcomes: list[Verdict | None] = [None] * len(batch)
    writes: list[tuple[BatchState, Journal]] = []
    for book_code, indexes in by_book.items():
        decided = _decide_book(uow, book_code, [batch[i] for i in indexes], writes, links)
        for index, outcome in zip(indexes, decided, strict=True):
            outcomes[index] = outcome
    return Decided([outcome for outcome in outcomes if outcome is not None], writes)


def _decide_book(
    uow: UnitOfWork,
    book_code: str,
    items: Sequence[Pending],
    writes: list[tuple[BatchState, Journal]],
    links: KnownLinks,
) -> list[Verdict]:
    # Keys in a list of their own, not paired with their items: a thousand pairs would live
    # through the batch into the collector's old generation (finding 34).
    keys = [key_of(item) for item in items]
    try:
        book = load_book(uow.conn, book_code)
    except UnknownBookError as exc:
        return [
            Outcome(position_of(item), key, Status.REJECTED, exc)
            for item, key in zip(items, keys, strict=True)
        ]
    journal = Journal(uow.conn, book_code)
    # Lock the touched orders before reading the keys: a concurrent batch that completed the
    # same order has then committed its key too, and this one sees a replay, not a refusal.
    state = BatchState.load(uow.conn, book, [event_of(item) for item in items], links)
    stored = journal.stored_keys(keys)
    accepted: dict[str, str] = {}  # key -> digest, for keys first used in this batch
    outcomes: list[Verdict] = []
    for done, (item, key) in enumerate(zip(items, keys, strict=True), start=1):
        if done % EVENTS_PER_GIL_YIELD == 0:
            yield_gil()  # the writer thread may be back from the server (finding 33)
        position, digest = position_of(item), digest_of(item)
        original = stored[key].digest if key in stored else accepted.get(key)
        if original is not None:
            if original == digest:
                outcomes.append(Outcome(position, key, Status.REPLAYED))
            else:
                conflict = IdempotencyConflictError(book=book_code, key=key)
                outcomes.append(Outcome(position, key, Status.REJECTED, conflict))
            continue
        try:
            entry_id = _handle(state, item, key)
        except BadInputError as exc:
            outcomes.append(Outcome(position, key, Status.REJECTED, exc))
            continue
        accepted[key] = digest
        state.journal_rows.add_key(key, digest, _result_json(entry_id))
        outcomes.append((position, key))
    writes.append((state, journal))
    return outcomes


def parse_line(number: int, line: str | bytes) -> Pending | Outcome | None:
    """One JSON line: the event to apply (a paid order packed), a rejection (not UTF-8,
    not an event), or None for a blank line, which is skipped but keeps its number."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        error = InvalidEventError(f"line is not UTF-8: {exc.reason} at byte {exc.start}")
        return Outcome(number, None, Status.REJECTED, error)
    if not text.strip():
        return None
    try:
        # The digest now, not the raw object: a batch of parsed lines lives until it
        # commits, and the raw dicts would outlive the young collections with it (finding
        # 29). It comes from the canonical JSON the parse made (finding 35).
        event, digest = parse_event_line_digest(text)
    except BadInputError as exc:
        return Outcome(number, None, Status.REJECTED, exc)
    if isinstance(event, OrderPaid):
        return pack_paid(number, event, digest.hex())  # most lines: kept untracked
    return Submitted(number, event, digest=digest.hex())


def read_lines(lines: Iterable[tuple[int, str | bytes]]) -> Iterator[Pending | Outcome]:
    """Numbered JSON lines as what :func:`ingest` takes, blank lines left out."""
    for number, line in lines:
        if (item := parse_line(number, line)) is not None:
            yield item
        if number % EVENTS_PER_GIL_YIELD == 0:
            yield_gil()


def _result_json(entry_id: UUID | None) -> str:
    # json.dumps({"entry_id": ...}) byte for byte, without a JSON encoder per event.
    return '{"entry_id": null}' if entry_id is None else f'{{"entry_id": "{entry_id}"}}'


def _handle(state: BatchState, item: Pending, key: str) -> UUID | None:
    if is_packed(item):
        return state.pay_packed(item, key)
    match event := item.event:
        case PromoterRegistered():
            state.register_promoter(event)
            return None
        case ShareLinkCreated():
            state.create_link(event)
            return None
        case OrderPaid():
            return state.pay_order(event, key)
        case OrderCompleted():
            return state.complete_order(event, key)
        case OrderCancelled():
            return state.cancel_order(event, key)
        case Refund():
            return state.refund(event, key)
        case MerchantPayment():
            return state.merchant_payment(event, key)
