"""Rows written through one JSON text store exactly what SQLAlchemy statements store.

SQLite ingest hands each table's rows to ``json_each`` as one JSON text, with the columns
that hold one value in every row bound once (adapters/json_rows.py). Whatever the values
(any text, integers of any size, nulls, constant or not), inserting, inserting what is
missing, adding to counters and updating must leave the same values of the same SQLite
types as the plain statements, which are the reference here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    create_engine,
    insert,
    update,
)
from sqlalchemy.dialects import sqlite

from cps_ledger.adapters.json_rows import JsonRows, ManyRows, TableWrite, kept

INT64 = 2**63 - 1


def _table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("k", Text, primary_key=True),
        Column("n", Integer, nullable=False),
        Column("s", Text, nullable=True),
        Column("b", BigInteger, nullable=True),
    )


METADATA = MetaData()
OURS, REFERENCE = _table(METADATA, "ours"), _table(METADATA, "reference")
COLUMNS = ("k", "n", "s", "b")

texts = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates
ints = st.integers(-INT64, INT64) | st.integers(-(2**53), 2**53)


@st.composite
def row_sets(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Rows with distinct keys; each other column is sometimes one value in every row."""
    keys = draw(st.lists(texts, min_size=1, max_size=8, unique=True))
    constant = draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    values = [ints, st.none() | texts, st.none() | ints]
    fixed = [draw(v) for v in values]
    return [
        (key, *(fixed[i] if constant[i] else draw(values[i]) for i in range(3))) for key in keys
    ]


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def ours(conn: Connection, write: TableWrite, rows: list[tuple[Any, ...]]) -> None:
    statement = kept(conn.dialect, write, rows)
    assert isinstance(statement, JsonRows | ManyRows)
    statement.run(conn)


def stored(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    name = table.name
    return [
        tuple(r)
        for r in conn.exec_driver_sql(
            f"SELECT k, typeof(n), n, typeof(s), s, typeof(b), b FROM {name} ORDER BY k"
        )
    ]


def dicts(rows: list[tuple[Any, ...]], names: tuple[str, ...] = COLUMNS) -> list[dict[str, Any]]:
    return [dict(zip(names, r, strict=True)) for r in rows]


@given(rows=row_sets(), more=row_sets(), changes=row_sets())
@example(  # a NUL in a text, a float's worth of integer, every column the same
    rows=[("a\x00", 2**53, "x\x00y", None), ("b", 2**53, "x\x00y", None)],
    more=[("a\x00", 1, None, 1), ("c", -(2**63), "", 2**63 - 1)],
    changes=[("b", 5, "z", None), ("c", 7, None, 3)],
)
def test_every_write_stores_what_the_plain_statements_store(
    conn: Connection,
    rows: list[tuple[Any, ...]],
    more: list[tuple[Any, ...]],
    changes: list[tuple[Any, ...]],
) -> None:
    for table in (OURS, REFERENCE):
        conn.execute(table.delete())

    ours(conn, TableWrite(OURS, "insert"), rows)
    conn.execute(insert(REFERENCE), dicts(rows))
    assert stored(conn, OURS) == stored(conn, REFERENCE)

    ours(conn, TableWrite(OURS, "insert_missing"), more)
    conn.execute(sqlite.insert(REFERENCE).on_conflict_do_nothing(), dicts(more))
    assert stored(conn, OURS) == stored(conn, REFERENCE)

    small = [(k, n % 1000, s, None if b is None else b % 1000) for k, n, s, b in changes]
    ours(conn, TableWrite(OURS, "add", ("k",), ("n", "b")), small)
    reference_add = sqlite.insert(REFERENCE)
    conn.execute(
        reference_add.on_conflict_do_update(
            index_elements=["k"],
            set_={c: REFERENCE.c[c] + reference_add.excluded[c] for c in ("n", "b")},
        ),
        dicts(small),
    )
    assert stored(conn, OURS) == stored(conn, REFERENCE)

    updates = [(k, s, b) for k, _, s, b in changes]
    ours(conn, TableWrite(OURS, "update", ("k",), ("s", "b")), updates)
    conn.execute(
        update(REFERENCE)
        .where(REFERENCE.c.k == bindparam("key"))
        .values(s=bindparam("new_s"), b=bindparam("new_b")),
        dicts(updates, ("key", "new_s", "new_b")),
    )
    assert stored(conn, OURS) == stored(conn, REFERENCE)


def test_rows_json_would_change_go_by_executemany(conn: Connection) -> None:
    # SQLite's JSON would read 2**53 back as a float, and cut a text at a NUL.
    write = TableWrite(OURS, "insert")
    largest = 2**53 - 1
    assert isinstance(kept(conn.dialect, write, [("a", largest, "x", -largest)]), JsonRows)
    assert isinstance(kept(conn.dialect, write, [("a", 2**53, "x", None)]), ManyRows)
    assert isinstance(
        kept(conn.dialect, write, [("a", 1, "x", None), ("b", 1, "y", -(2**53))]), ManyRows
    )
    assert isinstance(kept(conn.dialect, write, [("a\x00b", 1, "x", None)]), ManyRows)
