"""Paid orders packed by ``parse_line``: the same order as the model, and untracked by the
collector after the first collection that sees them (why they are packed at all)."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.events import OrderPaid, idempotency_key, parse_event, payload_digest
from cps_ledger.domain.money import AMOUNT_MAX_MINOR
from cps_ledger.services import packed
from cps_ledger.services.ingest import Outcome, Submitted, parse_line

_ID = st.text(alphabet="abcXYZ019_.@-", min_size=1, max_size=12)
_MOMENT = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001  (hypothesis takes naive bounds)
    max_value=datetime(2035, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)


@st.composite
def paid_orders(draw: st.DrawFn) -> dict[str, Any]:
    line_ids = draw(st.lists(_ID, min_size=1, max_size=5, unique=True))
    lines = []
    for line in line_ids:
        obj: dict[str, Any] = {
            "line": line,
            "merchant": draw(_ID),
            "quantity": draw(st.integers(1, 99)),
            "amount_minor": draw(st.integers(0, AMOUNT_MAX_MINOR)),
        }
        for optional in ("sku", "category"):
            if draw(st.booleans()):
                obj[optional] = draw(_ID)
        lines.append(obj)
    return {
        "type": "order_paid",
        "book": draw(_ID),
        "order": draw(_ID),
        "link": draw(_ID),
        "paid_at": draw(_MOMENT).isoformat(),
        "lines": lines,
    }


@given(paid_orders(), st.integers(1, 10**9))
def test_a_paid_order_line_is_packed_with_what_the_model_says(
    obj: dict[str, Any], number: int
) -> None:
    item = parse_line(number, json.dumps(obj))
    event = parse_event(obj)
    assert isinstance(event, OrderPaid)
    assert packed.is_packed(item)
    assert packed.position(item) == number
    assert packed.digest(item) == payload_digest(obj).hex()
    assert (packed.book(item), packed.order(item), packed.link(item)) == (
        event.book,
        event.order,
        event.link,
    )
    assert packed.paid_at(item) == event.paid_at
    assert packed.key(item) == idempotency_key(event)
    assert list(packed.lines(item)) == [
        (ln.line, ln.merchant, ln.sku, ln.category, ln.quantity, ln.amount_minor)
        for ln in event.lines
    ]


@given(paid_orders())
def test_a_packed_order_is_untracked_by_the_first_collection_that_sees_it(
    obj: dict[str, Any],
) -> None:
    # A nested tuple, or any object in the pack, would keep it tracked past this young
    # collection, into the older generations whose growth brings full collections.
    line = json.dumps(obj)
    gc.disable()  # nothing collects between the parse and the collection below
    try:
        item = parse_line(1, line)
        assert gc.is_tracked(item)
        gc.collect(0)
        assert not gc.is_tracked(item)
    finally:
        gc.enable()


def test_other_events_and_rejected_lines_are_not_packed() -> None:
    completed = {"type": "order_completed", "book": "b", "order": "o", "at": _AT}
    assert isinstance(parse_line(1, json.dumps(completed)), Submitted)
    bad = {"type": "order_paid", "book": "b", "order": "o", "link": "L", "paid_at": _AT}
    rejected = parse_line(2, json.dumps(bad))  # no lines
    assert isinstance(rejected, Outcome)
    assert not packed.is_packed(rejected)


_AT = "2026-11-11T10:00:00+08:00"
