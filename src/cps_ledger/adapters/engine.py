"""Engines per dialect: SQLite (WAL, foreign keys), PostgreSQL (psycopg 3), MariaDB (PyMySQL).

Every dialect runs at READ COMMITTED so that a row lock followed by a read sees the latest
committed balance (MariaDB's default REPEATABLE READ would read a stale snapshot).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from cps_ledger.errors import DatabaseUnavailableError
from cps_ledger.limits import DEFAULT_DATABASE_URL

DEFAULT_URL: Final = DEFAULT_DATABASE_URL
SQLITE_BUSY_TIMEOUT_MS: Final = 60_000
POOL_SIZE: Final = 5
READ_ONLY: Final = "cps_ledger_read_only"
"""Execution option marking a connection whose transaction only reads."""
PING_AFTER_IDLE_S: Final = 1.0
"""A pooled server connection idle longer than this is pinged before it is handed out; one
used more recently is trusted. A ping on every checkout cost a round trip per unit of work:
0.17 ms of a promoter balance read's 1.05 ms, and its p99 went from 1.2 to 2.1 ms."""
_IDLE_SINCE: Final = "cps_ledger_idle_since"


def normalize_url(url: str | URL) -> URL:
    """Pick our drivers for bare dialect names: psycopg 3 and PyMySQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(url=mask_url(str(url)), reason=str(exc)) from None
    driver = {
        "postgresql": "postgresql+psycopg",
        "postgres": "postgresql+psycopg",
        "mysql": "mysql+pymysql",
        "mariadb": "mariadb+pymysql",
    }.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``: safe for errors, logs and reports."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(
    url: str | URL = DEFAULT_URL, *, ping_after_idle_s: float = PING_AFTER_IDLE_S, **kwargs: Any
) -> Engine:
    """An engine for ``url`` set up for cps_ledger's transactions on its dialect.

    On a server, a pooled connection idle for more than ``ping_after_idle_s`` is pinged
    when checked out and replaced if the server dropped it (a restart, an idle timeout).
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    options: dict[str, Any] = {
        "isolation_level": "READ COMMITTED",
        "pool_size": POOL_SIZE,
    }
    if backend in ("mysql", "mariadb"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        options["connect_args"] = {"init_command": "SET SESSION sql_mode='STRICT_ALL_TABLES'"}
    options.update(kwargs)
    try:
        engine = create_engine(parsed, **options)
    except ImportError as exc:
        raise DatabaseUnavailableError(
            url=mask_url(parsed), reason=f"driver missing: {exc}"
        ) from None
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    # SQLAlchemy's pool_pre_ping pings on every checkout. A connection back from work a
    # moment ago is almost surely alive, and if the server dropped it in that moment the
    # unit of work fails with DatabaseUnavailableError, as a drop mid-transaction does.
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_s:
            return  # just connected, or just used
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two processes that both read then write
        # would otherwise deadlock on the lock upgrade and one would fail with SQLITE_BUSY.
        # Read-only work (READ_ONLY option) begins deferred, so readers never wait on writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
