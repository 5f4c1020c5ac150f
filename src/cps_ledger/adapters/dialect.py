"""The few statements whose SQL differs per dialect: upserts and insert-if-missing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite

ROWS_PER_STATEMENT: Final = {"postgresql": 2000, "mysql": 2000, "mariadb": 2000, "sqlite": 400}
"""Rows per multi-row statement, under each driver's bound-parameter limit."""


def _chunks(rows: Sequence[Mapping[str, Any]], size: int) -> list[Sequence[Mapping[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def insert_missing(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key exists already."""
    if not rows:
        return
    name = conn.dialect.name
    for chunk in _chunks(rows, ROWS_PER_STATEMENT.get(name, 400)):
        if name == "postgresql":
            conn.execute(postgresql.insert(table).values(list(chunk)).on_conflict_do_nothing())
        elif name in ("mysql", "mariadb"):
            conn.execute(mysql.insert(table).values(list(chunk)).prefix_with("IGNORE"))
        else:
            conn.execute(sqlite.insert(table).values(list(chunk)).on_conflict_do_nothing())


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
    order and cannot deadlock on each other.
    """
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: tuple(r[k] for k in key))
    name = conn.dialect.name
    for chunk in _chunks(ordered, ROWS_PER_STATEMENT.get(name, 400)):
        if name == "postgresql":
            pg = postgresql.insert(table).values(list(chunk))
            conn.execute(
                pg.on_conflict_do_update(
                    index_elements=list(key),
                    set_={c: table.c[c] + pg.excluded[c] for c in increments},
                )
            )
        elif name in ("mysql", "mariadb"):
            my = mysql.insert(table).values(list(chunk))
            conn.execute(
                my.on_duplicate_key_update({c: table.c[c] + my.inserted[c] for c in increments})
            )
        else:
            lite = sqlite.insert(table).values(list(chunk))
            conn.execute(
                lite.on_conflict_do_update(
                    index_elements=list(key),
                    set_={c: table.c[c] + lite.excluded[c] for c in increments},
                )
            )
