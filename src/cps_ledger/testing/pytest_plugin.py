"""pytest plugin (entry point ``pytest11``): fixtures for tests of cps_ledger books.

Installed with cps_ledger, so any test can ask for:

``cps_ledger``
    A ledger on a migrated database: an object with ``.engine`` (the
    ``cps_ledger.api.CpsLedger`` facade when it is available, else a :class:`LedgerHandle`).
    By default each test gets its own temporary SQLite file, so nothing leaks between tests.
    With ``--cps-ledger-url URL`` or ``CPS_LEDGER_TEST_DATABASE_URL`` every test uses that
    database (migrated once per session); the journal is append-only, so tests there keep
    apart by book code — which ``cps_book`` does for you.
``cps_book``
    The code of a ready book, fresh for every test (``t`` + 10 hex digits), applied from
    ``cps_book_toml``.
``cps_book_toml``
    The book file ``cps_book`` applies, ``{code}`` standing for the book code. Override
    this fixture in your ``conftest.py`` to test your own programme's rules.

This module imports neither hypothesis nor the test suite's helpers, so it loads in any
project that has pytest.
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cps_ledger.adapters.engine import make_engine
from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.services.books import apply_book
from cps_ledger.testing.databases import migrated, sqlite_url
from cps_ledger.testing.model import DEFAULT_BOOK_TOML

URL_OPTION: Final = "--cps-ledger-url"
URL_ENV: Final = "CPS_LEDGER_TEST_DATABASE_URL"
_TEMPLATE_NAME: Final = "template.sqlite3"


@dataclass(frozen=True, slots=True)
class LedgerHandle:
    """A migrated database for a test: its engine and URL (used until the facade exists)."""

    engine: Engine
    url: str

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--cps-ledger-url``."""
    group = parser.getgroup("cps_ledger", "cps_ledger fixtures")
    group.addoption(
        URL_OPTION,
        dest="cps_ledger_url",
        default=None,
        help=f"database for the cps_ledger fixture (default: ${URL_ENV}, else a temporary "
        "SQLite file per test). It is migrated; tests on it keep apart by book code.",
    )


def _user_url(config: pytest.Config) -> str | None:
    url: str | None = config.getoption("cps_ledger_url") or os.environ.get(URL_ENV)
    return url or None


@pytest.fixture(scope="session")
def _cps_ledger_session_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The user's database migrated once, or a migrated SQLite template to copy per test."""
    url = _user_url(request.config)
    if url is None:
        path = tmp_path_factory.mktemp("cps_ledger") / _TEMPLATE_NAME
        url = sqlite_url(str(path)).render_as_string(hide_password=False)
    migrated(url).dispose()  # disposing checkpoints SQLite's WAL into the file itself
    return url


def _open(url: str) -> Any:
    # The facade is preferred once it exists; imported by name so this module never needs it.
    try:
        api = importlib.import_module("cps_ledger.api")
    except ImportError:
        return LedgerHandle(make_engine(url), url)
    ledger = api.CpsLedger.open(url)
    return ledger if hasattr(ledger, "engine") else LedgerHandle(make_engine(url), url)


@pytest.fixture
def cps_ledger(
    request: pytest.FixtureRequest, _cps_ledger_session_url: str, tmp_path: Path
) -> Iterator[Any]:
    """A ledger on a migrated database with ``.engine``; see the module docstring."""
    url = _cps_ledger_session_url
    if _user_url(request.config) is None:
        # A copy of the migrated template: a clean database per test without re-migrating.
        copy = tmp_path / "cps_ledger.sqlite3"
        shutil.copyfile(str(make_url(url).database), copy)
        url = sqlite_url(str(copy)).render_as_string(hide_password=False)
    ledger = _open(url)
    try:
        yield ledger
    finally:
        close = getattr(ledger, "close", None)
        if callable(close):
            close()
        else:
            ledger.engine.dispose()


@pytest.fixture
def cps_book_toml() -> str:
    """The book file that ``cps_book`` applies; ``{code}`` is replaced by the book code."""
    return DEFAULT_BOOK_TOML


@pytest.fixture
def cps_book(cps_ledger: Any, cps_book_toml: str) -> str:
    """A fresh book applied from ``cps_book_toml``; returns its code."""
    code = f"t{secrets.token_hex(5)}"
    definition = parse_book_file(cps_book_toml.replace("{code}", code)).definition()
    apply_book(cps_ledger.engine, definition)
    return code
