"""Field types shared by events, commands and the book file, and the one error mapping.

Validators raise ``PydanticCustomError`` with a stable error *type* (``invalid_amount``,
``naive_datetime``, ...) so :func:`to_typed_error` maps pydantic's ``ValidationError`` to our
typed errors by type, never by message text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from cps_ledger.domain.accounts import ID_PATTERN, account_type
from cps_ledger.domain.money import AMOUNT_MAX_MINOR, require_amount, require_rate
from cps_ledger.domain.periods import Period, require_aware
from cps_ledger.errors import (
    CpsLedgerError,
    DuplicateLineError,
    InvalidAccountCodeError,
    InvalidAmountError,
    InvalidEventError,
    InvalidPeriodError,
    InvalidRateError,
    NaiveDatetimeError,
)

RATE_TEXT_LENGTH_MAX: Final = 32
_RATE_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_NOT_FLOAT = "must be a decimal string, not a float"
_NOT_TEXT = "must be a decimal string"
_NOT_PLAIN = "must be written as plain digits, like 0.125"


def _amount_check(minimum: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        try:
            # The field name is filled in by to_typed_error from the error's location.
            return require_amount(value, field="", minimum=minimum)
        except InvalidAmountError as exc:
            reason = str(exc.values["reason"])
            raise PydanticCustomError("invalid_amount", "{reason}", {"reason": reason}) from None

    return check


_unsigned_amount_check = _amount_check(0)


def _signed_amount_check(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        _unsigned_amount_check(abs(value))
        return value
    return _unsigned_amount_check(value)  # not an integer: raises


def _count_check(value: object) -> int:
    # Quantities are JSON integers like amounts, but they are not money: a shape error.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "must be a JSON integer")
    return value


def _timestamp_check(value: object) -> datetime:
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "invalid_timestamp", "is not an ISO 8601 timestamp with an offset"
            ) from None
    else:
        raise PydanticCustomError("invalid_timestamp", "must be an ISO 8601 string with an offset")
    try:
        require_aware(instant, field="")
    except NaiveDatetimeError:
        raise PydanticCustomError("naive_datetime", "has no UTC offset") from None
    return instant  # the given offset is kept; comparisons are by instant anyway


def _rate_check(value: object) -> Decimal:
    # A TOML or JSON float is a binary fraction: 0.1 is not one tenth, so it is refused.
    if isinstance(value, float):
        raise PydanticCustomError("invalid_rate", "{reason}", {"reason": _NOT_FLOAT})
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_rate", "{reason}", {"reason": _NOT_TEXT})
    if len(value) > RATE_TEXT_LENGTH_MAX or not _RATE_TEXT.match(value):
        raise PydanticCustomError("invalid_rate", "{reason}", {"reason": _NOT_PLAIN})
    try:
        return require_rate(value, field="")
    except InvalidRateError as exc:
        reason = str(exc.values["reason"])
        raise PydanticCustomError("invalid_rate", "{reason}", {"reason": reason}) from None


def _period_check(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be a string YYYY-MM")
    try:
        Period.parse(value)
    except InvalidPeriodError:
        raise PydanticCustomError("invalid_period", "is not YYYY-MM") from None
    return value


def _account_check(value: object) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be a string")
    try:
        account_type(value)
    except InvalidAccountCodeError:
        raise PydanticCustomError("invalid_account", "is not in the chart of accounts") from None
    return value


Id = Annotated[str, StringConstraints(strict=True, pattern=rf"^{ID_PATTERN}$")]
"""An id of a book, promoter, link, order, line, merchant, ...: see ``accounts.ID_PATTERN``."""

Amount = Annotated[
    int, Field(strict=True, ge=0, le=AMOUNT_MAX_MINOR), BeforeValidator(_unsigned_amount_check)
]
"""A JSON integer of minor units in ``[0, AMOUNT_MAX_MINOR]``; floats, bools, strings refused."""

PositiveAmount = Annotated[
    int, Field(strict=True, ge=1, le=AMOUNT_MAX_MINOR), BeforeValidator(_amount_check(1))
]
"""A JSON integer of minor units in ``[1, AMOUNT_MAX_MINOR]``."""

SignedAmount = Annotated[
    int,
    Field(strict=True, ge=-AMOUNT_MAX_MINOR, le=AMOUNT_MAX_MINOR),
    BeforeValidator(_signed_amount_check),
]
"""A posting amount: debit positive, credit negative, ``abs`` at most ``AMOUNT_MAX_MINOR``."""

Quantity = Annotated[
    int, Field(strict=True, ge=1, le=AMOUNT_MAX_MINOR), BeforeValidator(_count_check)
]
"""A count of items, at least 1."""

Timestamp = Annotated[datetime, Field(strict=True), BeforeValidator(_timestamp_check)]
"""An aware datetime; from JSON an ISO 8601 string with an offset. Naive ones are refused."""

Rate = Annotated[Decimal, BeforeValidator(_rate_check)]
"""A rate in ``[0, 1]`` written as a decimal string; floats are refused (binary fractions)."""

PeriodText = Annotated[str, BeforeValidator(_period_check)]
"""A calendar month written ``YYYY-MM``."""

AccountCode = Annotated[str, BeforeValidator(_account_check)]
"""A code of the chart of accounts (DESIGN §4)."""


def field_path(error: ErrorDetails, *, tags: Collection[int] = ()) -> str:
    """The dotted location of a pydantic error, e.g. ``lines.0.amount_minor``.

    ``tags`` are the positions of location parts that are a discriminated union's tag, not
    a field (pydantic puts the tag into the location); they are left out.
    """
    parts = (part for i, part in enumerate(error["loc"]) if i not in tags)
    return ".".join(str(part) for part in parts)


def to_typed_error(exc: ValidationError, *, tags: Collection[int] = ()) -> CpsLedgerError:
    """Map a pydantic ``ValidationError`` to the typed error of its first problem.

    ``tags``: positions of union tags in error locations, see :func:`field_path`.
    """
    error = exc.errors(include_url=False)[0]
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "union_tag_not_found":
        return InvalidEventError("type: missing", field="type")
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "")
        tag = ctx.get("tag")
        return InvalidEventError(f"type: unknown {tag!r}, expected one of {expected}", field="type")
    field = field_path(error, tags=tags)
    if kind == "invalid_amount":
        return InvalidAmountError(field=field, value=value, reason=str(ctx["reason"]))
    if kind == "invalid_rate":
        return InvalidRateError(field=field, value=value, reason=str(ctx["reason"]))
    if kind == "naive_datetime":
        return NaiveDatetimeError(field=field, value=value)
    if kind == "duplicate_line":
        return DuplicateLineError(order=str(ctx["order"]), line=str(ctx["line"]))
    if kind == "invalid_period":
        return InvalidPeriodError(period=str(value))
    if kind == "invalid_account":
        return InvalidAccountCodeError(account=str(value))
    return InvalidEventError(f"{field or 'value'}: {error['msg']}", field=field or None)


FIELD_SETS_SHARED_MAX: Final = 16
"""Distinct sets of given fields a model class shares between its instances; an instance
with any other set keeps its own."""


class LedgerModel(BaseModel):
    """Base of every input model: frozen, no extra fields, typed errors instead of pydantic's."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    union_tag_positions: ClassVar[tuple[int, ...]] = ()
    """Where error locations hold a union's tag rather than a field (see ``field_path``)."""
    _field_sets: ClassVar[list[set[str]]] = []  # each class its own: __pydantic_init_subclass__

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._field_sets = []

    def __init__(self, **data: Any) -> None:
        """Validate ``data``; raise a typed :class:`CpsLedgerError`, never ``ValidationError``."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise to_typed_error(exc, tags=type(self).union_tag_positions) from None

    # Marked as pydantic's own __init__ so nested models are validated by pydantic-core,
    # keeping the full location (``lines.0.amount_minor``) in the error.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def share_fields_set(self) -> None:
        """Take the set of given fields from an earlier instance given the same fields.

        Pydantic gives every instance a set of the fields it was given. A batch of parsed
        events lives until it commits, and those sets were 3 of the ~10 objects per paid
        order that the garbage collector walked, young and old (finding 37). The models
        are frozen and pydantic copies the set before changing it (``model_copy``), so
        instances given the same fields can share one.
        """
        own = self.__pydantic_fields_set__
        shared = self._field_sets
        for candidate in shared:
            if candidate == own:
                object.__setattr__(self, "__pydantic_fields_set__", candidate)
                return
        if len(shared) < FIELD_SETS_SHARED_MAX:
            shared.append(own)  # a race adds one twice: harmless, and bounded all the same

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj``; raise a typed :class:`CpsLedgerError`, never ``ValidationError``."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise to_typed_error(exc, tags=cls.union_tag_positions) from None
