"""The few statements whose SQL differs per dialect: id look-ups, upserts, insert-if-missing.

Each statement is built once per table: SQLAlchemy compiles it once and caches it. On
PostgreSQL a batch is one statement over arrays (``= ANY(array)``, ``unnest``); elsewhere an
``executemany`` that the drivers batch (PyMySQL rewrites it into multi-row INSERTs, sqlite3
loops in C). Building a ``VALUES`` list of literal rows instead cost a fresh compilation per
batch: half the posting time (see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Insert,
    String,
    Table,
    Text,
    TextClause,
    bindparam,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite

from cps_ledger.adapters.bulk import deferring, keep_rows, stored_tuples, write_statement
from cps_ledger.adapters.json_rows import TableWrite

IDS_PER_QUERY: Final = 500
"""Ids per ``IN (...)`` list: well under every driver's bound-parameter limit."""


def id_chunks(ids: Iterable[str]) -> list[list[str]]:
    """Distinct ``ids`` in sorted order, in lists of :data:`IDS_PER_QUERY` for ``IN`` queries.

    Sorted, so that queries that lock what they read lock it in one order everywhere.
    """
    wanted = sorted(set(ids))
    return [wanted[i : i + IDS_PER_QUERY] for i in range(0, len(wanted), IDS_PER_QUERY)]


def id_filters(conn: Connection, column: Any, ids: Iterable[str]) -> list[ColumnElement[bool]]:
    """``column`` among ``ids`` as few conditions as the dialect allows, one per query.

    PostgreSQL takes one ``IN (SELECT unnest(array))`` whatever the number of ids: one
    bound value, so the statement is compiled and parsed once, not once per list length.
    Not ``= ANY(array)``: a prepared statement's generic plan may apply that as a filter,
    comparing every row of the book with every id (170 ms for 1,000 ids among 20,000
    promoters); as a semi-join it is a hash or index look-up whatever the statistics say.
    Elsewhere, ``IN`` lists of :data:`IDS_PER_QUERY` sorted ids.
    """
    if conn.dialect.name == "postgresql":
        wanted = sorted(set(ids))
        if not wanted:
            return []
        # The array goes as one text literal: the driver would adapt a list element by
        # element in Python, a second and a half of a 100,000-promoter settlement.
        array = cast(bindparam(None, array_literal(wanted), type_=Text), postgresql.ARRAY(String))
        return [column.in_(select(func.unnest(array)))]
    return [column.in_(chunk) for chunk in id_chunks(ids)]


def plan_each_statement(conn: Connection) -> None:
    """PostgreSQL: plan every statement of this transaction for its own values.

    Batch statements take arrays of ids. A prepared statement's generic plan cannot see how
    many ids there are, and with statistics that lag behind a table growing under a long
    run (a settlement fills ``settlements`` from empty; autovacuum analyses a minute later
    at best) it picked nested loops over every row for every id: 7.8 s for one page of a
    100,000-promoter settlement. Planned with the values, the same query takes 20 ms at
    worst. Planning costs well under a millisecond per statement, a few per batch.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


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
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        key = tuple(c.name for c in table.primary_key.columns)
        _unnest(conn, table, rows, key=key, increments=())
        return
    if conn.dialect.name == "sqlite" and deferring(conn):
        keep_rows(
            conn, TableWrite(table, "insert_missing"), stored_tuples(conn.dialect, table, rows)
        )
        return
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
    if conn.dialect.name == "postgresql":
        _unnest(conn, table, rows, key=tuple(key), increments=tuple(increments))
        return
    ordered = sorted(rows, key=itemgetter(*key))
    if conn.dialect.name == "sqlite" and deferring(conn):
        write = TableWrite(table, "add", tuple(key), tuple(increments))
        keep_rows(conn, write, stored_tuples(conn.dialect, table, ordered))
        return
    conn.execute(_upsert_adding(conn.dialect.name, table, tuple(key), tuple(increments)), ordered)


def _unnest(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: tuple[str, ...],
    increments: tuple[str, ...],
) -> None:
    # One statement with one array per column: PostgreSQL inserts or upserts a whole batch
    # in one round trip instead of one pipelined statement per row. Rows go in key order
    # and unnest keeps the array order, so rows are locked in key order.
    ordered = sorted(rows, key=itemgetter(*key))
    statement = _unnest_statement(conn.dialect, table, key, increments)
    columns = [c.name for c in table.columns]
    write_statement(
        conn,
        statement,
        {f"c{i}": array_literal([r[name] for r in ordered]) for i, name in enumerate(columns)},
    )


def array_literal(values: Sequence[Any]) -> str | list[Any]:
    """A PostgreSQL array literal (``{"a",NULL}``, ``{1,2}``) of strings, integers, NULLs.

    Written here in one join: the driver's list adaptation walks every element in Python
    and was a tenth of a paid order's time. Anything else (a quote or backslash in a
    string, another type) is left to the driver.
    """
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(v) is str and '"' not in v and "\\" not in v for v in values):
        return '{"' + '","'.join(values) + '"}'
    if all(
        v is None or type(v) is int or (type(v) is str and '"' not in v and "\\" not in v)
        for v in values
    ):
        return "{" + ",".join(_element(v) for v in values) + "}"
    return list(values)


def _element(value: str | int | None) -> str:
    if value is None:
        return "NULL"
    return str(value) if type(value) is int else f'"{value}"'


@cache
def _unnest_statement(
    dialect: Dialect, table: Table, key: tuple[str, ...], increments: tuple[str, ...]
) -> TextClause:
    quote = dialect.identifier_preparer.quote
    names = [quote(c.name) for c in table.columns]
    arrays = ", ".join(
        f"CAST(:c{i} AS {c.type.compile(dialect=dialect)}[])" for i, c in enumerate(table.columns)
    )
    updates = ", ".join(
        f"{quote(c)} = {quote(table.name)}.{quote(c)} + excluded.{quote(c)}" for c in increments
    )
    action = f"DO UPDATE SET {updates}" if increments else "DO NOTHING"
    return text(
        f"INSERT INTO {quote(table.name)} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in key)}) {action}"
    )
