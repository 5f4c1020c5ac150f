"""Events given the same fields share one set of them, as do their lines (finding 37).

The sharing is what keeps a batch of parsed events light for the garbage collector; these
tests hold it to that, and hold pydantic's own uses of the set (``model_fields_set``,
``model_copy``, pickling, ``exclude_unset``) to what an unshared set gives.
"""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.events import OrderPaid, Refund, parse_event
from cps_ledger.domain.fields import FIELD_SETS_SHARED_MAX, LedgerModel

AT = "2026-11-11T10:00:00+08:00"
OPTIONAL = ("sku", "category")


def _order(order: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "order_paid",
        "book": "b",
        "order": order,
        "link": "l",
        "paid_at": AT,
        "lines": lines,
    }


def _line(line: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    given_fields = {"line": line, "merchant": "m", "quantity": 1, "amount_minor": 100}
    return given_fields | {name: f"{name}-{line}" for name in optional}


def test_orders_given_the_same_fields_share_one_set_for_the_order_and_one_for_its_lines() -> None:
    first = parse_event(_order("o1", [_line("1"), _line("2")]))
    second = parse_event(_order("o2", [_line("1")]))
    assert isinstance(first, OrderPaid)
    assert isinstance(second, OrderPaid)
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.lines[0].__pydantic_fields_set__ is first.lines[1].__pydantic_fields_set__
    assert first.lines[0].__pydantic_fields_set__ is second.lines[0].__pydantic_fields_set__
    # Models of different classes never share, even with equal field names.
    assert first.__pydantic_fields_set__ is not first.lines[0].__pydantic_fields_set__


@given(
    st.lists(st.lists(st.sampled_from(OPTIONAL), unique=True), min_size=1, max_size=6),
)
def test_each_line_reports_exactly_the_fields_it_was_given(optional: list[list[str]]) -> None:
    lines = [_line(str(i), tuple(names)) for i, names in enumerate(optional)]
    order = parse_event(_order("o", lines))
    assert isinstance(order, OrderPaid)
    for given_line, line in zip(lines, order.lines, strict=True):
        assert line.model_fields_set == set(given_line)
        assert line.model_dump(exclude_unset=True) == given_line


def test_a_copy_with_changes_leaves_every_other_instance_as_it_was() -> None:
    order = parse_event(_order("o", [_line("1"), _line("2")]))
    assert isinstance(order, OrderPaid)
    one, other = order.lines
    assert one.__pydantic_fields_set__ is other.__pydantic_fields_set__
    changed = one.model_copy(update={"sku": "s"})
    assert changed.model_fields_set == {"line", "merchant", "quantity", "amount_minor", "sku"}
    assert one.model_fields_set == other.model_fields_set == set(_line("1"))
    again = OrderPaid(**_order("o2", [_line("1")]))  # made in Python: the same sharing
    assert again.__pydantic_fields_set__ is order.__pydantic_fields_set__
    assert order.model_copy(update={"link": "l2"}).model_fields_set == order.model_fields_set


def test_a_pickled_event_comes_back_with_its_fields() -> None:
    order = parse_event(_order("o", [_line("1", ("sku",))]))
    back = pickle.loads(pickle.dumps(order))
    assert back == order
    assert back.model_fields_set == order.model_fields_set
    assert back.lines[0].model_fields_set == set(_line("1", ("sku",)))


def test_beyond_the_limit_an_instance_keeps_a_set_of_its_own() -> None:
    class Many(LedgerModel):
        a: int | None = None
        b: int | None = None
        c: int | None = None
        d: int | None = None
        e: int | None = None

    names = "abcde"
    kinds = [{name: 1 for i, name in enumerate(names) if mask >> i & 1} for mask in range(32)]
    first = [Many(**fields) for fields in kinds]
    again = [Many(**fields) for fields in kinds]
    for model in [*first, *again]:
        model.share_fields_set()
    shared = sum(
        a.__pydantic_fields_set__ is b.__pydantic_fields_set__
        for a, b in zip(first, again, strict=True)
    )
    assert shared == FIELD_SETS_SHARED_MAX
    assert all(m.model_fields_set == set(k) for m, k in zip(again, kinds, strict=True))


def test_events_without_lines_and_refund_lines_share_too() -> None:
    done = [
        parse_event({"type": "order_completed", "book": "b", "order": f"o{i}", "at": AT})
        for i in range(2)
    ]
    assert done[0].__pydantic_fields_set__ is done[1].__pydantic_fields_set__
    refund = parse_event(
        {
            "type": "refund",
            "book": "b",
            "refund": "r",
            "order": "o",
            "at": AT,
            "lines": [{"line": "1", "amount_minor": 5}, {"line": "2", "amount_minor": 7}],
        }
    )
    assert isinstance(refund, Refund)
    first, second = refund.lines
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.model_fields_set == {"line", "amount_minor"}
