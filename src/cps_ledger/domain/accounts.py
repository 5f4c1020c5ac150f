"""The chart of accounts (DESIGN §4): codes, types and normal directions.

Postings are signed integers, debit positive and credit negative. People read balances in
the account's normal direction: assets debit-positive, liabilities and revenue credit-positive.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Final

from cps_ledger.errors import InvalidAccountCodeError, UnknownAccountTypeError

ID_PATTERN: Final = r"[A-Za-z0-9_.@\-]{1,64}"
"""What an id of a promoter, merchant, link, order, line or book may look like.

No colons (they separate account code parts), no spaces, at most 64 characters.
"""
_ID = re.compile(rf"^{ID_PATTERN}$")


class AccountType(StrEnum):
    """The five classic account types; only the first three appear in the CPS chart."""

    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"
    EQUITY = "equity"

    @classmethod
    def parse(cls, text: str) -> AccountType:
        """Return the type named ``text`` or raise :class:`UnknownAccountTypeError`."""
        try:
            return cls(text)
        except ValueError:
            raise UnknownAccountTypeError(account_type=text) from None

    @property
    def normal_sign(self) -> int:
        """+1 for debit-normal accounts, -1 for credit-normal ones."""
        return 1 if self in (AccountType.ASSET, AccountType.EXPENSE) else -1


_CHART: Final[tuple[tuple[re.Pattern[str], AccountType], ...]] = tuple(
    (re.compile(f"^{pattern}$"), kind)
    for pattern, kind in (
        (rf"merchant:{ID_PATTERN}:receivable:estimated", AccountType.ASSET),
        (rf"merchant:{ID_PATTERN}:receivable", AccountType.ASSET),
        (rf"promoter:{ID_PATTERN}:estimated", AccountType.LIABILITY),
        (rf"promoter:{ID_PATTERN}:confirmed", AccountType.LIABILITY),
        (rf"promoter:{ID_PATTERN}:available", AccountType.LIABILITY),
        (rf"promoter:{ID_PATTERN}:payout_pending", AccountType.LIABILITY),
        ("platform:fee:estimated", AccountType.LIABILITY),
        ("platform:fee_revenue", AccountType.REVENUE),
        ("platform:cash", AccountType.ASSET),
        ("platform:tax_payable", AccountType.LIABILITY),
    )
)

PROMOTER_BUCKETS: Final = ("estimated", "confirmed", "available", "payout_pending")
PLATFORM_CASH: Final = "platform:cash"
PLATFORM_FEE_ESTIMATED: Final = "platform:fee:estimated"
PLATFORM_FEE_REVENUE: Final = "platform:fee_revenue"
PLATFORM_TAX_PAYABLE: Final = "platform:tax_payable"


def is_valid_id(text: str) -> bool:
    """Whether ``text`` may be used as an id inside account codes."""
    return _ID.match(text) is not None


@functools.lru_cache(maxsize=65536)
def account_type(code: str) -> AccountType:
    """The type of a chart-of-accounts code, or :class:`InvalidAccountCodeError`."""
    # Cached: every posting is checked, and the same few thousand codes recur all day.
    for pattern, kind in _CHART:
        if pattern.match(code):
            return kind
    raise InvalidAccountCodeError(account=code)


@functools.lru_cache(maxsize=65536)
def promoter_account(promoter: str, bucket: str) -> str:
    """``promoter:{p}:{bucket}`` with bucket one of :data:`PROMOTER_BUCKETS`."""
    return f"promoter:{promoter}:{bucket}"


@functools.lru_cache(maxsize=16384)
def merchant_receivable(merchant: str, *, estimated: bool) -> str:
    """The merchant's receivable: estimated (order not completed) or owed now."""
    return f"merchant:{merchant}:receivable" + (":estimated" if estimated else "")


def to_normal(kind: AccountType, signed_minor: int) -> int:
    """A signed (debit-positive) balance in the account's normal direction."""
    return signed_minor * kind.normal_sign
