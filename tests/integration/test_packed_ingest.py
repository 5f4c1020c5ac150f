"""Paid orders packed give exactly what the same orders applied as pydantic models give:
outcomes, balances and order rows, on every backend and whatever the batch size
(services/packed.py). ``ingest`` packs every paid order; ``apply_chunk`` applies a batch as
it is given, so it is the reference here, one batch after the other."""

from __future__ import annotations

import json
import secrets

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cps_ledger.api import CpsLedger
from cps_ledger.domain.events import parse_event
from cps_ledger.services import packed
from cps_ledger.services.audit import audit
from cps_ledger.services.ingest import (
    Outcome,
    Status,
    Submitted,
    apply_chunk,
    ingest,
    parse_line,
)
from tests.integration.test_ingest_pipeline import books, full_stream, orders
from tests.integration.test_parallel_ingest import summary
from tests.support.books import make_book


def as_models(lines: list[str]) -> list[Submitted | Outcome]:
    """What ``parse_line`` makes of ``lines``, every paid order as its model instead."""
    items: list[Submitted | Outcome] = []
    for number, line in enumerate(lines, start=1):
        item = parse_line(number, line)
        if packed.is_packed(item):
            raw = json.loads(line)
            item = Submitted(number, parse_event(raw), raw=raw)
        if item is not None:
            items.append(item)
    return items


@settings(max_examples=4)
@given(seed=st.integers(0, 10_000), batch_size=st.integers(1, 40))
def test_packed_orders_give_the_outcomes_and_books_of_the_same_orders_as_models(
    engine: Engine, seed: int, batch_size: int
) -> None:
    code = f"b{secrets.token_hex(5)}"  # a new book for every example, shrinking included
    one, two = make_book(engine, code + "a"), make_book(engine, code + "b")
    models = as_models(full_stream(one, seed))
    assert any(isinstance(m, Submitted) and m.event.type == "order_paid" for m in models)
    reference: list[Outcome] = []
    for start in range(0, len(models), batch_size):
        reference += apply_chunk(engine, models[start : start + batch_size])
    lines = full_stream(two, seed)
    assert any(packed.is_packed(parse_line(1, line)) for line in lines)
    from_lines = list(CpsLedger(engine).ingest_lines(lines, batch_size=batch_size))
    # And models handed to ingest(), packed as they join their batch, into a third book.
    three = make_book(engine, code + "c")
    from_models = list(ingest(engine, as_models(full_stream(three, seed)), batch_size=batch_size))
    assert summary(from_models) == summary(reference)
    assert books(engine, three) == [(a.replace(one, three), b) for a, b in books(engine, one)]
    assert orders(engine, three) == orders(engine, one)

    assert summary(from_lines) == summary(reference)
    assert [o.key for o in from_lines] == [
        None if o.key is None else o.key.replace(one, two) for o in reference
    ]
    assert books(engine, two) == [(a.replace(one, two), b) for a, b in books(engine, one)]
    assert orders(engine, two) == orders(engine, one)
    assert audit(engine, two).ok

    # Replayed: every event applied, packed orders included, is found by key and digest.
    again = list(CpsLedger(engine).ingest_lines(lines, batch_size=batch_size))
    taken = {o.position for o in from_lines if o.status is not Status.REJECTED}
    assert taken <= {o.position for o in again if o.status is Status.REPLAYED}
