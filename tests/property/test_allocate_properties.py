"""Properties of allocate that every split in the library relies on."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.money import AMOUNT_MAX_MINOR, allocate

SCALE = 10_000


@st.composite
def weights(draw: st.DrawFn) -> list[Decimal]:
    """1..6 weights of four decimals that sum to exactly 1 (cuts of the unit interval)."""
    cuts = sorted(draw(st.lists(st.integers(0, SCALE), min_size=0, max_size=5)))
    bounds = [0, *cuts, SCALE]
    return [Decimal(b - a) / SCALE for a, b in itertools.pairwise(bounds)]


totals = st.integers(-AMOUNT_MAX_MINOR, AMOUNT_MAX_MINOR)


@given(totals, weights())
def test_the_parts_sum_to_the_total(total: int, ws: list[Decimal]) -> None:
    assert sum(allocate(total, ws)) == total


@given(totals, weights())
def test_every_part_is_within_one_fen_of_its_exact_share(total: int, ws: list[Decimal]) -> None:
    for part, w in zip(allocate(total, ws), ws, strict=True):
        assert abs(part - Decimal(total) * w) < 1


@given(totals, weights())
def test_a_negative_total_is_split_as_the_mirror_of_the_positive_one(
    total: int, ws: list[Decimal]
) -> None:
    assert allocate(-total, ws) == [-part for part in allocate(total, ws)]
