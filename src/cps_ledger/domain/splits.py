"""How a line's commission is split between promoter, upline and platform (DESIGN §5).

The split policy only produces weights; :func:`cps_ledger.domain.money.allocate` does the
split itself. Third-party policies register in the ``cps_ledger.splits`` entry-point group
as a class or factory called with no arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from cps_ledger.domain import plugins
from cps_ledger.domain.money import require_rate
from cps_ledger.errors import InvalidRateError, UnknownPolicyError

SPLITS_GROUP: Final = "cps_ledger.splits"


@dataclass(frozen=True, slots=True)
class SplitWeights:
    """The weights of ``[promoter, upline, platform]``; each in [0, 1], summing exactly to 1."""

    promoter: Decimal
    upline: Decimal
    platform: Decimal

    def __post_init__(self) -> None:
        # Built for every line an order loads: the common case is three type checks and a
        # sum; the detailed checks (and their typed errors) run only when one fails.
        p, u, f = weights = (self.promoter, self.upline, self.platform)
        if not (
            type(p) is Decimal
            and type(u) is Decimal
            and type(f) is Decimal
            and 0 <= p <= 1
            and 0 <= u <= 1
            and 0 <= f <= 1
        ):
            for field, value in zip(("promoter", "upline", "platform"), weights, strict=True):
                require_rate(value, field=field)
                if not isinstance(value, Decimal):
                    raise InvalidRateError(field=field, value=value, reason="must be a Decimal")
        total = p + u + f
        if total != 1:
            raise InvalidRateError(field="weights", value=str(total), reason="must sum to 1")

    def as_list(self) -> list[Decimal]:
        """The weights in the order :func:`allocate` takes them: promoter, upline, platform."""
        return [self.promoter, self.upline, self.platform]

    def as_tuple(self) -> tuple[Decimal, Decimal, Decimal]:
        """:meth:`as_list` as a tuple: what :func:`allocate` caches its integer form by."""
        return (self.promoter, self.upline, self.platform)


class SplitPolicy(Protocol):
    """Turns a book's split settings into the weights of one line."""

    @property
    def name(self) -> str:
        """The name a book file uses to pick this policy."""
        ...

    def weights(self, *, fee_rate: Decimal, upline_rate: Decimal, has_upline: bool) -> SplitWeights:
        """The weights for a line whose promoter has (or has not) an upline."""
        ...


def check_split_rates(fee_rate: Decimal, upline_rate: Decimal) -> tuple[Decimal, Decimal]:
    """Validate a book's ``fee_rate`` and ``upline_rate``; together at most 1."""
    fee = require_rate(fee_rate, field="fee_rate")
    upline = require_rate(upline_rate, field="upline_rate")
    if fee + upline > 1:
        raise InvalidRateError(
            field="fee_rate+upline_rate", value=str(fee + upline), reason="must not exceed 1"
        )
    return fee, upline


@dataclass(frozen=True, slots=True)
class StandardSplit:
    """promoter = 1 - fee - upline, upline = upline_rate, platform = fee_rate.

    A promoter without an upline: the upline's weight goes to the platform, which keeps the
    promoter's figure the same whether or not an upline exists.
    """

    name: str = "standard"

    def weights(self, *, fee_rate: Decimal, upline_rate: Decimal, has_upline: bool) -> SplitWeights:
        """The standard weights; see the class docstring."""
        fee, upline = check_split_rates(fee_rate, upline_rate)
        promoter = 1 - fee - upline
        if has_upline:
            return SplitWeights(promoter, upline, fee)
        return SplitWeights(promoter, Decimal(0), fee + upline)


_BUILTIN_POLICIES: Final[Mapping[str, Callable[[], SplitPolicy]]] = {"standard": StandardSplit}


@functools.cache
def split_policy(name: str) -> SplitPolicy:
    """The split policy called ``name``: built in or registered by a plug-in."""
    factory = plugins.resolve(
        SPLITS_GROUP, name, _BUILTIN_POLICIES, lambda: UnknownPolicyError(group="split", name=name)
    )
    return factory()


def split_policy_names() -> list[str]:
    """Every split policy a book may name: the built-ins and the installed plug-ins."""
    return plugins.names(SPLITS_GROUP, _BUILTIN_POLICIES)
