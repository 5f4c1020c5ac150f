"""Properties of commissions under any sequence of refunds: no fen created or lost."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.commission import (
    ZERO_SHARES,
    LineTerms,
    Shares,
    refund_targets,
    shares_for,
)
from cps_ledger.domain.splits import StandardSplit

BASE_MAX_MINOR = 10**12
PARTIES = ("promoter_minor", "upline_minor", "platform_minor")


@dataclass(frozen=True)
class Case:
    """A paid line and the refunds that follow it, each within the remaining base."""

    terms: LineTerms
    refunds: list[int]


@st.composite
def cases(draw: st.DrawFn, *, upline: bool | None = None, full: bool | None = None) -> Case:
    base = draw(st.integers(0, BASE_MAX_MINOR))
    rate = Decimal(draw(st.integers(0, 10_000))) / 10_000
    cap = draw(st.none() | st.integers(0, 10**9))
    fee = draw(st.integers(0, 100))
    upline_rate = draw(st.integers(0, 100 - fee))
    has_upline = draw(st.booleans()) if upline is None else upline
    weights = StandardSplit().weights(
        fee_rate=Decimal(fee) / 100, upline_rate=Decimal(upline_rate) / 100, has_upline=has_upline
    )
    terms = LineTerms("rule", 1, rate, cap, base, weights, "")
    refunds: list[int] = []
    remaining = base
    for wanted in draw(st.lists(st.integers(1, max(base, 1)), max_size=8)):
        if remaining == 0:
            break
        refunds.append(min(wanted, remaining))
        remaining -= refunds[-1]
    if remaining and (draw(st.booleans()) if full is None else full):
        refunds.append(remaining)
    return Case(terms, refunds)


def targets(case: Case) -> list[Shares]:
    """The line's shares when paid and after each refund, through refund_targets."""
    history = [shares_for(case.terms, case.terms.base_minor)]
    refunded = 0
    for refund in case.refunds:
        before, after = refund_targets(case.terms, refunded, refund, order="o", line="1")
        assert before == history[-1]
        history.append(after)
        refunded += refund
    return history


def parts(shares: Shares) -> list[int]:
    return [getattr(shares, party) for party in PARTIES]


@given(cases())
def test_the_three_shares_always_sum_to_the_commission(case: Case) -> None:
    for shares in targets(case):
        assert sum(parts(shares)) == shares.commission_minor


@given(cases())
def test_shares_are_never_negative_and_the_commission_never_rises(case: Case) -> None:
    history = targets(case)
    for earlier, later in itertools.pairwise(history):
        assert min(parts(later)) >= 0
        assert later.commission_minor <= earlier.commission_minor


@given(cases())
def test_a_share_never_rises_by_more_than_one_fen_as_refunds_accumulate(case: Case) -> None:
    # Largest-remainder allocation (DESIGN §5) can move one fen between parties when the
    # commission falls (see test_split_shares_can_rise_by_one_fen_when_the_commission_falls);
    # each part stays within one fen of its exact share, so a rise is never more than that.
    history = targets(case)
    for earlier, later in itertools.pairwise(history):
        for before, after in zip(parts(earlier), parts(later), strict=True):
            assert after - before <= 1


@given(cases(upline=False))
def test_without_an_upline_no_share_ever_rises_as_refunds_accumulate(case: Case) -> None:
    # Two non-zero weights: the promoter's part is base × w rounded half up, monotone.
    history = targets(case)
    for earlier, later in itertools.pairwise(history):
        assert all(a <= b for a, b in zip(parts(later), parts(earlier), strict=True))


@given(cases(full=True))
def test_a_full_refund_posts_back_exactly_what_was_accrued(case: Case) -> None:
    history = targets(case)
    posted = [later.minus(earlier) for earlier, later in itertools.pairwise(history)]
    assert history[-1] == ZERO_SHARES
    for party in ("commission_minor", *PARTIES):
        assert sum(getattr(p, party) for p in posted) == -getattr(history[0], party)
