"""The raw baseline: the same rows written with the driver's fastest bulk path.

The rows are read back from what the library wrote for one book and re-inserted under
another book code, on the same database in the same run: PostgreSQL through psycopg COPY,
SQLite through sqlite3 ``executemany``, MariaDB through PyMySQL ``executemany`` (which it
rewrites into multi-row INSERTs). Only the writes and their commits are timed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Engine

from cps_ledger.adapters import cps_tables as _cps_tables  # noqa: F401  (registers the CPS tables)
from cps_ledger.adapters.tables import Base

ROWS_PER_COMMIT: Final = 5000


def reinsert(
    engine: Engine, tables: Sequence[str], src_book: str, dst_book: str
) -> tuple[int, float]:
    """Copy ``src_book``'s rows of ``tables`` to ``dst_book``; (rows written, seconds)."""
    name = engine.dialect.name
    quote = engine.dialect.identifier_preparer.quote
    reader = engine.raw_connection()
    writer = engine.raw_connection()
    rows_total, seconds = 0, 0.0
    try:
        for tname in tables:
            cols = [c.name for c in Base.metadata.tables[tname].columns]
            book_at = cols.index("book")
            col_sql = ", ".join(quote(c) for c in cols)
            mark = "?" if name == "sqlite" else "%s"
            cur = _streaming_cursor(reader, name)
            cur.execute(f"SELECT {col_sql} FROM {quote(tname)} WHERE book = {mark}", (src_book,))
            while chunk := cur.fetchmany(ROWS_PER_COMMIT):
                rows = [(*r[:book_at], dst_book, *r[book_at + 1 :]) for r in chunk]
                start = time.perf_counter()
                _write(
                    writer, name, table=quote(tname), col_sql=col_sql, width=len(cols), rows=rows
                )
                writer.commit()
                seconds += time.perf_counter() - start
                rows_total += len(rows)
            cur.close()
            reader.commit()
    finally:
        reader.close()
        writer.close()
    return rows_total, seconds


def _streaming_cursor(conn: Any, name: str) -> Any:
    if name == "postgresql":
        return conn.driver_connection.cursor(name="bench_reader")
    if name in ("mysql", "mariadb"):
        import pymysql.cursors  # noqa: PLC0415  (late: may be absent)

        return conn.driver_connection.cursor(pymysql.cursors.SSCursor)
    return conn.cursor()


def _write(
    conn: Any, name: str, *, table: str, col_sql: str, width: int, rows: list[tuple[Any, ...]]
) -> None:
    if name == "postgresql":
        with (
            conn.driver_connection.cursor() as cur,
            cur.copy(f"COPY {table} ({col_sql}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    mark = "?" if name == "sqlite" else "%s"
    cur = conn.cursor()
    if name == "sqlite":
        # The engine runs pysqlite in autocommit mode; without BEGIN each row would commit.
        cur.execute("BEGIN")
    cur.executemany(f"INSERT INTO {table} ({col_sql}) VALUES ({', '.join([mark] * width)})", rows)
    cur.close()
