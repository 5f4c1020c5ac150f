"""The complete metadata (ledger core and CPS tables) and the migration entry points."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cps_ledger.adapters import cps_tables as _cps_tables  # noqa: F401  (registers tables)
from cps_ledger.adapters.tables import Base

metadata = Base.metadata


def migrations_dir() -> Path:
    """Where the alembic scripts are: inside the wheel, or the source checkout's migrations/."""
    packaged = Path(str(resources.files("cps_ledger"))) / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An alembic Config for ``engine``, usable without an alembic.ini file."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply migrations up to ``revision``; returns the revision the database is now at."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str:
    """The newest revision shipped with this version of cps_ledger."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    return head or ""
