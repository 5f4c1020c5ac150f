"""The exact DESIGN §5 arithmetic, with every expected figure computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cps_ledger.domain.commission import (
    ZERO_SHARES,
    LineTerms,
    Shares,
    commission_for,
    explain,
    quote_line,
    refund_targets,
    shares_for,
)
from cps_ledger.domain.money import allocate
from cps_ledger.domain.rules import LineContext, build_ruleset
from cps_ledger.domain.splits import SplitWeights, StandardSplit
from cps_ledger.errors import InvalidAmountError, InvalidRateError, RefundExceedsBaseError

D = Decimal
STANDARD = StandardSplit()
WITH_UPLINE = STANDARD.weights(fee_rate=D("0.10"), upline_rate=D("0.10"), has_upline=True)
NO_UPLINE = STANDARD.weights(fee_rate=D("0.10"), upline_rate=D("0.10"), has_upline=False)


def terms(
    base_minor: int = 19900,
    rate: str = "0.20",
    cap_minor: int | None = None,
    weights: SplitWeights = WITH_UPLINE,
) -> LineTerms:
    return LineTerms("sku:100012043978", 3, D(rate), cap_minor, base_minor, weights, "")


@pytest.mark.parametrize(
    ("base", "rate", "expected"),
    [
        (25, "0.10", 3),  # 2.5 -> 3: the half goes up
        (15, "0.10", 2),  # 1.5 -> 2
        (24, "0.10", 2),  # 2.4 -> 2
        (26, "0.10", 3),  # 2.6 -> 3
        (19900, "0.20", 3980),  # exact
        (19999, "0.035", 700),  # 699.965 -> 700
        (0, "0.20", 0),
        (19900, "0", 0),
    ],
)
def test_the_commission_is_base_times_rate_rounded_half_up(
    base: int, rate: str, expected: int
) -> None:
    assert commission_for(base, D(rate), None) == expected


def test_a_cap_limits_the_rounded_commission() -> None:
    assert commission_for(30000, D("0.20"), 5000) == 5000  # 6000 -> capped to 5000
    assert commission_for(25000, D("0.20"), 5000) == 5000  # exactly at the cap
    assert commission_for(19900, D("0.20"), 5000) == 3980  # under the cap
    assert commission_for(19900, D("0.20"), 0) == 0  # a zero cap pays nothing


def test_the_standard_split_gives_promoter_what_fee_and_upline_leave() -> None:
    weights = STANDARD.weights(fee_rate=D("0.10"), upline_rate=D("0.10"), has_upline=True)
    assert weights == SplitWeights(D("0.80"), D("0.10"), D("0.10"))


def test_without_an_upline_the_uplines_weight_goes_to_the_platform() -> None:
    weights = STANDARD.weights(fee_rate=D("0.10"), upline_rate=D("0.10"), has_upline=False)
    assert weights == SplitWeights(D("0.80"), D(0), D("0.20"))
    # 3980 × [0.8, 0, 0.2] = 3184, 0, 796: the promoter earns the same as with an upline.
    assert shares_for(terms(weights=NO_UPLINE), 19900) == Shares(3980, 3184, 0, 796)


def test_a_fee_and_upline_rate_over_one_are_refused() -> None:
    with pytest.raises(InvalidRateError):
        STANDARD.weights(fee_rate=D("0.6"), upline_rate=D("0.5"), has_upline=True)


def test_shares_split_the_commission_eighty_ten_ten() -> None:
    # 19900 × 0.20 = 3980; 3980 × [0.8, 0.1, 0.1] = 3184, 398, 398 exactly.
    assert shares_for(terms(), 19900) == Shares(3980, 3184, 398, 398)


def test_a_tie_in_the_split_gives_the_fen_to_the_earlier_party() -> None:
    # 25 × 0.20 = 5; 5 × [0.8, 0.1, 0.1] = 4, 0.5, 0.5: one fen left, tie -> the upline.
    assert shares_for(terms(base_minor=25), 25) == Shares(5, 4, 1, 0)


def test_a_refund_of_5000_then_the_rest_reverses_exactly_what_was_accrued() -> None:
    line = terms()
    accrued = shares_for(line, 19900)  # 3980 -> 3184, 398, 398
    before, after = refund_targets(line, 0, 5000, order="o1", line="1")
    assert before == accrued
    # base' = 19900 - 5000 = 14900; 14900 × 0.20 = 2980 -> 2384, 298, 298.
    assert after == Shares(2980, 2384, 298, 298)
    assert after.minus(before) == Shares(-1000, -800, -100, -100)
    before, rest = refund_targets(line, 5000, 14900, order="o1", line="1")
    assert before == Shares(2980, 2384, 298, 298)
    # base' = 0: every party to zero; posted -2980, -2384, -298, -298.
    assert rest == ZERO_SHARES
    assert rest.minus(before) == Shares(-2980, -2384, -298, -298)


def test_a_refund_recomputes_targets_rather_than_splitting_the_refund() -> None:
    line = terms()
    _, after = refund_targets(line, 0, 5003, order="o1", line="1")
    # base' = 14897; 14897 × 0.20 = 2979.4 -> 2979; 2979 × [0.8, 0.1, 0.1] =
    # 2383.2, 297.9, 297.9 -> floors 2383, 297, 297 (2977); 2 fen to the .9s.
    assert after == Shares(2979, 2383, 298, 298)


def test_a_refund_under_a_cap_only_reduces_once_below_it() -> None:
    line = terms(base_minor=30000, cap_minor=5000)
    _, after = refund_targets(line, 0, 4000, order="o1", line="1")
    # base' = 26000; 26000 × 0.20 = 5200 -> still capped at 5000: nothing to reverse.
    assert after == shares_for(line, 30000) == Shares(5000, 4000, 500, 500)


def test_a_full_refund_brings_every_share_of_the_line_to_zero() -> None:
    before, after = refund_targets(terms(base_minor=19999), 0, 19999, order="o1", line="1")
    assert before.commission_minor == 4000  # 3999.8 -> 4000
    assert after == ZERO_SHARES


def test_a_refund_above_the_remaining_base_is_refused() -> None:
    with pytest.raises(RefundExceedsBaseError) as caught:
        refund_targets(terms(), 15000, 4901, order="o1", line="1")
    assert caught.value.values == {
        "order": "o1",
        "line": "1",
        "requested_minor": 4901,
        "remaining_minor": 4900,
    }


def test_a_refund_of_nothing_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        refund_targets(terms(), 0, 0, order="o1", line="1")


def test_quote_line_snapshots_the_winning_rule_and_the_split() -> None:
    ruleset = build_ruleset(
        [
            {"kind": "default", "priority": 0, "rate": "0.03"},
            {
                "kind": "sku",
                "priority": 40,
                "sku": "100012043978",
                "rate": "0.20",
                "cap_minor": 5000,
            },
        ],
        version=3,
    )
    ctx = LineContext(
        "fenxiang",
        "m1",
        "100012043978",
        "3C",
        19900,
        1,
        "p1",
        None,
        datetime(2026, 11, 11, tzinfo=UTC),
    )
    line = quote_line(ruleset, ctx, WITH_UPLINE)
    assert line == LineTerms(
        "sku:100012043978", 3, D("0.20"), 5000, 19900, WITH_UPLINE, "sku:100012043978 at 0.20"
    )


def test_the_explanation_shows_the_unrounded_product_the_rounding_and_the_shares() -> None:
    line = terms(cap_minor=5000)
    assert explain(line, shares_for(line, 19900)) == (
        "sku:100012043978 v3: 19900 × 0.20 = 3980.00 → 3980 (cap 5000); "
        "promoter 3184, upline 398, platform 398"
    )


def test_the_explanation_shows_a_half_rounded_up_and_a_cap_that_bit() -> None:
    assert explain(terms(base_minor=25, rate="0.10"), Shares(3, 2, 1, 0)) == (
        "sku:100012043978 v3: 25 × 0.10 = 2.50 → 3; promoter 2, upline 1, platform 0"
    )
    capped = terms(base_minor=30000, cap_minor=5000)
    assert explain(capped, shares_for(capped, 30000)) == (
        "sku:100012043978 v3: 30000 × 0.20 = 6000.00 → 6000 → 5000 (cap 5000); "
        "promoter 4000, upline 500, platform 500"
    )


def test_the_explanation_of_refunded_shares_uses_the_remaining_base() -> None:
    line = terms()
    assert explain(line, shares_for(line, 14900), base_minor=14900).startswith(
        "sku:100012043978 v3: 14900 × 0.20 = 2980.00 → 2980;"
    )


def test_explaining_shares_that_do_not_follow_from_the_terms_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        explain(terms(), Shares(1, 1, 0, 0))


def test_split_shares_can_rise_by_one_fen_when_the_commission_falls() -> None:
    # The Alabama paradox of largest-remainder allocation, which DESIGN §5 prescribes:
    # fee 0.01, upline 0.03. 50 × [0.96, 0.03, 0.01] = 48, 1.5, 0.5 -> 48, 2, 0 (tie: upline);
    # 49 × ... = 47.04, 1.47, 0.49 -> floors 47, 1, 0; 1 fen to .49 -> 47, 1, 1.
    weights = [D("0.96"), D("0.03"), D("0.01")]
    assert allocate(50, weights) == [48, 2, 0]
    assert allocate(49, weights) == [47, 1, 1]
