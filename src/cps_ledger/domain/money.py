"""Integer money and the one allocation function (DESIGN §5).

Amounts are ``int`` minor units (fen for CNY); rates and weights are ``Decimal``. Every split
of an amount into parts goes through :func:`allocate`, whose parts always sum to the whole.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from cps_ledger.errors import InvalidAmountError, InvalidRateError

AMOUNT_MAX_MINOR: Final = 10**15
"""Largest amount any command may carry; sums of many stay far inside BIGINT (9.2e18)."""

RATE_MAX: Final = Decimal(1)
WEIGHTS_MAX: Final = 16


def require_amount(value: object, *, field: str, minimum: int = 0) -> int:
    """Return ``value`` if it is an integer amount in ``[minimum, AMOUNT_MAX_MINOR]``.

    ``bool`` is refused although it is an ``int`` subclass: ``True`` is not one fen.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(
            field=field, value=value, reason="must be an integer of minor units"
        )
    if value < minimum:
        raise InvalidAmountError(field=field, value=value, reason=f"must be >= {minimum}")
    if value > AMOUNT_MAX_MINOR:
        raise InvalidAmountError(field=field, value=value, reason=f"must be <= {AMOUNT_MAX_MINOR}")
    return value


def require_rate(value: object, *, field: str) -> Decimal:
    """Return ``value`` as a ``Decimal`` in ``[0, 1]``; floats are refused (binary fractions)."""
    if isinstance(value, float | bool):
        raise InvalidRateError(
            field=field, value=value, reason="must be a decimal string, not a float"
        )
    try:
        rate = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise InvalidRateError(field=field, value=value, reason="is not a decimal") from None
    if not rate.is_finite() or rate < 0 or rate > RATE_MAX:
        raise InvalidRateError(field=field, value=value, reason="must be between 0 and 1")
    return rate


def round_half_up(x: Decimal) -> int:
    """Round to whole minor units, halves away from zero (四舍五入)."""
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@functools.lru_cache(maxsize=1024)
def _integer_weights(weights: tuple[Decimal, ...]) -> tuple[tuple[int, ...], int]:
    """Weights as integer numerators over one common denominator, checked once per split.

    Integer arithmetic makes ``floor(total x w)`` and the remainders exact for any total and
    any number of decimal places, where Decimal's 28-digit context could round a product.
    """
    if not 1 <= len(weights) <= WEIGHTS_MAX:
        raise InvalidRateError(field="weights", value=list(weights), reason="need 1..16 weights")
    if any(not w.is_finite() or w < 0 for w in weights) or sum(weights, Decimal(0)) != 1:
        raise InvalidRateError(
            field="weights", value=list(weights), reason="must be >= 0 and sum to exactly 1"
        )
    ratios = [w.as_integer_ratio() for w in weights]
    denominator = math.lcm(*(d for _, d in ratios))
    return tuple(n * (denominator // d) for n, d in ratios), denominator


def allocate(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Split ``total`` into parts by ``weights`` (summing to 1) so the parts sum to ``total``.

    Each part is ``floor(total * w)``; the minor units left over go one each to the parts with
    the largest fractional remainders, ties to the earlier part (DESIGN §5). Negative totals
    are split as the negation of the split of ``-total`` so that refunds mirror accruals.
    """
    numerators, denominator = _integer_weights(tuple(weights))
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    parts: list[int] = []
    remainders: list[int] = []
    for n in numerators:
        part, remainder = divmod(total * n, denominator)
        parts.append(part)
        remainders.append(remainder)
    left_over = total - sum(parts)
    if left_over:
        # sorted() is stable, also with reverse=True: among equal remainders the earlier
        # part comes first.
        order = sorted(range(len(parts)), key=remainders.__getitem__, reverse=True)
        for i in order[:left_over]:
            parts[i] += 1
    return parts


def multiply_half_up(amount_minor: int, rate: Decimal) -> int:
    """``round_half_up(amount x rate)`` in exact integer arithmetic, for ``amount >= 0``.

    The same figure as :func:`round_half_up` of the Decimal product, without its context.
    """
    if amount_minor < 0:
        return round_half_up(Decimal(amount_minor) * rate)
    numerator, denominator = _ratio(rate)
    quotient, remainder = divmod(amount_minor * numerator, denominator)
    return quotient + (1 if 2 * remainder >= denominator else 0)


@functools.lru_cache(maxsize=4096)
def _ratio(rate: Decimal) -> tuple[int, int]:
    return rate.as_integer_ratio()
