"""Book reports on every database, figures checked by hand on a small book."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from cps_ledger.domain.commands import CompletePayout, RequestPayout
from cps_ledger.errors import InvalidAmountError, InvalidPeriodError, UnknownBookError
from cps_ledger.services.payouts import complete_payout, request_payout
from cps_ledger.services.reports import MerchantFigures, PromoterFigures, report, report_json
from cps_ledger.services.settlement import settle
from tests.integration.test_statements import NOVEMBER
from tests.support.books import at, make_book, run, starter


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    return make_book(engine, book_code)


def small_book(book: str) -> list[dict[str, Any]]:
    """o1 of the starter (p1 under p0), o2 cancelled, o3 through p0's own link (no upline).

    o1 line 1: 19900 x 0.20 = 3980 -> [3184, 398, 398]; line 2: 1250 x 0.03 = 38 -> [30, 4, 4],
    fully refunded before completion. o3: 10000 x 0.03 = 300 -> [240, 0, 60].
    """
    line = {"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 10000}
    return [
        *starter(book),
        {"type": "share_link_created", "book": book, "link": "L0", "promoter": "p0", "at": at(2)},
        {"type": "order_paid", "book": book, "order": "o2", "link": "L1", "paid_at": at(4),
         "lines": [line | {"amount_minor": 50000}]},
        {"type": "order_cancelled", "book": book, "order": "o2", "at": at(5)},
        {"type": "order_paid", "book": book, "order": "o3", "link": "L0", "paid_at": at(6),
         "lines": [line]},
        {"type": "refund", "book": book, "refund": "r1", "order": "o1", "at": at(7),
         "lines": [{"line": "2", "amount_minor": 1250}]},
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
        {"type": "order_completed", "book": book, "order": "o3", "at": at(61)},
        {"type": "merchant_payment", "book": book, "payment": "mp1", "merchant": "m1",
         "amount_minor": 1000, "at": at(62)},
    ]  # fmt: skip


def test_the_report_of_a_small_book_has_the_hand_computed_figures(
    engine: Engine, book: str
) -> None:
    run(engine, *small_book(book))
    settle(engine, book, "2026-10", now=NOVEMBER)
    r = report(engine, book, "2026-10")
    assert (r.orders, r.gmv_minor) == (2, 19900 + 1250 + 10000)
    assert (r.commission_original_minor, r.commission_minor) == (3980 + 38 + 300, 3980 + 300)
    assert r.platform_fee_minor == 398 + 60
    assert (r.refunds, r.refunds_minor, r.refunds_commission_minor) == (1, 1250, 38)
    assert (r.settled_promoters, r.settled_minor) == (2, 3184 + 398 + 240)
    assert (r.payouts, r.paid_out_minor, r.tax_withheld_minor) == (0, 0, 0)
    assert (r.clawback_promoters, r.clawbacks_outstanding_minor) == (0, 0)
    assert r.merchants == (
        MerchantFigures("m1", 19900 + 10000, 3980 + 300, 3980 + 300 - 1000, 0),
        MerchantFigures("m2", 1250, 0, 0, 0),
    )
    assert r.top_promoters == (PromoterFigures("p1", 3184, 2), PromoterFigures("p0", 638, 3))
    assert report(engine, book, "2026-10", top=1).top_promoters == r.top_promoters[:1]


def test_the_next_month_shows_the_payout_and_the_clawback_outstanding(
    engine: Engine, book: str
) -> None:
    run(engine, *small_book(book))
    settle(engine, book, "2026-10", now=NOVEMBER)
    cmd = RequestPayout(book=book, promoter="p1", amount_minor=3000, request_id="w1", at=NOVEMBER)
    request_payout(engine, cmd)
    complete_payout(engine, CompletePayout(book=book, request_id="w1", at=NOVEMBER))
    refund = {"type": "refund", "book": book, "refund": "r2", "order": "o1"}
    run(engine, refund | {"at": NOVEMBER.isoformat(), "lines": [{"line": "1", "amount_minor": 19900}]})  # fmt: skip
    november = report(engine, book, "2026-11")
    assert (november.orders, november.gmv_minor, november.commission_minor) == (0, 0, 0)
    assert (november.refunds, november.refunds_minor, november.refunds_commission_minor) == (
        1, 19900, 3980
    )  # fmt: skip
    assert (november.payouts, november.paid_out_minor, november.tax_withheld_minor) == (1, 3000, 0)
    # p1: settled 3184, paid out 3000, clawed back 3184 -> owes 3000; p0 keeps 638 - 398 = 240
    assert (november.clawback_promoters, november.clawbacks_outstanding_minor) == (1, 3000)
    assert november.merchants == (MerchantFigures("m1", 0, 0, 300 - 1000, 0),)
    assert november.top_promoters == ()
    october = report(engine, book, "2026-10")
    # October's orders keep their original commission; after refunds only o3 is left.
    assert (october.commission_original_minor, october.commission_minor) == (4318, 300)
    assert october.payouts == 0


def test_report_json_is_plain_json_with_money_as_ints(engine: Engine, book: str) -> None:
    run(engine, *small_book(book))
    doc = report_json(report(engine, book, "2026-10"))
    assert json.loads(json.dumps(doc)) == doc
    assert doc["gmv_minor"] == 31150
    assert doc["starts_at"] == "2026-10-01T00:00:00+08:00"
    assert doc["merchants"][0] == {
        "merchant": "m1",
        "gmv_minor": 29900,
        "commission_minor": 4280,
        "receivable_minor": 3280,
        "receivable_estimated_minor": 0,
    }
    assert doc["top_promoters"][1] == {"promoter": "p0", "commission_minor": 638, "lines": 3}


def test_an_empty_period_reports_zeros(engine: Engine, book: str) -> None:
    r = report(engine, book, "2030-01")
    assert (r.orders, r.gmv_minor, r.commission_minor, r.refunds, r.settled_minor) == (0,) * 5
    assert (r.merchants, r.top_promoters) == ((), ())


def test_a_bad_period_top_or_book_is_refused(engine: Engine, book: str) -> None:
    with pytest.raises(InvalidPeriodError):
        report(engine, book, "2026-1")
    with pytest.raises(InvalidAmountError, match="top"):
        report(engine, book, "2026-10", top=-1)
    with pytest.raises(UnknownBookError):
        report(engine, "no-such-book", "2026-10")
