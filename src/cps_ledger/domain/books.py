"""A book (one programme) and the versions of its commission rules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from cps_ledger.domain.accounts import is_valid_id
from cps_ledger.domain.money import require_amount, require_rate
from cps_ledger.domain.periods import DEFAULT_TIMEZONE, zone
from cps_ledger.errors import InvalidEventError, InvalidRateError

CURRENCY_DEFAULT: Final = "CNY"


@dataclass(frozen=True, slots=True)
class BookDefinition:
    """Everything a book file says: settings, split and rules (in file order)."""

    code: str
    currency: str = CURRENCY_DEFAULT
    timezone: str = DEFAULT_TIMEZONE
    payout_minimum_minor: int = 0
    withholding: str = "none"
    fee_rate: Decimal = Decimal(0)
    upline_rate: Decimal = Decimal(0)
    split_policy: str = "standard"
    rules: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not is_valid_id(self.code):
            raise InvalidEventError(f"book code {self.code!r} is not a valid id", field="book.code")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidEventError(
                f"currency {self.currency!r} is not ISO 4217", field="book.currency"
            )
        zone(self.timezone)
        require_amount(self.payout_minimum_minor, field="book.payout_minimum_minor")
        fee = require_rate(self.fee_rate, field="split.fee_rate")
        upline = require_rate(self.upline_rate, field="split.upline_rate")
        if fee + upline > 1:
            raise InvalidRateError(
                field="split", value=f"{fee}+{upline}", reason="fee_rate + upline_rate exceeds 1"
            )

    def rules_digest(self) -> str:
        """Digest of what a rules version consists of: rules, split and split policy."""
        return rules_digest(self.rules, self.fee_rate, self.upline_rate, self.split_policy)


def rules_digest(
    rules: Sequence[Mapping[str, Any]], fee_rate: Decimal, upline_rate: Decimal, split_policy: str
) -> str:
    """sha256 of the canonical JSON of a rules version; equal files give equal digests."""
    payload = {
        "rules": list(rules),
        "fee_rate": str(fee_rate.normalize()),
        "upline_rate": str(upline_rate.normalize()),
        "split_policy": split_policy,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Book:
    """A book as stored: settings and the rules version now in force."""

    code: str
    currency: str
    timezone: str
    payout_minimum_minor: int
    withholding: str
    rules_version: int


@dataclass(frozen=True, slots=True)
class RulesVersion:
    """One published version of a book's rules and split."""

    book: str
    version: int
    digest: str
    rules: tuple[Mapping[str, Any], ...]
    fee_rate: Decimal
    upline_rate: Decimal
    split_policy: str
