"""A worker process of parallel ingest: ``python -m cps_ledger.services.ingest_worker``.

Started by :mod:`cps_ledger.services.parallel` as a plain subprocess, not through
``multiprocessing``: a spawned process re-imports the caller's main module, which fails in
any script without an ``if __name__ == "__main__"`` guard. The two pipes it is given carry
pickled messages: the database URL first, then batches of numbered lines, ``None`` to stop;
back go the outcomes of each batch, or the error that ended the worker.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from cps_ledger.errors import CpsLedgerError, WorkerFailedError


def main(argv: list[str]) -> int:
    """Apply each batch the parent sends; answer with its outcomes, in the batch's order."""
    number, task_fd, reply_fd = (int(arg) for arg in argv)
    tasks = Connection(task_fd, writable=False)
    replies = Connection(reply_fd, readable=False)
    url = tasks.recv()

    from cps_ledger.adapters.engine import make_engine  # noqa: PLC0415  (after the handshake)
    from cps_ledger.services.ingest import apply_chunk, parse_line  # noqa: PLC0415
    from cps_ledger.services.known_links import KnownLinks  # noqa: PLC0415
    from cps_ledger.tuning import bulk_work  # noqa: PLC0415

    engine = make_engine(url)
    links = KnownLinks()  # the worker's batches all belong to one ingest call
    try:
        # This process only ingests, all its life: the collector is tuned for that throughout.
        with bulk_work():
            while (batch := tasks.recv()) is not None:
                try:
                    parsed = [(n, parse_line(n, line)) for n, line in batch]
                    items = [item for _, item in parsed if item is not None]
                    done = iter(apply_chunk(engine, items, links))
                    replies.send([(n, None if item is None else next(done)) for n, item in parsed])
                except Exception as exc:  # the parent raises it in its caller
                    if not isinstance(exc, CpsLedgerError):
                        reason = f"{type(exc).__name__}: {exc}"
                        exc = WorkerFailedError(worker=number, reason=reason)
                    replies.send(exc)
                    return 1
    except EOFError:
        return 0  # the parent went away: nothing handed out is left half done
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
