"""The reference model: hand-computed DESIGN §5 figures, and its independence."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import cps_ledger.testing.model as model_module
from cps_ledger.testing.model import (
    ReferenceModel,
    allocate,
    default_book_toml,
    round_half_up,
)
from tests.support.books import at, starter

B = "bk"
AFTER_OCTOBER = datetime(2026, 11, 5, tzinfo=UTC)


def model() -> ReferenceModel:
    return ReferenceModel.from_toml(default_book_toml(B))


def run(m: ReferenceModel, *events: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p.status, p.error) for p in (m.apply(e) for e in events)]


def completed(order: str, minutes: int) -> dict[str, Any]:
    return {"type": "order_completed", "book": B, "order": order, "at": at(minutes)}


def test_round_half_up_rounds_halves_away_from_zero() -> None:
    assert [round_half_up(Fraction(n, 2)) for n in (1, 3, 5, -1, -3)] == [1, 2, 3, -1, -2]


def test_allocate_gives_left_over_units_to_the_largest_remainders_ties_to_the_earlier() -> None:
    thirds = (Fraction(1, 3), Fraction(1, 3), Fraction(1, 3))
    assert allocate(100, thirds) == [34, 33, 33]
    assert allocate(38, (Fraction(8, 10), Fraction(1, 10), Fraction(1, 10))) == [30, 4, 4]
    assert allocate(-38, (Fraction(8, 10), Fraction(1, 10), Fraction(1, 10))) == [-30, -4, -4]


def test_a_paid_order_predicts_the_design_example_figures() -> None:
    m = model()
    assert run(m, *starter(B)) == [("applied", None)] * 4
    assert m.balances() == {
        "merchant:m1:receivable:estimated": 3980,
        "merchant:m2:receivable:estimated": 38,
        "platform:fee:estimated": -402,
        "promoter:p0:estimated": -402,
        "promoter:p1:estimated": -3214,
    }
    assert m.line_shares() == {("o1", "1"): (3980, 3184, 398, 398), ("o1", "2"): (38, 30, 4, 4)}


def test_a_promoter_without_upline_leaves_the_upline_share_to_the_platform() -> None:
    m = model()
    events = starter(B)
    events[1] = {**events[1]}
    del events[1]["upline"]
    run(m, *events)
    assert m.line_shares()[("o1", "1")] == (3980, 3184, 0, 796)


def test_a_refund_of_5000_then_the_rest_brings_every_party_to_zero() -> None:
    m = model()
    refund = {"type": "refund", "book": B, "order": "o1", "at": at(10)}
    run(m, *starter(B), {**refund, "refund": "r1", "lines": [{"line": "1", "amount_minor": 5000}]})
    assert m.line_shares()[("o1", "1")] == (2980, 2384, 298, 298)
    rest = [{"line": "1", "amount_minor": 14900}, {"line": "2", "amount_minor": 1250}]
    assert run(m, {**refund, "refund": "r2", "lines": rest}) == [("applied", None)]
    assert m.balances() == {}


def test_business_errors_are_predicted_with_their_class_names() -> None:
    m = model()
    run(m, *starter(B), completed("o1", 20))
    refund = {"type": "refund", "book": B, "refund": "r1", "order": "o1", "at": at(30)}
    too_much = {**refund, "lines": [{"line": "2", "amount_minor": 1251}]}
    cancel = {"type": "order_cancelled", "book": B, "order": "o1", "at": at(31)}
    pay = {"type": "merchant_payment", "book": B, "payment": "mp1", "merchant": "m2", "at": at(32)}
    assert run(m, too_much, cancel, {**pay, "amount_minor": 39}, {**pay, "amount_minor": 38}) == [
        ("rejected", "RefundExceedsBaseError"),
        ("rejected", "OrderStateError"),
        ("rejected", "PaymentExceedsReceivableError"),
        ("applied", None),
    ]
    assert "merchant:m2:receivable" not in m.balances()
    assert m.balance("platform:cash") == 38


def test_a_replay_is_replayed_and_another_payload_under_its_key_is_a_conflict() -> None:
    m = model()
    events = starter(B)
    run(m, *events)
    before = m.balances()
    assert run(m, events[3], {**events[3], "paid_at": at(4)}) == [
        ("replayed", None),
        ("rejected", "IdempotencyConflictError"),
    ]
    assert m.balances() == before


def test_settlement_moves_confirmed_to_available_once_and_in_order() -> None:
    m = model()
    run(m, *starter(B), completed("o1", 20))
    first = m.settle("2026-10", AFTER_OCTOBER)
    assert (first.status, first.result) == (
        "applied",
        {"promoters": 2, "amount_minor": 3214 + 402, "replayed": False},
    )
    assert m.balance("promoter:p1:available") == -3214
    assert m.balance("promoter:p1:confirmed") == 0
    assert m.settle("2026-10", AFTER_OCTOBER).status == "replayed"
    assert m.settle("2026-09", AFTER_OCTOBER).error == "SettlementOrderError"
    assert m.settle("2026-11", AFTER_OCTOBER).error == "SettlementOrderError"  # not ended


def test_a_refund_after_settlement_is_clawed_back_from_available() -> None:
    m = model()
    run(m, *starter(B), completed("o1", 20))
    m.settle("2026-10", AFTER_OCTOBER)
    refund = {"type": "refund", "book": B, "refund": "r1", "order": "o1", "at": at(99)}
    run(m, {**refund, "lines": [{"line": "1", "amount_minor": 19900}]})
    assert m.balance("promoter:p1:available") == -30
    assert m.balance("merchant:m1:receivable") == 0


def test_payouts_follow_the_checks_of_design_in_order() -> None:
    m = model()
    run(m, *starter(B), completed("o1", 20))
    m.settle("2026-10", AFTER_OCTOBER)
    assert m.request_payout("ghost", 500, "q0").error == "UnknownPromoterError"
    assert m.request_payout("p1", 0, "q0").error == "InvalidAmountError"
    assert m.request_payout("p1", 99, "q0").error == "PayoutBelowMinimumError"
    assert m.request_payout("p1", 3215, "q0").error == "InsufficientAvailableError"
    assert m.request_payout("p1", 3000, "q1").status == "applied"
    assert m.request_payout("p1", 3000, "q1").status == "replayed"
    assert m.request_payout("p1", 3001, "q1").error == "IdempotencyConflictError"
    assert m.complete_payout("q1").status == "applied"
    assert m.complete_payout("q1").status == "replayed"
    assert m.fail_payout("q1").error == "PayoutStateError"
    assert m.fail_payout("nope").error == "UnknownPayoutError"
    assert m.balance("platform:cash") == -3000
    assert m.balance("promoter:p1:available") == -214


def test_the_model_imports_nothing_from_services_adapters_or_the_commission_arithmetic() -> None:
    tree = ast.parse(Path(model_module.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    forbidden = ("cps_ledger.services", "cps_ledger.adapters")
    assert not [m for m in imported if m.startswith(forbidden)]
    assert not imported & {
        "cps_ledger.domain.money",
        "cps_ledger.domain.commission",
        "cps_ledger.domain.orders",
        "cps_ledger.domain.splits",
    }


def test_the_model_tells_what_is_available_pending_and_awaiting_settlement() -> None:
    m = model()
    run(m, *starter(B))
    assert not m.awaiting_settlement()  # paid, not completed
    run(m, completed("o1", 20))
    assert m.awaiting_settlement()
    assert m.last_settled() is None
    m.settle("2026-10", AFTER_OCTOBER)
    assert (m.awaiting_settlement(), m.last_settled()) == (False, "2026-10")
    assert m.available_minor("p1") == 3214
    m.request_payout("p1", 3000, "q1")
    m.request_payout("p1", 200, "q2")
    m.fail_payout("q2")
    assert (m.payouts_in("pending"), m.payouts_in("failed")) == (["q1"], ["q2"])
    assert m.available_minor("p1") == 214


def test_a_refund_after_a_payout_leaves_available_below_zero() -> None:
    m = model()
    run(m, *starter(B), completed("o1", 20))
    m.settle("2026-10", AFTER_OCTOBER)
    m.request_payout("p1", 3214, "q1")
    refund = {"type": "refund", "book": B, "refund": "r1", "order": "o1", "at": at(99)}
    run(m, {**refund, "lines": [{"line": "2", "amount_minor": 1250}]})
    assert m.available_minor("p1") == -30  # line 2's promoter share, clawed back
