"""Set or delete existing rows by their key, a batch at a time.

PostgreSQL: one statement joined to ``unnest`` of one array per key column, whatever the
number of rows. Elsewhere updates are an ``executemany`` of the one-row statement. Rows go in key
order, so that concurrent transactions lock them in one order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, TextClause, text

from cps_ledger.adapters.bulk import keep_rows, write_statement
from cps_ledger.adapters.dialect import array_literal
from cps_ledger.adapters.json_rows import TableWrite


def update_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    *,
    key: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    """Set ``columns`` of existing rows found by ``key``: rows are (key..., columns...) tuples
    of stored values (see ``bulk``), written in key order so locks are taken in one order.

    PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` for all rows. Elsewhere one
    ``executemany``.
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: r[: len(key)])
    if conn.dialect.name == "postgresql":
        statement = _unnest_update(conn.dialect, table, key, columns)
        write_statement(
            conn,
            statement,
            {
                f"c{i}": array_literal([r[i] for r in ordered])
                for i in range(len(key) + len(columns))
            },
        )
        return
    if conn.dialect.name == "sqlite" and keep_rows(
        conn, TableWrite(table, "update", key, columns), ordered
    ):
        return
    width = len(key)
    conn.exec_driver_sql(
        _update_sql(conn.dialect, table, key, columns),
        [(*r[width:], *r[:width]) for r in ordered],
    )


def delete_rows(
    conn: Connection, table: Table, keys: Sequence[tuple[Any, ...]], *, key: tuple[str, ...]
) -> None:
    """Delete the rows whose ``key`` columns equal one of ``keys`` (stored values): one
    ``DELETE ... USING unnest(arrays)``, on PostgreSQL only. Elsewhere a per-row
    ``executemany`` is what PyMySQL would send one row at a time, so callers delete by
    ``IN`` lists there (``settlement_due.settle_due``)."""
    if conn.dialect.name != "postgresql":
        raise NotImplementedError("keyed deletes are built for PostgreSQL's unnest")
    if not keys:
        return
    write_statement(
        conn,
        _unnest_delete(conn.dialect, table, key),
        {f"c{i}": array_literal([r[i] for r in sorted(keys)]) for i in range(len(key))},
    )


def _unnest_keys(dialect: Dialect, table: Table, names: tuple[str, ...]) -> str:
    arrays = ", ".join(
        f"CAST(:c{i} AS {table.c[name].type.compile(dialect=dialect)}[])"
        for i, name in enumerate(names)
    )
    aliases = ", ".join(f"v{i}" for i in range(len(names)))
    return f"unnest({arrays}) AS v({aliases})"


def _key_match(dialect: Dialect, table: Table, key: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    return " AND ".join(f"{quote(table.name)}.{quote(k)} = v.v{i}" for i, k in enumerate(key))


@cache
def _unnest_delete(dialect: Dialect, table: Table, key: tuple[str, ...]) -> TextClause:
    quote = dialect.identifier_preparer.quote
    return text(
        f"DELETE FROM {quote(table.name)} USING {_unnest_keys(dialect, table, key)}"
        f" WHERE {_key_match(dialect, table, key)}"
    )


@cache
def _unnest_update(
    dialect: Dialect, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> TextClause:
    quote = dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = v.v{len(key) + i}" for i, c in enumerate(columns))
    return text(
        f"UPDATE {quote(table.name)} SET {sets} FROM {_unnest_keys(dialect, table, (*key, *columns))}"
        f" WHERE {_key_match(dialect, table, key)}"
    )


@cache
def _update_sql(
    dialect: Dialect, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sets = ", ".join(f"{quote(c)} = {mark}" for c in columns)
    where = " AND ".join(f"{quote(k)} = {mark}" for k in key)
    return f"UPDATE {quote(table.name)} SET {sets} WHERE {where}"
