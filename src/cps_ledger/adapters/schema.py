"""The complete metadata (ledger core and CPS tables) and the migration entry points.

alembic is imported only to migrate: it costs a third of a second, and every CLI command
checks the schema version, which a plain query and the scripts' own text answer as well.
"""

# ruff: noqa: PLC0415  (alembic is imported where a migration needs it: start-up time)

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, inspect, text

from cps_ledger.adapters import cps_tables as _cps_tables  # noqa: F401  (registers tables)
from cps_ledger.adapters.tables import Base

if TYPE_CHECKING:
    from alembic.config import Config

metadata = Base.metadata
VERSION_TABLE: Final = "alembic_version"
"""alembic's table holding the revision a database is at."""


def migrations_dir() -> Path:
    """Where the alembic scripts are: inside the wheel, or the source checkout's migrations/."""
    packaged = Path(str(resources.files("cps_ledger"))) / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An alembic Config for ``engine``, usable without an alembic.ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply migrations up to ``revision``; returns the revision the database is now at."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        heads = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        if len(heads) <= 1:
            return str(heads[0][0]) if heads else None
        from alembic.runtime.migration import MigrationContext

        # Unmerged branches in the database: alembic raises its own error for that.
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str:
    """The newest revision shipped with this version of cps_ledger."""
    heads = _script_heads(migrations_dir() / "versions")
    if len(heads) == 1:
        return heads[0]
    from alembic.script import ScriptDirectory

    # No scripts, several heads or a script we cannot read: alembic decides (or raises).
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    return head or ""


def _script_heads(versions: Path) -> list[str]:
    """The revisions no script names as its ``down_revision``; [] if a script is unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions.glob("*.py")):
        if script.name == "__init__.py" or script.name.startswith(".#"):
            continue  # alembic skips these too
        values = _assignments(script, ("revision", "down_revision"))
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or "down_revision" not in values:
            return []
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return []
    return sorted(revisions - parents)


def _assignments(script: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The literal values a script assigns at module level to ``names``."""
    found: dict[str, object] = {}
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return found
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                found[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError):
                continue
    return found
