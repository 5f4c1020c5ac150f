"""The integer fast paths of allocate and multiply_half_up agree with exact arithmetic."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.money import AMOUNT_MAX_MINOR, allocate, multiply_half_up

amounts = st.integers(min_value=0, max_value=AMOUNT_MAX_MINOR)
rates = st.decimals(min_value=0, max_value=1, places=12, allow_nan=False, allow_infinity=False)


def reference_allocate(total: int, weights: list[Decimal]) -> list[int]:
    exact = [Fraction(total) * Fraction(w) for w in weights]
    parts = [int(x // 1) for x in exact]
    order = sorted(range(len(parts)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@st.composite
def weight_lists(draw: st.DrawFn) -> list[Decimal]:
    cuts = sorted(draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=5)))
    points = [0, *cuts, 10**9]
    return [Decimal(b - a) / Decimal(10**9) for a, b in pairwise(points)]


@given(total=amounts, weights=weight_lists())
def test_allocate_matches_exact_fractions_for_any_total(total: int, weights: list[Decimal]) -> None:
    assert allocate(total, weights) == reference_allocate(total, weights)


@given(amount=amounts, rate=rates)
def test_multiply_half_up_matches_a_wide_decimal_product(amount: int, rate: Decimal) -> None:
    with localcontext() as ctx:
        ctx.prec = 60  # wide enough that the product is exact before rounding
        expected = int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert multiply_half_up(amount, rate) == expected
