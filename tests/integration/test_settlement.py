"""Settlement on every database: hand-computed figures, period cuts, order, replays, clawbacks.

The book is DESIGN §6's example: fee 10%, upline 10%, the sku rule at 20% (cap 5000) and a
default of 3%. Periods are cut in Asia/Shanghai (UTC+8).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from cps_ledger.adapters.tables import JournalEntryRow, table
from cps_ledger.domain.commands import CompletePayout, RequestPayout
from cps_ledger.errors import InsufficientAvailableError, InvalidAmountError, SettlementOrderError
from cps_ledger.services.audit import audit
from cps_ledger.services.balances import PromoterBalances, promoter_balances
from cps_ledger.services.ingest import Status
from cps_ledger.services.payouts import complete_payout, request_payout
from cps_ledger.services.settlement import settle
from tests.integration.test_ledger_core import row_counts
from tests.support.books import at, make_book, run, starter

NOW = datetime(2027, 6, 1, tzinfo=UTC)
"""Every period of these tests has ended by then."""
ENTRIES = table(JournalEntryRow)


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    return make_book(engine, book_code)


def order(book: str, order_id: str, amount_minor: int, *, link: str = "L1") -> dict[str, Any]:
    """A one-line order quoted by the default rule (3%), paid in October."""
    return {
        "type": "order_paid",
        "book": book,
        "order": order_id,
        "link": link,
        "paid_at": at(30),
        "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": amount_minor}],
    }


def completed(book: str, order_id: str, when: str) -> dict[str, Any]:
    return {"type": "order_completed", "book": book, "order": order_id, "at": when}


def refund(book: str, refund_id: str, order_id: str, line: str, amount: int, *, when: str) -> Any:
    return {
        "type": "refund",
        "book": book,
        "refund": refund_id,
        "order": order_id,
        "at": when,
        "lines": [{"line": line, "amount_minor": amount}],
    }


def ingest_ok(engine: Engine, *events: dict[str, Any]) -> None:
    outcomes = run(engine, *events)
    assert [o.error for o in outcomes if o.status is Status.REJECTED] == []


def balances(engine: Engine, book: str, promoter: str) -> PromoterBalances:
    return promoter_balances(engine, book, promoter)


def settlement_entries(engine: Engine, book: str) -> dict[str, int]:
    """Settlement entries per key: exactly-once means every count is 1."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.key, func.count())
            .where(ENTRIES.c.book == book, ENTRIES.c.kind == "settlement")
            .group_by(ENTRIES.c.key)
        )
        return {str(k): int(n) for k, n in rows}


def test_settlement_moves_each_partys_confirmed_commission_to_available(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    result = settle(engine, book, "2026-10", now=NOW)
    # p1: 3184 + 30 as promoter; p0: 398 + 4 as upline (see test_orders)
    assert (result.promoters, result.amount_minor, result.replayed) == (2, 3214 + 402, False)
    assert balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 3214, 0)
    assert balances(engine, book, "p0") == PromoterBalances("p0", 0, 0, 402, 0)
    assert settlement_entries(engine, book) == {
        f"settle:{book}:2026-10:p0": 1,
        f"settle:{book}:2026-10:p1": 1,
    }
    assert audit(engine, book).ok


def test_a_line_completed_at_235959_on_the_last_day_is_in_the_month_and_at_midnight_is_not(
    engine: Engine, book: str
) -> None:
    # 10000 x 3% = 300 -> [240, 30, 30]; 20000 x 3% = 600 -> [480, 60, 60]
    ingest_ok(
        engine,
        *starter(book)[:3],
        order(book, "late", 10000),
        order(book, "next", 20000),
        completed(book, "late", "2026-10-31T23:59:59+08:00"),
        completed(book, "next", "2026-11-01T00:00:00+08:00"),
    )
    october = settle(engine, book, "2026-10", now=NOW)
    assert (october.promoters, october.amount_minor) == (2, 240 + 30)
    assert balances(engine, book, "p1") == PromoterBalances("p1", 0, 480, 240, 0)
    november = settle(engine, book, "2026-11", now=NOW)
    assert (november.promoters, november.amount_minor) == (2, 480 + 60)
    assert balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 720, 0)
    assert balances(engine, book, "p0") == PromoterBalances("p0", 0, 0, 90, 0)


def test_an_order_not_completed_stays_estimated_and_is_not_settled(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book))
    result = settle(engine, book, "2026-10", now=NOW)
    assert (result.promoters, result.amount_minor) == (0, 0)
    assert balances(engine, book, "p1") == PromoterBalances("p1", 3214, 0, 0, 0)
    assert settlement_entries(engine, book) == {}


def test_a_line_completed_in_october_but_ingested_after_october_was_settled_lands_in_november(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book)[:3], order(book, "o2", 10000))
    assert settle(engine, book, "2026-10", now=NOW).amount_minor == 0
    ingest_ok(engine, completed(book, "o2", "2026-10-20T12:00:00+08:00"))
    november = settle(engine, book, "2026-11", now=NOW)
    assert (november.promoters, november.amount_minor) == (2, 270)
    assert set(settlement_entries(engine, book)) == {
        f"settle:{book}:2026-11:p0",
        f"settle:{book}:2026-11:p1",
    }
    assert balances(engine, book, "p1").available == 240


def test_rerunning_a_settled_period_returns_the_same_figures_and_writes_nothing(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    first = settle(engine, book, "2026-10", now=NOW)
    before = row_counts(engine)
    again = settle(engine, book, "2026-10", now=NOW)
    assert again == type(first)(book, "2026-10", 2, 3616, replayed=True)
    assert row_counts(engine) == before


def test_settling_a_period_that_has_not_ended_is_refused_and_writes_nothing(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    before = row_counts(engine)
    with pytest.raises(SettlementOrderError) as refused:
        settle(engine, book, "2026-10", now=datetime.fromisoformat("2026-10-31T23:59:59+08:00"))
    assert refused.value.period == "2026-10"
    assert refused.value.exit_code == 2
    assert row_counts(engine) == before
    # at 00:00 on the 1st the month is over
    ended = settle(engine, book, "2026-10", now=datetime.fromisoformat("2026-11-01T00:00+08:00"))
    assert ended.amount_minor == 3616


def test_settling_an_earlier_period_than_the_last_one_is_refused_but_skipping_ahead_is_not(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    skipped = settle(engine, book, "2026-12", now=NOW)  # October's lines settle in December
    assert skipped.amount_minor == 3616
    with pytest.raises(SettlementOrderError) as refused:
        settle(engine, book, "2026-11", now=NOW)
    assert "2026-12" in refused.value.reason
    assert settle(engine, book, "2026-12", now=NOW).replayed


def test_a_refund_after_settlement_claws_back_from_available_and_the_next_settlement_nets(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    settle(engine, book, "2026-10", now=NOW)
    request = RequestPayout(book=book, promoter="p1", amount_minor=3214, request_id="w1", at=NOW)
    request_payout(engine, request)
    # the whole sku line: p1 loses 3184, p0 398, from available (settled)
    ingest_ok(engine, refund(book, "r1", "o1", "1", 19900, when="2026-11-05T10:00:00+08:00"))
    assert balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, -3184, 3214)
    assert balances(engine, book, "p0").available == 4
    with pytest.raises(InsufficientAvailableError):
        request_payout(engine, request.model_copy(update={"request_id": "w2", "amount_minor": 100}))
    # 200000 x 3% = 6000 -> [4800, 600, 600]
    ingest_ok(engine, order(book, "o2", 200000), completed(book, "o2", "2026-11-10T10:00:00+08:00"))
    november = settle(engine, book, "2026-11", now=NOW)
    assert november.amount_minor == 4800 + 600  # gross: the clawback nets in the balance
    assert balances(engine, book, "p1").available == 4800 - 3184
    assert balances(engine, book, "p0").available == 4 + 600
    assert audit(engine, book).ok


def test_a_refund_after_a_completed_payout_then_the_next_settlement(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    settle(engine, book, "2026-10", now=NOW)
    request = RequestPayout(book=book, promoter="p1", amount_minor=3000, request_id="w1", at=NOW)
    request_payout(engine, request)
    complete_payout(engine, CompletePayout(book=book, request_id="w1", at=NOW))
    ingest_ok(engine, refund(book, "r1", "o1", "1", 19900, when="2026-11-05T10:00:00+08:00"))
    assert balances(engine, book, "p1") == PromoterBalances("p1", 0, 0, 214 - 3184, 0)
    ingest_ok(engine, order(book, "o2", 200000), completed(book, "o2", "2026-11-10T10:00:00+08:00"))
    settle(engine, book, "2026-11", now=NOW)
    assert balances(engine, book, "p1").available == 214 - 3184 + 4800
    assert audit(engine, book).ok


def test_a_refund_before_settlement_reduces_what_is_settled(engine: Engine, book: str) -> None:
    ingest_ok(
        engine,
        *starter(book),
        completed(book, "o1", at(60)),
        refund(book, "r1", "o1", "1", 5000, when=at(90)),
    )
    # remaining base 14900 x 0.20 = 2980 -> [2384, 298, 298]
    result = settle(engine, book, "2026-10", now=NOW)
    assert result.amount_minor == (2384 + 30) + (298 + 4)
    assert balances(engine, book, "p1").available == 2414


def test_progress_reports_the_promoters_done_after_each_batch(engine: Engine, book: str) -> None:
    registrations = [
        {"type": "promoter_registered", "book": book, "promoter": f"q{i}", "at": at(0)}
        for i in range(5)
    ]
    ingest_ok(engine, *starter(book), *registrations, completed(book, "o1", at(60)))
    seen: list[int] = []
    result = settle(engine, book, "2026-10", now=NOW, promoters_per_batch=2, progress=seen.append)
    assert seen == [2, 4, 6, 7]
    assert result.promoters == 2


def _web_of_uplines(book: str) -> list[dict[str, Any]]:
    """Twelve promoters, each under the one before (so an order's promoter and upline sit on
    different pages of two), with three completed orders each."""
    events: list[dict[str, Any]] = []
    for p in range(12):
        upline = {"upline": f"q{p - 1}"} if p else {}
        events.append(
            {
                "type": "promoter_registered",
                "book": book,
                "promoter": f"q{p}",
                "at": at(0),
                **upline,
            }
        )
        events.append(
            {
                "type": "share_link_created",
                "book": book,
                "link": f"{book}-{p}",
                "promoter": f"q{p}",
                "at": at(1),
            }
        )
    for p in range(12):
        for n in range(3):
            oid = f"w{p}-{n}"
            events += [
                order(book, oid, 1000 + 37 * p + n, link=f"{book}-{p}"),
                completed(book, oid, at(60)),
            ]
    return events


def test_pages_settled_side_by_side_settle_what_one_after_the_other_does(
    engine: Engine, book_code: str
) -> None:
    figures = []
    for workers, code in ((1, book_code + "s"), (4, book_code + "p")):
        make_book(engine, code)
        ingest_ok(engine, *_web_of_uplines(code))
        result = settle(engine, code, "2026-10", now=NOW, promoters_per_batch=2, workers=workers)
        per_promoter = {f"q{p}": balances(engine, code, f"q{p}").available for p in range(12)}
        figures.append((result.promoters, result.amount_minor, per_promoter))
        assert audit(engine, code).ok
    assert figures[0] == figures[1]
    assert all(amount > 0 for amount in figures[0][2].values())


def test_settle_refuses_a_worker_count_out_of_range(engine: Engine, book: str) -> None:
    with pytest.raises(InvalidAmountError, match="workers"):
        settle(engine, book, "2026-10", now=NOW, workers=0)


def test_audit_catches_an_order_whose_totals_differ_from_its_lines(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    assert audit(engine, book).ok
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET promoter_minor = promoter_minor + 1 WHERE book = :b"),
            {"b": book},
        )
    failed = {c.name: c.detail for c in audit(engine, book).failed()}
    assert list(failed) == ["order_totals_equal_lines"]
    assert "o1" in failed["order_totals_equal_lines"]


def _due(engine: Engine, book: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT party, side, order_id FROM settlement_due WHERE book = :b ORDER BY 1, 2"),
            {"b": book},
        )
        return [(str(p), str(s), str(o)) for p, s, o in rows]


def test_completion_makes_each_side_due_and_settlement_clears_exactly_those(
    engine: Engine, book: str
) -> None:
    ingest_ok(engine, *starter(book))
    assert _due(engine, book) == []  # paid, not completed: nothing to settle yet
    ingest_ok(engine, completed(book, "o1", at(60)))
    assert _due(engine, book) == [("p0", "upline", "o1"), ("p1", "promoter", "o1")]
    settle(engine, book, "2026-10", now=NOW)
    assert _due(engine, book) == []
    assert audit(engine, book).ok


def test_a_side_completed_after_the_period_stays_due_for_the_next(
    engine: Engine, book: str
) -> None:
    # Completed on 1 November (Shanghai), after October's end: October leaves it due.
    ingest_ok(engine, *starter(book), completed(book, "o1", "2026-11-01T00:00:00+08:00"))
    assert settle(engine, book, "2026-10", now=NOW).amount_minor == 0
    assert len(_due(engine, book)) == 2
    assert settle(engine, book, "2026-11", now=NOW).amount_minor > 0
    assert _due(engine, book) == []
    assert audit(engine, book).ok


@pytest.mark.parametrize(
    ("tamper", "detail"),
    [
        ("DELETE FROM settlement_due WHERE book = :b AND side = 'upline'", "o1/upline due, no row"),
        (
            "INSERT INTO settlement_due (book, party, side, order_id, completed_at)"
            " SELECT book, 'p9', 'promoter', order_id, completed_at FROM orders WHERE book = :b",
            "o1/promoter not due",
        ),
    ],
)
def test_audit_catches_due_rows_out_of_step_with_the_orders(
    engine: Engine, book: str, tamper: str, detail: str
) -> None:
    ingest_ok(engine, *starter(book), completed(book, "o1", at(60)))
    assert audit(engine, book).ok
    with engine.begin() as conn:
        conn.execute(text(tamper), {"b": book})
    failed = {c.name: c.detail for c in audit(engine, book).failed()}
    assert list(failed) == ["settlement_due_matches_orders"]
    assert detail in failed["settlement_due_matches_orders"]
