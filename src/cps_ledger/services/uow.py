"""Units of work: one transaction per use case, retried on deadlocks and serialization
failures a bounded number of times with jitter, then a typed error."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, TypeVar

from sqlalchemy import URL, Connection, Engine, Transaction
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import OperationalError as SAOperationalError

from cps_ledger.adapters.engine import READ_ONLY, mask_url
from cps_ledger.adapters.journal import forget_uncommitted, remember_committed
from cps_ledger.errors import ContentionError, DatabaseUnavailableError

T = TypeVar("T")
ATTEMPTS_MAX: Final = 8
BACKOFF_BASE_S: Final = 0.02
BACKOFF_MAX_S: Final = 1.0
_RETRYABLE_SQLSTATES: Final = {"40001", "40P01"}  # serialization failure, deadlock (PostgreSQL)
_RETRYABLE_MYSQL_CODES: Final = {1213, 1205}  # deadlock, lock wait timeout (MariaDB)
_log = logging.getLogger("cps_ledger")

retries_seen = 0
"""Retries this process has made so far (benchmarks report it)."""


def database_unavailable(url: str | URL, exc: BaseException) -> DatabaseUnavailableError:
    """The typed error for a failed connection to ``url``: password masked, the driver's
    first line as the reason (or the exception's type when the driver said nothing)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    reason = text.splitlines()[0] if text else type(orig).__name__
    return DatabaseUnavailableError(url=mask_url(url), reason=reason)


class UnitOfWork:
    """A connection and its transaction; leaving it without ``commit()`` rolls back."""

    def __init__(
        self, engine: Engine, *, read_only: bool = False, point_read: bool = False
    ) -> None:
        self._engine = engine
        self._read_only = read_only or point_read
        self._point_read = point_read
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        try:
            conn = self._engine.connect()
        except SAOperationalError as exc:
            raise database_unavailable(self._engine.url, exc) from None
        if self._read_only:
            conn = conn.execution_options(**{READ_ONLY: True})
        self._tx: Transaction | None = None
        if self._point_read and conn.dialect.name == "postgresql":
            # At READ COMMITTED every statement reads its own snapshot, in a transaction or
            # not; around a point read's single statement, BEGIN and COMMIT were two of its
            # three round trips. (On MariaDB, switching autocommit costs round trips too.)
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            self._tx = conn.begin()
        self.conn: Connection = conn
        return self

    def commit(self) -> None:
        """Make the work durable; without this call, leaving the block rolls back."""
        if self._tx is not None:
            self._tx.commit()
        self._committed = True
        remember_committed(self.conn)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            # A connection the server dropped took its transaction, and what it opened,
            # with it; asking it anything would only raise PendingRollbackError.
            if not self.conn.invalidated:
                forget_uncommitted(self.conn)
            if self._tx is not None and self._tx.is_active:
                self._tx.rollback()
        self.conn.close()


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient conflict that a fresh attempt may not meet again.

    An IntegrityError counts: two processes inserting the same idempotency key or the same
    new order race on the primary key, and the retry then sees the winner's row as a replay.
    """
    if isinstance(exc, IntegrityError):
        return True
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL_CODES:
        return True
    return "database is locked" in str(orig)


def transact(
    engine: Engine,
    work: Callable[[UnitOfWork], T],
    *,
    read_only: bool = False,
    point_read: bool = False,
    attempts: int = ATTEMPTS_MAX,
) -> T:
    """Run ``work`` in a unit of work, retrying transient conflicts with jittered backoff.

    ``work`` must call ``uow.commit()`` itself; it is re-run from the start on a retry, so it
    must not keep state between attempts outside the database. ``point_read`` is for work
    that only reads and needs no snapshot shared between its statements (a balance: one
    statement); on PostgreSQL it runs without a transaction around it.
    """
    global retries_seen  # noqa: PLW0603  (a process-wide counter for benchmarks)
    for attempt in range(1, attempts + 1):
        try:
            with UnitOfWork(engine, read_only=read_only, point_read=point_read) as uow:
                return work(uow)
        except DBAPIError as exc:
            if isinstance(exc, SAOperationalError) and exc.connection_invalidated:
                raise DatabaseUnavailableError(
                    url=mask_url(engine.url), reason=str(exc.orig)
                ) from None
            if not is_retryable(exc) or attempt == attempts:
                if is_retryable(exc):
                    raise ContentionError(attempts=attempts, reason=str(exc.orig)) from exc
                raise
            retries_seen += 1
            delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
            _log.info("retrying after %s (attempt %d)", type(exc.orig).__name__, attempt)
            time.sleep(random.uniform(0, delay))
    raise AssertionError("unreachable")  # pragma: no cover
