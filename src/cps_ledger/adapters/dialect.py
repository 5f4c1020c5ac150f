"""The few statements whose SQL differs per dialect: upserts, insert-if-missing, bulk insert.

Each statement is built once per table and run as an ``executemany``: SQLAlchemy then
compiles it once and caches it, and the drivers batch the rows (PyMySQL rewrites it into
multi-row INSERTs, psycopg pipelines it, sqlite3 loops in C). Building a ``VALUES`` list of
literal rows instead cost a fresh compilation per batch: half the posting time (see
docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection, Dialect, Insert, Table, TextClause, insert, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError

IDS_PER_QUERY: Final = 500
"""Ids per ``IN (...)`` list: well under every driver's bound-parameter limit."""


def id_chunks(ids: Iterable[str]) -> list[list[str]]:
    """Distinct ``ids`` in sorted order, in lists of :data:`IDS_PER_QUERY` for ``IN`` queries.

    Sorted, so that queries that lock what they read lock it in one order everywhere.
    """
    wanted = sorted(set(ids))
    return [wanted[i : i + IDS_PER_QUERY] for i in range(0, len(wanted), IDS_PER_QUERY)]


ROWS_PER_STATEMENT: Final = {"postgresql": 2000, "mysql": 2000, "mariadb": 2000, "sqlite": 400}
"""Rows per multi-row statement, under each driver's bound-parameter limit."""


@cache
def _insert_missing(dialect: str, table: Table) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        return mysql.insert(table).prefix_with("IGNORE")
    return sqlite.insert(table).on_conflict_do_nothing()


@cache
def _upsert_adding(
    dialect: str, table: Table, key: tuple[str, ...], increments: tuple[str, ...]
) -> Insert:
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=list(key), set_={c: table.c[c] + pg.excluded[c] for c in increments}
        )
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        return my.on_duplicate_key_update({c: table.c[c] + my.inserted[c] for c in increments})
    lite = sqlite.insert(table)
    return lite.on_conflict_do_update(
        index_elements=list(key), set_={c: table.c[c] + lite.excluded[c] for c in increments}
    )


def insert_missing(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key exists already."""
    if rows:
        conn.execute(_insert_missing(conn.dialect.name, table), list(rows))


def add_to_counters(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    increments: Sequence[str],
) -> None:
    """Insert ``rows`` or add their ``increments`` columns to the existing rows.

    Rows are written in key order so that concurrent transactions lock them in the same
    order and cannot deadlock on each other (the drivers keep the order of executemany).
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in key))
    if conn.dialect.name == "postgresql":
        statement = _unnest_upsert(conn.dialect, table, tuple(key), tuple(increments))
        columns = [c.name for c in table.columns]
        conn.execute(
            statement, {f"c{i}": [r[name] for r in ordered] for i, name in enumerate(columns)}
        )
        return
    conn.execute(_upsert_adding(conn.dialect.name, table, tuple(key), tuple(increments)), ordered)


@cache
def _unnest_upsert(
    dialect: Dialect, table: Table, key: tuple[str, ...], increments: tuple[str, ...]
) -> TextClause:
    # One statement with one array per column: PostgreSQL upserts a whole batch in one
    # round trip instead of one pipelined statement per row. unnest keeps the array order,
    # so rows are still locked in key order.
    quote = dialect.identifier_preparer.quote
    names = [quote(c.name) for c in table.columns]
    arrays = ", ".join(
        f"CAST(:c{i} AS {c.type.compile(dialect=dialect)}[])" for i, c in enumerate(table.columns)
    )
    updates = ", ".join(
        f"{quote(c)} = {quote(table.name)}.{quote(c)} + excluded.{quote(c)}" for c in increments
    )
    return text(
        f"INSERT INTO {quote(table.name)} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {updates}"
    )


def copy_rows(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL only: append rows (tuples in column order, values as stored) by COPY.

    COPY runs on the connection's own transaction, so it commits or rolls back with the
    rest of the unit of work; it is the fastest insert path PostgreSQL has.
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    cols = ", ".join(quote(c.name) for c in table.columns)
    statement = f"COPY {quote(table.name)} ({cols}) FROM STDIN"
    driver = conn.connection.driver_connection
    if driver is None:
        raise DisconnectionError("the connection was closed inside a unit of work")
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cur, cur.copy(statement) as copy:
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


def append_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new rows (dicts by column name): COPY on PostgreSQL, executemany elsewhere.

    Values go through each column type's bind processing first, so COPY stores exactly what
    an INSERT would (naive UTC datetimes, rates as text).
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    names, processors = _column_plan(conn.dialect, table)
    prepared = []
    for row in rows:
        values = [row[name] for name in names]
        for i, fn in processors:
            values[i] = fn(values[i])
        prepared.append(tuple(values))
    copy_rows(conn, table, prepared)
