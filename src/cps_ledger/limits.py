"""Defaults and limits that several layers share, in a module that imports nothing heavy.

The CLI reads these while it starts, before SQLAlchemy is loaded.
"""

from __future__ import annotations

from typing import Final

DEFAULT_DATABASE_URL: Final = "sqlite:///cps_ledger.sqlite3"
"""Where the embedded default keeps its books: a SQLite file in the working directory."""

EVENTS_PER_TRANSACTION: Final = 1000
"""Events ingested per database transaction (one set-based write per table per batch)."""

WRITE_BEHIND_LOCK_WAIT_MS: Final = 1000
"""How long an overlapped ingest write waits for a row lock before it gives way: both its
batch and the next, decided beside it, are then rolled back and run one after the other
(services/ingest_pipeline.py)."""

EVENTS_PER_GIL_YIELD: Final = 32
"""Events decided, or lines parsed, between two moments where ingest lets a thread waiting
for the GIL take it (:func:`cps_ledger.tuning.yield_gil`): each costs up to 75 µs when
another thread exists, about 2 µs per event, and nothing in a process of one thread."""

BULK_SWITCH_INTERVAL_S: Final = 0.001
"""How often threads switch inside :func:`cps_ledger.bulk_work` (Python's default: 5 ms):
ingest's writer thread gets the GIL back sooner after each wait for the server."""

BULK_GC_THRESHOLD: Final = 50_000
"""Allocations between young-generation collections inside :func:`cps_ledger.bulk_work`
(Python's default: 700)."""

LINKS_KNOWN_MAX: Final = 50_000
"""Share links one ingest call keeps after reading them, so later batches of the call need
not read them again (about 23 MB at most with ids of 8-16 characters, measured with
tracemalloc; services/known_links.py)."""

INGEST_CHECKPOINT_PAGES: Final = 10_000
"""SQLite: pages the write-ahead log of an ingest's writer connection holds before a commit
moves them into the database (SQLite's default: 1,000). A batch of 1,000 paid orders
dirties more than 1,000 pages, so by default every commit also copied them all; most are
the same index pages batch after batch, and copied every tenth batch instead the commits
took a third less time (docs/performance.md, finding 36). About 40 MB of log with 4 KiB
pages; what is left is moved when the ingest ends."""
