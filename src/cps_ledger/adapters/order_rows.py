"""Orders and their lines as table rows, both ways: as stored and as loaded.

An ingest batch turns each order it pays into its rows at once and keeps only those until
the write: kept as :class:`Order` objects, an order and its lines' states, terms and shares
lived through the batch's young collections into the old generation (docs/performance.md,
finding 34). The rows are one flat tuple of strings and numbers, which the collector stops
tracking at the first collection that sees it; a tuple of tuples is untracked only once its
items are, often a collection later and by then in an older generation (finding 41). An
event later in the same batch that touches the order gets it back with
:func:`order_of_rows`, exactly as a later batch would load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Table

from cps_ledger.adapters.bulk import stored_utc
from cps_ledger.adapters.cps_tables import OrderLineRow, OrderRow
from cps_ledger.adapters.tables import table
from cps_ledger.adapters.types import loaded_utc
from cps_ledger.domain.commission import LineTerms, Shares
from cps_ledger.domain.orders import LineState, Order, OrderState
from cps_ledger.domain.splits import SplitWeights

Row = tuple[Any, ...]
StoredOrder = tuple[Any, ...]
"""An order's row then each of its lines' rows, in the tables' column order, as inserted,
in one tuple (:func:`order_row` and :func:`line_rows` take them apart)."""

ORDERS = table(OrderRow)
LINES = table(OrderLineRow)
_ORDER_WIDTH: Final = len(ORDERS.columns)
_LINE_WIDTH: Final = len(LINES.columns)


def _positions(t: Table, *names: str) -> frozenset[int]:
    columns = list(t.columns.keys())
    return frozenset(columns.index(name) for name in names)


_TIMES: Final = _positions(ORDERS, "paid_at", "completed_at", "cancelled_at")
_RATES: Final = _positions(LINES, "rate", "weight_promoter", "weight_upline", "weight_platform")
EXPLANATION_STORED_MAX: Final = 512
"""Characters of a line's explanation the ``order_lines`` table keeps (its column's width,
which a test compares)."""


def utc_or_none(value: datetime | None) -> str | None:
    """A time as stored, or None."""
    return None if value is None else stored_utc(value)


def totals(o: Order) -> tuple[int, int, int]:
    """What the order row sums of its lines: promoter and upline shares, number of lines."""
    promoter = upline = 0
    for ln in o.lines:
        promoter += ln.shares.promoter_minor
        upline += ln.shares.upline_minor
    return promoter, upline, len(o.lines)


def _line_row(book: str, o: Order, ln: LineState) -> Row:
    t, w, sh = ln.terms, ln.terms.weights, ln.shares
    return (
        book,
        o.order,
        ln.line,
        ln.merchant,
        ln.sku,
        ln.category,
        ln.quantity,
        ln.amount_minor,
        ln.refunded_minor,
        o.promoter,
        o.upline,
        t.rule,
        t.rule_version,
        str(t.rate),
        t.cap_minor,
        str(w.promoter),
        str(w.upline),
        str(w.platform),
        t.explanation[:EXPLANATION_STORED_MAX],
        sh.commission_minor,
        sh.promoter_minor,
        sh.upline_minor,
        sh.platform_minor,
    )


def order_rows(book: str, o: Order) -> StoredOrder:
    """``o``'s row and its lines' rows, as inserted."""
    rows = [
        book,
        o.order,
        o.link,
        o.promoter,
        o.upline,
        o.state.value,
        o.rules_version,
        stored_utc(o.paid_at),
        utc_or_none(o.completed_at),
        utc_or_none(o.cancelled_at),
        o.promoter_settled,
        o.upline_settled,
        *totals(o),
    ]
    for ln in o.lines:
        rows += _line_row(book, o, ln)
    return tuple(rows)


def order_row(stored: StoredOrder) -> Row:
    """The order's row, from ``stored``."""
    return stored[:_ORDER_WIDTH]


def line_rows(stored: StoredOrder) -> list[Row]:
    """The rows of the order's lines, from ``stored``."""
    return [stored[i : i + _LINE_WIDTH] for i in range(_ORDER_WIDTH, len(stored), _LINE_WIDTH)]


def line_state(r: Sequence[Any]) -> LineState:
    """A line from its loaded row (rates as ``Decimal``)."""
    # Unpacked by position (the table's column order): the lines of every order a batch
    # touches pass here, and attribute look-ups on a row cost more than the objects built.
    (
        _book,
        _order,
        line,
        merchant,
        sku,
        category,
        quantity,
        amount,
        refunded,
        _promoter,
        _upline,
        rule,
        rule_version,
        rate,
        cap,
        weight_promoter,
        weight_upline,
        weight_platform,
        explanation,
        commission,
        promoter_share,
        upline_share,
        platform_share,
    ) = r
    weights = SplitWeights(weight_promoter, weight_upline, weight_platform)
    terms = LineTerms(rule, rule_version, rate, cap, amount, weights, explanation)
    shares = Shares(commission, promoter_share, upline_share, platform_share)
    return LineState(line, merchant, sku, category, quantity, amount, terms, refunded, shares)


def order_of(r: Sequence[Any], lines: Sequence[LineState]) -> Order:
    """An order from its loaded row (times aware) and its lines."""
    (
        _book,
        order,
        link,
        promoter,
        upline,
        state,
        rules_version,
        paid_at,
        completed_at,
        cancelled_at,
        promoter_settled,
        upline_settled,
        *_totals,
    ) = r
    return Order(
        order,
        link,
        promoter,
        upline,
        OrderState(state),
        rules_version,
        paid_at,
        completed_at,
        cancelled_at,
        tuple(lines),
        promoter_settled,
        upline_settled,
    )


def order_of_rows(stored: StoredOrder) -> Order:
    """The order that ``stored`` holds, as a later batch would load it after the insert:
    times read back as aware UTC, rates as ``Decimal``, the explanation as the table keeps
    it."""
    loaded = [loaded_utc(v) if i in _TIMES else v for i, v in enumerate(order_row(stored))]
    lines = [
        line_state([Decimal(v) if i in _RATES else v for i, v in enumerate(r)])
        for r in line_rows(stored)
    ]
    return order_of(loaded, lines)
