"""劳务报酬 withholding at every threshold, each figure computed by hand in fen."""

from __future__ import annotations

import pytest

from cps_ledger.domain.tax import (
    LabourRemunerationWithholding,
    NoWithholding,
    withholding_policy,
    withholding_policy_names,
)
from cps_ledger.errors import InvalidAmountError, UnknownPolicyError

LABOUR = LabourRemunerationWithholding()


@pytest.mark.parametrize(
    ("payment_minor", "tax_minor"),
    [
        (0, 0),
        (80_000, 0),  # ¥800.00: taxable 800 - 800 = 0
        (80_001, 0),  # ¥800.01: taxable 1 fen, tax 0.2 fen -> 0
        (80_003, 1),  # taxable 3 fen, tax 0.6 fen -> 1
        (100_000, 4_000),  # ¥1,000: taxable 200, tax ¥40
        (400_000, 64_000),  # ¥4,000.00: taxable 3,200, tax ¥640
        (400_001, 64_000),  # ¥4,000.01: taxable 320,000.8 fen, tax 64,000.16 -> 64,000
        (400_004, 64_001),  # taxable 320,003.2 fen, tax 64,000.64 -> 64,001
        (2_500_000, 400_000),  # ¥25,000: taxable exactly ¥20,000, 20% = ¥4,000
        # ¥25,000.01: taxable 2,000,000.8 fen, 30% = 600,000.24 - 200,000 = 400,000.24
        (2_500_001, 400_000),
        # ¥25,000.02: taxable ¥20,000.016 (the first ¥20,000.01+), 400,000.48 -> 400,000
        (2_500_002, 400_000),
        (2_500_004, 400_001),  # taxable 2,000,003.2: 600,000.96 - 200,000 -> 400,001
        (6_250_000, 1_300_000),  # ¥62,500: taxable exactly ¥50,000, 30% - ¥2,000 = ¥13,000
        # ¥62,500.01: taxable 5,000,000.8 fen, 40% = 2,000,000.32 - 700,000 -> 1,300,000
        (6_250_001, 1_300_000),
        (6_250_002, 1_300_001),  # taxable 5,000,001.6: 2,000,000.64 - 700,000 -> 1,300,001
        (10_000_000, 2_500_000),  # ¥100,000: taxable ¥80,000, 40% - ¥7,000 = ¥25,000
    ],
)
def test_labour_remuneration_tax_at_each_threshold(payment_minor: int, tax_minor: int) -> None:
    assert LABOUR.tax_minor(payment_minor) == tax_minor


def test_the_tax_is_rounded_once_to_the_nearest_fen() -> None:
    # An exact half fen cannot arise (0.2, 0.16, 0.24, 0.32 × whole fen never end in .5),
    # so check both sides of it: 0.4 fen goes down, 0.6 fen goes up.
    assert LABOUR.tax_minor(80_002) == 0  # taxable 2 fen, tax 0.4 fen
    assert LABOUR.tax_minor(80_003) == 1  # taxable 3 fen, tax 0.6 fen
    assert LABOUR.tax_minor(400_003) == 64_000  # 0.16 × 400,003 = 64,000.48
    assert LABOUR.tax_minor(400_004) == 64_001  # 0.16 × 400,004 = 64,000.64


def test_no_withholding_withholds_nothing() -> None:
    assert NoWithholding().tax_minor(10_000_000) == 0


def test_a_negative_payment_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        LABOUR.tax_minor(-1)


def test_policies_are_found_by_name() -> None:
    assert isinstance(withholding_policy("none"), NoWithholding)
    assert withholding_policy("cn_labour_remuneration") == LABOUR
    assert {"none", "cn_labour_remuneration"} <= set(withholding_policy_names())


def test_an_unknown_withholding_policy_is_refused_with_its_name() -> None:
    with pytest.raises(UnknownPolicyError) as caught:
        withholding_policy("flat_tax")
    assert caught.value.values == {"group": "withholding", "name": "flat_tax"}
