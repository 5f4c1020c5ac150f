"""Engines per dialect: SQLite (WAL, foreign keys), PostgreSQL (psycopg 3), MariaDB (PyMySQL).

Every dialect runs at READ COMMITTED so that a row lock followed by a read sees the latest
committed balance (MariaDB's default REPEATABLE READ would read a stale snapshot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from cps_ledger.errors import DatabaseUnavailableError
from cps_ledger.limits import DEFAULT_DATABASE_URL

DEFAULT_URL: Final = DEFAULT_DATABASE_URL
SQLITE_BUSY_TIMEOUT_MS: Final = 60_000
POOL_SIZE: Final = 5
READ_ONLY: Final = "cps_ledger_read_only"
"""Execution option marking a connection whose transaction only reads."""


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


def make_engine(url: str | URL = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` set up for cps_ledger's transactions on its dialect."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    options: dict[str, Any] = {
        "isolation_level": "READ COMMITTED",
        "pool_pre_ping": True,
        "pool_size": POOL_SIZE,
    }
    if backend in ("mysql", "mariadb"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        options["connect_args"] = {"init_command": "SET SESSION sql_mode='STRICT_ALL_TABLES'"}
    options.update(kwargs)
    try:
        return create_engine(parsed, **options)
    except ImportError as exc:
        raise DatabaseUnavailableError(
            url=mask_url(parsed), reason=f"driver missing: {exc}"
        ) from None


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
