"""The interpreter's settings for bulk work, which the host process opts into.

A batch of ingest or settlement builds tens of thousands of short-lived objects. With
Python's defaults the cyclic collector runs every 700 allocations and, every few batches,
walks every object the process holds (SQLAlchemy, pydantic, the host's own): a quarter of
the Python time of an ingest (docs/performance.md, finding 21). A batch's objects are
freed by reference counting as soon as it is written, so collecting less often loses
nothing but a little latency in freeing cycles.

On PostgreSQL and SQLite, ingest writes from a second thread (services/ingest_pipeline.py,
services/ingest_sqlite.py), which waits for the database a score of times per batch (a
dozen on SQLite) and then for the GIL, held by the thread deciding the next batch until
the switch interval (5 ms by default) runs out: up to a tenth of a second per batch.
Inside bulk work the interval is :data:`~cps_ledger.limits.BULK_SWITCH_INTERVAL_S`
(finding 28).

The settings are process-wide, so a library call never changes them on its own: the CLI's
bulk commands and the ingest workers use :func:`bulk_work`, and so can a batch script.
What a library call does in any process is :func:`yield_gil` now and then, which changes no
setting.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cps_ledger.limits import BULK_GC_THRESHOLD, BULK_SWITCH_INTERVAL_S

_lock = threading.Lock()
_depth = 0
_saved_threshold: tuple[int, int, int] = gc.get_threshold()
_saved_interval: float = sys.getswitchinterval()
_host_froze = False


@contextmanager
def bulk_work() -> Iterator[None]:
    """Run a stretch of bulk work with the collector tuned for it, then restore it.

    On entry what is alive is frozen (``gc.freeze``: full collections stop walking it) and
    young objects are collected every :data:`~cps_ledger.limits.BULK_GC_THRESHOLD`
    allocations, and threads switch every :data:`~cps_ledger.limits.BULK_SWITCH_INTERVAL_S`;
    on exit the previous thresholds and interval come back and the frozen objects are
    collectable again, unless the host had frozen objects itself (then what it froze, and
    what was added, stays frozen: unfreezing would undo the host's own choice). Nested or
    concurrent uses (threads) share one tuned stretch, which ends when the last one exits.

    Example::

        with cps_ledger.bulk_work():
            for outcome in ledger.ingest(events):
                ...
    """
    global _depth, _saved_threshold, _saved_interval, _host_froze  # noqa: PLW0603  (like gc)
    with _lock:
        if _depth == 0:
            _saved_threshold = gc.get_threshold()
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(BULK_SWITCH_INTERVAL_S)
            _host_froze = gc.get_freeze_count() > 0
            gc.freeze()
            gc.set_threshold(BULK_GC_THRESHOLD, 50, 100)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved_threshold)
                sys.setswitchinterval(_saved_interval)
                if not _host_froze:
                    gc.unfreeze()


_writers = 0
"""Threads writing an ingest batch now (services/ingest_pipeline.py, ingest_sqlite.py)."""


@contextmanager
def writing() -> Iterator[None]:
    """Mark a stretch in which this thread writes a batch while another decides the next:
    :func:`yield_gil` hands the GIL over only then."""
    global _writers  # noqa: PLW0603  (a count shared by threads, like the GIL itself)
    with _lock:
        _writers += 1
    try:
        yield
    finally:
        with _lock:
            _writers -= 1


def yield_gil() -> None:
    """Let a thread writing a batch take the GIL now, not when the switch interval ends;
    do nothing while none is writing.

    Ingest's writer thread waits for the server a dozen times per batch, then for the GIL,
    which the thread deciding the next batch holds in pure Python until the interval
    (5 ms by default) runs out and the writer forces a switch. ``time.sleep(0)`` releases
    the GIL and sleeps for the kernel's timer slack (50-75 µs on Linux), long enough for
    the waiting thread to take it: in a default process ingest went from 6,828-7,118 to
    9,340-9,905 paid orders/s (docs/performance.md, finding 33). ``os.sched_yield()``
    costs 0.2 µs but hands nothing over: the yielding thread takes the GIL straight back.
    While no batch is being written (one thread, or the writer done before the next
    batch is decided: a third of the calls) there is nobody to hand it to, and the sleep
    would only cost time (finding 34).
    """
    if _writers:
        time.sleep(0)
