"""Run one settlement in this process; SIGKILL itself after N batches if told to.

Usage: ``python -m tests.support.workers.settle_worker URL BOOK PERIOD NOW PER_BATCH``.
``CPS_LEDGER_KILL_AFTER_BATCHES=N`` makes the progress callback kill the process right after
the N-th batch committed, so the crash point is deterministic.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime

from cps_ledger.adapters.engine import make_engine
from cps_ledger.services.settlement import settle

KILL_AFTER_ENV = "CPS_LEDGER_KILL_AFTER_BATCHES"


def main(argv: list[str]) -> None:
    url, book, period, now, per_batch = argv
    kill_after = int(os.environ.get(KILL_AFTER_ENV, "0"))
    batches = 0

    def progress(_done: int) -> None:
        nonlocal batches
        batches += 1
        if batches == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    engine = make_engine(url)
    result = settle(
        engine,
        book,
        period,
        now=datetime.fromisoformat(now),
        promoters_per_batch=int(per_batch),
        progress=progress,
    )
    print(result.promoters, result.amount_minor)


if __name__ == "__main__":
    main(sys.argv[1:])
