"""Tax withheld from payouts (DESIGN §4, payout completion).

A withholding policy tells how much of one payout the platform keeps as tax
(``platform:tax_payable``). Policies register in the ``cps_ledger.withholding`` entry-point
group; the package itself registers ``none`` and ``cn_labour_remuneration`` there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from cps_ledger.domain import plugins
from cps_ledger.domain.money import require_amount, round_half_up
from cps_ledger.errors import UnknownPolicyError

WITHHOLDING_GROUP: Final = "cps_ledger.withholding"

# 劳务报酬 prepayment on a single payment (个人所得税预扣预缴), amounts in fen.
DEDUCTION_FIXED_MINOR: Final = 80_000
"""¥800: deducted from payments up to ¥4,000."""
DEDUCTION_FIXED_UP_TO_MINOR: Final = 400_000
"""¥4,000: above it, 20% of the payment is deducted instead of ¥800."""
TAXABLE_SHARE_ABOVE: Final = Decimal("0.8")
BRACKET_20_UP_TO_MINOR: Final = 2_000_000
"""¥20,000 of taxable income: taxed at 20% up to and including it."""
BRACKET_30_UP_TO_MINOR: Final = 5_000_000
"""¥50,000 of taxable income: 30% less ¥2,000 up to it, 40% less ¥7,000 above."""
RATE_20: Final = Decimal("0.20")
RATE_30: Final = Decimal("0.30")
RATE_40: Final = Decimal("0.40")
QUICK_DEDUCTION_30_MINOR: Final = 200_000
QUICK_DEDUCTION_40_MINOR: Final = 700_000


class WithholdingPolicy(Protocol):
    """Decides the tax withheld from one payout."""

    @property
    def name(self) -> str:
        """The name a book uses to pick this policy."""
        ...

    def tax_minor(self, amount_minor: int) -> int:
        """Tax withheld from a payout of ``amount_minor``, in minor units."""
        ...


@dataclass(frozen=True, slots=True)
class NoWithholding:
    """Withholds nothing: the promoter or an intermediary settles tax elsewhere."""

    name: str = "none"

    def tax_minor(self, amount_minor: int) -> int:
        """Always 0."""
        require_amount(amount_minor, field="amount_minor")
        return 0


def labour_remuneration_taxable(amount_minor: int) -> Decimal:
    """Taxable income of one 劳务报酬 payment, in (possibly fractional) fen."""
    if amount_minor <= DEDUCTION_FIXED_MINOR:
        return Decimal(0)
    if amount_minor <= DEDUCTION_FIXED_UP_TO_MINOR:
        return Decimal(amount_minor - DEDUCTION_FIXED_MINOR)
    return amount_minor * TAXABLE_SHARE_ABOVE


@dataclass(frozen=True, slots=True)
class LabourRemunerationWithholding:
    """China's 劳务报酬 prepayment on a single payment, rounded half up to the fen.

    taxable = payment - ¥800 up to ¥4,000 (never below 0), payment x 80% above; tax = 20% of
    taxable up to ¥20,000, 30% - ¥2,000 up to ¥50,000, 40% - ¥7,000 above.
    """

    name: str = "cn_labour_remuneration"

    def tax_minor(self, amount_minor: int) -> int:
        """The tax withheld from one payment of ``amount_minor`` fen."""
        require_amount(amount_minor, field="amount_minor")
        taxable = labour_remuneration_taxable(amount_minor)
        if taxable <= BRACKET_20_UP_TO_MINOR:
            tax = taxable * RATE_20
        elif taxable <= BRACKET_30_UP_TO_MINOR:
            tax = taxable * RATE_30 - QUICK_DEDUCTION_30_MINOR
        else:
            tax = taxable * RATE_40 - QUICK_DEDUCTION_40_MINOR
        # One rounding, at the end: rounding taxable first could shift the tax by a fen.
        return round_half_up(tax)


_BUILTIN_POLICIES: Final[Mapping[str, Callable[[], WithholdingPolicy]]] = {
    "none": NoWithholding,
    "cn_labour_remuneration": LabourRemunerationWithholding,
}


@functools.cache
def withholding_policy(name: str) -> WithholdingPolicy:
    """The withholding policy called ``name``: built in or registered by a plug-in."""
    # Built-ins resolve without the package's own entry points, so an uninstalled
    # checkout (tests run from src/) behaves the same as an installed one.
    factory = plugins.resolve(
        WITHHOLDING_GROUP,
        name,
        _BUILTIN_POLICIES,
        lambda: UnknownPolicyError(group="withholding", name=name),
    )
    return factory()


def withholding_policy_names() -> list[str]:
    """Every withholding policy a book may name: the built-ins and the installed plug-ins."""
    return plugins.names(WITHHOLDING_GROUP, _BUILTIN_POLICIES)
