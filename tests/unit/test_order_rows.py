"""An order kept as its rows within a batch comes back as a later batch would load it."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import String

from cps_ledger.adapters.order_rows import (
    EXPLANATION_STORED_MAX,
    LINES,
    ORDERS,
    line_rows,
    order_of_rows,
    order_row,
    order_rows,
)
from cps_ledger.domain.commission import LineTerms, Shares
from cps_ledger.domain.orders import LineState, Order, OrderState
from cps_ledger.domain.splits import SplitWeights


def _order(rate: Decimal, explanation: str, paid_at: datetime, *, upline: str | None) -> Order:
    weights = (
        SplitWeights(Decimal("0.8"), Decimal("0.1"), Decimal("0.1"))
        if upline
        else SplitWeights(Decimal("0.8"), Decimal(0), Decimal("0.2"))
    )
    line = LineState(
        "1",
        "m1",
        "sku-1",
        None,
        2,
        19900,
        LineTerms("sku-hot", 3, rate, 5000, 19900, weights, explanation),
        0,
        Shares(3980, 3184, 398 if upline else 0, 398 if upline else 796),
    )
    second = replace(
        line, line="2", sku=None, category="food", terms=replace(line.terms, cap_minor=None)
    )
    return Order("o1", "L1", "p1", upline, OrderState.PAID, 3, paid_at, None, None, (line, second))


def test_the_explanation_is_cut_to_the_columns_width() -> None:
    column = LINES.c.explanation.type
    assert isinstance(column, String)
    assert column.length == EXPLANATION_STORED_MAX


@given(
    rate=st.decimals(min_value=0, max_value=1, places=4),
    hours=st.integers(-12, 14),
    explanation=st.text(max_size=600),
    upline=st.sampled_from([None, "p0"]),
    completed=st.booleans(),
)
def test_an_orders_rows_give_back_the_order_a_later_batch_would_load(
    rate: Decimal, hours: int, explanation: str, upline: str | None, completed: bool
) -> None:
    paid_at = datetime(2026, 11, 11, 0, 0, 0, 123456, tzinfo=timezone(timedelta(hours=hours)))
    order = _order(rate, explanation, paid_at, upline=upline)
    if completed:
        order = replace(order, state=OrderState.COMPLETED, completed_at=paid_at + timedelta(days=8))
    rebuilt = order_of_rows(order_rows("b1", order))
    cut = explanation[:EXPLANATION_STORED_MAX]
    expected = replace(
        order,
        paid_at=paid_at.astimezone(UTC),
        completed_at=order.completed_at and order.completed_at.astimezone(UTC),
        lines=tuple(replace(ln, terms=replace(ln.terms, explanation=cut)) for ln in order.lines),
    )
    assert rebuilt == expected
    assert rebuilt.paid_at.tzinfo == UTC
    assert [str(ln.terms.rate) for ln in rebuilt.lines] == [str(rate)] * 2  # as written
    assert order_rows("b1", rebuilt) == order_rows("b1", order)


def test_an_orders_rows_are_the_tables_rows_and_untracked_by_the_first_collection() -> None:
    order = _order(Decimal("0.2"), "sku-hot 20%", datetime(2026, 11, 11, tzinfo=UTC), upline="p0")
    gc.disable()  # nothing collects between the rows' making and the collection below
    try:
        stored = order_rows("b1", order)
        gc.collect(0)
        # A tuple of tuples would still be tracked here, and live on into the generations
        # whose growth brings full collections (docs/performance.md, finding 41).
        assert not gc.is_tracked(stored)
    finally:
        gc.enable()
    row, lines = order_row(stored), line_rows(stored)
    assert len(row) == len(ORDERS.columns)
    assert row[:5] == ("b1", "o1", "L1", "p1", "p0")
    assert [len(line) for line in lines] == [len(LINES.columns)] * 2
    assert [line[2] for line in lines] == ["1", "2"]  # each line's id, in order
