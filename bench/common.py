"""What every workload shares: figures, targets (a database per backend), books, timing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.services.books import apply_book

BOOK_TOML: Final = """
[book]
code = "{code}"
currency = "CNY"
timezone = "Asia/Shanghai"
payout_minimum_minor = 100

[split]
fee_rate = "0.10"
upline_rate = "0.10"

[[rules]]
kind = "sku"
priority = 40
sku = "sku-hot"
rate = "0.20"
cap_minor = 5000

[[rules]]
kind = "default"
priority = 0
rate = "0.03"
"""


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number: what, on which backend, its value and unit; with ``--repeat``,
    ``value`` is the median of ``runs``, each run's value (bench/repeat.py)."""

    workload: str
    backend: str
    metric: str
    value: float
    unit: str
    runs: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    """A database to measure on: its backend name and SQLAlchemy URL (with password)."""

    backend: str
    url: str


@dataclass
class Context:
    """What a workload is given: the target, its engine, the scale and the seed."""

    target: Target
    engine: Engine
    scale: float
    seed: int
    figures: list[Figure] = field(default_factory=list)

    def size(self, base: int, minimum: int = 1) -> int:
        """``base`` times the scale, never below ``minimum``."""
        return max(minimum, int(base * self.scale))

    def add(self, workload: str, metric: str, value: float, unit: str) -> None:
        """Record a figure."""
        self.figures.append(Figure(workload, self.target.backend, metric, value, unit))


class SkippedError(Exception):
    """A workload cannot run here (a module it needs is not there yet, a backend is absent)."""


DEADLOCK_DETECTED: Final = "40P01"


def analyze(engine: Engine, tables: Sequence[str] = ()) -> None:
    """On PostgreSQL, ANALYZE ``tables`` (default: every table), each in a transaction of its
    own, as autovacuum does.

    Inside one transaction ANALYZE holds every table's lock until the end, and two such
    transactions taking the tables in different orders deadlock (a workload's ANALYZE beside
    the bench's background one did, and the background thread died). A deadlock that still
    happens costs this round of statistics only; the next round runs as usual.
    """
    if engine.dialect.name != "postgresql":
        return
    statements = [f'ANALYZE "{name}"' for name in tables] or ["ANALYZE"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            try:
                conn.execute(text(statement))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK_DETECTED:
                    raise


def new_book(engine: Engine, prefix: str) -> str:
    """Create a fresh book (its own code, so workloads never see each other's rows)."""
    code = f"{prefix}_{secrets.token_hex(3)}"
    apply_book(engine, parse_book_file(BOOK_TOML.format(code=code)).definition())
    return code


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Yield a function returning the seconds elapsed since entering (frozen on exit)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def rate(count: float, seconds: float) -> float:
    """``count`` per second, 0 if nothing was timed."""
    return count / seconds if seconds > 0 else 0.0
