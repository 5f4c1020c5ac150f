"""A hypothesis state machine that drives the real library beside the reference model.

Each example applies a book under a fresh code (books isolate, so no database clean-up is
needed) and then runs random steps — registrations, links, paid orders, completions,
cancellations, partial, full and excessive refunds, merchant payments, replays, monthly
settlements and payout requests, completions and failures — through the library's
services. After every step it checks that the stored journal passes ``audit`` (every entry
balances, every line's shares sum to its commission), that the trial balance equals the
:class:`~cps_ledger.testing.model.ReferenceModel`'s balances, that every line's shares
equal the model's, and that replays change nothing.

Steps are chosen with weights that follow the state (:meth:`LedgerStateMachine.menu`), so
that a typical run of 25 steps pays orders worth paying out, completes them, settles the
month that has ended, requests payouts within the available balance, completes or fails
them, and refunds settled lines (clawbacks). Each step reports the path it took to
``hypothesis.event`` (``--hypothesis-show-statistics`` lists how often each happened) and
counts it in :attr:`LedgerStateMachine.paths`; :data:`MONEY_PATHS` are the ones a run is
expected to reach.

Run it as is (a temporary SQLite file), against a database of your choice, or subclassed::

    TestLedger = LedgerStateMachine.TestCase                       # pytest collects it

    class OnPostgres(LedgerStateMachine):
        database_url = "postgresql+psycopg://me@localhost/ledger_test"

    run_state_machine("sqlite:////tmp/x.sqlite3", settings=settings(max_examples=20))
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar, Final

from hypothesis import event, note, target
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
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
from cps_ledger.services import payouts, settlement
from cps_ledger.services.audit import audit
from cps_ledger.services.books import apply_book
from cps_ledger.services.ingest import Submitted, ingest
from cps_ledger.services.ledger import trial_balance
from cps_ledger.services.uow import UnitOfWork, transact
from cps_ledger.testing.databases import migrated, sqlite_url
from cps_ledger.testing.model import DEFAULT_BOOK_TOML, Predicted, ReferenceModel, Shares
from cps_ledger.testing.strategies import MERCHANTS, START, TIERS, order_lines, sale_amounts

LINES = table(OrderLineRow)
PROMOTERS_MAX: Final = 8
LINKS_MAX: Final = 8
STEP_MINUTES_MAX: Final = 60 * 24 * 3
"""An event moves the clock by up to three days: a month holds several events, and the
settle step moves the clock past a month's end."""
AFTER_END_MINUTES_MAX: Final = 60 * 24 * 2
"""A settlement runs up to two days after the end of its month."""
MONEY_PATHS: Final = (
    "settled money",
    "settlement replayed",
    "earlier period refused",
    "payout requested",
    "payout completed",
    "payout failed",
    "refund after settlement",
    "refund after payout",
    "clawback",
    "merchant paid",
)
"""Paths a run is expected to reach (a clawback: a promoter's available below zero)."""


@cache
def _engine(url: str) -> Engine:
    # One migrated engine per URL and process: migrating per example would dominate the run.
    return migrated(url)


@cache
def _default_url() -> str:
    directory = Path(tempfile.mkdtemp(prefix="cps_ledger_sm_"))
    # Removed when the process exits: every test run used to leave one behind.
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return sqlite_url(str(directory / "ledger.sqlite3")).render_as_string(hide_password=False)


def _weighted(weights: Mapping[str, int]) -> list[str]:
    """Each name repeated by its weight, heaviest first: ``sampled_from`` of this is a
    weighted choice, and its simplest draw (where generation starts and shrinking goes)
    is the likeliest name."""
    ranked = sorted(weights.items(), key=lambda item: -item[1])
    return [name for name, weight in ranked for _ in range(weight)]


class LedgerStateMachine(RuleBasedStateMachine):
    """Drives cps_ledger and :class:`ReferenceModel` side by side; see the module docstring.

    Class attributes to override: ``database_url`` (``None``: a temporary SQLite file made
    once per process) and ``book_toml`` (a book file whose ``{code}`` becomes the fresh
    book code of each example; withholding ``none`` and split ``standard``).

    One rule, :meth:`step`, picks an action from :meth:`menu`: separate rules would be
    switched off at random per example (hypothesis's swarm testing), and a run without,
    say, completions never reaches a payout. Subclasses may add rules of their own.
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
        self.paid_at: dict[str, datetime] = {}
        self.counter = 0
        self.paths: Counter[str] = Counter()
        """How often each path was taken in this example (see :data:`MONEY_PATHS`)."""

    # -- the system under test ----------------------------------------------------------

    def ingest_raw(self, raw: Mapping[str, Any]) -> tuple[str, str | None]:
        """Ingest one raw event through the library: (status, error class name or None)."""
        try:
            parsed = parse_event(dict(raw))
        except CpsLedgerError as exc:
            return "rejected", type(exc).__name__
        (outcome,) = ingest(self.engine, [Submitted(1, parsed, dict(raw))])
        return outcome.status.value, type(outcome.error).__name__ if outcome.error else None

    def _event(self, what: str, raw: dict[str, Any]) -> Predicted:
        note(f"{what}: {raw}")
        expected = self.model.apply(raw)
        got = self.ingest_raw(raw)
        assert got == (expected.status, expected.error), f"{raw}: ledger {got}, model {expected}"
        if expected.status == "applied":
            self.applied.append(raw)
        self.path(f"{what}: {_outcome(expected)}")
        return expected

    def _command(self, what: str, call: Callable[[], Any], expected: Predicted) -> Predicted:
        note(f"{what}: model expects {expected}")
        self.path(f"{what}: {_outcome(expected)}")
        refused: CpsLedgerError | None = None
        try:
            result = call()
        except CpsLedgerError as exc:
            refused = exc
        if refused is not None:
            assert expected.status == "rejected", f"{what}: ledger refused with {refused!r}"
            assert type(refused).__name__ == expected.error, f"{what}: {refused!r}, {expected}"
            return expected
        assert expected.status != "rejected", f"{what}: ledger did {result}, model {expected}"
        assert expected.result is not None
        assert result.replayed == (expected.status == "replayed"), f"{what}: {result}"
        for name, value in expected.result.items():
            if name == "state" and result.replayed:
                continue  # which state a replay reports is not specified
            assert str(getattr(result, name)) == str(value), f"{what}: {result}, model {expected}"
        return expected

    def path(self, name: str) -> None:
        """Count a path this example took and report it to ``hypothesis.event``."""
        event(name)
        self.paths[name] += 1

    def _tick(self, data: st.DataObject) -> str:
        self.clock += timedelta(minutes=data.draw(st.integers(1, STEP_MINUTES_MAX), "minutes"))
        return self.clock.isoformat()

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- choosing a step ------------------------------------------------------------------

    @initialize()
    def a_promoter_under_an_upline_with_a_link(self) -> None:
        """Start every example with someone to sell through, so runs get deep quickly."""
        at, book = self.clock.isoformat(), self.book
        registered = {"type": "promoter_registered", "book": book, "at": at}
        self._event("register", {**registered, "promoter": "up"})
        self._event("register", {**registered, "promoter": "pr", "upline": "up"})
        link = {"type": "share_link_created", "book": book, "link": "Lpr", "promoter": "pr"}
        self._event("link", {**link, "at": at})

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One step of business, chosen from :meth:`menu`."""
        action = data.draw(st.sampled_from(self.menu()), "action")
        getattr(self, action)(data)

    def menu(self) -> list[str]:
        """The names of the actions possible now, each repeated by its weight.

        Weights follow the state towards money out: paid orders get completed, a completed
        unsettled line makes a settlement likely, money available makes a payout request
        likely and a pending payout its completion or failure; each still sometimes runs
        when it can only be refused.
        """
        m = self.model
        paid = any(order.state == "paid" for order in m.orders.values())
        owing = any(m.balance(f"merchant:{x}:receivable") > 0 for x in MERCHANTS)
        clawable = any(
            line.settled and line.remaining_minor
            for order in m.orders.values()
            for line in order.lines.values()
        )
        return _weighted(
            {
                "pay_order": 2 if paid or m.awaiting_settlement() else 6,
                "complete_order": 5 * paid,
                "cancel_order": 1 * paid,
                "refund": 4 if clawable else 1 * bool(m.orders),
                "merchant_payment": 2 if owing else 1 * bool(m.orders),
                "settle": 6 if m.awaiting_settlement() else 1 + bool(self._earlier()),
                "request_payout": 8 if self._funded() else 1,
                "finish_payout": 8 if m.payouts_in("pending") else 1,
                "replay": 1,
                "register_promoter": 1 * (len(m.promoters) < PROMOTERS_MAX),
                "create_link": 1 * (len(m.links) < LINKS_MAX),
            }
        )

    def _funded(self) -> list[str]:
        minimum = max(self.model.definition.payout_minimum_minor, 1)
        return [p for p in sorted(self.model.promoters) if self.model.available_minor(p) >= minimum]

    # -- actions: events --------------------------------------------------------------------

    def register_promoter(self, data: st.DataObject) -> None:
        """A promoter joins, under an existing upline or none."""
        raw: dict[str, Any] = {"type": "promoter_registered", "book": self.book}
        raw["promoter"] = self._id("p")
        with_upline: bool = data.draw(st.booleans(), "with upline")
        if with_upline:
            raw["upline"] = data.draw(st.sampled_from(sorted(self.model.promoters)), "upline")
        if data.draw(st.booleans(), "with tier"):
            raw["tier"] = data.draw(st.sampled_from(TIERS), "tier")
        raw["at"] = self._tick(data)
        self._event("register", raw)

    def create_link(self, data: st.DataObject) -> None:
        """A registered promoter shares a link."""
        owner = data.draw(st.sampled_from(sorted(self.model.promoters)), "owner")
        raw = {"type": "share_link_created", "book": self.book, "link": self._id("L")}
        self._event("link", {**raw, "promoter": owner, "at": self._tick(data)})

    def pay_order(self, data: st.DataObject) -> None:
        """An order of several lines, mostly worth paying out, is paid through a link."""
        link = data.draw(st.sampled_from(sorted(self.model.links)), "link")
        order = self._id("o")
        raw = {"type": "order_paid", "book": self.book, "order": order, "link": link}
        lines = data.draw(order_lines(amount=sale_amounts), "lines")
        paid = self._event("pay", {**raw, "paid_at": self._tick(data), "lines": lines})
        if paid.status == "applied":
            self.paid_at[order] = self.clock

    def complete_order(self, data: st.DataObject) -> None:
        """Complete a paid order: now, late (dated back, maybe into a settled month, so it
        lands in the next run), or any order (refused unless paid; a conflict if completed)."""
        paid = sorted(o for o, order in self.model.orders.items() if order.state == "paid")
        how = data.draw(st.sampled_from(["now", "now", "now", "late", "any order"]), "how")
        order = data.draw(
            st.sampled_from(sorted(self.model.orders) if how == "any order" else paid)
        )
        at = self._tick(data)
        if how == "late":
            back = int((self.clock - self.paid_at[order]).total_seconds() // 60)
            minutes = st.just(back) | st.integers(0, back)  # back to when it was paid, or less
            late = self.clock - timedelta(minutes=data.draw(minutes, "back"))
            at = late.isoformat()
            last = self.model.last_settled()
            if (
                last is not None
                and str(Period.containing(late, self.model.definition.timezone)) <= last
            ):
                self.path("completed in a settled month")  # lands in the next run
        self._event(f"complete {how}", self._finish(order, "order_completed", at))

    def cancel_order(self, data: st.DataObject) -> None:
        """Cancel an order, usually a paid one (else it is refused)."""
        paid = sorted(o for o, order in self.model.orders.items() if order.state == "paid")
        order = data.draw(st.sampled_from(paid) | st.sampled_from(sorted(self.model.orders)))
        self._event("cancel", self._finish(order, "order_cancelled", self._tick(data)))

    def _finish(self, order: str, kind: str, at: str) -> dict[str, Any]:
        return {"type": kind, "book": self.book, "order": order, "at": at}

    def refund(self, data: st.DataObject) -> None:
        """Refund lines: settled ones worth more than the promoter has left (clawbacks),
        other settled ones, any with base left (full or partial), or of any order at all
        (too much, cancelled: refused)."""
        orders = self.model.orders
        open_ = {o: order for o, order in orders.items() if order.state != "cancelled"}
        left = {
            o: [n for n, ln in order.lines.items() if ln.remaining_minor]
            for o, order in open_.items()
        }
        left = {o: names for o, names in left.items() if names}
        settled = {o: [n for n in names if orders[o].lines[n].settled] for o, names in left.items()}
        settled = {o: names for o, names in settled.items() if names}
        # A full refund of these settled lines takes back more than the promoter has left.
        beyond = {
            o: names
            for o, names in settled.items()
            if sum(orders[o].lines[n].shares[1] for n in names)
            > self.model.available_minor(orders[o].promoter)
        }
        every = {o: sorted(order.lines) for o, order in orders.items()}
        pools = {"beyond available": beyond, "settled": settled, "open": left, "any": every}
        weights = {"beyond available": 3, "settled": 2, "open": 2, "any": 1}
        ways = {way: weight * bool(pools[way]) for way, weight in weights.items()}
        how = data.draw(st.sampled_from(_weighted(ways)), "refund of")
        order_id = data.draw(st.sampled_from(sorted(pools[how])), "order")
        order, names = orders[order_id], pools[how][order_id]
        chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True), "lines")
        lines = []
        for name in chosen:
            rest = order.lines[name].remaining_minor
            amounts = st.sampled_from([rest, rest]) | st.integers(1, max(rest, 1))
            if how == "any":
                amounts = amounts | st.just(rest + 1)
            lines.append({"line": name, "amount_minor": data.draw(amounts, "amount")})
        was_settled = any(order.lines[n].settled for n in chosen)
        parties = {order.promoter, order.upline}
        raw = {"type": "refund", "book": self.book, "refund": self._id("r"), "order": order_id}
        done = self._event(f"refund {how}", {**raw, "at": self._tick(data), "lines": lines})
        if done.status != "applied":
            return
        if was_settled:
            self.path("refund after settlement")
        if any(p.promoter in parties for p in self.model.payouts.values()):
            self.path("refund after payout")
        if any(self.model.available_minor(p) < 0 for p in self.model.promoters):
            self.path("clawback")

    def merchant_payment(self, data: st.DataObject) -> None:
        """A merchant pays some, all, or more than it owes now."""
        owing = [x for x in MERCHANTS if self.model.balance(f"merchant:{x}:receivable") > 0]
        anyone = st.sampled_from(MERCHANTS)
        merchant = data.draw(st.sampled_from(owing) | anyone if owing else anyone, "merchant")
        owed = max(self.model.balance(f"merchant:{merchant}:receivable"), 0)
        amount = data.draw(
            st.sampled_from([owed, owed + 1]) | st.integers(1, max(owed, 1)), "amount"
        )
        raw: dict[str, Any] = {"type": "merchant_payment", "book": self.book, "merchant": merchant}
        raw |= {"payment": self._id("mp"), "amount_minor": max(amount, 1), "at": self._tick(data)}
        if self._event("merchant payment", raw).status == "applied":
            self.path("merchant paid")

    def replay(self, data: st.DataObject) -> None:
        """An earlier event again: replayed and nothing changes; altered: a conflict."""
        raw = dict(data.draw(st.sampled_from(self.applied), "earlier event"))
        if data.draw(st.booleans(), "altered"):
            field = "paid_at" if raw["type"] == "order_paid" else "at"
            raw[field] = (datetime.fromisoformat(raw[field]) + timedelta(seconds=1)).isoformat()
        before = trial_balance(self.engine, self.book).by_account()
        self._event("replay", raw)
        after = trial_balance(self.engine, self.book).by_account()
        assert after == before, (
            f"a replay changed balances, unlike the model: {_diff(after, before)}"
        )

    # -- actions: settlement and payouts -----------------------------------------------------

    def settle(self, data: st.DataObject) -> None:
        """Settle: the month that just ended (the clock moves past its end), the next one
        too (skipping one), again (replayed), an earlier never-settled one or the current
        one (both refused)."""
        tz = self.model.definition.timezone
        current = Period.containing(self.clock, tz)
        earlier = self._earlier()
        ways = {
            "month end": 5,
            "skip ahead": 2,
            "again": 3 * bool(self.model.settled),
            "earlier": 4 * bool(earlier),
            "not ended": 1,
        }
        how = data.draw(st.sampled_from(_weighted(ways)), "settle")
        period = current
        if how in ("month end", "skip ahead"):
            period = current if how == "month end" else current.next()
            after = data.draw(st.integers(0, AFTER_END_MINUTES_MAX), "minutes after its end")
            self.clock = max(self.clock, period.end(tz) + timedelta(minutes=after))
        elif how in ("again", "earlier"):
            pool = sorted(self.model.settled) if how == "again" else earlier
            period = Period.parse(data.draw(st.sampled_from(pool), "period"))
        text, now = str(period), self.clock
        expected = self._command(
            f"settle {how}",
            lambda: settlement.settle(self.engine, self.book, text, now=now),
            self.model.settle(text, now),
        )
        result = expected.result or {}
        if expected.status == "applied" and result.get("amount_minor"):
            self.path("settled money")
        elif expected.status == "replayed":
            self.path("settlement replayed")
        elif how == "earlier" and expected.status == "rejected":
            self.path("earlier period refused")

    def _earlier(self) -> list[str]:
        """The months never settled before the last settled one: settling them is refused."""
        tz, last = self.model.definition.timezone, self.model.last_settled()
        period, earlier = Period.containing(START, tz), []
        while last is not None and str(period) < last:
            if str(period) not in self.model.settled:
                earlier.append(str(period))
            period = period.next()
        return earlier

    def request_payout(self, data: st.DataObject) -> None:
        """Ask for a payout: within what a promoter has, above it, below the minimum, for a
        stranger, or under an earlier request id (replayed, or a conflict)."""
        funded, minimum = self._funded(), self.model.definition.payout_minimum_minor
        ways = {"within": 5 * bool(funded), "too much": 1 * bool(funded), "below minimum": 1}
        ways |= {"stranger": 1, "again": 1 * bool(self.model.payouts)}
        how = data.draw(st.sampled_from(_weighted(ways)), "request")
        rid, promoter, amount = self._id("rq"), "ghost", max(minimum, 1)
        if how in ("within", "too much"):
            promoter = data.draw(st.sampled_from(funded), "promoter")
            available = self.model.available_minor(promoter)
            all_or_part = st.sampled_from([available] * 2) | st.integers(max(minimum, 1), available)
            amount = available + 1 if how == "too much" else data.draw(all_or_part, "amount")
        elif how == "below minimum":
            promoter = data.draw(st.sampled_from(sorted(self.model.promoters)), "promoter")
            amount = max(minimum - 1, 1)
        elif how == "again":
            rid = data.draw(st.sampled_from(sorted(self.model.payouts)), "request id")
            earlier = self.model.payouts[rid]
            promoter = earlier.promoter
            amount = earlier.amount_minor + data.draw(st.sampled_from([0, 1]), "changed by")
        command = RequestPayout(
            book=self.book, promoter=promoter, amount_minor=amount, request_id=rid, at=self.clock
        )
        expected = self._command(
            f"request payout {how}",
            lambda: payouts.request_payout(self.engine, command),
            self.model.request_payout(promoter, amount, rid),
        )
        if expected.status == "applied":
            self.path("payout requested")

    def finish_payout(self, data: st.DataObject) -> None:
        """Complete or fail a pending payout, one already finished (replayed or refused), or
        an unknown one."""
        pending = self.model.payouts_in("pending")
        finished = [rid for rid in self.model.payouts if rid not in pending]
        ways = {"pending": 4 * bool(pending), "finished": 1 * bool(finished), "unknown": 1}
        how = data.draw(st.sampled_from(_weighted(ways)), "payout")
        rid = "unknown"
        if how != "unknown":
            rid = data.draw(st.sampled_from(pending if how == "pending" else finished), "id")
        complete = not data.draw(st.booleans(), "fail (else complete)")
        call: Callable[[], payouts.PayoutResult]
        if complete:
            done_cmd = CompletePayout(book=self.book, request_id=rid, at=self.clock)
            call = partial(payouts.complete_payout, self.engine, done_cmd)
            expected = self.model.complete_payout(rid)
        else:
            failed_cmd = FailPayout(book=self.book, request_id=rid, at=self.clock)
            call = partial(payouts.fail_payout, self.engine, failed_cmd)
            expected = self.model.fail_payout(rid)
        verb = "complete" if complete else "fail"
        done = self._command(f"{verb} payout {how}", call, expected)
        if done.status == "applied":
            self.path("payout completed" if complete else "payout failed")

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

    def teardown(self) -> None:
        """Steer generation towards runs that reach more of :data:`MONEY_PATHS`."""
        target(float(sum(1 for p in MONEY_PATHS if self.paths[p])), label="money paths reached")
        super().teardown()


def _outcome(predicted: Predicted) -> str:
    return predicted.status + (f" {predicted.error}" if predicted.error else "")


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


__all__ = ["MONEY_PATHS", "LedgerStateMachine", "run_state_machine"]
