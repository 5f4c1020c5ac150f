"""The migrated schema is exactly the models on every database (nothing drifts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from cps_ledger.adapters.engine import make_engine
from cps_ledger.adapters.schema import alembic_config, metadata, upgrade
from cps_ledger.adapters.tables import JOURNAL_TABLES
from cps_ledger.testing.databases import probe, sqlite_url, temporary_database
from tests.conftest import IN_CI


def test_the_migrated_schema_equals_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_journal_table_has_book_first_in_its_primary_key(engine: Engine) -> None:
    inspector = inspect(engine)
    for name in metadata.tables:
        assert inspector.get_pk_constraint(name)["constrained_columns"][0] in ("book", "code"), name
    assert set(JOURNAL_TABLES) <= set(inspector.get_table_names())


def _fresh_url(backend: str, tmp_path: Path, stack: ExitStack) -> URL:
    if backend == "sqlite":
        return sqlite_url(str(tmp_path / "fresh.sqlite3"))
    reason = probe(backend)
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return stack.enter_context(temporary_database(backend, migrate=False))


@contextmanager
def _database_at(backend: str, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """A fresh database of ``backend`` migrated up to ``revision``, dropped afterwards."""
    with ExitStack() as stack:
        engine = make_engine(_fresh_url(backend, tmp_path, stack))
        stack.callback(engine.dispose)
        upgrade(engine, revision)
        yield engine


def _markers(engine: Engine, table: str) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT order_id, promoter_settled, upline_settled FROM {table} ORDER BY 1")
        )
        return [(str(o), p, u) for o, p, u in rows]


def test_settlement_markers_move_from_lines_to_orders_and_back(
    backend: str, tmp_path: Path
) -> None:
    with _database_at(backend, tmp_path, "0001") as engine:
        order = (
            "INSERT INTO orders (book, order_id, link, promoter, upline, state, rules_version,"
            " paid_at, completed_at, cancelled_at) VALUES ('b', :o, 'L', 'p', 'u', 'completed',"
            " 1, '2026-10-01 00:00:00.000000', '2026-10-02 00:00:00.000000', NULL)"
        )
        line = (
            "INSERT INTO order_lines (book, order_id, line, merchant, sku, category, quantity,"
            " amount_minor, refunded_minor, promoter, upline, rule, rule_version, rate, cap_minor,"
            " weight_promoter, weight_upline, weight_platform, explanation, commission_minor,"
            " promoter_minor, upline_minor, platform_minor, promoter_settled, upline_settled)"
            " VALUES ('b', :o, :l, 'm', NULL, NULL, 1, 100, 0, 'p', 'u', 'default', 1, '0.1',"
            " NULL, '0.8', '0.1', '0.1', '', 10, 8, 1, 1, :ps, :us)"
        )
        with engine.begin() as conn:
            for o, ps, us in (
                ("o1", "2026-10", None),
                ("o2", "2026-10", "2026-11"),
                ("o3", None, None),
            ):
                conn.execute(text(order), {"o": o})
                for ln in ("1", "2"):
                    conn.execute(text(line), {"o": o, "l": ln, "ps": ps, "us": us})
        expected = [("o1", "2026-10", None), ("o2", "2026-10", "2026-11"), ("o3", None, None)]

        upgrade(engine)
        assert _markers(engine, "orders") == expected
        with engine.connect() as conn:
            totals = conn.execute(
                text("SELECT promoter_minor, upline_minor, line_count FROM orders")
            ).all()
        assert [tuple(t) for t in totals] == [(16, 2, 2)] * 3
        command.downgrade(alembic_config(engine), "0001")
        assert _markers(engine, "order_lines") == [row for row in expected for _ in ("1", "2")]
        upgrade(engine)
        assert _markers(engine, "orders") == expected


def _due(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT party, side, order_id FROM settlement_due ORDER BY 3, 2"))
        return [(str(p), str(s), str(o)) for p, s, o in rows]


def test_unsettled_sides_of_completed_orders_become_due_rows(backend: str, tmp_path: Path) -> None:
    with _database_at(backend, tmp_path, "0002") as engine:
        order = (
            "INSERT INTO orders (book, order_id, link, promoter, upline, state, rules_version,"
            " paid_at, completed_at, cancelled_at, promoter_settled, upline_settled,"
            " promoter_minor, upline_minor, line_count) VALUES ('b', :o, 'L', 'p', :u, :s, 1,"
            " '2026-10-01 00:00:00.000000', :c, NULL, :ps, :us, 8, 1, 1)"
        )
        done = "2026-10-02 00:00:00.000000"
        with engine.begin() as conn:
            for o, upline, state, completed, ps, us in (
                ("o1", "u", "completed", done, None, None),  # both sides due
                ("o2", "u", "completed", done, "2026-10", None),  # the upline's only
                ("o3", None, "completed", done, None, None),  # no upline: one side
                ("o4", "u", "completed", done, "2026-10", "2026-10"),  # settled
                ("o5", "u", "paid", None, None, None),  # not completed
                ("o6", "u", "cancelled", None, None, None),
            ):
                conn.execute(
                    text(order),
                    {"o": o, "u": upline, "s": state, "c": completed, "ps": ps, "us": us},
                )
        expected = [
            ("p", "promoter", "o1"),
            ("u", "upline", "o1"),
            ("u", "upline", "o2"),
            ("p", "promoter", "o3"),
        ]

        upgrade(engine)
        assert _due(engine) == expected
        if backend == "postgresql":  # room on each page for completion and marks in place
            with engine.connect() as conn:
                options = conn.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = 'orders'")
                ).scalar_one()
            assert options == ["fillfactor=85"]
        command.downgrade(alembic_config(engine), "0002")
        assert "settlement_due" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert _due(engine) == expected
