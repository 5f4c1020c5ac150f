"""A hypothesis state machine that drives the real library beside the reference model.

Each example applies a book under a fresh code (books isolate, so no database clean-up is
needed) and then runs random steps — registrations, links, paid orders, completions,
cancellations, partial and full refunds, merchant payments, replays, settlements and
payouts — through the library's services. After every step it checks that the stored
journal passes ``audit`` (every entry balances, every line's shares sum to its commission),
that the trial balance equals the :class:`~cps_ledger.testing.model.ReferenceModel`'s
balances, that every line's shares equal the model's, and that replays change nothing.

Run it as is (a temporary SQLite file), against a database of your choice, or subclassed::

    TestLedger = LedgerStateMachine.TestCase                       # pytest collects it

    class OnPostgres(LedgerStateMachine):
        database_url = "postgresql+psycopg://me@localhost/ledger_test"

    run_state_machine("sqlite:////tmp/x.sqlite3", settings=settings(max_examples=20))
"""

from __future__ import annotations

import importlib
import secrets
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from hypothesis import note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL

from cps_ledger.adapters.cps_tables import OrderLineRow
from cps_ledger.adapters.tables import table
from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.domain.events import parse_event
from cps_ledger.domain.periods import Period
from cps_ledger.errors import CpsLedgerError
from cps_ledger.services.audit import audit
from cps_ledger.services.books import apply_book
from cps_ledger.services.ingest import Submitted, ingest
from cps_ledger.services.ledger import trial_balance
from cps_ledger.services.uow import UnitOfWork, transact
from cps_ledger.testing.databases import migrated, sqlite_url
from cps_ledger.testing.model import DEFAULT_BOOK_TOML, Predicted, ReferenceModel, Shares
from cps_ledger.testing.strategies import MERCHANTS, START, TIERS, order_lines

LINES = table(OrderLineRow)
PROMOTERS_MAX = 8
LINKS_MAX = 8
STEP_MINUTES_MAX = 60 * 24 * 12
"""A step moves the clock by up to 12 days, so a run of steps crosses several months."""


@cache
def _engine(url: str) -> Engine:
    # One migrated engine per URL and process: migrating per example would dominate the run.
    return migrated(url)


@cache
def _default_url() -> str:
    directory = Path(tempfile.mkdtemp(prefix="cps_ledger_sm_"))
    return sqlite_url(str(directory / "ledger.sqlite3")).render_as_string(hide_password=False)


def _service(name: str) -> ModuleType | None:
    # Settlement and payouts are imported lazily: the machine runs without them.
    try:
        return importlib.import_module(f"cps_ledger.services.{name}")
    except ImportError:
        return None


def _has(name: str) -> Callable[[Any], bool]:
    return lambda _machine: _service(name) is not None


class LedgerStateMachine(RuleBasedStateMachine):
    """Drives cps_ledger and :class:`ReferenceModel` side by side; see the module docstring.

    Class attributes to override: ``database_url`` (``None``: a temporary SQLite file made
    once per process) and ``book_toml`` (a book file whose ``{code}`` becomes the fresh
    book code of each example; withholding ``none`` and split ``standard``).
    """

    database_url: ClassVar[str | URL | None] = None
    book_toml: ClassVar[str] = DEFAULT_BOOK_TOML

    def __init__(self) -> None:
        super().__init__()
        url = self.database_url if self.database_url is not None else _default_url()
        self.engine = _engine(url if isinstance(url, str) else url.render_as_string(False))
        self.book = f"sm{secrets.token_hex(6)}"
        definition = parse_book_file(self.book_toml.replace("{code}", self.book)).definition()
        apply_book(self.engine, definition)
        self.model = ReferenceModel(definition)
        self.clock = START
        self.applied: list[dict[str, Any]] = []
        self.request_ids: list[str] = []
        self.counter = 0

    # -- the system under test ----------------------------------------------------------

    def ingest_raw(self, raw: Mapping[str, Any]) -> tuple[str, str | None]:
        """Ingest one raw event through the library: (status, error class name or None)."""
        try:
            event = parse_event(dict(raw))
        except CpsLedgerError as exc:
            return "rejected", type(exc).__name__
        (outcome,) = ingest(self.engine, [Submitted(1, event, dict(raw))])
        return outcome.status.value, type(outcome.error).__name__ if outcome.error else None

    def _event(self, raw: dict[str, Any]) -> None:
        note(f"event {raw}")
        expected = self.model.apply(raw)
        got = self.ingest_raw(raw)
        assert got == (expected.status, expected.error), f"{raw}: ledger {got}, model {expected}"
        if expected.status == "applied":
            self.applied.append(raw)

    def _command(self, what: str, call: Callable[[], Any], expected: Predicted) -> None:
        note(f"{what}: model expects {expected}")
        refused: CpsLedgerError | None = None
        try:
            result = call()
        except CpsLedgerError as exc:
            refused = exc
        if refused is not None:
            assert expected.status == "rejected", f"{what}: ledger refused with {refused!r}"
            assert type(refused).__name__ == expected.error, f"{what}: {refused!r}, {expected}"
            return
        assert expected.status != "rejected", f"{what}: ledger did {result}, model {expected}"
        assert expected.result is not None
        assert result.replayed == (expected.status == "replayed"), f"{what}: {result}"
        for name, value in expected.result.items():
            if name == "state" and result.replayed:
                continue  # which state a replay reports is not specified
            assert str(getattr(result, name)) == str(value), f"{what}: {result}, model {expected}"

    def _tick(self, data: st.DataObject) -> str:
        self.clock += timedelta(minutes=data.draw(st.integers(1, STEP_MINUTES_MAX), "minutes"))
        return self.clock.isoformat()

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- rules: events ----------------------------------------------------------------------

    @initialize()
    def a_promoter_under_an_upline_with_a_link(self) -> None:
        """Start every example with someone to sell through, so runs get deep quickly."""
        at = self.clock.isoformat()
        self._event({"type": "promoter_registered", "book": self.book, "promoter": "up", "at": at})
        self._event(
            {
                "type": "promoter_registered",
                "book": self.book,
                "promoter": "pr",
                "upline": "up",
                "at": at,
            }
        )
        self._event(
            {
                "type": "share_link_created",
                "book": self.book,
                "link": "Lpr",
                "promoter": "pr",
                "at": at,
            }
        )

    @precondition(lambda self: len(self.model.promoters) < PROMOTERS_MAX)
    @rule(data=st.data())
    def register_promoter(self, data: st.DataObject) -> None:
        """A promoter joins, under an existing upline or none."""
        raw: dict[str, Any] = {"type": "promoter_registered", "book": self.book}
        raw["promoter"] = self._id("p")
        with_upline: bool = data.draw(st.booleans(), "with upline")
        if self.model.promoters and with_upline:
            raw["upline"] = data.draw(st.sampled_from(sorted(self.model.promoters)), "upline")
        if data.draw(st.booleans(), "with tier"):
            raw["tier"] = data.draw(st.sampled_from(TIERS), "tier")
        raw["at"] = self._tick(data)
        self._event(raw)

    @precondition(lambda self: len(self.model.promoters) > 0 and len(self.model.links) < LINKS_MAX)
    @rule(data=st.data())
    def create_link(self, data: st.DataObject) -> None:
        """A registered promoter shares a link."""
        owner = data.draw(st.sampled_from(sorted(self.model.promoters)), "owner")
        raw = {"type": "share_link_created", "book": self.book, "link": self._id("L")}
        self._event({**raw, "promoter": owner, "at": self._tick(data)})

    @precondition(lambda self: bool(self.model.links))
    @rule(data=st.data())
    def pay_order(self, data: st.DataObject) -> None:
        """An order of several lines is paid through an existing link."""
        link = data.draw(st.sampled_from(sorted(self.model.links)), "link")
        raw = {"type": "order_paid", "book": self.book, "order": self._id("o"), "link": link}
        lines = data.draw(order_lines(), "lines")
        self._event({**raw, "paid_at": self._tick(data), "lines": lines})

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def complete_order(self, data: st.DataObject) -> None:
        """Complete an order, usually a paid one (else it is refused)."""
        self._finish_order(data, "order_completed")

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def cancel_order(self, data: st.DataObject) -> None:
        """Cancel an order, usually a paid one (else it is refused)."""
        self._finish_order(data, "order_cancelled")

    def _finish_order(self, data: st.DataObject, kind: str) -> None:
        every = st.sampled_from(sorted(self.model.orders))
        paid = sorted(o for o, order in self.model.orders.items() if order.state == "paid")
        order = data.draw(st.sampled_from(paid) | every if paid else every, "order")
        self._event({"type": kind, "book": self.book, "order": order, "at": self._tick(data)})

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """A partial, full or excessive refund of some lines of any order."""
        order_id = data.draw(st.sampled_from(sorted(self.model.orders)), "order")
        order = self.model.orders[order_id]
        names = data.draw(
            st.lists(st.sampled_from(sorted(order.lines)), min_size=1, unique=True), "lines"
        )
        lines = []
        for name in names:
            left = order.lines[name].remaining_minor
            amount = data.draw(
                st.sampled_from([max(left, 1), left + 1]) | st.integers(1, max(left, 1)), "amount"
            )
            lines.append({"line": name, "amount_minor": amount})
        raw = {"type": "refund", "book": self.book, "refund": self._id("r"), "order": order_id}
        self._event({**raw, "at": self._tick(data), "lines": lines})

    @precondition(lambda self: bool(self.model.orders))
    @rule(data=st.data())
    def merchant_payment(self, data: st.DataObject) -> None:
        """A merchant pays some, all, or more than it owes now."""
        merchant = data.draw(st.sampled_from(MERCHANTS), "merchant")
        owed = max(self.model.balance(f"merchant:{merchant}:receivable"), 0)
        amount = data.draw(st.integers(1, max(owed, 1)) | st.just(owed + 1), "amount")
        raw = {"type": "merchant_payment", "book": self.book, "payment": self._id("mp")}
        self._event({**raw, "merchant": merchant, "amount_minor": amount, "at": self._tick(data)})

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data(), altered=st.booleans())
    def replay(self, data: st.DataObject, altered: bool) -> None:
        """An earlier event again: replayed and nothing changes; altered: a conflict."""
        raw = dict(data.draw(st.sampled_from(self.applied), "earlier event"))
        if altered:
            field = "paid_at" if raw["type"] == "order_paid" else "at"
            raw[field] = (datetime.fromisoformat(raw[field]) + timedelta(seconds=1)).isoformat()
        before = trial_balance(self.engine, self.book).by_account()
        self._event(raw)
        after = trial_balance(self.engine, self.book).by_account()
        assert after == before, (
            f"a replay changed balances, unlike the model: {_diff(after, before)}"
        )

    # -- rules: settlement and payouts (lazily imported services) -------------------------

    @precondition(_has("settlement"))
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        """Settle a month that has ended: in order, skipping ahead, or re-running one."""
        tz = self.model.definition.timezone
        period, ended = Period.containing(START, tz), []
        while period.end(tz) <= self.clock:
            ended.append(str(period))
            period = period.next()
        if not ended:
            return
        # Mostly the latest ended month (new money); sometimes any, to re-run or go back.
        chosen = data.draw(st.just(ended[-1]) | st.sampled_from(ended), "period")
        service: Any = _service("settlement")
        self._command(
            f"settle {chosen}",
            lambda: service.settle(self.engine, self.book, chosen, now=self.clock),
            self.model.settle(chosen, self.clock),
        )

    @precondition(_has("payouts"))
    @rule(data=st.data())
    def request_payout(self, data: st.DataObject) -> None:
        """A promoter (or a stranger) asks for some, all or more of its available balance."""
        funded = [p for p in sorted(self.model.promoters) if self._available(p) > 0]
        everyone = [*sorted(self.model.promoters), "ghost"]
        who = st.sampled_from(everyone)
        promoter = data.draw(st.sampled_from(funded) | who if funded else who, "who")
        available, minimum = self._available(promoter), self.model.definition.payout_minimum_minor
        within = st.integers(max(minimum, 1), available) if available >= minimum else st.nothing()
        amount = data.draw(
            within | within | st.sampled_from([1, max(minimum - 1, 1), available + 1]), "amount"
        )
        reuse_id: bool = data.draw(st.booleans(), "reuse a request id")
        reuse = bool(self.request_ids) and reuse_id
        rid = data.draw(st.sampled_from(self.request_ids)) if reuse else self._id("rq")
        if not reuse:
            self.request_ids.append(rid)
        service: Any = _service("payouts")
        command = RequestPayout(
            book=self.book, promoter=promoter, amount_minor=amount, request_id=rid, at=self.clock
        )
        self._command(
            f"request {rid} {promoter} {amount}",
            lambda: service.request_payout(self.engine, command),
            self.model.request_payout(promoter, amount, rid),
        )

    def _available(self, promoter: str) -> int:
        return -self.model.balance(f"promoter:{promoter}:available")

    @precondition(_has("payouts"))
    @rule(data=st.data(), complete=st.booleans())
    def finish_payout(self, data: st.DataObject, complete: bool) -> None:
        """Complete or fail a payout request (or an unknown one)."""
        rid = data.draw(st.sampled_from([*self.request_ids, "unknown"]), "request id")
        service: Any = _service("payouts")
        command: CompletePayout | FailPayout
        if complete:
            command = CompletePayout(book=self.book, request_id=rid, at=self.clock)
            call, expected = service.complete_payout, self.model.complete_payout(rid)
        else:
            command = FailPayout(book=self.book, request_id=rid, at=self.clock)
            call, expected = service.fail_payout, self.model.fail_payout(rid)
        self._command(
            f"{'complete' if complete else 'fail'} {rid}",
            lambda: call(self.engine, command),
            expected,
        )

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def audit_passes(self) -> None:
        """Every entry balances, no orphans, unique keys, shares sum to commission per line."""
        report = audit(self.engine, self.book)
        assert report.ok, f"audit failed (the model never lets this happen): {report.failed()}"

    @invariant()
    def trial_balance_equals_the_model(self) -> None:
        """Every account's balance is what DESIGN §4–§5 say it must be; no fen lost."""
        tb = trial_balance(self.engine, self.book)
        assert tb.total_debit_minor == tb.total_credit_minor
        got, expected = tb.by_account(), self.model.balances()
        assert got == expected, f"balances differ from the model: {_diff(got, expected)}"

    @invariant()
    def every_lines_shares_equal_the_model(self) -> None:
        """promoter + upline + platform = commission on every line, none below zero."""
        stored = self.stored_line_shares()
        expected = self.model.line_shares()
        assert stored == expected, f"line shares differ from the model: {_diff(stored, expected)}"
        for shares in stored.values():
            assert shares[1] + shares[2] + shares[3] == shares[0]
            assert min(shares) >= 0

    def stored_line_shares(self) -> dict[tuple[str, str], Shares]:
        """(order, line) -> (commission, promoter, upline, platform) as stored."""

        def work(uow: UnitOfWork) -> dict[tuple[str, str], Shares]:
            rows = uow.conn.execute(
                select(
                    LINES.c.order_id,
                    LINES.c.line,
                    LINES.c.commission_minor,
                    LINES.c.promoter_minor,
                    LINES.c.upline_minor,
                    LINES.c.platform_minor,
                ).where(LINES.c.book == self.book)
            )
            return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}

        return transact(self.engine, work, read_only=True)


def _diff(got: Mapping[Any, Any], expected: Mapping[Any, Any]) -> dict[Any, tuple[Any, Any]]:
    """(ledger, model) of every key where they differ."""
    return {
        k: (got.get(k), expected.get(k))
        for k in sorted(set(got) | set(expected), key=str)
        if got.get(k) != expected.get(k)
    }


def run_state_machine(
    url: str | URL | None = None,
    *,
    machine: type[LedgerStateMachine] = LedgerStateMachine,
    settings: hypothesis_settings | None = None,
) -> None:
    """Run ``machine`` against the database at ``url`` (default: a temporary SQLite file).

    Raises what hypothesis raises when a step disagrees with the model (after shrinking,
    unless ``settings`` turns that phase off).
    """
    chosen = machine
    if url is not None:
        chosen = type(machine.__name__, (machine,), {"database_url": url})
    run_state_machine_as_test(chosen, settings=settings)


__all__ = ["LedgerStateMachine", "run_state_machine"]
