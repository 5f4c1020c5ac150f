"""quick_init: the same records as dataclass's own __init__, built faster, still frozen."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.orders import Order
from cps_ledger.domain.records import quick_init
from cps_ledger.errors import InvalidAccountCodeError
from cps_ledger.services.ingest import Outcome, Status


def _build(*, quick: bool) -> type:
    """The same record class, with dataclass's own __init__ or with quick_init's."""

    @dataclass(frozen=True, slots=True)
    class Record:
        name: str
        amount: int
        memo: str = "-"
        tags: tuple[str, ...] = field(default_factory=tuple)
        seen: list[int] = field(default_factory=list, init=False)
        label: str = field(default="", init=False)
        count: int = field(default=0, kw_only=True)

        def __post_init__(self) -> None:
            object.__setattr__(self, "label", f"{self.name}:{self.amount}")
            if self.amount < 0:
                raise ArithmeticError("negative")

    return quick_init(Record) if quick else Record


ORIGINAL = _build(quick=False)
QUICK = _build(quick=True)


@given(
    name=st.text(max_size=5),
    amount=st.integers(min_value=0),
    memo=st.none() | st.text(max_size=5),
    tags=st.none() | st.tuples(st.text(max_size=3)),
    count=st.none() | st.integers(),
)
def test_quick_init_stores_what_the_dataclass_init_stores(
    name: str, amount: int, memo: str | None, tags: tuple[str] | None, count: int | None
) -> None:
    optional = {"memo": memo, "tags": tags, "count": count}
    kwargs = {k: v for k, v in optional.items() if v is not None}
    expected = ORIGINAL(name, amount, **kwargs)
    got = QUICK(name, amount, **kwargs)
    assert dataclasses.astuple(got) == dataclasses.astuple(expected)
    assert got.label == f"{name}:{amount}"  # __post_init__ ran
    assert got.seen == []
    assert got.seen is not QUICK(name, amount).seen  # a fresh factory value


def test_quick_init_keeps_the_record_frozen_and_runs_its_checks() -> None:
    record = QUICK("a", 1)
    with pytest.raises(FrozenInstanceError):
        record.amount = 2
    with pytest.raises(ArithmeticError):
        QUICK("a", -1)
    with pytest.raises(TypeError):
        QUICK("a", 1, "m", (), 5)  # count is keyword-only, as in the original
    assert dataclasses.replace(record, amount=3).label == "a:3"


def test_quick_init_shows_the_original_signature() -> None:
    assert inspect.signature(QUICK) == inspect.signature(ORIGINAL)
    assert vars(QUICK)["__init__"].__qualname__.endswith("Record.__init__")


def test_quick_init_refuses_what_it_cannot_reproduce() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True)
    class ShadowsTheFactory:
        _FACTORY: int

    for cls in (NoSlots, NotFrozen, WithInitVar, ShadowsTheFactory):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)


def test_the_hot_records_use_it_and_still_validate() -> None:
    posting = Posting("platform:cash", 5, "CNY")
    assert Posting.__init__.__module__ == "cps_ledger.domain.entries"
    assert "_set0" in Posting.__init__.__code__.co_names
    assert "_set0" in Order.__init__.__code__.co_names
    with pytest.raises(InvalidAccountCodeError):
        Posting("nowhere:at:all", 5, "CNY")
    with pytest.raises(FrozenInstanceError):
        posting.amount_minor = 6  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(posting)) == posting
    outcome = Outcome(1, "k", Status.APPLIED)
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    entry = Entry(
        "b",
        "k",
        "bench",
        datetime(2026, 1, 1, tzinfo=UTC),
        (posting, Posting("platform:fee_revenue", -5, "CNY")),
    )
    assert entry.id.version == 7  # the default factory ran: a UUIDv7
