"""The order lifecycle and its postings (DESIGN §4): paid, completed, cancelled, refunded.

Pure functions over small mutable-free records: each step returns the new line states and
the postings that move the money, so the service only has to store both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from cps_ledger.domain.accounts import (
    PLATFORM_FEE_ESTIMATED,
    PLATFORM_FEE_REVENUE,
    merchant_receivable,
    promoter_account,
)
from cps_ledger.domain.commission import ZERO_SHARES, LineTerms, Shares, refund_targets
from cps_ledger.domain.entries import Posting, compact
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
    promoter_settled: str | None = None
    upline_settled: str | None = None


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

    def line(self, line_id: str) -> LineState:
        """The line ``line_id`` or :class:`UnknownLineError`."""
        for candidate in self.lines:
            if candidate.line == line_id:
                return candidate
        raise UnknownLineError(order=self.order, line=line_id)


def _legs(
    order: Order, line: LineState, delta: Shares, sources: tuple[Stage, Stage], currency: str
) -> list[Posting]:
    """Postings that add ``delta`` (positive = accrue) to each party's stage of ``line``.

    Liabilities are credit-normal, so a party gaining money is a negative posting.
    """
    promoter_stage, upline_stage = sources
    merchant_estimated = promoter_stage is Stage.ESTIMATED
    platform = PLATFORM_FEE_ESTIMATED if merchant_estimated else PLATFORM_FEE_REVENUE
    legs = [
        Posting(
            merchant_receivable(line.merchant, estimated=merchant_estimated),
            delta.commission_minor,
            currency,
        ),
        Posting(
            promoter_account(order.promoter, promoter_stage.value), -delta.promoter_minor, currency
        ),
        Posting(platform, -delta.platform_minor, currency),
    ]
    if order.upline is not None:
        legs.append(
            Posting(
                promoter_account(order.upline, upline_stage.value), -delta.upline_minor, currency
            )
        )
    return legs


def stages(order: Order, line: LineState) -> tuple[Stage, Stage]:
    """Where the promoter's and the upline's money of ``line`` sits now."""
    if order.state is not OrderState.COMPLETED:
        return Stage.ESTIMATED, Stage.ESTIMATED
    return (
        Stage.AVAILABLE if line.promoter_settled else Stage.CONFIRMED,
        Stage.AVAILABLE if line.upline_settled else Stage.CONFIRMED,
    )


def accrual(order: Order, currency: str) -> tuple[Posting, ...]:
    """Order paid: Dr merchant estimated receivable / Cr each party's estimated share."""
    legs: list[Posting] = []
    for line in order.lines:
        legs += _legs(order, line, line.shares, (Stage.ESTIMATED, Stage.ESTIMATED), currency)
    return compact(legs)


def complete(order: Order, at: datetime, currency: str) -> tuple[Order, tuple[Posting, ...]]:
    """Order completed: every party's remaining share moves from estimated to earned."""
    if order.state is not OrderState.PAID:
        raise OrderStateError(order=order.order, state=order.state.value, action="complete")
    legs: list[Posting] = []
    for line in order.lines:
        legs += _legs(
            order,
            line,
            ZERO_SHARES.minus(line.shares),
            (Stage.ESTIMATED, Stage.ESTIMATED),
            currency,
        )
        legs += _legs(order, line, line.shares, (Stage.CONFIRMED, Stage.CONFIRMED), currency)
    done = replace(order, state=OrderState.COMPLETED, completed_at=at)
    return done, compact(legs)


def cancel(order: Order, at: datetime, currency: str) -> tuple[Order, tuple[Posting, ...]]:
    """Order cancelled before completion: reverse what remains of every line."""
    if order.state is not OrderState.PAID:
        raise OrderStateError(order=order.order, state=order.state.value, action="cancel")
    legs: list[Posting] = []
    for line in order.lines:
        legs += _legs(
            order,
            line,
            ZERO_SHARES.minus(line.shares),
            (Stage.ESTIMATED, Stage.ESTIMATED),
            currency,
        )
    done = replace(order, state=OrderState.CANCELLED, cancelled_at=at)
    return done, compact(legs)


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
    legs: list[Posting] = []
    done: list[RefundedLine] = []
    for line_id, amount in amounts:
        line = order.line(line_id)
        before, after = refund_targets(
            line.terms, line.refunded_minor, amount, order=order.order, line=line_id
        )
        delta = after.minus(before)
        where = stages(order, line)
        legs += _legs(order, line, delta, where, currency)
        by_id[line_id] = replace(line, refunded_minor=line.refunded_minor + amount, shares=after)
        done.append(RefundedLine(line_id, amount, delta, *where))
    updated = replace(order, lines=tuple(by_id[line.line] for line in order.lines))
    return updated, compact(legs), tuple(done)


def total_commission(lines: Iterable[LineState]) -> int:
    """The current commission of ``lines`` after refunds."""
    return sum(line.shares.commission_minor for line in lines)
