"""The registry of workloads: name -> (function, backends it runs on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from bench.batchjobs import payouts, settlement
from bench.cli_ingest import cli_ingest
from bench.common import Context
from bench.ingesting import concurrent_ingest, ingest_orders, mixed_lifecycle
from bench.posting import core_posting, hot_vs_spread
from bench.reads import reads

ALL: Final = ("sqlite", "postgresql", "mariadb")
SERVERS: Final = ("postgresql", "mariadb")

WORKLOADS: Final[dict[str, tuple[Callable[[Context], None], tuple[str, ...]]]] = {
    "posting": (core_posting, ALL),
    "ingest": (ingest_orders, ALL),
    "hot_vs_spread": (hot_vs_spread, SERVERS),
    "concurrent": (concurrent_ingest, SERVERS),
    "lifecycle": (mixed_lifecycle, ALL),
    "settlement": (settlement, ALL),
    "payouts": (payouts, SERVERS),
    "reads": (reads, ALL),
    "cli_ingest": (cli_ingest, ("sqlite", "postgresql")),
}
