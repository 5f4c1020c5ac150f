"""The exact commission arithmetic of DESIGN §5: commission, shares, refunds, explanations.

Everything here is a pure function of a line's snapshotted :class:`LineTerms`, so a refund a
year later recomputes the same figures as the day the order was paid, whatever the rules
say by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cps_ledger.domain.money import allocate, multiply_half_up, require_amount, round_half_up
from cps_ledger.domain.records import quick_init
from cps_ledger.domain.rules import LineContext, RuleSet, apply_modifiers, modifiers_for
from cps_ledger.domain.splits import SplitWeights
from cps_ledger.errors import InvalidAmountError, RefundExceedsBaseError


@quick_init
@dataclass(frozen=True, slots=True)
class LineTerms:
    """The quote snapshotted on an order line when it is paid; later rule changes leave it."""

    rule: str
    rule_version: int
    rate: Decimal
    cap_minor: int | None
    base_minor: int
    weights: SplitWeights
    explanation: str


@quick_init
@dataclass(frozen=True, slots=True)
class Shares:
    """A line's commission and its three parts; the parts always sum to the commission."""

    commission_minor: int
    promoter_minor: int
    upline_minor: int
    platform_minor: int

    def minus(self, other: Shares) -> Shares:
        """Field-wise ``self - other``: what to post to move from ``other`` to ``self``."""
        return Shares(
            self.commission_minor - other.commission_minor,
            self.promoter_minor - other.promoter_minor,
            self.upline_minor - other.upline_minor,
            self.platform_minor - other.platform_minor,
        )


ZERO_SHARES = Shares(0, 0, 0, 0)


def commission_for(base_minor: int, rate: Decimal, cap_minor: int | None) -> int:
    """``round_half_up(base x rate)``, then the modifiers in order (the cap: ``min``)."""
    rounded = multiply_half_up(base_minor, rate)
    if cap_minor is None:
        return rounded  # no modifier applies
    return apply_modifiers(rounded, modifiers_for(cap_minor=cap_minor))


def quote_line(ruleset: RuleSet, ctx: LineContext, weights: SplitWeights) -> LineTerms:
    """The terms of a line being paid: the winning rule's quote with the line's split."""
    selection = ruleset.select(ctx)
    return LineTerms(
        rule=selection.rule,
        rule_version=selection.version,
        rate=selection.quote.rate,
        cap_minor=selection.quote.cap_minor,
        base_minor=ctx.amount_minor,
        weights=weights,
        explanation=selection.quote.explanation,
    )


def shares_for(terms: LineTerms, remaining_base_minor: int) -> Shares:
    """The shares of a line whose base not yet refunded is ``remaining_base_minor``."""
    if type(remaining_base_minor) is not int or remaining_base_minor < 0:
        require_amount(remaining_base_minor, field="remaining_base_minor")
    if remaining_base_minor > terms.base_minor:
        raise InvalidAmountError(
            field="remaining_base_minor",
            value=remaining_base_minor,
            reason=f"exceeds the line's base {terms.base_minor}",
        )
    commission = commission_for(remaining_base_minor, terms.rate, terms.cap_minor)
    promoter, upline, platform = allocate(commission, terms.weights.as_tuple())
    return Shares(commission, promoter, upline, platform)


def refund_targets(
    terms: LineTerms,
    refunded_before_minor: int,
    refund_minor: int,
    *,
    order: str,
    line: str,
) -> tuple[Shares, Shares]:
    """The line's shares before and after a refund; post ``after.minus(before)``.

    Targets are recomputed from the cumulative refunded amount rather than by splitting the
    refund itself, so repeated partial refunds never reverse more than was accrued and a
    full refund lands every party on exactly zero.
    """
    require_amount(refunded_before_minor, field="refunded_before_minor")
    require_amount(refund_minor, field="refund_minor", minimum=1)
    remaining = terms.base_minor - refunded_before_minor
    if remaining < 0:
        raise InvalidAmountError(
            field="refunded_before_minor",
            value=refunded_before_minor,
            reason=f"exceeds the line's base {terms.base_minor}",
        )
    if refund_minor > remaining:
        raise RefundExceedsBaseError(
            order=order, line=line, requested_minor=refund_minor, remaining_minor=remaining
        )
    return shares_for(terms, remaining), shares_for(terms, remaining - refund_minor)


def explain(terms: LineTerms, shares: Shares, *, base_minor: int | None = None) -> str:
    """A sentence saying how ``shares`` follow from ``terms``, unrounded product included.

    ``base_minor`` is the base the shares were computed on (after refunds); by default the
    line's full base. For example ``sku:100012043978 v3: 19900 × 0.20 = 3980.00 → 3980
    (cap 5000); promoter 3184, upline 398, platform 398``.
    """
    base = terms.base_minor if base_minor is None else base_minor
    product = Decimal(base) * terms.rate
    rounded = round_half_up(product)
    commission = commission_for(base, terms.rate, terms.cap_minor)
    if shares.commission_minor != commission:
        raise InvalidAmountError(
            field="shares.commission_minor",
            value=shares.commission_minor,
            reason=f"does not follow from the terms on base {base} (expected {commission})",
        )
    text = f"{terms.rule} v{terms.rule_version}: {base} × {terms.rate:f} = {product:f} → {rounded}"
    if commission != rounded:
        text += f" → {commission}"  # the modifiers (a cap) changed the rounded figure
    if terms.cap_minor is not None:
        text += f" (cap {terms.cap_minor})"
    return (
        f"{text}; promoter {shares.promoter_minor}, upline {shares.upline_minor}, "
        f"platform {shares.platform_minor}"
    )
