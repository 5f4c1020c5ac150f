"""The migrated schema is exactly the models on every database (nothing drifts)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from cps_ledger.adapters.schema import metadata
from cps_ledger.adapters.tables import JOURNAL_TABLES


def test_the_migrated_schema_equals_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_journal_table_has_book_first_in_its_primary_key(engine: Engine) -> None:
    inspector = inspect(engine)
    for name in metadata.tables:
        assert inspector.get_pk_constraint(name)["constrained_columns"][0] in ("book", "code"), name
    assert set(JOURNAL_TABLES) <= set(inspector.get_table_names())
