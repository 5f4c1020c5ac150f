"""round_half_up and allocate, the two functions every money figure goes through (DESIGN §5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cps_ledger.domain.money import allocate, round_half_up
from cps_ledger.errors import InvalidRateError

D = Decimal
DESIGN_SPLIT = [D("0.8"), D("0.1"), D("0.1")]


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),
        ("-0.5", -1),
        ("-2.5", -3),
        ("0.4999", 0),
        ("2.4", 2),
        ("2.6", 3),
        ("3980.00", 3980),
    ],
)
def test_round_half_up_takes_halves_away_from_zero(x: str, expected: int) -> None:
    assert round_half_up(D(x)) == expected


def test_allocate_gives_the_one_left_over_fen_to_the_largest_remainder() -> None:
    # 1 × [0.3334, 0.3333, 0.3333] = 0.3334, 0.3333, 0.3333: floors 0, the fen goes first.
    assert allocate(1, [D("0.3334"), D("0.3333"), D("0.3333")]) == [1, 0, 0]


def test_allocate_breaks_equal_remainders_in_favour_of_the_earlier_part() -> None:
    thirds = [D("0.3334"), D("0.3333"), D("0.3333")]
    # 2 × thirds = 0.6668, 0.6666, 0.6666: two fen left; the 2nd and 3rd tie, the 2nd wins.
    assert allocate(2, thirds) == [1, 1, 0]
    # 2 × [0.25, 0.25, 0.5] = 0.5, 0.5, 1: floors 0, 0, 1; one fen left, tie -> first part.
    assert allocate(2, [D("0.25"), D("0.25"), D("0.5")]) == [1, 0, 1]
    assert allocate(1, [D("0.5"), D("0.5")]) == [1, 0]


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (3980, [3184, 398, 398]),  # exact: 3184 + 398 + 398
        (3, [3, 0, 0]),  # 2.4, 0.3, 0.3: floors 2, 0, 0; the fen to .4
        (5, [4, 1, 0]),  # 4, 0.5, 0.5: one fen, tie between upline and platform -> upline
        (7, [5, 1, 1]),  # 5.6, 0.7, 0.7: two fen to the .7s, not to the .6
        (0, [0, 0, 0]),
    ],
)
def test_allocate_splits_a_commission_eighty_ten_ten(total: int, expected: list[int]) -> None:
    assert allocate(total, DESIGN_SPLIT) == expected


def test_allocate_of_a_negative_total_mirrors_the_positive_one() -> None:
    assert allocate(-5, DESIGN_SPLIT) == [-4, -1, 0]


@pytest.mark.parametrize(
    "weights",
    [
        [D("0.5"), D("0.4")],  # sums to 0.9
        [D("0.6"), D("0.6")],  # sums to 1.2
        [D("1.5"), D("-0.5")],  # sums to 1 but has a negative weight
        [],
        [D("0.0625")] * 17,  # more than WEIGHTS_MAX parts
    ],
)
def test_allocate_refuses_weights_that_are_not_a_partition_of_one(weights: list[Decimal]) -> None:
    with pytest.raises(InvalidRateError):
        allocate(100, weights)
