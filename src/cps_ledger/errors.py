"""Every error cps_ledger raises, in one hierarchy.

Each error carries the offending values as attributes, so callers can react without parsing
messages. ``BadInputError`` subclasses mean the command was refused and nothing was
written (CLI exit code 2); ``OperationalError`` subclasses mean the system could not do the
work (exit code 1).
"""

from __future__ import annotations

from typing import Any


class CpsLedgerError(Exception):
    """Base of every error raised by cps_ledger."""

    exit_code: int = 2

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values
        for name, value in values.items():
            setattr(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which Exception's pickling cannot pass;
        # errors cross process boundaries (parallel ingest), so they rebuild from their parts.
        return (_rebuild, (type(self), self.message, self.values))


def _rebuild(cls: type[CpsLedgerError], message: str, values: dict[str, Any]) -> CpsLedgerError:
    error = cls.__new__(cls)
    CpsLedgerError.__init__(error, message, **values)
    return error


class BadInputError(CpsLedgerError):
    """A command was refused because of what it asked for; nothing was written."""


class OperationalError(CpsLedgerError):
    """The work could not be done for a reason outside the command (database, contention)."""

    exit_code = 1


# -- shape -------------------------------------------------------------------------------


class InvalidEventError(BadInputError):
    """An event or command does not have the required shape (fields, types, JSON)."""

    field: str | None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)


class NaiveDatetimeError(BadInputError):
    """A timestamp has no UTC offset; naive datetimes are ambiguous and refused."""

    field: str
    value: object

    def __init__(self, *, field: str, value: object) -> None:
        super().__init__(f"{field}={value!r} has no UTC offset", field=field, value=value)


class InvalidAmountError(BadInputError):
    """An amount is not an integer number of minor units inside the allowed range."""

    field: str
    value: object
    reason: str

    def __init__(self, *, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}", field=field, value=value, reason=reason)


class InvalidAccountCodeError(BadInputError):
    """An account code is not one of the chart of accounts' patterns."""

    account: str

    def __init__(self, *, account: str) -> None:
        super().__init__(
            f"account code {account!r} is not in the chart of accounts", account=account
        )


class UnknownAccountTypeError(BadInputError):
    """An account type is not asset, liability, revenue, expense or equity."""

    account_type: str

    def __init__(self, *, account_type: str) -> None:
        super().__init__(f"unknown account type {account_type!r}", account_type=account_type)


class InvalidRateError(BadInputError):
    """A rate or weight is not a decimal in the allowed range."""

    field: str
    value: object
    reason: str

    def __init__(self, *, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}", field=field, value=value, reason=reason)


class InvalidPeriodError(BadInputError):
    """A period is not written YYYY-MM."""

    period: str

    def __init__(self, *, period: str) -> None:
        super().__init__(f"period {period!r} is not YYYY-MM", period=period)


class BookFileError(BadInputError):
    """A book file is not valid TOML or does not match the book file schema."""

    field: str | None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)


# -- entries -----------------------------------------------------------------------------


class EntryShapeError(BadInputError):
    """An entry has too few or too many postings."""

    count: int
    minimum: int
    maximum: int

    def __init__(self, *, count: int, minimum: int, maximum: int) -> None:
        super().__init__(
            f"an entry needs {minimum}..{maximum} postings, got {count}",
            count=count,
            minimum=minimum,
            maximum=maximum,
        )


class UnbalancedEntryError(BadInputError):
    """The postings of an entry do not sum to zero in some currency."""

    currency: str
    imbalance_minor: int

    def __init__(self, *, currency: str, imbalance_minor: int) -> None:
        super().__init__(
            f"postings in {currency} sum to {imbalance_minor}, not 0",
            currency=currency,
            imbalance_minor=imbalance_minor,
        )


class CurrencyMismatchError(BadInputError):
    """A posting's currency is not the book's currency."""

    book: str
    expected: str
    got: str

    def __init__(self, *, book: str, expected: str, got: str) -> None:
        super().__init__(
            f"book {book!r} keeps {expected}, not {got}", book=book, expected=expected, got=got
        )


class IdempotencyConflictError(BadInputError):
    """An idempotency key was used before with a different payload."""

    book: str
    key: str

    def __init__(self, *, book: str, key: str) -> None:
        super().__init__(
            f"key {key!r} in book {book!r} was used before with a different payload",
            book=book,
            key=key,
        )


# -- books, promoters, links, orders -----------------------------------------------------


class UnknownBookError(BadInputError):
    """No book has this code."""

    book: str

    def __init__(self, *, book: str) -> None:
        super().__init__(f"unknown book {book!r}", book=book)


class UnknownPromoterError(BadInputError):
    """No promoter with this id is registered in the book."""

    book: str
    promoter: str

    def __init__(self, *, book: str, promoter: str) -> None:
        super().__init__(
            f"unknown promoter {promoter!r} in book {book!r}", book=book, promoter=promoter
        )


class UplineError(BadInputError):
    """An upline is unknown, the promoter itself, or would close a cycle."""

    book: str
    promoter: str
    upline: str
    reason: str

    def __init__(self, *, book: str, promoter: str, upline: str, reason: str) -> None:
        super().__init__(
            f"upline {upline!r} of {promoter!r}: {reason}",
            book=book,
            promoter=promoter,
            upline=upline,
            reason=reason,
        )


class UnknownLinkError(BadInputError):
    """No share link with this id exists in the book."""

    book: str
    link: str

    def __init__(self, *, book: str, link: str) -> None:
        super().__init__(f"unknown share link {link!r} in book {book!r}", book=book, link=link)


class LinkOfAnotherBookError(BadInputError):
    """The share link belongs to another book; books never touch each other's accounts."""

    book: str
    link: str
    link_book: str

    def __init__(self, *, book: str, link: str, link_book: str) -> None:
        super().__init__(
            f"share link {link!r} belongs to book {link_book!r}, not {book!r}",
            book=book,
            link=link,
            link_book=link_book,
        )


class OrderBeforeLinkError(BadInputError):
    """An order was paid before the share link that attributes it existed."""

    order: str
    link: str
    paid_at: object
    link_created_at: object

    def __init__(self, *, order: str, link: str, paid_at: object, link_created_at: object) -> None:
        super().__init__(
            f"order {order!r} paid at {paid_at} before link {link!r} was created at "
            f"{link_created_at}",
            order=order,
            link=link,
            paid_at=paid_at,
            link_created_at=link_created_at,
        )


class UnknownOrderError(BadInputError):
    """No order with this id exists in the book."""

    book: str
    order: str

    def __init__(self, *, book: str, order: str) -> None:
        super().__init__(f"unknown order {order!r} in book {book!r}", book=book, order=order)


class UnknownLineError(BadInputError):
    """The order has no line with this id."""

    order: str
    line: str

    def __init__(self, *, order: str, line: str) -> None:
        super().__init__(f"order {order!r} has no line {line!r}", order=order, line=line)


class DuplicateLineError(BadInputError):
    """A line id appears twice in one order or one refund."""

    order: str
    line: str

    def __init__(self, *, order: str, line: str) -> None:
        super().__init__(f"line {line!r} appears twice in {order!r}", order=order, line=line)


class OrderStateError(BadInputError):
    """The order's state does not allow this step (cancel after completion, and so on)."""

    order: str
    state: str
    action: str

    def __init__(self, *, order: str, state: str, action: str) -> None:
        super().__init__(
            f"cannot {action} order {order!r}: it is {state}",
            order=order,
            state=state,
            action=action,
        )


class RefundExceedsBaseError(BadInputError):
    """A refund would take back more than the line's remaining base; nothing was written."""

    order: str
    line: str
    requested_minor: int
    remaining_minor: int

    def __init__(
        self, *, order: str, line: str, requested_minor: int, remaining_minor: int
    ) -> None:
        super().__init__(
            f"refund of {requested_minor} on {order}/{line} exceeds remaining {remaining_minor}",
            order=order,
            line=line,
            requested_minor=requested_minor,
            remaining_minor=remaining_minor,
        )


class UnknownRuleKindError(BadInputError):
    """A rule kind is neither built in nor registered through the entry-point group."""

    kind: str

    def __init__(self, *, kind: str) -> None:
        super().__init__(f"unknown rule kind {kind!r}", kind=kind)


class UnknownPolicyError(BadInputError):
    """A split or withholding policy name is not registered."""

    group: str
    name: str

    def __init__(self, *, group: str, name: str) -> None:
        super().__init__(f"no {group} policy named {name!r}", group=group, name=name)


# -- settlement, payouts, merchants ------------------------------------------------------


class SettlementOrderError(BadInputError):
    """A period before the last settled one was asked for, or one that has not ended."""

    book: str
    period: str
    reason: str

    def __init__(self, *, book: str, period: str, reason: str) -> None:
        super().__init__(
            f"cannot settle {book!r} {period}: {reason}", book=book, period=period, reason=reason
        )


class PayoutBelowMinimumError(BadInputError):
    """A payout request is below the book's payout minimum."""

    amount_minor: int
    minimum_minor: int

    def __init__(self, *, amount_minor: int, minimum_minor: int) -> None:
        super().__init__(
            f"payout of {amount_minor} is below the minimum {minimum_minor}",
            amount_minor=amount_minor,
            minimum_minor=minimum_minor,
        )


class InsufficientAvailableError(BadInputError):
    """A payout request exceeds the promoter's available balance."""

    promoter: str
    amount_minor: int
    available_minor: int

    def __init__(self, *, promoter: str, amount_minor: int, available_minor: int) -> None:
        super().__init__(
            f"payout of {amount_minor} exceeds {promoter!r}'s available {available_minor}",
            promoter=promoter,
            amount_minor=amount_minor,
            available_minor=available_minor,
        )


class UnknownPayoutError(BadInputError):
    """No payout request has this id in the book."""

    book: str
    request_id: str

    def __init__(self, *, book: str, request_id: str) -> None:
        super().__init__(
            f"unknown payout request {request_id!r} in book {book!r}",
            book=book,
            request_id=request_id,
        )


class PayoutStateError(BadInputError):
    """The payout's state does not allow this step (fail after complete, and so on)."""

    request_id: str
    state: str
    action: str

    def __init__(self, *, request_id: str, state: str, action: str) -> None:
        super().__init__(
            f"cannot {action} payout {request_id!r}: it is {state}",
            request_id=request_id,
            state=state,
            action=action,
        )


class PaymentExceedsReceivableError(BadInputError):
    """A merchant payment is larger than what the merchant owes now."""

    merchant: str
    amount_minor: int
    receivable_minor: int

    def __init__(self, *, merchant: str, amount_minor: int, receivable_minor: int) -> None:
        super().__init__(
            f"payment of {amount_minor} exceeds {merchant!r}'s receivable {receivable_minor}",
            merchant=merchant,
            amount_minor=amount_minor,
            receivable_minor=receivable_minor,
        )


# -- operational -------------------------------------------------------------------------


class DatabaseUnavailableError(OperationalError):
    """The database could not be reached or refused the connection."""

    url: str
    reason: str

    def __init__(self, *, url: str, reason: str) -> None:
        super().__init__(f"cannot reach database {url}: {reason}", url=url, reason=reason)


class ContentionError(OperationalError):
    """Deadlocks or serialization failures persisted past the bounded number of retries."""

    attempts: int
    reason: str

    def __init__(self, *, attempts: int, reason: str) -> None:
        super().__init__(
            f"gave up after {attempts} attempts: {reason}", attempts=attempts, reason=reason
        )


class WorkerFailedError(OperationalError):
    """A worker process of parallel ingest failed; what it had not committed is not applied."""

    worker: int
    reason: str

    def __init__(self, *, worker: int, reason: str) -> None:
        super().__init__(f"ingest worker {worker} failed: {reason}", worker=worker, reason=reason)


class SchemaNotReadyError(OperationalError):
    """The database has not been migrated to the version this library needs."""

    url: str

    def __init__(self, *, url: str) -> None:
        super().__init__(f"database {url} is not migrated; run `cps-ledger db upgrade`", url=url)


class InputFileError(BadInputError):
    """A file named on the command line does not exist or cannot be read."""

    def __init__(self, *, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}", path=path, reason=reason)
