"""Alembic environment for cps_ledger; shipped inside the wheel as cps_ledger/migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cps_ledger.adapters.engine import make_engine
from cps_ledger.adapters.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live connection: one handed in by cps_ledger, or one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("cps_ledger migrations run online only: use `cps-ledger db upgrade`")
run_migrations_online()
