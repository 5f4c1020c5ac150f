"""Fixtures shared by the whole suite: one migrated database per backend per worker.

Tests isolate themselves by using fresh book codes, so a database is migrated once per
session instead of once per test. With CI=true a missing PostgreSQL or MariaDB fails the
run; on a laptop without them those tests skip and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from cps_ledger.adapters.engine import make_engine
from cps_ledger.testing.databases import (
    ServerUnavailableError,
    migrated,
    probe,
    sqlite_url,
    temporary_database,
)

BACKENDS = ("sqlite", "postgresql", "mariadb")
SERVER_BACKENDS = ("postgresql", "mariadb")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# CI explores the same examples on every run, so a red build is reproducible; developers'
# runs stay random and keep finding new ones.
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    print_blob=True,
    derandomize=True,
)
settings.load_profile("ci" if IN_CI else "default")


def _unavailable(backend: str, reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, URL]]:
    """Lazily created migrated databases, one per backend, for this worker's session."""
    holder = _LazyDatabases(tmp_path_factory.mktemp("db"))
    yield holder
    holder.close()


class _LazyDatabases(dict[str, URL]):
    """Creates a backend's database the first time a test asks for it."""

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self._contexts: list[AbstractContextManager[URL]] = []
        self._tmp = tmp

    def __missing__(self, backend: str) -> URL:
        if backend == "sqlite":
            url = sqlite_url(str(self._tmp / "suite.sqlite3"))
            migrated(url).dispose()
        else:
            reason = probe(backend)
            if reason is not None:
                _unavailable(backend, reason)
            context = temporary_database(backend)
            try:
                url = context.__enter__()
            except ServerUnavailableError as exc:
                _unavailable(backend, f"{backend}: {exc}")
                raise
            self._contexts.append(context)
        self[backend] = url
        return url

    def close(self) -> None:
        for context in reversed(self._contexts):
            context.__exit__(None, None, None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: the integration suite runs on all three."""
    return str(request.param)


@pytest.fixture(params=SERVER_BACKENDS)
def server_backend(request: pytest.FixtureRequest) -> str:
    """PostgreSQL and MariaDB: for what only the server databases must prove."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, database_url_for: dict[str, URL]) -> URL:
    """The migrated database of the current backend."""
    return database_url_for[backend]


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    """An engine on the current backend's migrated database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def book_code() -> str:
    """A book code no other test uses: tests isolate themselves by book."""
    return f"b{secrets.token_hex(5)}"
