"""Commands that are not events: payouts, settlement and the generic ledger posting.

Same conventions as :mod:`cps_ledger.domain.events`: frozen pydantic models, no extra
fields, strict ids and amounts, aware timestamps, typed errors. Each command has a ``key``
(its idempotency key) and a ``payload()`` (what a replay under that key must match).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import Field, StringConstraints

from cps_ledger.domain.entries import KEY_LENGTH_MAX, POSTINGS_PER_ENTRY_MAX
from cps_ledger.domain.fields import (
    AccountCode,
    Id,
    LedgerModel,
    PeriodText,
    PositiveAmount,
    SignedAmount,
    Timestamp,
)
from cps_ledger.domain.periods import Period

MEMO_LENGTH_MAX: Final = 500

_Key = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=KEY_LENGTH_MAX)]
_Memo = Annotated[str, StringConstraints(strict=True, max_length=MEMO_LENGTH_MAX)]


class RequestPayout(LedgerModel):
    """Move ``amount_minor`` of a promoter's available balance to payout_pending."""

    book: Id
    promoter: Id
    amount_minor: PositiveAmount
    request_id: Id
    at: Timestamp

    @property
    def key(self) -> str:
        """``payout:{request_id}``."""
        return f"payout:{self.request_id}"

    def payload(self) -> dict[str, Any]:
        """What a replay must match; ``at`` is left out so a client's retry is a replay."""
        return self.model_dump(mode="json", exclude={"at"})


class CompletePayout(LedgerModel):
    """The payout was paid out: payout_pending -> cash (and tax payable, if withheld)."""

    book: Id
    request_id: Id
    at: Timestamp

    @property
    def key(self) -> str:
        """``payout:{request_id}:completed`` (the request itself holds ``payout:{request_id}``)."""
        return f"payout:{self.request_id}:completed"

    def payload(self) -> dict[str, Any]:
        """What a replay must match; ``at`` is left out so a retry is a replay."""
        return self.model_dump(mode="json", exclude={"at"})


class FailPayout(LedgerModel):
    """The payout could not be paid: payout_pending -> available."""

    book: Id
    request_id: Id
    at: Timestamp

    @property
    def key(self) -> str:
        """``payout:{request_id}:failed`` (the request itself holds ``payout:{request_id}``)."""
        return f"payout:{self.request_id}:failed"

    def payload(self) -> dict[str, Any]:
        """What a replay must match; ``at`` is left out so a retry is a replay."""
        return self.model_dump(mode="json", exclude={"at"})


class Settle(LedgerModel):
    """Settle a book's confirmed commission up to the end of ``period`` (``YYYY-MM``)."""

    book: Id
    period: PeriodText
    at: Timestamp | None = None

    @property
    def parsed_period(self) -> Period:
        """``period`` as a :class:`Period`."""
        return Period.parse(self.period)

    @property
    def key(self) -> str:
        """``settle:{book}:{period}``; each promoter's entry adds ``:{promoter}``."""
        return f"settle:{self.book}:{self.period}"

    def payload(self) -> dict[str, Any]:
        """What a re-run must match: the book and the period."""
        return self.model_dump(mode="json", exclude={"at"})


class PostingSpec(LedgerModel):
    """One leg of a :class:`PostEntry`: debit positive, credit negative, in minor units."""

    account: AccountCode
    amount_minor: SignedAmount
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    """ISO 4217 code; the book's currency when omitted."""


class PostEntry(LedgerModel):
    """Post one balanced entry under ``key``: the generic ledger command."""

    book: Id
    key: _Key
    kind: Id
    effective_at: Timestamp
    postings: Annotated[list[PostingSpec], Field(max_length=POSTINGS_PER_ENTRY_MAX)]
    memo: _Memo = ""

    def payload(self) -> dict[str, Any]:
        """What a replay under ``key`` must match: every field."""
        return self.model_dump(mode="json")
