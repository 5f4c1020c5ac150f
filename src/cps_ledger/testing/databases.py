"""Throw-away databases on real servers, for tests (ours and our users').

Each test session creates its own database with a random name and drops it afterwards, so
parallel runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from cps_ledger.adapters.engine import make_engine, mask_url, normalize_url
from cps_ledger.adapters.schema import upgrade

POSTGRES_SERVER_URL: Final = os.environ.get(
    "CPS_LEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_SERVER_URL: Final = os.environ.get(
    "CPS_LEDGER_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"
)


class ServerUnavailableError(Exception):
    """The database server for a backend could not be reached."""


def server_url(backend: str) -> URL:
    """The administrative URL of the test server for ``backend``."""
    raw = POSTGRES_SERVER_URL if backend == "postgresql" else MARIADB_SERVER_URL
    return normalize_url(raw)


def probe(backend: str) -> str | None:
    """None if the server answers, else the reason it does not."""
    engine = make_engine(server_url(backend))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return (
            f"{backend} at {mask_url(server_url(backend))} is unreachable: {exc.__class__.__name__}"
        )
    finally:
        engine.dispose()
    return None


@contextmanager
def temporary_database(backend: str, *, migrate: bool = True) -> Iterator[URL]:
    """Create a fresh database on ``backend``'s server, yield its URL, drop it afterwards."""
    admin_url = server_url(backend)
    name = f"cps_test_{secrets.token_hex(6)}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
    except (SQLAlchemyError, OSError) as exc:
        admin.dispose()
        raise ServerUnavailableError(str(exc)) from exc
    url = admin_url.set(database=name)
    try:
        if migrate:
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def sqlite_url(path: str) -> URL:
    """A SQLite URL for a file path."""
    return normalize_url(f"sqlite:///{path}")


def migrated(url: URL | str) -> Engine:
    """An engine on ``url`` after applying every migration."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
