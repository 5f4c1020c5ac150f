"""The order lifecycle and its postings (DESIGN §4): paid, completed, cancelled, refunded.

Pure functions over small mutable-free records: each step returns the new line states and
the postings that move the money, so the service only has to store both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from cps_ledger.domain.accounts import (
    PLATFORM_FEE_ESTIMATED,
    PLATFORM_FEE_REVENUE,
    merchant_receivable,
    promoter_account,
)
from cps_ledger.domain.commission import ZERO_SHARES, LineTerms, Shares, refund_targets
from cps_ledger.domain.entries import Posting
from cps_ledger.domain.records import quick_init
from cps_ledger.errors import OrderStateError, UnknownLineError


class OrderState(StrEnum):
    """Where an order stands; cancelled and completed are final for the order itself."""

    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """Where one party's money of a line sits now."""

    ESTIMATED = "estimated"
    CONFIRMED = "confirmed"
    AVAILABLE = "available"


@quick_init
@dataclass(frozen=True, slots=True)
class LineState:
    """An order line: its snapshotted terms, what has been refunded, its current shares."""

    line: str
    merchant: str
    sku: str | None
    category: str | None
    quantity: int
    amount_minor: int
    terms: LineTerms
    refunded_minor: int
    shares: Shares


@quick_init
@dataclass(frozen=True, slots=True)
class Order:
    """An attributed order with the promoter and upline snapshotted when it was paid."""

    order: str
    link: str
    promoter: str
    upline: str | None
    state: OrderState
    rules_version: int
    paid_at: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None
    lines: tuple[LineState, ...]
    promoter_settled: str | None = None
    """The period whose settlement moved the promoter's shares of every line to available."""
    upline_settled: str | None = None
    """Likewise for the upline's shares: an order's lines are settled together, per party."""

    def line(self, line_id: str) -> LineState:
        """The line ``line_id`` or :class:`UnknownLineError`."""
        for candidate in self.lines:
            if candidate.line == line_id:
                return candidate
        raise UnknownLineError(order=self.order, line=line_id)


Legs = dict[str, int]
"""Amounts per account, summed as a flow builds them; turned into postings once at the end."""


def _add_legs(
    legs: Legs, order: Order, line: LineState, delta: Shares, sources: tuple[Stage, Stage]
) -> None:
    """Add to ``legs`` what moves ``delta`` (positive = accrue) into each party's stage.

    Liabilities are credit-normal, so a party gaining money is a negative posting.
    """
    promoter_stage, upline_stage = sources
    merchant_estimated = promoter_stage is Stage.ESTIMATED
    platform = PLATFORM_FEE_ESTIMATED if merchant_estimated else PLATFORM_FEE_REVENUE
    for account, amount in (
        (merchant_receivable(line.merchant, estimated=merchant_estimated), delta.commission_minor),
        (promoter_account(order.promoter, promoter_stage), -delta.promoter_minor),
        (platform, -delta.platform_minor),
    ):
        legs[account] = legs.get(account, 0) + amount
    if order.upline is not None:
        account = promoter_account(order.upline, upline_stage)
        legs[account] = legs.get(account, 0) + -delta.upline_minor


def _postings(legs: Legs, currency: str) -> tuple[Posting, ...]:
    # Zero legs are dropped: a party whose share is zero leaves no trace in the journal.
    return tuple(Posting(account, amount, currency) for account, amount in legs.items() if amount)


def stages(order: Order) -> tuple[Stage, Stage]:
    """Where the promoter's and the upline's money of the order's lines sits now."""
    if order.state is not OrderState.COMPLETED:
        return Stage.ESTIMATED, Stage.ESTIMATED
    return (
        Stage.AVAILABLE if order.promoter_settled else Stage.CONFIRMED,
        Stage.AVAILABLE if order.upline_settled else Stage.CONFIRMED,
    )


_ESTIMATED: Final = (Stage.ESTIMATED, Stage.ESTIMATED)
_CONFIRMED: Final = (Stage.CONFIRMED, Stage.CONFIRMED)


def accrual_legs(order: Order) -> Legs:
    """The legs of :func:`accrual`, zero legs included, for a flow that makes rows."""
    legs: Legs = {}
    for line in order.lines:
        _add_legs(legs, order, line, line.shares, _ESTIMATED)
    return legs


def accrual(order: Order, currency: str) -> tuple[Posting, ...]:
    """Order paid: Dr merchant estimated receivable / Cr each party's estimated share."""
    return _postings(accrual_legs(order), currency)


def _close(order: Order, action: str, earned: bool) -> Legs:
    """Take every line's remaining shares out of estimated, into earned if ``earned``."""
    if order.state is not OrderState.PAID:
        raise OrderStateError(order=order.order, state=order.state.value, action=action)
    legs: Legs = {}
    for line in order.lines:
        _add_legs(legs, order, line, ZERO_SHARES.minus(line.shares), _ESTIMATED)
        if earned:
            _add_legs(legs, order, line, line.shares, _CONFIRMED)
    return legs


def complete(order: Order, at: datetime, currency: str) -> tuple[Order, tuple[Posting, ...]]:
    """Order completed: every party's remaining share moves from estimated to earned."""
    legs = _close(order, "complete", earned=True)
    return replace(order, state=OrderState.COMPLETED, completed_at=at), _postings(legs, currency)


def cancel(order: Order, at: datetime, currency: str) -> tuple[Order, tuple[Posting, ...]]:
    """Order cancelled before completion: reverse what remains of every line."""
    legs = _close(order, "cancel", earned=False)
    return replace(order, state=OrderState.CANCELLED, cancelled_at=at), _postings(legs, currency)


@quick_init
@dataclass(frozen=True, slots=True)
class RefundedLine:
    """What a refund did to one line: the amount, the shares taken, and from where."""

    line: str
    amount_minor: int
    delta: Shares
    promoter_stage: Stage
    upline_stage: Stage


def refund(
    order: Order, amounts: Sequence[tuple[str, int]], currency: str
) -> tuple[Order, tuple[Posting, ...], tuple[RefundedLine, ...]]:
    """A partial or full refund of some lines, taking each party's money from where it is.

    Targets come from the cumulative refunded amount (DESIGN §5); after settlement the money
    comes out of ``available``, which may go negative: a clawback.
    """
    if order.state is OrderState.CANCELLED:
        raise OrderStateError(order=order.order, state=order.state.value, action="refund")
    by_id = {line.line: line for line in order.lines}
    legs: Legs = {}
    done: list[RefundedLine] = []
    for line_id, amount in amounts:
        line = order.line(line_id)
        before, after = refund_targets(
            line.terms, line.refunded_minor, amount, order=order.order, line=line_id
        )
        delta = after.minus(before)
        where = stages(order)
        _add_legs(legs, order, line, delta, where)
        by_id[line_id] = replace(line, refunded_minor=line.refunded_minor + amount, shares=after)
        done.append(RefundedLine(line_id, amount, delta, *where))
    updated = replace(order, lines=tuple(by_id[line.line] for line in order.lines))
    return updated, _postings(legs, currency), tuple(done)


def total_commission(lines: Iterable[LineState]) -> int:
    """The current commission of ``lines`` after refunds."""
    return sum(line.shares.commission_minor for line in lines)
