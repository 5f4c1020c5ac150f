"""When a batch must wait for the commit of the one before it (overlapped ingest)."""

from __future__ import annotations

from datetime import UTC, datetime

from cps_ledger.domain.events import (
    MerchantPayment,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    ShareLinkCreated,
)
from cps_ledger.services.ingest import Submitted
from cps_ledger.services.ingest_pipeline import Footprint

AT = datetime(2026, 11, 11, tzinfo=UTC)


def of(*events: object) -> Footprint:
    return Footprint.of([Submitted(n, e) for n, e in enumerate(events)])  # type: ignore[arg-type]


def completed(order: str) -> OrderCompleted:
    return OrderCompleted(book="b", order=order, at=AT)


def test_batches_on_other_orders_overlap() -> None:
    assert not of(completed("o1")).must_precede(of(completed("o2")))


def test_a_shared_order_or_key_waits() -> None:
    assert of(completed("o1")).must_precede(of(completed("o1")))
    # One shared order among several is enough: the later batch must read it committed.
    assert of(completed("o1"), completed("o3")).must_precede(of(completed("o3")))


def registered(promoter: str, upline: str | None = None) -> PromoterRegistered:
    return PromoterRegistered(book="b", promoter=promoter, upline=upline, at=AT)


def link(link_id: str, promoter: str) -> ShareLinkCreated:
    return ShareLinkCreated(book="b", link=link_id, promoter=promoter, at=AT)


def paid(order: str, link_id: str) -> OrderPaid:
    line = {"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 100}
    return OrderPaid.model_validate(
        {"book": "b", "order": order, "link": link_id, "paid_at": AT, "lines": [line]}
    )


def test_a_promoter_registered_before_waits_for_whoever_names_it() -> None:
    before = of(registered("p1"))
    assert before.must_precede(of(registered("p2", upline="p1")))
    assert before.must_precede(of(link("L1", "p1")))
    assert not before.must_precede(of(registered("p2", upline="p0")))
    assert not before.must_precede(of(link("L2", "p0"), paid("o1", "L0")))


def test_a_link_created_before_waits_for_orders_paid_through_it() -> None:
    before = of(link("L1", "p1"))
    assert before.must_precede(of(paid("o1", "L1")))
    # Links and promoters are never changed once stored: created elsewhere, no wait.
    assert not before.must_precede(of(paid("o2", "L2"), link("L3", "p1")))


def test_what_a_later_batch_writes_never_makes_it_wait() -> None:
    assert not of(paid("o1", "L1")).must_precede(of(registered("p1"), link("L1", "p1")))


def test_merchant_payments_wait_either_way() -> None:
    payment = of(MerchantPayment(book="b", payment="mp1", merchant="m1", amount_minor=5, at=AT))
    assert payment.must_precede(of(completed("o1")))
    assert of(completed("o1")).must_precede(payment)
