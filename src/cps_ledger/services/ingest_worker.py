"""A worker process of parallel ingest: ``python -m cps_ledger.services.ingest_worker``.

Started by :mod:`cps_ledger.services.parallel` as a plain subprocess, not through
``multiprocessing``: a spawned process re-imports the caller's main module, which fails in
any script without an ``if __name__ == "__main__"`` guard. The two pipes it is given carry
pickled messages: the database URL first, then batches of numbered lines, ``None`` to stop;
back go the outcomes of each batch, or the error that ended the worker.
"""

from __future__ import annotations

import gc
import sys
from multiprocessing.connection import Connection
from typing import Final

from cps_ledger.errors import CpsLedgerError, WorkerFailedError

GC_THRESHOLD: Final = 50_000


def main(argv: list[str]) -> int:
    """Apply each batch the parent sends; answer with its outcomes, in the batch's order."""
    number, task_fd, reply_fd = (int(arg) for arg in argv)
    tasks = Connection(task_fd, writable=False)
    replies = Connection(reply_fd, readable=False)
    url = tasks.recv()

    from cps_ledger.adapters.engine import make_engine  # noqa: PLC0415  (after the handshake)
    from cps_ledger.services.ingest import apply_chunk, parse_line  # noqa: PLC0415

    # This process only ingests: what it imported lives until it ends, so the cyclic
    # collector leaves it alone and runs rarely among a batch's short-lived objects.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    engine = make_engine(url)
    try:
        while (batch := tasks.recv()) is not None:
            try:
                parsed = [(n, parse_line(n, line)) for n, line in batch]
                done = iter(apply_chunk(engine, [item for _, item in parsed if item is not None]))
                replies.send([(n, None if item is None else next(done)) for n, item in parsed])
            except Exception as exc:  # the parent raises it in its caller
                if not isinstance(exc, CpsLedgerError):
                    exc = WorkerFailedError(worker=number, reason=f"{type(exc).__name__}: {exc}")
                replies.send(exc)
                return 1
    except EOFError:
        return 0  # the parent went away: nothing handed out is left half done
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
