"""The JSON Lines events of DESIGN §6, one pydantic model per ``type``.

Validation here is the first step of every command (shape, DESIGN §6 "validation order"):
fields, types, timestamps with an offset and amounts as JSON integers. Idempotency and
business rules come later, in the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal, Self

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from cps_ledger.domain.canonical import loads_unique, loads_unique_digest, sha256_of
from cps_ledger.domain.fields import (
    Amount,
    Id,
    LedgerModel,
    PositiveAmount,
    Quantity,
    Timestamp,
    to_typed_error,
)
from cps_ledger.errors import InvalidEventError

LINES_PER_ORDER_MAX: Final = 60
"""Most lines one order (or one refund) may carry; bounds the postings of one entry."""
EVENT_LINE_CHARS_MAX: Final = 1_000_000
"""Longest JSON line accepted; 60 lines of ids need a few kilobytes."""
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def _require_type(schema: dict[str, Any]) -> None:
    # `type` has a default so Python callers need not repeat it, but every JSON line must
    # carry it: the schema says so.
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.insert(0, "type")


class _Event(LedgerModel):
    model_config = ConfigDict(json_schema_extra=_require_type)

    @model_validator(mode="after")
    def _checked_and_shared(self) -> Self:
        # One validator per event, not one per model: each is a call into Python from
        # pydantic-core, and an order has one model per line.
        self._check()
        self.share_fields_set()
        return self

    def _check(self) -> None:
        """What the fields alone cannot say (the event is otherwise valid); an event with
        lines also shares its lines' sets of fields here."""


def _checked_lines(order: str, lines: list[OrderLine] | list[RefundLine]) -> None:
    # No line twice; and each line's set of fields shared, in the same pass.
    seen: set[str] = set()
    for item in lines:
        item.share_fields_set()
        if item.line in seen:
            raise PydanticCustomError(
                "duplicate_line",
                "line {line} appears twice in {order}",
                {"order": order, "line": item.line},
            )
        seen.add(item.line)


class PromoterRegistered(_Event):
    """A promoter joins a book, optionally under an upline and in a tier."""

    type: Literal["promoter_registered"] = "promoter_registered"
    book: Id
    promoter: Id
    upline: Id | None = None
    tier: Id | None = None
    at: Timestamp


class ShareLinkCreated(_Event):
    """A promoter shares a product link; ``group`` and ``sku`` describe it, never restrict it."""

    type: Literal["share_link_created"] = "share_link_created"
    book: Id
    link: Id
    promoter: Id
    group: Id | None = None
    sku: Id | None = None
    at: Timestamp


class OrderLine(LedgerModel):
    """One line of a paid order; ``amount_minor`` is the paid amount, the commission base."""

    line: Id
    merchant: Id
    sku: Id | None = None
    category: Id | None = None
    quantity: Quantity
    amount_minor: Amount


class OrderPaid(_Event):
    """An order attributed to a share link was paid; commission accrues as estimated."""

    type: Literal["order_paid"] = "order_paid"
    book: Id
    order: Id
    link: Id
    paid_at: Timestamp
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=LINES_PER_ORDER_MAX)]

    def _check(self) -> None:
        _checked_lines(self.order, self.lines)


class OrderCompleted(_Event):
    """An order passed its return window; its commission is earned."""

    type: Literal["order_completed"] = "order_completed"
    book: Id
    order: Id
    at: Timestamp


class OrderCancelled(_Event):
    """An order was invalidated before completion; what it accrued is reversed."""

    type: Literal["order_cancelled"] = "order_cancelled"
    book: Id
    order: Id
    at: Timestamp


class RefundLine(LedgerModel):
    """The amount refunded on one line of an order."""

    line: Id
    amount_minor: PositiveAmount


class Refund(_Event):
    """A partial or full refund of some lines of an order, at any stage."""

    type: Literal["refund"] = "refund"
    book: Id
    refund: Id
    order: Id
    at: Timestamp
    lines: Annotated[list[RefundLine], Field(min_length=1, max_length=LINES_PER_ORDER_MAX)]

    def _check(self) -> None:
        _checked_lines(self.order, self.lines)


class MerchantPayment(_Event):
    """A merchant paid (part of) the commission it owes."""

    type: Literal["merchant_payment"] = "merchant_payment"
    book: Id
    payment: Id
    merchant: Id
    amount_minor: PositiveAmount
    at: Timestamp


Event = Annotated[
    PromoterRegistered
    | ShareLinkCreated
    | OrderPaid
    | OrderCompleted
    | OrderCancelled
    | Refund
    | MerchantPayment,
    Field(discriminator="type"),
]
"""Any event, told apart by its ``type``."""

_EVENT: Final[TypeAdapter[Event]] = TypeAdapter(Event)


def parse_event(obj: object) -> Event:
    """Validate a parsed JSON value as an event, raising typed errors that name the field."""
    if not isinstance(obj, dict):
        raise InvalidEventError(f"an event must be a JSON object, not {type(obj).__name__}")
    try:
        return _EVENT.validate_python(obj)
    except ValidationError as exc:
        raise to_typed_error(exc, tags=(0,)) from None  # locations start with the type


def parse_event_line(text: str) -> tuple[Event, dict[str, Any]]:
    """Parse one JSON line into an event and the raw object (the payload for idempotency)."""
    obj = loads_unique(_line(text))
    event = parse_event(obj)
    return event, obj


def parse_event_line_digest(text: str) -> tuple[Event, bytes]:
    """:func:`parse_event_line` with the :func:`payload_digest` of the raw object in its
    place: what ingest keeps of a line, made along with the parse."""
    obj, digest = loads_unique_digest(_line(text))
    return parse_event(obj), digest


def _line(text: str) -> str:
    if len(text) > EVENT_LINE_CHARS_MAX:
        raise InvalidEventError(f"line longer than {EVENT_LINE_CHARS_MAX} characters")
    return text


def event_at(event: Event) -> datetime:
    """The business time of an event: ``paid_at`` for a paid order, else ``at``."""
    return event.paid_at if isinstance(event, OrderPaid) else event.at


def paid_key(order: str) -> str:
    """The idempotency key of ``order``'s payment."""
    return f"order:{order}:paid"


def idempotency_key(event: Event) -> str:
    """The key under which an event is stored exactly once (DESIGN §4, §6)."""
    match event:
        case PromoterRegistered():
            return f"promoter:{event.promoter}"
        case ShareLinkCreated():
            return f"link:{event.link}"
        case OrderPaid():
            return paid_key(event.order)
        case OrderCompleted():
            return f"order:{event.order}:completed"
        case OrderCancelled():
            return f"order:{event.order}:cancelled"
        case Refund():
            return f"refund:{event.refund}"
        case MerchantPayment():
            return f"merchant_payment:{event.payment}"


def payload_of(event: Event, raw: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The payload compared on replay: the whole event object as parsed JSON.

    Pass ``raw`` when the event came from JSON so every field is compared as it was sent;
    an event built in Python contributes the fields that were set, plus its ``type``.
    """
    if raw is not None:
        return dict(raw)
    return {"type": event.type, **event.model_dump(mode="json", exclude_unset=True)}


def payload_digest(payload: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of ``payload``: the same object gives the same digest."""
    return sha256_of(payload)


def events_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event line, generated from the models.

    JSON Schema's ``integer`` accepts ``100.0`` and ``format`` is not asserted by default, so
    the parser stays stricter than the schema on floats and offsets.
    """
    schema = _EVENT.json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "cps_ledger event", **schema}
