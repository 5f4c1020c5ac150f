"""Promoter statements on every database: they reconcile with the balances."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cps_ledger.domain.commands import CompletePayout, RequestPayout
from cps_ledger.domain.periods import Period
from cps_ledger.errors import InvalidPeriodError, UnknownPromoterError
from cps_ledger.services.ingest import Status
from cps_ledger.services.ledger import account_balance
from cps_ledger.services.payouts import complete_payout, request_payout
from cps_ledger.services.settlement import settle
from cps_ledger.services.statement_format import STATEMENT_COLUMNS, statement_json, statement_rows
from cps_ledger.services.statements import Statement, statement
from tests.support.books import at, make_book, run, starter

OCTOBER_END = Period(2026, 10).end("Asia/Shanghai")
NOVEMBER = datetime(2026, 11, 2, tzinfo=UTC)
PROMOTERS = ("p0", "p1", "p2", "P1", "q_3")
MERCHANTS = ("m1", "m2", "Big.Shop")


def generated_month(book: str, *, seed: int = 7, orders: int = 40) -> list[dict[str, Any]]:
    """A month of a small programme in October 2026: promoters with uplines, orders,
    completions, cancellations, partial and full refunds, and a merchant payment."""
    rng = random.Random(seed)
    ev: list[dict[str, Any]] = []
    uplines = {"p0": None, "p1": "p0", "p2": "p0", "P1": "p1", "q_3": None}
    for i, (p, up) in enumerate(uplines.items()):
        reg = {"type": "promoter_registered", "book": book, "promoter": p, "at": at(i)}
        ev.append(reg | ({"upline": up} if up else {}))
        ev.append(
            {
                "type": "share_link_created",
                "book": book,
                "link": f"L{i}",
                "promoter": p,
                "at": at(i),
            }
        )
    later: list[tuple[int, dict[str, Any]]] = []
    for n in range(1, orders + 1):
        paid = 60 + n * 600  # every 10 hours from 2026-10-01 11:00 (Shanghai)
        lines: list[dict[str, Any]] = [
            {
                "line": str(k),
                "merchant": rng.choice(MERCHANTS),
                "quantity": rng.randint(1, 3),
                "amount_minor": rng.choice([0, 99, 1250, 19900, 33333, 250000]),
            }
            | ({"sku": "100012043978"} if rng.random() < 0.3 else {})
            for k in range(1, rng.randint(1, 3) + 1)
        ]
        order = {"book": book, "order": f"o{n}"}
        ev.append(
            {"type": "order_paid", **order, "link": f"L{rng.randrange(len(uplines))}",
             "paid_at": at(paid), "lines": lines}
        )  # fmt: skip
        fate = rng.random()
        if fate < 0.1:
            later.append((paid + 30, {"type": "order_cancelled", **order, "at": at(paid + 30)}))
            continue
        if fate < 0.35 and lines[0]["amount_minor"] > 0:
            refund = {"type": "refund", **order, "refund": f"r{n}", "at": at(paid + 45)}
            part = {"line": "1", "amount_minor": rng.randint(1, lines[0]["amount_minor"])}
            later.append((paid + 45, refund | {"lines": [part]}))
        if fate < 0.8:
            later.append((paid + 120, {"type": "order_completed", **order, "at": at(paid + 120)}))
    ev += [e for _, e in sorted(later, key=lambda x: x[0])]
    return ev


def settled_month(engine: Engine, book: str) -> None:
    """The generated month, settled, with a payout and a merchant payment in November."""
    outcomes = run(engine, *generated_month(book))
    assert {o.status for o in outcomes} == {Status.APPLIED}, [o.error for o in outcomes]
    settle(engine, book, "2026-10", now=NOVEMBER)
    receivable = account_balance(engine, book, "merchant:m1:receivable").balance_minor
    payment = {"type": "merchant_payment", "book": book, "payment": "mp1", "merchant": "m1"}
    assert run(engine, payment | {"amount_minor": receivable // 2 + 1, "at": at(50000)})[0].status
    available = account_balance(engine, book, "promoter:p1:available").balance_minor
    if available >= 100:
        cmd = RequestPayout(
            book=book, promoter="p1", amount_minor=available // 2, request_id="w1", at=NOVEMBER
        )
        request_payout(engine, cmd)
        complete_payout(engine, CompletePayout(book=book, request_id="w1", at=NOVEMBER))


@pytest.fixture
def book(engine: Engine, book_code: str) -> str:
    return make_book(engine, book_code)


def assert_reconciles(engine: Engine, s: Statement) -> None:
    """opening + movements = closing, and closing is the balance as of the period's end."""
    last_instant = s.ends_at - timedelta(microseconds=1)
    for a in s.accounts:
        assert a.opening_minor + a.movement_minor == a.closing_minor, a
        as_of = account_balance(engine, s.book, a.account, as_of=last_instant)
        assert a.closing_minor == as_of.balance_minor, a
        before = s.starts_at - timedelta(microseconds=1)
        assert (
            a.opening_minor
            == account_balance(engine, s.book, a.account, as_of=before).balance_minor
        )
    for ln in s.lines:
        assert ln.promoter_minor + ln.upline_minor + ln.platform_minor == ln.commission_minor
        assert ln.share_minor == (ln.promoter_minor if ln.role == "promoter" else ln.upline_minor)


@pytest.mark.parametrize("promoter", PROMOTERS)
def test_a_statement_of_a_generated_month_reconciles_with_the_balances(
    engine: Engine, book: str, promoter: str
) -> None:
    settled_month(engine, book)
    for period in ("2026-09", "2026-10", "2026-11"):
        assert_reconciles(engine, statement(engine, book, promoter, period))
    october = statement(engine, book, promoter, "2026-10")
    estimated = dict({a.bucket: a for a in october.accounts}["estimated"].movements)
    # What was accrued on paying = each line's share now, plus what refunds took back, plus
    # what cancellations reversed (the generator never refunds a cancelled order).
    accrued = sum(
        ln.share_minor
        - sum(r.delta_minor for r in october.refunds if (r.order, r.line) == (ln.order, ln.line))
        for ln in october.lines
    )
    assert estimated.get("order_paid", 0) == accrued - estimated.get("order_cancelled", 0)
    if promoter == "p1":
        assert october.lines, "the generator gives p1 lines"
        assert october.refunds, "the generator gives p1 refunds"


def test_an_order_paid_at_midnight_of_the_first_belongs_to_the_new_month(
    engine: Engine, book: str
) -> None:
    run(engine, *starter(book)[:3])
    line = {"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 10000}
    order = {"type": "order_paid", "book": book, "link": "L1", "lines": [line]}
    run(
        engine,
        order | {"order": "late", "paid_at": "2026-10-31T23:59:59.999999+08:00"},
        order | {"order": "first", "paid_at": "2026-11-01T00:00:00+08:00"},
    )
    assert [ln.order for ln in statement(engine, book, "p1", "2026-10").lines] == ["late"]
    november = statement(engine, book, "p1", "2026-11")
    assert [ln.order for ln in november.lines] == ["first"]
    estimated = {a.bucket: a for a in november.accounts}["estimated"]
    assert (estimated.opening_minor, estimated.closing_minor) == (240, 480)
    assert estimated.movements == (("order_paid", 240),)


def test_the_upline_sees_its_share_of_its_downlines_lines(engine: Engine, book: str) -> None:
    run(engine, *starter(book))
    s = statement(engine, book, "p0", "2026-10")
    assert [(ln.order, ln.line, ln.role, ln.share_minor) for ln in s.lines] == [
        ("o1", "1", "upline", 398),
        ("o1", "2", "upline", 4),
    ]
    first = s.lines[0]
    assert (first.rule, first.rate, first.cap_minor, first.commission_minor) == (
        "sku:100012043978", first.rate, 5000, 3980
    )  # fmt: skip
    assert str(first.rate) == "0.20"
    assert "19900 × 0.20 = 3980.00 → 3980 (cap 5000)" in first.explanation
    assert s.earned_minor == 402


def test_a_refund_after_settlement_is_a_clawback_from_available(engine: Engine, book: str) -> None:
    run(
        engine,
        *starter(book),
        {"type": "order_completed", "book": book, "order": "o1", "at": at(60)},
    )
    result = settle(engine, book, "2026-10", now=NOVEMBER)
    assert result.amount_minor == 3214 + 402
    october = statement(engine, book, "p1", "2026-10")
    assert october.settlement is not None
    assert october.settlement.amount_minor == 3214
    assert {ln.settled for ln in october.lines} == {"2026-10"}
    request_payout(
        engine,
        RequestPayout(book=book, promoter="p1", amount_minor=3000, request_id="w1", at=NOVEMBER),
    )
    complete_payout(engine, CompletePayout(book=book, request_id="w1", at=NOVEMBER))
    refund = {"type": "refund", "book": book, "refund": "r1", "order": "o1"}
    run(
        engine,
        refund
        | {"at": "2026-11-05T10:00:00+08:00", "lines": [{"line": "1", "amount_minor": 19900}]},
    )
    november = statement(engine, book, "p1", "2026-11")
    assert_reconciles(engine, november)
    [claw] = november.refunds
    assert (claw.stage, claw.clawback, claw.delta_minor, claw.role) == (
        "available",
        True,
        -3184,
        "promoter",
    )
    [payout] = november.payouts
    assert (payout.request_id, payout.state, payout.amount_minor, payout.tax_minor) == (
        "w1",
        "completed",
        3000,
        0,
    )
    accounts = {a.bucket: a for a in november.accounts}
    available = accounts["available"]
    # Settled 3214 (the entry sits at the period's end: the last instant of October or
    # 00:00 on November 1st), paid out 3000, clawed back 3184.
    moved = dict(available.movements)
    assert available.opening_minor + moved.pop("settlement", 0) == 3214
    assert moved == {"payout_requested": -3000, "refund": -3184}
    assert available.closing_minor == 3214 - 3000 - 3184
    upline = statement(engine, book, "p0", "2026-11").refunds
    assert [(r.role, r.stage, r.delta_minor) for r in upline] == [("upline", "available", -398)]
    doc = json.loads(json.dumps(statement_json(november)))
    assert doc["refunds"][0]["clawback"] is True
    assert doc["accounts"]["available"]["closing_minor"] == -2970


def test_statement_rows_and_json_carry_every_line_with_money_as_ints(
    engine: Engine, book: str
) -> None:
    run(engine, *starter(book))
    s = statement(engine, book, "p1", "2026-10")
    rows = statement_rows(s)
    assert all(list(r) == list(STATEMENT_COLUMNS) for r in rows)
    lines = [r for r in rows if r["section"] == "line"]
    assert [(r["order"], r["line"], r["share_minor"], r["rate"]) for r in lines] == [
        ("o1", "1", 3184, "0.20"),
        ("o1", "2", 30, "0.03"),
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STATEMENT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    assert buffer.getvalue().count("\n") == len(rows) + 1
    doc = statement_json(s)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["lines"][0]["paid_at"] == "2026-10-01T10:03:00+08:00"
    assert doc["lines"][0]["commission_minor"] == 3980
    assert doc["accounts"]["estimated"] == {
        "account": "promoter:p1:estimated",
        "opening_minor": 0,
        "movements": {"order_paid": 3214},
        "movement_minor": 3214,
        "closing_minor": 3214,
    }


def test_a_cancelled_line_shows_zero_shares(engine: Engine, book: str) -> None:
    run(
        engine,
        *starter(book),
        {"type": "order_cancelled", "book": book, "order": "o1", "at": at(9)},
    )
    s = statement(engine, book, "p1", "2026-10")
    assert {(ln.state, ln.commission_minor, ln.share_minor) for ln in s.lines} == {
        ("cancelled", 0, 0)
    }
    assert_reconciles(engine, s)
    estimated = {a.bucket: a for a in s.accounts}["estimated"]
    assert dict(estimated.movements) == {"order_paid": 3214, "order_cancelled": -3214}


def test_an_unknown_promoter_or_a_bad_period_is_refused(engine: Engine, book: str) -> None:
    run(engine, *starter(book))
    with pytest.raises(UnknownPromoterError, match="nobody"):
        statement(engine, book, "nobody", "2026-10")
    with pytest.raises(InvalidPeriodError):
        statement(engine, book, "p1", "2026-13")
