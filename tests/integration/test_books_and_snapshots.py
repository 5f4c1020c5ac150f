"""Books and rules versions, and the snapshot that keeps accrued money fixed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.errors import BookFileError, UplineError
from cps_ledger.services.books import apply_book
from cps_ledger.services.ledger import account_balance
from cps_ledger.services.promoters import change_upline
from tests.support.books import BOOK_TOML, at, make_book, run, starter


def bal(engine: Engine, book: str, account: str) -> int:
    return account_balance(engine, book, account).balance_minor


def test_applying_a_book_file_reports_changed_only_when_the_rules_change(
    engine: Engine, book_code: str
) -> None:
    first = apply_book(engine, parse_book_file(BOOK_TOML.format(code=book_code)).definition())
    assert (first.rules_version, first.changed) == (1, True)
    same = apply_book(engine, parse_book_file(BOOK_TOML.format(code=book_code)).definition())
    assert (same.rules_version, same.changed) == (1, False)
    cheaper = BOOK_TOML.replace('rate = "0.03"', 'rate = "0.02"')
    changed = apply_book(engine, parse_book_file(cheaper.format(code=book_code)).definition())
    assert (changed.rules_version, changed.changed) == (2, True)


def test_the_time_zone_of_an_existing_book_cannot_change(engine: Engine, book_code: str) -> None:
    make_book(engine, book_code)
    moved = BOOK_TOML.replace("Asia/Shanghai", "Europe/Berlin")
    with pytest.raises(BookFileError) as caught:
        apply_book(engine, parse_book_file(moved.format(code=book_code)).definition())
    assert caught.value.field == "book.timezone"


def test_a_new_rules_version_never_changes_money_already_accrued(
    engine: Engine, book_code: str
) -> None:
    book = make_book(engine, book_code)
    run(engine, *starter(book))
    apply_book(
        engine,
        parse_book_file(
            BOOK_TOML.replace('"0.20"', '"0.50"').replace('"0.03"', '"0.01"').format(code=book)
        ).definition(),
    )
    run(
        engine,
        {
            "type": "refund",
            "book": book,
            "refund": "r1",
            "order": "o1",
            "at": at(9),
            "lines": [{"line": "1", "amount_minor": 9900}],
        },
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
    )
    # still the snapshotted 0.20 and 0.03: 10000 x 0.20 = 2000 -> [1600, 200, 200]; line 2 -> [30, 4, 4]
    assert bal(engine, book, "promoter:p1:confirmed") == 1600 + 30
    assert bal(engine, book, "merchant:m1:receivable") == 2000


def test_a_new_upline_takes_only_orders_paid_after_the_move(engine: Engine, book_code: str) -> None:
    book = make_book(engine, book_code)
    run(
        engine,
        *starter(book),
        {"type": "promoter_registered", "book": book, "promoter": "p2", "at": at(4)},
    )
    change_upline(engine, book, "p1", "p2")
    order2 = {**starter(book)[3], "order": "o2", "paid_at": at(5)}
    run(engine, order2, {"type": "order_completed", "book": book, "order": "o1", "at": at(60)})
    assert bal(engine, book, "promoter:p0:confirmed") == 402  # o1 keeps its snapshotted upline
    assert bal(engine, book, "promoter:p2:estimated") == 402  # o2 pays the new upline


def test_an_upline_move_that_would_close_a_cycle_is_refused(engine: Engine, book_code: str) -> None:
    book = make_book(engine, book_code)
    run(engine, *starter(book))
    with pytest.raises(UplineError):
        change_upline(engine, book, "p0", "p1")
