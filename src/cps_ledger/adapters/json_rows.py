"""SQLite: a table's rows for one batch as one JSON text, written by one statement.

Why: ingest on SQLite writes a batch from a second thread while this one decides the next
(services/ingest_sqlite.py). pysqlite gives up the GIL around every ``sqlite3_step``, so an
``executemany`` of 10,000 rows asks for it back 10,000 times, each time waiting for the
deciding thread to let go of it: 27 ms of inserts took 27-39 s beside a busy thread
(docs/performance.md, finding 36). Given as one JSON array to ``json_each``, a table's rows
go in one step that runs in C without the GIL; the deciding thread holds the GIL only while
orjson writes the text.

What is stored is what binding the same tuples stores: ``->>`` gives a JSON string as
TEXT, an integer as INTEGER and null as NULL. orjson is held to 53-bit integers (amounts
are at most 10^15), and rows it refuses are written by ``executemany`` instead, so no value
is ever read back as a float; so are rows with a NUL character in a text, which SQLite's
JSON functions would cut there. A column that holds one value in every row (the book, a
currency, a rules version) is bound once and not read from the JSON: SQLite renders and
looks up a row's JSON once per column it reads from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Literal

import orjson
from sqlalchemy import Connection, Dialect, Table

SQLITE_JSON_MIN: Final = (3, 38, 0)
"""The first SQLite with the ``->>`` operator (and JSON built in)."""
STATEMENT_SHAPES_MAX: Final = 256
"""Statements kept per process: one per table write and set of columns bound once."""
_STRICT: Final = orjson.OPT_STRICT_INTEGER
_NUL: Final = b"\\u0000"


@dataclass(frozen=True, slots=True)
class TableWrite:
    """A set-based write of one table: ``insert``; ``insert_missing`` (rows whose primary
    key exists are skipped); ``add`` (``columns`` added to the row at ``key`` if there is
    one); ``update`` (``columns`` of the row at ``key`` set; rows are key..., columns...)."""

    table: Table
    kind: Literal["insert", "insert_missing", "add", "update"]
    key: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        if self.kind == "update":
            return len(self.key) + len(self.columns)
        return len(self.table.columns)


class JsonRows:
    """One statement over ``json_each`` of a batch's rows, kept to run later."""

    __slots__ = ("params", "statement")

    def __init__(self, statement: str, params: tuple[Any, ...]) -> None:
        self.statement = statement
        self.params = params

    def run(self, conn: Connection) -> None:
        conn.exec_driver_sql(self.statement, self.params)


class ManyRows:
    """An ``executemany`` kept to run later: rows that JSON cannot hold exactly."""

    __slots__ = ("rows", "statement")

    def __init__(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        self.statement = statement
        self.rows = rows

    def run(self, conn: Connection) -> None:
        conn.exec_driver_sql(self.statement, self.rows)


def kept(dialect: Dialect, write: TableWrite, rows: Sequence[Sequence[Any]]) -> JsonRows | ManyRows:
    """``rows`` (stored form, in the write's column order) as one statement to run later."""
    first = rows[0]
    # An update's key always comes from the JSON: with the book bound once, SQLite's planner
    # scanned the whole book's rows and looked each up in the JSON (a lifecycle of 100,000
    # events ran for minutes); keyed by the JSON, each row is one index search.
    keyed = len(write.key) if write.kind == "update" else 0
    # A column at a time, and the rows dumped as they are: rows rebuilt without the constant
    # columns were a tracked tuple each, and the collections they set off cost more than
    # the writer thread saved.
    hoisted = tuple(
        i
        for i, value in enumerate(first)
        if i >= keyed and list(map(itemgetter(i), rows)).count(value) == len(rows)
    )
    try:
        text = orjson.dumps(rows, option=_STRICT)
    except TypeError:
        text = _NUL  # a value JSON cannot hold exactly: the rows go by executemany
    if _NUL in text:  # SQLite's JSON functions would cut a text at a NUL character
        return ManyRows(_sql(dialect, write, None), [tuple(r) for r in rows])
    return JsonRows(_sql(dialect, write, hoisted), (text.decode(), *(first[i] for i in hoisted)))


@lru_cache(maxsize=STATEMENT_SHAPES_MAX)
def _sql(dialect: Dialect, write: TableWrite, hoisted: tuple[int, ...] | None) -> str:
    # hoisted None: the one-row form (?1, ?2, ...) for executemany. Otherwise ?1 is the JSON
    # of the other columns and ?2, ?3, ... the values of the hoisted ones.
    quote = dialect.identifier_preparer.quote
    name = quote(write.table.name)
    if hoisted is None:
        value = [f"?{i + 1}" for i in range(write.width)]
    else:
        row = "v.value" if write.kind == "update" else "value"
        value = [
            f"?{hoisted.index(i) + 2}" if i in hoisted else f"{row} ->> {i}"
            for i in range(write.width)
        ]
    if write.kind == "update":
        return _update(dialect, write, value, from_json=hoisted is not None)
    cols = ", ".join(quote(c.name) for c in write.table.columns)
    if hoisted is None:
        source = f"VALUES ({', '.join(value)})"
    else:
        source = f"SELECT {', '.join(value)} FROM json_each(?1) WHERE true"
    conflict = ""
    if write.kind == "insert_missing":
        conflict = " ON CONFLICT DO NOTHING"
    elif write.kind == "add":
        sets = ", ".join(f"{quote(c)} = {quote(c)} + excluded.{quote(c)}" for c in write.columns)
        conflict = f" ON CONFLICT ({', '.join(quote(k) for k in write.key)}) DO UPDATE SET {sets}"
    return f"INSERT INTO {name} ({cols}) {source}{conflict}"


def _update(dialect: Dialect, write: TableWrite, value: list[str], *, from_json: bool) -> str:
    quote = dialect.identifier_preparer.quote
    name = quote(write.table.name)
    width = len(write.key)
    sets = ", ".join(f"{quote(c)} = {value[width + i]}" for i, c in enumerate(write.columns))
    match = " AND ".join(f"{name}.{quote(k)} = {value[i]}" for i, k in enumerate(write.key))
    source = " FROM json_each(?1) AS v" if from_json else ""
    return f"UPDATE {name} SET {sets}{source} WHERE {match}"
