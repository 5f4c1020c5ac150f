"""What ingest takes and gives, event by event: the events handed in, what a batch keeps of
each until its commit, and the outcome handed out for each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cps_ledger.domain.events import (
    Event,
    OrderPaid,
    idempotency_key,
    payload_digest,
    payload_of,
)
from cps_ledger.domain.records import quick_init
from cps_ledger.errors import BadInputError, InvalidEventError
from cps_ledger.services import packed
from cps_ledger.services.packed import PackedPaid, is_packed, pack_paid


class Status(StrEnum):
    """What happened to one event."""

    APPLIED = "applied"
    REPLAYED = "replayed"
    REJECTED = "rejected"


@quick_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one event: its position in the input, its key and status."""

    position: int
    key: str | None
    status: Status
    error: BadInputError | None = None

    def __reduce__(self) -> tuple[type[Outcome], tuple[Any, ...]]:
        # Parallel ingest pickles one per line across a pipe. The dataclass default
        # (``fields()`` per object on both sides) cost 3.3 µs of CPU an outcome; rebuilding
        # from the constructor's arguments costs 1.2 (finding 22).
        return Outcome, (self.position, self.key, self.status, self.error)


_DIGEST_CHARS = 64
_HEX = "0123456789abcdef"


@quick_init
@dataclass(frozen=True, slots=True)
class Submitted:
    """An event handed to ingest: its position (e.g. line number) and raw JSON, if any.

    ``digest`` is the hex SHA-256 of the payload (:func:`payload_digest`), for a caller that
    computed it already; when given, ``raw`` is not read and need not be kept.
    """

    position: int
    event: Event
    raw: dict[str, Any] | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        # A digest that no payload can have would store a key no replay ever matches.
        digest = self.digest
        if digest is not None and (len(digest) != _DIGEST_CHARS or digest.strip(_HEX) != ""):
            raise InvalidEventError(
                f"digest: must be {_DIGEST_CHARS} lowercase hex characters, not {digest!r}",
                field="digest",
            )

    def payload_digest(self) -> str:
        """The hex digest compared on replay: given, or of ``raw``, or of the event."""
        if self.digest is not None:
            return self.digest
        return payload_digest(self.raw if self.raw is not None else payload_of(self.event)).hex()


Applied = tuple[int, str]
"""An event applied, as a decided batch keeps it until its commit: position and key.

An :class:`Outcome` per event, made as the batch is decided and handed out after its
commit, lived through the batch into the collector's old generation (0.9 objects promoted
per order); a tuple of a number and a string is untracked at the first collection. The
outcome is made when it is handed out (:func:`outcome_of`).
"""
Verdict = Outcome | Applied
"""What a decided batch keeps of each event until its commit."""


def outcome_of(verdict: Verdict) -> Outcome:
    """The outcome to hand out for ``verdict``."""
    if isinstance(verdict, tuple):
        return Outcome(verdict[0], verdict[1], Status.APPLIED)
    return verdict


Pending = Submitted | PackedPaid
"""An event still to decide: as handed in, or a paid order packed (services/packed.py)."""


def pending(chunk: Iterable[Pending | Outcome]) -> list[Pending]:
    """The events of ``chunk`` still to decide (not the outcomes decided already)."""
    return [item for item in chunk if not isinstance(item, Outcome)]


def event_of(item: Pending) -> Event | PackedPaid:
    """What :meth:`BatchState.load` reads of ``item``."""
    return item if is_packed(item) else item.event


def position_of(item: Pending) -> int:
    """``item``'s position in the input."""
    return packed.position(item) if is_packed(item) else item.position


def digest_of(item: Pending) -> str:
    """The hex digest of ``item``'s payload, compared on replay."""
    return packed.digest(item) if is_packed(item) else item.payload_digest()


def book_of(item: Pending) -> str:
    """The book ``item`` is applied to."""
    return packed.book(item) if is_packed(item) else item.event.book


def key_of(item: Pending) -> str:
    """``item``'s idempotency key."""
    return packed.key(item) if is_packed(item) else idempotency_key(item.event)


def packed_on_entry(item: Pending | Outcome) -> Pending | Outcome:
    """``item`` as it joins its batch: a paid order handed in as a model, packed."""
    # A paid order handed in as a model is packed as it joins its batch, as a line's is when
    # parsed: the model and its Submitted, if the caller keeps neither, then die young.
    if isinstance(item, Submitted) and isinstance(item.event, OrderPaid):
        return pack_paid(item.position, item.event, item.payload_digest())
    return item
