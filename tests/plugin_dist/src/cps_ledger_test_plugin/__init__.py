"""A third-party plug-in for cps_ledger, installed into the test environment.

``flat_bonus`` quotes a fixed rate for lines of at least ``min_quantity`` items;
``no_upline_cut`` is a split policy in which the upline never takes a share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cps_ledger.domain.money import require_amount, require_rate
from cps_ledger.domain.rules import LineContext, Quote
from cps_ledger.domain.splits import SplitWeights, check_split_rates

__all__ = ["FlatBonusRule", "NoUplineCut", "flat_bonus"]


@dataclass(frozen=True, slots=True)
class FlatBonusRule:
    """Quotes ``rate`` for lines with ``quantity >= min_quantity``."""

    name: str
    version: int
    rate: Decimal
    min_quantity: int
    cap_minor: int | None

    def quote(self, ctx: LineContext) -> Quote | None:
        """A fixed quote for bulk lines, nothing for the others."""
        if ctx.quantity < self.min_quantity:
            return None
        return Quote(self.rate, self.cap_minor, f"{ctx.quantity} >= {self.min_quantity} items")


def flat_bonus(spec: Mapping[str, Any], version: int) -> FlatBonusRule:
    """Build a ``flat_bonus`` rule from its book-file table."""
    min_quantity = require_amount(spec.get("min_quantity"), field="min_quantity", minimum=1)
    cap = spec.get("cap_minor")
    return FlatBonusRule(
        name=str(spec.get("name", f"flat_bonus:{min_quantity}")),
        version=version,
        rate=require_rate(spec.get("rate"), field="rate"),
        min_quantity=min_quantity,
        cap_minor=None if cap is None else require_amount(cap, field="cap_minor"),
    )


@dataclass(frozen=True, slots=True)
class NoUplineCut:
    """The platform takes ``fee_rate``, the promoter the rest; the upline never shares."""

    name: str = "no_upline_cut"

    def weights(self, *, fee_rate: Decimal, upline_rate: Decimal, has_upline: bool) -> SplitWeights:
        """Promoter ``1 - fee_rate``, upline 0, platform ``fee_rate``."""
        fee, _ = check_split_rates(fee_rate, upline_rate)
        return SplitWeights(1 - fee, Decimal(0), fee)
