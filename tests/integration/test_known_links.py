"""An ingest call reads each share link once (finding 35), on every database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from cps_ledger.adapters.cps_repo import LINKS
from cps_ledger.domain.events import parse_event
from cps_ledger.errors import LinkOfAnotherBookError
from cps_ledger.services.ingest import Status, Submitted, ingest
from cps_ledger.services.known_links import KnownLinks
from cps_ledger.services.ledger import trial_balance
from tests.support.books import at, make_book, run, starter


@contextmanager
def link_reads(engine: Engine) -> Iterator[list[str]]:
    """The statements sent on ``engine`` that read the share links table."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2]).lower()
        if statement.lstrip().startswith("select") and LINKS.name in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def paid(book: str, order: str, minute: int, link: str = "L1") -> dict[str, Any]:
    return {
        "type": "order_paid",
        "book": book,
        "order": order,
        "link": link,
        "paid_at": at(minute),
        "lines": [{"line": "1", "merchant": "m1", "quantity": 1, "amount_minor": 1000}],
    }


def items(*events: dict[str, Any]) -> list[Submitted]:
    return [Submitted(i, parse_event(e), e) for i, e in enumerate(events, start=1)]


def test_later_batches_of_a_call_do_not_read_a_link_again(engine: Engine, book_code: str) -> None:
    book = make_book(engine, book_code)
    run(engine, *starter(book)[:3])
    orders = [paid(book, f"o{n}", 10 + n) for n in range(4)]
    with link_reads(engine) as reads:
        outcomes = list(ingest(engine, items(*orders), batch_size=1))
    assert [o.status for o in outcomes] == [Status.APPLIED] * 4
    assert len(reads) == 1, reads
    # What the later batches took from memory is what reading it again would have given.
    again = make_book(engine, f"{book_code}x")
    run(engine, *starter(again)[:3])
    for order in orders:
        run(engine, {**order, "book": again})
    assert trial_balance(engine, book).by_account() == trial_balance(engine, again).by_account()


def test_a_link_read_in_one_book_is_not_taken_for_another(engine: Engine, book_code: str) -> None:
    first, second = make_book(engine, book_code), make_book(engine, f"{book_code}y")
    run(engine, *starter(first)[:3])
    outcomes = list(
        ingest(engine, items(paid(first, "o1", 10), paid(second, "o1", 11)), batch_size=1)
    )
    assert outcomes[0].status is Status.APPLIED
    assert outcomes[1].status is Status.REJECTED
    assert isinstance(outcomes[1].error, LinkOfAnotherBookError)


def test_known_links_stay_within_their_limit(engine: Engine, book_code: str) -> None:
    book = make_book(engine, book_code)
    links = [
        {"type": "share_link_created", "book": book, "link": f"L{n}", "promoter": "p1", "at": at(2)}
        for n in range(1, 5)
    ]
    run(engine, *starter(book)[:2], *links)
    known = KnownLinks(limit=3)
    with engine.connect() as conn:
        assert set(known.load(conn, book, ["L1", "L2"])) == {"L1", "L2"}
        assert len(known) == 2
        assert set(known.load(conn, book, ["L1", "L3", "L4"])) == {"L1", "L3", "L4"}
        assert len(known) == 2  # full: started afresh with the two just read
        everything = known.load(conn, book, ["L1", "L2", "L3", "L4", "L9"])
        assert set(everything) == {"L1", "L2", "L3", "L4"}
        assert len(known) == 2  # L3 and L4 were known; L1 and L2 were read, and fill it again
        assert everything["L2"].promoter == "p1"
        tiny = KnownLinks(limit=1)
        assert set(tiny.load(conn, book, ["L1", "L2"])) == {"L1", "L2"}
        assert len(tiny) == 0  # more than the limit in one read: none kept
