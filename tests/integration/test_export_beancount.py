"""The beancount export: bean-check accepts it and beancount's balances equal ours."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from beancount.core.inventory import Inventory
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from cps_ledger.domain.accounts import ID_PATTERN
from cps_ledger.errors import UnknownBookError
from cps_ledger.services.export import (
    beancount_account,
    component_for_id,
    export_beancount,
    id_from_component,
    units,
)
from cps_ledger.services.ledger import trial_balance
from tests.integration.test_statements import settled_month
from tests.support.books import make_book, run, starter

BEAN_CHECK = Path(sys.executable).with_name("bean-check")
COMPONENT = r"^[A-Z0-9][A-Za-z0-9-]*$"


def export_to(engine: Engine, book: str, path: Path) -> str:
    with path.open("w", encoding="utf-8") as out:
        export_beancount(engine, book, out)
    return path.read_text(encoding="utf-8")


def beancount_balances(path: Path) -> dict[str, int]:
    """Each account's balance in minor units, summed by beancount from the exported file."""
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    inventories: dict[str, Inventory] = defaultdict(Inventory)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                assert posting.units is not None
                inventories[posting.account].add_amount(posting.units)
    balances = {}
    for account, inventory in inventories.items():
        number = sum((p.units.number for p in inventory if p.units.currency == "CNY"), Decimal(0))
        if number:
            balances[account] = int(number * 100)
    return balances


def test_the_export_of_a_generated_book_passes_bean_check_with_our_balances(
    engine: Engine, book_code: str, tmp_path: Path
) -> None:
    book = make_book(engine, book_code)
    settled_month(engine, book)
    path = tmp_path / "book.beancount"
    text = export_to(engine, book, path)
    check = subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    ours = {beancount_account(a): m for a, m in trial_balance(engine, book).by_account().items()}
    assert beancount_balances(path) == ours
    assert 'option "operating_currency" "CNY"' in text
    # The uppercase promoter P1 and the lowercase p1 keep separate accounts.
    assert "open Liabilities:Promoter:P--1:Estimated CNY ; code: promoter:P1:estimated" in text
    assert "open Liabilities:Promoter:P1:Estimated CNY ; code: promoter:p1:estimated" in text
    assert '  kind: "settlement"' in text


def test_an_order_becomes_one_transaction_dated_in_the_books_time_zone(
    engine: Engine, book_code: str
) -> None:
    book = make_book(engine, book_code)
    events = starter(book)
    events[-1] = events[-1] | {"paid_at": "2026-10-31T23:30:00+08:00"}  # 15:30 UTC
    run(engine, *events)
    out = io.StringIO()
    export_beancount(engine, book, out)
    transaction = out.getvalue().split("\n\n")[-1]
    assert transaction.splitlines() == [
        '2026-10-31 * "order:o1:paid"',
        '  key: "order:o1:paid"',
        '  kind: "order_paid"',
        '  effective_at: "2026-10-31T23:30:00+08:00"',
        "  Assets:Merchant:M1:Receivable:Estimated  39.80 CNY",
        "  Liabilities:Promoter:P1:Estimated  -32.14 CNY",
        "  Liabilities:Platform:Fee:Estimated  -4.02 CNY",
        "  Liabilities:Promoter:P0:Estimated  -4.02 CNY",
        "  Assets:Merchant:M2:Receivable:Estimated  0.38 CNY",
    ]
    assert "2026-10-31 open Assets:Merchant:M1:Receivable:Estimated CNY" in out.getvalue()


def test_exporting_an_unknown_book_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownBookError):
        export_beancount(engine, "no-such-book", io.StringIO())


def test_account_names_follow_the_five_roots() -> None:
    assert beancount_account("platform:fee_revenue") == "Income:Platform:FeeRevenue"
    assert beancount_account("platform:cash") == "Assets:Platform:Cash"
    assert beancount_account("platform:tax_payable") == "Liabilities:Platform:TaxPayable"
    assert (
        beancount_account("promoter:u_1.x@y:payout_pending")
        == "Liabilities:Promoter:U-5F1-2Ex-40y:PayoutPending"
    )
    assert beancount_account("merchant:100012:receivable") == "Assets:Merchant:100012:Receivable"


def test_units_shift_minor_units_by_the_currency_exponent() -> None:
    assert [units(n, "CNY") for n in (0, 1, -5, 3980, -100000)] == [
        "0.00", "0.01", "-0.05", "39.80", "-1000.00"
    ]  # fmt: skip
    assert (units(1234, "JPY"), units(1234, "KWD")) == ("1234", "1.234")


@given(st.from_regex(rf"^{ID_PATTERN}$", fullmatch=True))
def test_an_id_becomes_a_valid_component_that_decodes_back(text: str) -> None:
    component = component_for_id(text)
    assert re.match(COMPONENT, component), component
    assert id_from_component(component) == text


@given(st.lists(st.from_regex(rf"^{ID_PATTERN}$", fullmatch=True), min_size=2, max_size=2))
def test_distinct_ids_never_share_a_component(pair: list[str]) -> None:
    a, b = pair
    assert (component_for_id(a) == component_for_id(b)) == (a == b)


def test_amounts_carry_over_exactly() -> None:
    assert Decimal(units(10**15, "CNY")) * 100 == 10**15
