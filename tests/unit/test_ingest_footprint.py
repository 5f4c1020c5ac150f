"""When a batch must wait for the commit of the one before it (overlapped ingest)."""

from __future__ import annotations

from datetime import UTC, datetime

from cps_ledger.domain.events import (
    MerchantPayment,
    OrderCompleted,
    PromoterRegistered,
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


def test_registrations_make_the_next_batch_wait() -> None:
    registered = of(PromoterRegistered(book="b", promoter="p1", at=AT))
    assert registered.must_precede(of(completed("o1")))
    assert not of(completed("o1")).must_precede(
        of(PromoterRegistered(book="b", promoter="p1", at=AT))
    )


def test_merchant_payments_wait_either_way() -> None:
    payment = of(MerchantPayment(book="b", payment="mp1", merchant="m1", amount_minor=5, at=AT))
    assert payment.must_precede(of(completed("o1")))
    assert of(completed("o1")).must_precede(payment)
