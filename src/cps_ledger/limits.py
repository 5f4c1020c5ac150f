"""Defaults and limits that several layers share, in a module that imports nothing heavy.

The CLI reads these while it starts, before SQLAlchemy is loaded.
"""

from __future__ import annotations

from typing import Final

DEFAULT_DATABASE_URL: Final = "sqlite:///cps_ledger.sqlite3"
"""Where the embedded default keeps its books: a SQLite file in the working directory."""

EVENTS_PER_TRANSACTION: Final = 1000
"""Events ingested per database transaction (one set-based write per table per batch)."""

BULK_GC_THRESHOLD: Final = 50_000
"""Allocations between young-generation collections inside :func:`cps_ledger.bulk_work`
(Python's default: 700)."""
