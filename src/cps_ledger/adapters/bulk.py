"""Bulk appends of new rows: COPY on PostgreSQL, one cached executemany elsewhere.

Rows are tuples in column order holding values already in their *stored* form, the same on
every database: ints, ``str`` and ``None``, with datetimes as naive UTC text with
microseconds (:func:`stored_utc`), UUIDs as 32 hex digits (:func:`stored_uuid`) and rates
as their decimal text. That is exactly what the column types' own bind processing stores
(``UtcDateTime``, ``Uuid``, ``DecimalText``), so rows written here and rows written by a
SQLAlchemy ``INSERT`` read back the same.

Converting once per value in the caller (an entry's time once for all its postings, not
once per posting) and handing the drivers plain ``str`` and ``int`` keeps their per-row work
small: SQLAlchemy's parameter processing and dict rows cost more than the insert itself
(docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Connection, Dialect, Executable, Table, insert
from sqlalchemy.exc import DBAPIError, DisconnectionError

from cps_ledger.adapters.json_rows import JsonRows, ManyRows, TableWrite, kept
from cps_ledger.adapters.types import naive_utc
from cps_ledger.tuning import yield_gil


def stored_utc(value: datetime) -> str:
    """An aware datetime as stored: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return naive_utc(value).isoformat(" ", "microseconds")


def stored_uuid(value: UUID) -> str:
    """A UUID as stored: 32 lower-case hex digits (PostgreSQL's uuid type reads them too)."""
    return value.hex


@cache
def _insert_sql(dialect: Dialect, table: Table) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(quote(c.name) for c in table.columns)
    marks = ", ".join([mark] * len(table.columns))
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({marks})"


@cache
def _copy_sql(dialect: Dialect, table: Table) -> str:
    quote = dialect.identifier_preparer.quote
    cols = ", ".join(quote(c.name) for c in table.columns)
    return f"COPY {quote(table.name)} ({cols}) FROM STDIN"


def insert_rows(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append ``rows`` (stored form, column order) to ``table`` in the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        if not keep_rows(conn, TableWrite(table, "insert"), rows):
            conn.exec_driver_sql(_insert_sql(conn.dialect, table), list(rows))
        return
    statement = _copy_sql(conn.dialect, table)
    if (deferred := conn.info.get(_DEFERRED)) is not None:
        deferred.append(_Copy(statement, _copy_data(conn, rows)))
        yield_gil()  # formatting a table's rows is long: let the writer thread in between
        return
    _send_copy(conn, statement, rows)


def write_statement(conn: Connection, statement: Executable, params: dict[str, Any]) -> None:
    """Execute a write in the caller's transaction, or keep it for later (:func:`deferred`)."""
    if (deferred := conn.info.get(_DEFERRED)) is not None:
        deferred.append(_Statement(statement, params))
        return
    conn.execute(statement, params)


_DEFERRED: Final = "cps_ledger_deferred_writes"


class _Copy:
    """A COPY whose data is already formatted: sending it holds the GIL only briefly."""

    def __init__(self, statement: str, data: bytes) -> None:
        self.statement = statement
        self.data = data

    def run(self, conn: Connection) -> None:
        _send_copy(conn, self.statement, [self.data], formatted=True)


class _Statement:
    def __init__(self, statement: Executable, params: dict[str, Any]) -> None:
        self.statement = statement
        self.params = params

    def run(self, conn: Connection) -> None:
        conn.execute(self.statement, self.params)


def deferring(conn: Connection) -> bool:
    """Whether writes on ``conn`` are being kept by :func:`deferred`."""
    return _DEFERRED in conn.info


def keep_rows(conn: Connection, write: TableWrite, rows: Sequence[Sequence[Any]]) -> bool:
    """Inside :func:`deferred` on SQLite, keep ``rows`` for ``write``, run later as one
    statement over their JSON (:mod:`~cps_ledger.adapters.json_rows`), and return True;
    outside, keep nothing and return False."""
    if (writes := conn.info.get(_DEFERRED)) is None:
        return False
    writes.append(kept(conn.dialect, write, rows))
    yield_gil()  # as after a COPY's formatting: the writer thread may be waiting for the GIL
    return True


class Deferred(list[_Copy | _Statement | JsonRows | ManyRows]):
    """Writes kept in order by :func:`deferred`, every row already built and formatted."""

    def run(self, conn: Connection) -> None:
        """Send them, in order, in ``conn``'s transaction."""
        for write in self:
            write.run(conn)


@contextmanager
def deferred(conn: Connection) -> Iterator[Deferred]:
    """Keep the bulk writes made on ``conn`` in this block instead of sending them: rows
    built and COPY data (PostgreSQL) or JSON text (SQLite) formatted here, to be sent later
    by ``Deferred.run``, maybe from another thread (services/ingest_pipeline.py,
    services/ingest_sqlite.py)."""
    if conn.dialect.name not in ("postgresql", "sqlite"):
        raise NotImplementedError("deferred writes are built for PostgreSQL and SQLite")
    writes = Deferred()
    conn.info[_DEFERRED] = writes
    try:
        yield writes
    finally:
        del conn.info[_DEFERRED]


def _copy_data(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> bytes:
    # psycopg's documented way to format COPY data without sending it: a Copy with a
    # custom Writer. Imported here: psycopg is the optional ``postgres`` extra.
    from psycopg import Copy  # noqa: PLC0415

    collected = _collector()()
    with (
        driver_connection(conn).cursor() as cursor,
        Copy(cursor, binary=False, writer=collected) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return b"".join(collected.parts)


@cache
def _collector() -> type[Any]:
    # One class for the process: a class made per call is a reference cycle, and kept the
    # formatted data alive until a full collection, which bulk_work() all but turns off.
    from psycopg.copy import Writer  # noqa: PLC0415

    class Collected(Writer):
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, data: Any) -> None:
            self.parts.append(bytes(data))

    return Collected


def driver_connection(conn: Connection) -> Any:
    """The driver's own connection under ``conn`` (psycopg's, sqlite3's), for what
    SQLAlchemy does not offer: COPY, or a statement outside any transaction."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise DisconnectionError("the connection was closed inside a unit of work")
    return driver


def _send_copy(
    conn: Connection, statement: str, rows: Sequence[Any], *, formatted: bool = False
) -> None:
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver_connection(conn).cursor() as cur, cur.copy(statement) as copy:
            if formatted:
                for data in rows:
                    copy.write(data)
            else:
                for row in rows:
                    copy.write_row(row)
    except dbapi.Error as exc:
        # Raw driver errors must look like every other statement's: a duplicate key from a
        # concurrent writer is an IntegrityError that the unit of work retries as a replay.
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


@cache
def _column_plan(
    dialect: Dialect, table: Table
) -> tuple[tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...]]:
    names = tuple(c.name for c in table.columns)
    processors = tuple(
        (i, fn) for i, c in enumerate(table.columns) if (fn := c.type.bind_processor(dialect))
    )
    return names, processors


def stored_tuples(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Rows given as dicts of Python values, as stored tuples in column order (each value
    through its column type's bind processing)."""
    names, processors = _column_plan(dialect, table)
    prepared = []
    for row in rows:
        values = [row[name] for name in names]
        for i, fn in processors:
            values[i] = fn(values[i])
        prepared.append(tuple(values))
    return prepared


def append_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new rows given as dicts of Python values (the convenient, slower form).

    For the few rows of rare commands; hot paths build stored tuples for :func:`insert_rows`.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    insert_rows(conn, table, stored_tuples(conn.dialect, table, rows))
