"""A plain in-memory reference model of DESIGN §4–§5: what every balance should be.

The model consumes the same raw JSON events (and settle / payout commands) as the library
and predicts each one's status and every account's balance. Its arithmetic — rounding,
allocation, refund targets — is written again here from DESIGN §5 alone, with exact
fractions, so that it is an independent cross-check of the library, not a copy of it. It
reuses only the event parser (shape is not what it checks) and ``build_ruleset`` (which
rule quotes a line). It needs no database and imports nothing from ``services`` or
``adapters``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import floor
from typing import Any, Final

from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.domain.books import BookDefinition
from cps_ledger.domain.events import (
    Event,
    MerchantPayment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    Refund,
    ShareLinkCreated,
    parse_event,
)
from cps_ledger.domain.periods import Period
from cps_ledger.domain.rules import LineContext, build_ruleset
from cps_ledger.errors import (
    CpsLedgerError,
    IdempotencyConflictError,
    InsufficientAvailableError,
    InvalidAmountError,
    OrderBeforeLinkError,
    OrderStateError,
    PaymentExceedsReceivableError,
    PayoutBelowMinimumError,
    PayoutStateError,
    RefundExceedsBaseError,
    SettlementOrderError,
    UnknownBookError,
    UnknownLineError,
    UnknownLinkError,
    UnknownOrderError,
    UnknownPayoutError,
    UnknownPromoterError,
    UplineError,
)

DEFAULT_BOOK_TOML: Final = """\
[book]
code = "{code}"
currency = "CNY"
timezone = "Asia/Shanghai"
payout_minimum_minor = 100

[split]
fee_rate = "0.10"
upline_rate = "0.10"

[[rules]]
kind = "sku"
priority = 40
sku = "100012043978"
rate = "0.20"
cap_minor = 5000

[[rules]]
kind = "category"
priority = 20
category = "3C"
rate = "0.05"

[[rules]]
kind = "default"
priority = 0
rate = "0.03"
"""
"""The DESIGN §6 example book plus a category rule; ``{code}`` is replaced by the book code."""

Shares = tuple[int, int, int, int]
"""(commission, promoter, upline, platform) of one line, in minor units."""


def default_book_toml(code: str) -> str:
    """The text of :data:`DEFAULT_BOOK_TOML` for the book ``code``."""
    return DEFAULT_BOOK_TOML.replace("{code}", code)


@dataclass(frozen=True, slots=True)
class Predicted:
    """What the model expects of one event or command.

    ``status`` is ``applied``, ``replayed`` or ``rejected``; ``error`` the class name of the
    typed error when rejected; ``result`` the figures of a settlement or payout.
    """

    status: str
    error: str | None = None
    result: Mapping[str, Any] | None = None


@dataclass(slots=True)
class ModelLine:
    """One order line as the model tracks it: its terms, refunds and current shares."""

    merchant: str
    base_minor: int
    rate: Fraction
    cap_minor: int | None
    weights: tuple[Fraction, Fraction, Fraction]
    refunded_minor: int = 0
    shares: Shares = (0, 0, 0, 0)
    settled: bool = False

    @property
    def remaining_minor(self) -> int:
        """The base not yet refunded."""
        return self.base_minor - self.refunded_minor


@dataclass(slots=True)
class ModelOrder:
    """An order with its promoter and upline as they were when it was paid."""

    promoter: str
    upline: str | None
    state: str
    lines: dict[str, ModelLine]
    completed_at: datetime | None = None


@dataclass(slots=True)
class ModelPayout:
    """A payout request and its state (``pending``, ``completed`` or ``failed``)."""

    promoter: str
    amount_minor: int
    state: str = "pending"


def round_half_up(x: Fraction) -> int:
    """Whole minor units, halves away from zero, for exact fractions."""
    return floor(x + Fraction(1, 2)) if x >= 0 else -floor(-x + Fraction(1, 2))


def allocate(total: int, weights: tuple[Fraction, ...]) -> list[int]:
    """DESIGN §5: floors, then one unit each to the largest remainders, ties to the earlier."""
    if total < 0:
        return [-p for p in allocate(-total, weights)]
    exact = [total * w for w in weights]
    parts = [floor(x) for x in exact]
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def line_shares(line: ModelLine, remaining_minor: int) -> Shares:
    """The commission and the three shares of ``line`` on a remaining base."""
    commission = round_half_up(remaining_minor * line.rate)
    if line.cap_minor is not None:
        commission = min(commission, line.cap_minor)
    promoter, upline, platform = allocate(commission, line.weights)
    return commission, promoter, upline, platform


class ReferenceModel:
    """The books of one programme, predicted from DESIGN §4–§5 alone (withholding ``none``)."""

    def __init__(self, definition: BookDefinition) -> None:
        if definition.withholding != "none" or definition.split_policy != "standard":
            raise ValueError(
                "the reference model knows the 'none' withholding and 'standard' split"
            )
        self.definition = definition
        self.code = definition.code
        self.ruleset = build_ruleset(definition.rules, 1)
        self.fee_rate = Fraction(definition.fee_rate)
        self.upline_rate = Fraction(definition.upline_rate)
        self.promoters: dict[str, tuple[str | None, str | None]] = {}
        """promoter -> (upline, tier)."""
        self.links: dict[str, tuple[str, datetime]] = {}
        """link -> (promoter, created_at)."""
        self.orders: dict[str, ModelOrder] = {}
        self.payouts: dict[str, ModelPayout] = {}
        self.settled: dict[str, Mapping[str, Any]] = {}
        """period -> the figures its run reported."""
        self._balances: dict[str, int] = {}
        self._keys: dict[str, str] = {}

    @classmethod
    def from_toml(cls, text: str) -> ReferenceModel:
        """A model of the book described by a book file's TOML text."""
        return cls(parse_book_file(text).definition())

    # -- reading ---------------------------------------------------------------------------

    def balances(self) -> dict[str, int]:
        """Every account's signed (debit-positive) balance, non-zero ones only."""
        return {a: b for a, b in sorted(self._balances.items()) if b}

    def balance(self, account: str) -> int:
        """The signed (debit-positive) balance of one account."""
        return self._balances.get(account, 0)

    def available_minor(self, promoter: str) -> int:
        """What ``promoter`` may be paid out now: the credit balance of its available
        account (below zero after a clawback)."""
        return -self.balance(f"promoter:{promoter}:available")

    def payouts_in(self, state: str) -> list[str]:
        """The request ids of the payouts now in ``state``, in the order they were made."""
        return [rid for rid, payout in self.payouts.items() if payout.state == state]

    def awaiting_settlement(self) -> bool:
        """Whether a completed line is not settled yet: the next settlement would take it."""
        return any(
            not line.settled
            for order in self.orders.values()
            if order.state == "completed"
            for line in order.lines.values()
        )

    def last_settled(self) -> str | None:
        """The latest settled period (``YYYY-MM``), or None before the first settlement."""
        return max(self.settled, default=None)

    def line_shares(self) -> dict[tuple[str, str], Shares]:
        """(order, line) -> (commission, promoter, upline, platform) now."""
        return {
            (o, n): ln.shares for o, order in self.orders.items() for n, ln in order.lines.items()
        }

    # -- events ----------------------------------------------------------------------------

    def apply(self, raw: Mapping[str, Any]) -> Predicted:
        """Predict what ingesting the raw JSON event ``raw`` does, and do it to the model."""
        try:
            event = parse_event(dict(raw))
        except CpsLedgerError as exc:
            return Predicted("rejected", type(exc).__name__)
        return self._keyed(
            _key(event), json.dumps(raw, sort_keys=True), lambda: self._handle(event)
        )

    def _keyed(self, key: str, payload: str, work: Any) -> Predicted:
        if key in self._keys:
            if self._keys[key] == payload:
                return Predicted("replayed")
            return Predicted("rejected", IdempotencyConflictError.__name__)
        try:
            result = work()
        except CpsLedgerError as exc:
            return Predicted("rejected", type(exc).__name__)
        self._keys[key] = payload
        return Predicted("applied", result=result)

    def _handle(self, event: Event) -> None:
        if event.book != self.code:
            raise UnknownBookError(book=event.book)
        match event:
            case PromoterRegistered():
                self._register(event)
            case ShareLinkCreated():
                if event.promoter not in self.promoters:
                    raise UnknownPromoterError(book=self.code, promoter=event.promoter)
                self.links[event.link] = (event.promoter, event.at)
            case OrderPaid():
                self._pay(event)
            case OrderCompleted():
                order = self._paid_order(event.order, "complete")
                for line in order.lines.values():
                    self._move(order, line, _neg(line.shares), completed=False)
                    self._move(order, line, line.shares, completed=True)
                order.state, order.completed_at = "completed", event.at
            case OrderCancelled():
                order = self._paid_order(event.order, "cancel")
                for line in order.lines.values():
                    self._move(order, line, _neg(line.shares), completed=False)
                order.state = "cancelled"
            case Refund():
                self._refund(event)
            case MerchantPayment():
                account = f"merchant:{event.merchant}:receivable"
                owed = self.balance(account)
                if event.amount_minor > owed:
                    raise PaymentExceedsReceivableError(
                        merchant=event.merchant,
                        amount_minor=event.amount_minor,
                        receivable_minor=owed,
                    )
                self._post({"platform:cash": event.amount_minor, account: -event.amount_minor})

    def _register(self, e: PromoterRegistered) -> None:
        if e.upline is not None and (e.upline == e.promoter or e.upline not in self.promoters):
            raise UplineError(
                book=self.code, promoter=e.promoter, upline=e.upline, reason="invalid"
            )
        self.promoters[e.promoter] = (e.upline, e.tier)

    def _pay(self, e: OrderPaid) -> None:
        if e.link not in self.links:
            raise UnknownLinkError(book=self.code, link=e.link)
        promoter, created_at = self.links[e.link]
        if e.paid_at < created_at:
            raise OrderBeforeLinkError(
                order=e.order, link=e.link, paid_at=e.paid_at, link_created_at=created_at
            )
        upline, tier = self.promoters[promoter]
        fee, up = self.fee_rate, self.upline_rate
        weights = (1 - fee - up, up, fee) if upline else (1 - fee - up, Fraction(0), fee + up)
        order = ModelOrder(promoter, upline, "paid", {})
        for ln in e.lines:
            context = LineContext(
                book=self.code,
                merchant=ln.merchant,
                sku=ln.sku,
                category=ln.category,
                amount_minor=ln.amount_minor,
                quantity=ln.quantity,
                promoter=promoter,
                tier=tier,
                paid_at=e.paid_at,
            )
            quote = self.ruleset.select(context).quote
            line = ModelLine(
                ln.merchant, ln.amount_minor, Fraction(quote.rate), quote.cap_minor, weights
            )
            line.shares = line_shares(line, line.base_minor)
            order.lines[ln.line] = line
            self._move(order, line, line.shares, completed=False)
        self.orders[e.order] = order

    def _paid_order(self, order_id: str, action: str) -> ModelOrder:
        order = self._order(order_id)
        if order.state != "paid":
            raise OrderStateError(order=order_id, state=order.state, action=action)
        return order

    def _order(self, order_id: str) -> ModelOrder:
        if order_id not in self.orders:
            raise UnknownOrderError(book=self.code, order=order_id)
        return self.orders[order_id]

    def _refund(self, e: Refund) -> None:
        order = self._order(e.order)
        if order.state == "cancelled":
            raise OrderStateError(order=e.order, state=order.state, action="refund")
        targets: list[tuple[ModelLine, int, Shares]] = []
        for ln in e.lines:  # every line is checked before any money moves
            if ln.line not in order.lines:
                raise UnknownLineError(order=e.order, line=ln.line)
            line = order.lines[ln.line]
            if ln.amount_minor > line.remaining_minor:
                raise RefundExceedsBaseError(
                    order=e.order,
                    line=ln.line,
                    requested_minor=ln.amount_minor,
                    remaining_minor=line.remaining_minor,
                )
            after = line_shares(line, line.remaining_minor - ln.amount_minor)
            targets.append((line, ln.amount_minor, after))
        for line, amount, after in targets:
            delta = (
                after[0] - line.shares[0],
                after[1] - line.shares[1],
                after[2] - line.shares[2],
                after[3] - line.shares[3],
            )
            self._move(order, line, delta, completed=order.state == "completed")
            line.refunded_minor += amount
            line.shares = after

    def _move(self, order: ModelOrder, line: ModelLine, delta: Shares, *, completed: bool) -> None:
        """Add ``delta`` to each party of ``line`` where its money sits (DESIGN §4)."""
        party = ("available" if line.settled else "confirmed") if completed else "estimated"
        legs = {
            f"merchant:{line.merchant}:receivable" + ("" if completed else ":estimated"): delta[0],
            f"promoter:{order.promoter}:{party}": -delta[1],
            ("platform:fee_revenue" if completed else "platform:fee:estimated"): -delta[3],
        }
        self._post(legs)
        if order.upline is not None:
            self._post({f"promoter:{order.upline}:{party}": -delta[2]})

    def _post(self, legs: Mapping[str, int]) -> None:
        # The model keeps no entries, only balances: a leg of 0 changes nothing, as in the
        # journal where zero legs are dropped.
        for account, amount in legs.items():
            self._balances[account] = self._balances.get(account, 0) + amount

    # -- settlement and payouts -----------------------------------------------------------

    def settle(self, period: str, now: datetime) -> Predicted:
        """Predict ``settle(engine, book, period, now=now)``."""
        if period in self.settled:
            return Predicted("replayed", result={**self.settled[period], "replayed": True})
        try:
            end = Period.parse(period).end(self.definition.timezone)
            last = self.last_settled()
            if last is not None and period < last:
                raise SettlementOrderError(book=self.code, period=period, reason="before last")
            if end > now:
                raise SettlementOrderError(book=self.code, period=period, reason="not ended")
        except CpsLedgerError as exc:
            return Predicted("rejected", type(exc).__name__)
        owed: dict[str, int] = {}
        for order in self.orders.values():
            if (
                order.state != "completed"
                or order.completed_at is None
                or order.completed_at >= end
            ):
                continue
            for line in order.lines.values():
                if line.settled:
                    continue
                line.settled = True
                owed[order.promoter] = owed.get(order.promoter, 0) + line.shares[1]
                if order.upline is not None:
                    owed[order.upline] = owed.get(order.upline, 0) + line.shares[2]
        for promoter, amount in owed.items():
            self._post(
                {
                    f"promoter:{promoter}:confirmed": amount,
                    f"promoter:{promoter}:available": -amount,
                }
            )
        figures = {
            "promoters": sum(1 for a in owed.values() if a),
            "amount_minor": sum(owed.values()),
        }
        self.settled[period] = figures
        return Predicted("applied", result={**figures, "replayed": False})

    def request_payout(self, promoter: str, amount_minor: int, request_id: str) -> Predicted:
        """Predict ``request_payout`` (checks in DESIGN §6 order)."""
        if amount_minor < 1:
            return Predicted("rejected", InvalidAmountError.__name__)
        key, payload = f"payout:{request_id}", json.dumps([promoter, amount_minor])

        def work() -> Mapping[str, Any]:
            if promoter not in self.promoters:
                raise UnknownPromoterError(book=self.code, promoter=promoter)
            if amount_minor < self.definition.payout_minimum_minor:
                raise PayoutBelowMinimumError(
                    amount_minor=amount_minor, minimum_minor=self.definition.payout_minimum_minor
                )
            available = -self.balance(f"promoter:{promoter}:available")
            if amount_minor > available:
                raise InsufficientAvailableError(
                    promoter=promoter, amount_minor=amount_minor, available_minor=available
                )
            self._post(
                {
                    f"promoter:{promoter}:available": amount_minor,
                    f"promoter:{promoter}:payout_pending": -amount_minor,
                }
            )
            self.payouts[request_id] = ModelPayout(promoter, amount_minor)
            return self._payout_result(request_id)

        predicted = self._keyed(key, payload, work)
        if predicted.status == "replayed":
            return Predicted("replayed", result=self._payout_result(request_id))
        return predicted

    def complete_payout(self, request_id: str) -> Predicted:
        """Predict ``complete_payout``: pending -> paid out of cash (no tax withheld)."""
        return self._finish(request_id, "completed", "platform:cash")

    def fail_payout(self, request_id: str) -> Predicted:
        """Predict ``fail_payout``: pending -> back to available."""
        return self._finish(request_id, "failed", "available")

    def _finish(self, request_id: str, state: str, to: str) -> Predicted:
        payout = self.payouts.get(request_id)
        if payout is None:
            return Predicted("rejected", UnknownPayoutError.__name__)
        if payout.state == state:
            return Predicted("replayed", result=self._payout_result(request_id))
        if payout.state != "pending":
            return Predicted("rejected", PayoutStateError.__name__)
        account = to if to.startswith("platform:") else f"promoter:{payout.promoter}:{to}"
        self._post(
            {
                f"promoter:{payout.promoter}:payout_pending": payout.amount_minor,
                account: -payout.amount_minor,
            }
        )
        payout.state = state
        return Predicted("applied", result=self._payout_result(request_id))

    def _payout_result(self, request_id: str) -> Mapping[str, Any]:
        payout = self.payouts[request_id]
        return {
            "request_id": request_id,
            "promoter": payout.promoter,
            "state": payout.state,
            "amount_minor": payout.amount_minor,
            "tax_minor": 0,
        }


def _neg(shares: Shares) -> Shares:
    return (-shares[0], -shares[1], -shares[2], -shares[3])


def _key(event: Event) -> str:
    """The idempotency key of DESIGN §4/§6, derived again here."""
    match event:
        case PromoterRegistered():
            return f"promoter:{event.promoter}"
        case ShareLinkCreated():
            return f"link:{event.link}"
        case OrderPaid() | OrderCompleted() | OrderCancelled():
            return f"order:{event.order}:{event.type.removeprefix('order_')}"
        case Refund():
            return f"refund:{event.refund}"
        case MerchantPayment():
            return f"merchant_payment:{event.payment}"


__all__ = [
    "DEFAULT_BOOK_TOML",
    "ModelLine",
    "ModelOrder",
    "ModelPayout",
    "Predicted",
    "ReferenceModel",
    "allocate",
    "default_book_toml",
    "line_shares",
    "round_half_up",
]
