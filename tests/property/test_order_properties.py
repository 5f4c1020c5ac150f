"""Properties of orders and refunds over generated event streams (issue 4).

Each example ingests a whole valid stream from ``cps_ledger.testing.strategies`` into a fresh
book, in chunks cut at random, and checks the money after every chunk.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL

from cps_ledger.adapters.cps_tables import OrderLineRow
from cps_ledger.adapters.engine import make_engine
from cps_ledger.adapters.schema import metadata
from cps_ledger.adapters.tables import table
from cps_ledger.domain.events import parse_event
from cps_ledger.errors import CpsLedgerError
from cps_ledger.services.audit import audit
from cps_ledger.services.books import apply_book
from cps_ledger.services.ingest import Status, Submitted, ingest
from cps_ledger.services.ledger import trial_balance
from cps_ledger.testing.model import ReferenceModel, default_book_toml
from cps_ledger.testing.strategies import (
    InvalidEvent,
    book_definition,
    book_files,
    event_streams,
    invalid_events,
    rebook,
)

LINES = table(OrderLineRow)
Shares = tuple[int, int, int, int]


@pytest.fixture(scope="module")
def sqlite_engine(database_url_for: dict[str, URL]) -> Iterator[Engine]:
    engine = make_engine(database_url_for["sqlite"])
    yield engine
    engine.dispose()


def stored_lines(engine: Engine, book: str) -> dict[tuple[str, str], Shares]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                LINES.c.order_id,
                LINES.c.line,
                LINES.c.commission_minor,
                LINES.c.promoter_minor,
                LINES.c.upline_minor,
                LINES.c.platform_minor,
            ).where(LINES.c.book == book)
        )
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}


def row_counts(engine: Engine, book: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(t).where(t.c.book == book)
            ).scalar_one()
            for name, t in metadata.tables.items()
            if "book" in t.c
        }


def submit(engine: Engine, events: list[dict[str, Any]]) -> list[Status]:
    items = [Submitted(i, parse_event(e), e) for i, e in enumerate(events)]
    return [o.status for o in ingest(engine, items)]


def fresh(engine: Engine, data: st.DataObject) -> tuple[str, ReferenceModel, list[dict[str, Any]]]:
    """A fresh book with generated rules and split, and a valid stream for it."""
    code = f"op{secrets.token_hex(5)}"
    definition = book_definition(data.draw(book_files(code), "book file"))
    apply_book(engine, definition)
    stream = data.draw(event_streams(definition), "stream")
    return code, ReferenceModel(definition), stream


@settings(max_examples=30)
@given(data=st.data())
def test_no_fen_is_created_or_lost_at_any_moment_of_a_stream(
    sqlite_engine: Engine, data: st.DataObject
) -> None:
    code, model, stream = fresh(sqlite_engine, data)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream)), max_size=4), "cuts"))
    start = 0
    for end in [*cuts, len(stream)]:
        chunk = stream[start:end]
        expected = [model.apply(e).status for e in chunk]
        assert (
            [s.value for s in submit(sqlite_engine, chunk)] == expected == ["applied"] * len(chunk)
        )
        start = end
        lines = stored_lines(sqlite_engine, code)
        for commission, promoter, upline, platform in lines.values():
            assert promoter + upline + platform == commission
            assert min(commission, promoter, upline, platform) >= 0  # never below zero
        assert lines == model.line_shares()
        tb = trial_balance(sqlite_engine, code)
        assert tb.total_debit_minor == tb.total_credit_minor
        assert tb.by_account() == model.balances()
    assert audit(sqlite_engine, code).ok


@settings(max_examples=30)
@given(data=st.data())
def test_replaying_any_prefix_of_a_stream_changes_nothing(
    sqlite_engine: Engine, data: st.DataObject
) -> None:
    code, _model, stream = fresh(sqlite_engine, data)
    submit(sqlite_engine, stream)
    counts = row_counts(sqlite_engine, code)
    balances = trial_balance(sqlite_engine, code).by_account()
    prefix = stream[: data.draw(st.integers(1, len(stream)), "prefix")]
    assert submit(sqlite_engine, prefix) == [Status.REPLAYED] * len(prefix)
    assert row_counts(sqlite_engine, code) == counts
    assert trial_balance(sqlite_engine, code).by_account() == balances


@settings(max_examples=10)
@given(stream=event_streams(book="template"))
def test_the_same_stream_gives_the_same_books_on_every_database(
    engine: Engine, stream: list[dict[str, Any]]
) -> None:
    code = f"od{secrets.token_hex(5)}"
    model = ReferenceModel.from_toml(default_book_toml(code))
    apply_book(engine, model.definition)
    events = rebook(stream, code)
    predicted = [model.apply(e) for e in events]
    assert [s.value for s in submit(engine, events)] == [p.status for p in predicted]
    assert trial_balance(engine, code).by_account() == model.balances()
    assert stored_lines(engine, code) == model.line_shares()


@given(bad=invalid_events())
def test_every_kind_of_bad_input_is_refused_with_its_typed_error(bad: InvalidEvent) -> None:
    with pytest.raises(CpsLedgerError) as raised:
        parse_event(bad.raw)
    assert type(raised.value) is bad.error, bad.kind
    model = ReferenceModel.from_toml(default_book_toml("fenxiang"))
    predicted = model.apply(bad.raw)
    assert (predicted.status, predicted.error) == ("rejected", bad.error.__name__)
    assert model.balances() == {}
