"""The library runs under a PostgreSQL role that may only read and append to the journal.

The grants are the SQL block of docs/operations.md, executed as written (with this test's
role and database names), so the documented set-up is the one that is proven to work.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ProgrammingError

from cps_ledger.adapters.engine import make_engine
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import Status
from cps_ledger.services.ledger import trial_balance
from cps_ledger.services.settlement import settle
from cps_ledger.testing.databases import (
    ServerUnavailableError,
    probe,
    server_url,
    temporary_database,
)
from tests.support.books import at, make_book, run, starter

OPERATIONS_MD: Final = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
GRANTS_MARKER: Final = "<!-- least-privilege-grants -->"
JOURNAL: Final = frozenset({"journal_entries", "postings", "idempotency_keys"})
MUTABLE: Final = frozenset(
    {
        "accounts",
        "account_balances",
        "books",
        "rule_sets",
        "promoters",
        "share_links",
        "orders",
        "order_lines",
        "refund_lines",
        "settlements",
        "settlement_runs",
        "payouts",
    }
)
DELETABLE: Final = frozenset({"settlement_due"})
IN_CI: Final = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    # Same policy as tests/conftest.py: with CI=true a missing server fails the run.
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def documented_grants() -> list[str]:
    """The statements of the SQL block that follows the grants marker in operations.md."""
    doc = OPERATIONS_MD.read_text(encoding="utf-8")
    match = re.search(re.escape(GRANTS_MARKER) + r"\s*```sql\n(.*?)```", doc, re.DOTALL)
    assert match is not None, f"no ```sql block after {GRANTS_MARKER} in {OPERATIONS_MD}"
    lines = [ln for ln in match.group(1).splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.fixture
def owner_url() -> Iterator[URL]:
    """A fresh migrated PostgreSQL database, owned by the server's administrative role."""
    reason = probe("postgresql")
    if reason is not None:
        _unavailable(reason)
    try:
        with temporary_database("postgresql") as url:
            yield url
    except ServerUnavailableError as exc:
        _unavailable(f"postgresql: {exc}")


@pytest.fixture
def app_engine(owner_url: URL) -> Iterator[Engine]:
    """An engine logged in as a fresh role holding exactly the documented grants."""
    role = f"cps_app_{secrets.token_hex(4)}"
    admin = make_engine(server_url("postgresql"), isolation_level="AUTOCOMMIT")
    owner = make_engine(owner_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    app: Engine | None = None
    try:
        with owner.connect() as conn:
            for documented in documented_grants():
                statement = documented.replace(
                    "DATABASE cps_ledger", f'DATABASE "{owner_url.database}"'
                )
                conn.execute(text(re.sub(r"\bcps_app\b", f'"{role}"', statement)))
        # Trust authentication on 127.0.0.1: the role needs no password.
        app = make_engine(owner_url.set(username=role, password=None))
        yield app
    finally:
        if app is not None:
            app.dispose()
        with owner.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        owner.dispose()
        admin.dispose()


def _privileges(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = current_user AND table_schema = 'public'"
            )
        ).all()
    granted: dict[str, set[str]] = {}
    for table_name, privilege in rows:
        granted.setdefault(str(table_name), set()).add(str(privilege))
    return granted


def test_the_documented_role_holds_exactly_the_journal_and_mutable_grants(
    app_engine: Engine,
) -> None:
    granted = _privileges(app_engine)
    assert {t: granted.get(t) for t in JOURNAL} == {t: {"SELECT", "INSERT"} for t in JOURNAL}
    assert {t: granted.get(t) for t in MUTABLE} == {
        t: {"SELECT", "INSERT", "UPDATE"} for t in MUTABLE
    }
    assert {t: granted.get(t) for t in DELETABLE} == {
        t: {"SELECT", "INSERT", "DELETE"} for t in DELETABLE
    }
    assert set(granted) == JOURNAL | MUTABLE | DELETABLE


def test_the_library_books_orders_under_the_least_privilege_role(
    app_engine: Engine, book_code: str
) -> None:
    make_book(app_engine, book_code)
    events = [
        *starter(book_code),
        {"type": "order_completed", "book": book_code, "order": "o1", "at": at(60)},
        {
            "type": "refund",
            "book": book_code,
            "refund": "r1",
            "order": "o1",
            "at": at(90),
            "lines": [{"line": "1", "amount_minor": 5000}],
        },
    ]
    assert [o.status for o in run(app_engine, *events)] == [Status.APPLIED] * len(events)
    assert [o.status for o in run(app_engine, *events)] == [Status.REPLAYED] * len(events)

    balances = trial_balance(app_engine, book_code).by_account()
    # ¥199.00 at 20% = 3980, less ¥50.00 refunded: (19900 - 5000) x 20% = 2980, split 80/10/10;
    # the ¥12.50 default-rate line: round_half_up(1250 x 3%) = 38 -> 30 / 4 / 4.
    assert balances["promoter:p1:confirmed"] == -(2384 + 30)
    assert balances["promoter:p0:confirmed"] == -(298 + 4)
    assert balances["platform:fee_revenue"] == -(298 + 4)
    assert sum(balances.values()) == 0
    # Settlement marks the order and deletes its due rows under the same role.
    settled = settle(app_engine, book_code, "2026-10", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert settled.amount_minor == 2384 + 30 + 298 + 4
    report = audit(app_engine, book_code)
    assert report.ok, report.failed()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount_minor = amount_minor + 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET memo = 'rewritten'",
        "DELETE FROM idempotency_keys",
    ],
)
def test_rewriting_the_journal_is_refused_by_privileges(
    app_engine: Engine, book_code: str, statement: str
) -> None:
    make_book(app_engine, book_code)
    run(app_engine, *starter(book_code))
    with app_engine.connect() as conn, pytest.raises(ProgrammingError) as refused:
        conn.execute(text(statement))
    # The privilege check, not the append-only trigger (which would say "append-only").
    assert "permission denied for table" in str(refused.value)
    with app_engine.connect() as conn:
        postings = conn.execute(text("SELECT count(*) FROM postings")).scalar_one()
    assert postings > 0
