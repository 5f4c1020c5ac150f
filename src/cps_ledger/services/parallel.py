"""Ingest with several worker processes, giving the outcomes one process would give.

One process spends most of an order's time in Python while the database waits, then the
other way round. Worker processes overlap the two: each parses and applies its share of
the events, in its own transactions, on its own connection.

What may run side by side is decided line by line, without changing any outcome:

- the events of one order (paid, completed, cancelled, refunded) always go to the same
  worker, chosen by a hash of book and order, so they are applied in input order;
- every other event (promoters, share links, merchant payments, and any line that is not
  a well-formed order event) is a *barrier*: the events before it are committed first,
  it is applied alone, in order, and only then do the events after it start. A merchant
  payment so sees every completion before it, and an order every link created before it;
- a refund id seen with another order earlier in the same run of order events is a
  barrier too, so two events under one idempotency key are never raced.

Consecutive barriers form one run, applied in order in batches by one worker; a run of
order events is spread over all of them. One run is committed before the next starts.

The main process only routes lines (a fast JSON parse of ``type``, ``book``, ``order``
and ``refund``), hands out batches and puts the outcomes back into input order; it holds
at most :data:`LINES_IN_FLIGHT_PER_WORKER` lines per worker, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Final

import orjson
from sqlalchemy.engine import URL

from cps_ledger.errors import CpsLedgerError, InvalidEventError, WorkerFailedError
from cps_ledger.limits import EVENTS_PER_TRANSACTION
from cps_ledger.services.ingest import Outcome

WORKERS_MAX: Final = 16
LINES_IN_FLIGHT_PER_WORKER: Final = 4 * EVENTS_PER_TRANSACTION
"""Lines handed out and not yet answered, per worker, before the main process waits."""
WORKER_EXIT_S: Final = 30.0
"""How long a worker may take to finish its last batch once told to stop."""
ORDER_EVENTS: Final = frozenset({"order_paid", "order_completed", "order_cancelled", "refund"})

Reply = list[tuple[int, Outcome | None]] | CpsLedgerError
"""What a worker sends back: the outcomes of a batch by line number, or what went wrong."""


def _route(line: str | bytes) -> tuple[str, str] | None:
    """(partition key, refund id or "") of an order event; None for a barrier."""
    try:
        obj = orjson.loads(line)
    except (orjson.JSONDecodeError, TypeError):
        return None  # the worker that applies it will say what is wrong, in order
    if not isinstance(obj, dict) or obj.get("type") not in ORDER_EVENTS:
        return None
    book, order, refund = obj.get("book"), obj.get("order"), obj.get("refund", "")
    if not (isinstance(book, str) and isinstance(order, str) and isinstance(refund, str)):
        return None
    return f"{book}\x00{order}", f"{book}\x00{refund}" if refund else ""


@dataclass
class _Worker:
    """One worker process, the pipe its batches go down, and a thread reading its answers."""

    process: subprocess.Popen[bytes]
    tasks: Connection
    reader: threading.Thread


@dataclass
class _Pool:
    """Worker processes, what is handed out and not yet answered, and their answers."""

    url: str
    size: int
    workers: list[_Worker] = field(default_factory=list)
    pending: list[list[tuple[int, str | bytes]]] = field(default_factory=list)
    in_flight: int = 0
    replies: queue.Queue[tuple[int, Reply | None]] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        for number in range(self.size):
            task_read, task_write = os.pipe()
            reply_read, reply_write = os.pipe()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cps_ledger.services.ingest_worker",
                    str(number),
                    str(task_read),
                    str(reply_write),
                ],
                pass_fds=(task_read, reply_write),
            )
            os.close(task_read)
            os.close(reply_write)
            tasks = Connection(task_write, readable=False)
            tasks.send(self.url)  # not on the command line, where ps would show a password
            reader = threading.Thread(
                target=self._read,
                args=(number, Connection(reply_read, writable=False)),
                name=f"cps-ingest-reader-{number}",
                daemon=True,
            )
            reader.start()
            self.workers.append(_Worker(process, tasks, reader))
            self.pending.append([])

    def _read(self, number: int, replies: Connection) -> None:
        # A thread per worker: the parent never blocks writing a batch to a worker that is
        # itself blocked writing answers nobody reads.
        try:
            while True:
                self.replies.put((number, replies.recv()))
        except (EOFError, OSError):
            self.replies.put((number, None))  # the worker ended
        finally:
            replies.close()

    def add(self, worker: int, number: int, line: str | bytes, batch_size: int) -> None:
        self.pending[worker].append((number, line))
        self.in_flight += 1
        if len(self.pending[worker]) >= batch_size:
            self.send(worker)

    def send(self, worker: int) -> None:
        if self.pending[worker]:
            self.workers[worker].tasks.send(self.pending[worker])
            self.pending[worker] = []

    def send_all(self) -> None:
        for worker in range(self.size):
            self.send(worker)

    def receive(self, *, block: bool) -> list[tuple[int, Outcome | None]] | None:
        """One batch's outcomes, or None if nothing came (``block=False``)."""
        try:
            number, answer = self.replies.get(block=block)
        except queue.Empty:
            return None
        if answer is None:
            code = self.workers[number].process.wait()
            raise WorkerFailedError(worker=number, reason=f"the process ended with code {code}")
        if isinstance(answer, BaseException):
            raise answer
        self.in_flight -= len(answer)
        return answer

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError):  # it ended already
                worker.tasks.send(None)
            worker.tasks.close()
        for worker in self.workers:
            try:
                worker.process.wait(timeout=WORKER_EXIT_S)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def ingest_in_parallel(
    url: URL | str,
    lines: Iterable[str | bytes],
    *,
    workers: int,
    batch_size: int = EVENTS_PER_TRANSACTION,
) -> Iterator[Outcome]:
    """Apply JSON lines (numbered from 1, blank ones skipped) in ``workers`` processes.

    Outcomes come out in input order and are those of ``CpsLedger.ingest_lines`` with one
    process; see the module docstring for why. Lines already handed to a worker are
    applied even if the caller stops reading outcomes.
    """
    if isinstance(workers, bool) or not 1 <= workers <= WORKERS_MAX:
        raise InvalidEventError(f"workers={workers!r}: must be 1..{WORKERS_MAX}", field="workers")
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    pool = _Pool(text, workers)
    order: deque[int] = deque()
    done: dict[int, Outcome | None] = {}
    serial = True  # the run of lines being handed out: barriers (in order) or order events
    refunds: dict[str, str] = {}  # refund key -> order key, in this run of order events

    def settle(block: bool) -> Iterator[Outcome]:
        while (answer := pool.receive(block=block)) is not None:
            done.update(answer)
            block = False
        while order and order[0] in done:
            outcome = done.pop(order.popleft())
            if outcome is not None:
                yield outcome

    try:
        for number, line in enumerate(lines, start=1):
            route = _route(line)
            if (
                route is not None
                and route[1]
                and refunds.setdefault(route[1], route[0]) != route[0]
            ):
                route = None  # one refund id on two orders: keep them in input order
            if (route is None) is not serial:
                # A run of barriers and a run of order events never overlap: what came
                # before is committed before anything after it starts.
                pool.send_all()
                while pool.in_flight:
                    yield from settle(block=True)
                serial = route is None
                refunds = {}
                if route is not None and route[1]:
                    refunds[route[1]] = route[0]
            worker = 0 if route is None else zlib.crc32(route[0].encode()) % workers
            order.append(number)
            pool.add(worker, number, line, batch_size)
            if pool.in_flight >= LINES_IN_FLIGHT_PER_WORKER * workers:
                pool.send_all()
                yield from settle(block=True)
            else:
                yield from settle(block=False)
        pool.send_all()
        while pool.in_flight:
            yield from settle(block=True)
        yield from settle(block=False)
    finally:
        pool.close()
