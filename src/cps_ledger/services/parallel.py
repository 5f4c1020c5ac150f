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

import gc
import multiprocessing
import queue
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from typing import Any, Final

import orjson
from sqlalchemy.engine import URL

from cps_ledger.errors import CpsLedgerError, InvalidEventError, WorkerFailedError
from cps_ledger.limits import EVENTS_PER_TRANSACTION
from cps_ledger.services.ingest import Outcome

WORKERS_MAX: Final = 16
LINES_IN_FLIGHT_PER_WORKER: Final = 4 * EVENTS_PER_TRANSACTION
"""Lines handed out and not yet answered, per worker, before the main process waits."""
WORKER_POLL_S: Final = 1.0
"""How often a waiting main process checks that its workers are still alive."""
ORDER_EVENTS: Final = frozenset({"order_paid", "order_completed", "order_cancelled", "refund"})

Reply = list[tuple[int, Outcome | None]] | BaseException
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


def _worker(url: str, tasks: Any, replies: Any, number: int) -> None:
    """A worker process: apply each batch it is given, answer with its outcomes."""
    from cps_ledger.adapters.engine import make_engine  # noqa: PLC0415  (in the child)
    from cps_ledger.services.ingest import _apply_chunk, parse_line  # noqa: PLC0415

    # This process only ingests: its long-lived objects (modules, schema) need no cyclic
    # collection, and the many short-lived ones of a batch need it rarely.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    engine = make_engine(url)
    try:
        while (batch := tasks.get()) is not None:
            try:
                parsed = [(n, parse_line(n, line)) for n, line in batch]
                chunk = [item for _, item in parsed if item is not None]
                done = iter(_apply_chunk(engine, chunk))
                replies.put([(n, None if item is None else next(done)) for n, item in parsed])
            except Exception as exc:  # the main process raises it in the caller
                failure = (
                    exc
                    if isinstance(exc, CpsLedgerError)
                    else WorkerFailedError(worker=number, reason=f"{type(exc).__name__}: {exc}")
                )
                replies.put(failure)
                return
    finally:
        engine.dispose()


@dataclass
class _Pool:
    """Worker processes, their task queues, and what is handed out and not yet answered."""

    url: str
    size: int
    processes: list[SpawnProcess] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)
    pending: list[list[tuple[int, str | bytes]]] = field(default_factory=list)
    in_flight: int = 0

    def __post_init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")  # no forked driver state, any platform
        self.replies: Any = spawn.Queue()
        for number in range(self.size):
            tasks = spawn.Queue()
            process = spawn.Process(
                target=_worker,
                args=(self.url, tasks, self.replies, number),
                name=f"cps-ingest-{number}",
                daemon=True,
            )
            process.start()
            self.processes.append(process)
            self.tasks.append(tasks)
            self.pending.append([])

    def add(self, worker: int, number: int, line: str | bytes, batch_size: int) -> None:
        self.pending[worker].append((number, line))
        self.in_flight += 1
        if len(self.pending[worker]) >= batch_size:
            self.send(worker)

    def send(self, worker: int) -> None:
        if self.pending[worker]:
            self.tasks[worker].put(self.pending[worker])
            self.pending[worker] = []

    def send_all(self) -> None:
        for worker in range(self.size):
            self.send(worker)

    def receive(self, *, block: bool) -> list[tuple[int, Outcome | None]] | None:
        """One batch's outcomes, or None if nothing came (``block=False``)."""
        while True:
            try:
                answer: Reply = self.replies.get(block=block, timeout=WORKER_POLL_S)
            except queue.Empty:
                if not block:
                    return None
                self._check_alive()
                continue
            if isinstance(answer, BaseException):
                raise answer
            self.in_flight -= len(answer)
            return answer

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.exitcode is not None:
                raise WorkerFailedError(
                    worker=self.processes.index(process),
                    reason=f"the process ended with exit code {process.exitcode}",
                )

    def close(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        self.replies.close()


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
