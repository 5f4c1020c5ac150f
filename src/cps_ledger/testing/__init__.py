"""Tools for audit tests of cps_ledger books: strategies, a reference model, a state machine
and pytest fixtures. Public and stable: users run them against their own books.

Names are imported lazily, so that the pytest plugin (loaded in every pytest run of a
project that installs cps_ledger) does not need hypothesis; the strategies and the state
machine do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cps_ledger.testing.model import (
        DEFAULT_BOOK_TOML,
        Predicted,
        ReferenceModel,
        default_book_toml,
    )
    from cps_ledger.testing.pytest_plugin import LedgerHandle
    from cps_ledger.testing.stateful import LedgerStateMachine, run_state_machine
    from cps_ledger.testing.strategies import (
        InvalidEvent,
        book_definition,
        book_file_toml,
        book_files,
        event_streams,
        invalid_events,
        order_lines,
        orders,
        promoters,
        rebook,
        share_links,
    )

_WHERE = {
    "DEFAULT_BOOK_TOML": "model",
    "InvalidEvent": "strategies",
    "LedgerHandle": "pytest_plugin",
    "LedgerStateMachine": "stateful",
    "Predicted": "model",
    "ReferenceModel": "model",
    "book_definition": "strategies",
    "book_file_toml": "strategies",
    "book_files": "strategies",
    "default_book_toml": "model",
    "event_streams": "strategies",
    "invalid_events": "strategies",
    "order_lines": "strategies",
    "orders": "strategies",
    "promoters": "strategies",
    "rebook": "strategies",
    "run_state_machine": "stateful",
    "share_links": "strategies",
}

__all__ = [
    "DEFAULT_BOOK_TOML",
    "InvalidEvent",
    "LedgerHandle",
    "LedgerStateMachine",
    "Predicted",
    "ReferenceModel",
    "book_definition",
    "book_file_toml",
    "book_files",
    "default_book_toml",
    "event_streams",
    "invalid_events",
    "order_lines",
    "orders",
    "promoters",
    "rebook",
    "run_state_machine",
    "share_links",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'cps_ledger.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cps_ledger.testing.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
