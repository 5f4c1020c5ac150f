"""cps_ledger: a double-entry commission ledger for CPS community e-commerce.

Backends import :class:`CpsLedger`; commands are the pydantic models re-exported here, and
every error is a :class:`CpsLedgerError` (``BadInputError``: refused, nothing written;
``OperationalError``: the work could not be done).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Final

from cps_ledger.errors import BadInputError, CpsLedgerError, OperationalError

if TYPE_CHECKING:
    from cps_ledger.api import CpsLedger
    from cps_ledger.domain.commands import (
        CompletePayout,
        FailPayout,
        PostEntry,
        RequestPayout,
        Settle,
    )
    from cps_ledger.domain.events import (
        Event,
        MerchantPayment,
        OrderCancelled,
        OrderCompleted,
        OrderLine,
        OrderPaid,
        PromoterRegistered,
        Refund,
        RefundLine,
        ShareLinkCreated,
        events_json_schema,
        parse_event,
        parse_event_line,
    )
    from cps_ledger.services.ingest import Outcome, Status, Submitted
    from cps_ledger.tuning import bulk_work

__all__ = [
    "BadInputError",
    "CompletePayout",
    "CpsLedger",
    "CpsLedgerError",
    "Event",
    "FailPayout",
    "MerchantPayment",
    "OperationalError",
    "OrderCancelled",
    "OrderCompleted",
    "OrderLine",
    "OrderPaid",
    "Outcome",
    "PostEntry",
    "PromoterRegistered",
    "Refund",
    "RefundLine",
    "RequestPayout",
    "Settle",
    "ShareLinkCreated",
    "Status",
    "Submitted",
    "bulk_work",
    "events_json_schema",
    "parse_event",
    "parse_event_line",
]

# Loaded on first use (PEP 562): SQLAlchemy and pydantic take most of a second to import,
# and a script or the CLI that needs only part of the package should not pay for the rest.
_LAZY: Final = {
    "CpsLedger": "cps_ledger.api",
    **dict.fromkeys(
        ("CompletePayout", "FailPayout", "PostEntry", "RequestPayout", "Settle"),
        "cps_ledger.domain.commands",
    ),
    **dict.fromkeys(
        (
            "Event",
            "MerchantPayment",
            "OrderCancelled",
            "OrderCompleted",
            "OrderLine",
            "OrderPaid",
            "PromoterRegistered",
            "Refund",
            "RefundLine",
            "ShareLinkCreated",
            "events_json_schema",
            "parse_event",
            "parse_event_line",
        ),
        "cps_ledger.domain.events",
    ),
    **dict.fromkeys(("Outcome", "Status", "Submitted"), "cps_ledger.services.ingest"),
    "bulk_work": "cps_ledger.tuning",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
