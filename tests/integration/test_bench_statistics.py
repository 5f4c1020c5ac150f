"""The bench's ANALYZE: the tables named, each in its own transaction, on PostgreSQL only."""

from __future__ import annotations

from datetime import datetime

from bench.common import analyze, new_book
from bench.data import setup_events
from bench.ingesting import _run
from sqlalchemy import Engine, text

_LAST_ANALYZE = text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :name")


def _last_analyze(engine: Engine, table: str) -> datetime | None:
    with engine.connect() as conn:
        value = conn.execute(_LAST_ANALYZE, {"name": table}).scalar_one()
    assert value is None or isinstance(value, datetime)
    return value


def test_analyze_refreshes_the_tables_named_and_only_on_postgresql(engine: Engine) -> None:
    book = new_book(engine, "stats")
    _run(engine, setup_events(book, 60, seed=3))
    if engine.dialect.name != "postgresql":
        analyze(engine, ["promoters"])  # nothing to do, and no error
        return
    with engine.connect() as conn:
        before = conn.execute(text("SELECT now()")).scalar_one()
    analyze(engine, ["promoters", "share_links"])
    for table in ("promoters", "share_links"):
        last = _last_analyze(engine, table)
        assert last is not None
        assert last >= before
    with engine.connect() as conn:  # no transaction left open by the helper
        idle = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND state = 'idle in transaction'"
            )
        ).scalar_one()
    assert idle == 0
