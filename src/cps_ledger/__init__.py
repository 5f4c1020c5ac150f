"""cps_ledger: a double-entry commission ledger for CPS community e-commerce.

Backends import :class:`CpsLedger`; commands are the pydantic models re-exported here, and
every error is a :class:`CpsLedgerError` (``BadInputError``: refused, nothing written;
``OperationalError``: the work could not be done).
"""

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
from cps_ledger.errors import BadInputError, CpsLedgerError, OperationalError
from cps_ledger.services.ingest import Outcome, Status, Submitted

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
    "events_json_schema",
    "parse_event",
    "parse_event_line",
]
