"""The pytest plugin, used the way a backend team uses it: in a project of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
from cps_ledger.domain.events import parse_event
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import Submitted, ingest
from cps_ledger.services.ledger import account_balance, trial_balance

def events(book):
    at = "2026-10-01T10:00:00+08:00"
    return [
        {"type": "promoter_registered", "book": book, "promoter": "p1", "at": at},
        {"type": "share_link_created", "book": book, "link": "L1", "promoter": "p1", "at": at},
        {"type": "order_paid", "book": book, "order": "o1", "link": "L1", "paid_at": at,
         "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 10000}]},
    ]

def test_an_order_in_the_ready_book(cps_ledger, cps_book):
    raw = events(cps_book)
    outcomes = list(ingest(cps_ledger.engine, [Submitted(i, parse_event(e), e) for i, e in enumerate(raw)]))
    assert [o.status.value for o in outcomes] == ["applied"] * 3
    # 10000 x 0.03 = 300 -> promoter 240, platform 30 + 30 (no upline)
    assert account_balance(cps_ledger.engine, cps_book, "promoter:p1:estimated").balance_minor == 240
    assert audit(cps_ledger.engine, cps_book).ok

def test_a_second_test_starts_from_a_clean_database(cps_ledger):
    with cps_ledger.engine.connect() as conn:
        from sqlalchemy import text
        assert conn.execute(text("SELECT count(*) FROM books")).scalar_one() == 0
"""


def test_the_fixtures_give_each_test_a_migrated_clean_ledger_and_a_ready_book(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_conftest_can_override_the_book_file(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from cps_ledger.testing import DEFAULT_BOOK_TOML

@pytest.fixture
def cps_book_toml():
    return DEFAULT_BOOK_TOML.replace('rate = "0.03"', 'rate = "0.10"')
"""
    )
    pytester.makepyfile(
        test_user=USER_TESTS.replace("== 240", "== 800").replace(
            "def test_a_second_test", "def _unused"
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def books_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM books").fetchone()[0])


def test_the_url_option_runs_every_test_on_the_users_database(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    database = tmp_path / "theirs.sqlite3"
    pytester.makepyfile(test_user=USER_TESTS.replace("== 0", ">= 1"))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--cps-ledger-url=sqlite:///{database}")
    result.assert_outcomes(passed=2)
    assert books_in(database) == 1  # migrated there, and the book stayed: books isolate tests


def test_the_environment_variable_names_the_database_too(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "env.sqlite3"
    monkeypatch.setenv("CPS_LEDGER_TEST_DATABASE_URL", f"sqlite:///{database}")
    pytester.makepyfile(test_user=USER_TESTS.replace("== 0", ">= 1"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert books_in(database) == 1


def test_the_option_is_listed_in_pytest_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--cps-ledger-url*"])
