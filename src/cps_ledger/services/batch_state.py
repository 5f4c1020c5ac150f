"""The state one ingest batch touches, loaded once and changed in memory event by event.

Every handler checks everything first and changes state only when the event is accepted, so
a rejected event leaves no trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Connection
from sqlalchemy.engine import URL

from cps_ledger.adapters import cps_repo as repo
from cps_ledger.adapters.cps_repo import Promoter, PromoterTerms, ShareLink
from cps_ledger.adapters.journal import Journal
from cps_ledger.adapters.journal_rows import JournalRows
from cps_ledger.adapters.order_rows import StoredOrder, order_of_rows, order_rows
from cps_ledger.adapters.settlement_due import add_due
from cps_ledger.domain import orders as lifecycle
from cps_ledger.domain.accounts import PLATFORM_CASH, merchant_receivable
from cps_ledger.domain.books import Book, RulesVersion
from cps_ledger.domain.commission import quote_line, shares_for
from cps_ledger.domain.entries import Entry, Posting
from cps_ledger.domain.events import (
    Event,
    MerchantPayment,
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    Refund,
    ShareLinkCreated,
)
from cps_ledger.domain.orders import LineState, Order, OrderState, RefundedLine
from cps_ledger.domain.rules import LineContext, RuleSet, build_ruleset
from cps_ledger.domain.splits import SplitWeights, split_policy
from cps_ledger.errors import (
    LinkOfAnotherBookError,
    OrderBeforeLinkError,
    PaymentExceedsReceivableError,
    UnknownLinkError,
    UnknownOrderError,
    UnknownPromoterError,
    UplineError,
)
from cps_ledger.services import packed
from cps_ledger.services.books import load_rules_version
from cps_ledger.services.known_links import KnownLinks
from cps_ledger.services.packed import PackedPaid, PaidLine, is_packed


@dataclass(frozen=True, slots=True)
class _Pricing:
    """A rules version compiled for quoting: the rule set and both possible splits."""

    rules: RulesVersion
    ruleset: RuleSet
    with_upline: SplitWeights
    without_upline: SplitWeights


_compiled: dict[tuple[URL, str, int], _Pricing] = {}


def _pricing(conn: Connection, book: Book) -> _Pricing:
    # A published version never changes, so it is loaded and compiled once per process,
    # not once per line or per batch.
    key = (conn.engine.url, book.code, book.rules_version)
    if key not in _compiled:
        rules = load_rules_version(conn, book.code, book.rules_version)
        policy = split_policy(rules.split_policy)
        _compiled[key] = _Pricing(
            rules,
            build_ruleset(rules.rules, rules.version),
            *(
                policy.weights(
                    fee_rate=rules.fee_rate, upline_rate=rules.upline_rate, has_upline=has
                )
                for has in (True, False)
            ),
        )
    return _compiled[key]


@dataclass
class BatchState:
    """Promoters, links, orders and receivables an ingest batch reads or changes."""

    conn: Connection
    book: Book
    promoters: dict[str, PromoterTerms]
    links: dict[str, ShareLink]
    orders: dict[str, Order]
    receivables: dict[str, int]

    def __post_init__(self) -> None:
        # Rows at once, not entries kept until the write (finding 34).
        self.journal_rows = JournalRows(self.book.code, datetime.now(UTC))
        self.new_promoters: list[Promoter] = []
        self.new_links: list[ShareLink] = []
        self.new_orders: set[str] = set()
        # Orders paid in this batch and not touched since, as their rows (finding 34).
        self.paid: dict[str, StoredOrder] = {}
        self.changed_orders: set[str] = set()
        self.completed_orders: list[str] = []
        self.changed_lines: dict[tuple[str, str], LineState] = {}
        self.refund_rows: list[tuple[str, str, datetime, RefundedLine]] = []
        self._pricing: _Pricing | None = None

    @classmethod
    def load(
        cls,
        conn: Connection,
        book: Book,
        events: Sequence[Event | PackedPaid],
        links_known: KnownLinks,
    ) -> BatchState:
        """Load (and lock, for orders) everything ``events`` may read, one query per table
        (share links only when ``links_known`` does not hold them already)."""
        promoter_ids: set[str] = set()
        link_ids: set[str] = set()
        order_ids: set[str] = set()
        merchants: set[str] = set()
        for e in events:
            if is_packed(e):
                link_ids.add(packed.link(e))  # a paid order, as below
                continue
            match e:
                case PromoterRegistered():
                    promoter_ids.add(e.promoter)
                    if e.upline:
                        promoter_ids.add(e.upline)
                case ShareLinkCreated():
                    promoter_ids.add(e.promoter)
                    link_ids.add(e.link)
                case OrderPaid():
                    # A new order needs no row lock: a second payment of it is caught by
                    # its key, and a concurrent one by the primary key (then retried).
                    link_ids.add(e.link)
                case OrderCompleted() | OrderCancelled() | Refund():
                    order_ids.add(e.order)
                case MerchantPayment():
                    merchants.add(e.merchant)
        links = links_known.load(conn, book.code, link_ids)
        promoter_ids |= {link.promoter for link in links.values()}
        promoters = repo.load_promoter_terms(conn, book.code, promoter_ids)
        # Uplines of link owners: the upline is snapshotted on every order paid.
        uplines = {upline for upline, _ in promoters.values() if upline} - set(promoters)
        promoters |= repo.load_promoter_terms(conn, book.code, uplines)
        orders = repo.load_orders(conn, book.code, order_ids, lock=True)
        accounts = sorted(merchant_receivable(m, estimated=False) for m in merchants)
        repo.lock_accounts(conn, book.code, accounts)
        receivables = Journal(conn, book.code).balances(accounts) if accounts else {}
        return cls(conn, book, promoters, links, orders, receivables)

    # -- helpers --------------------------------------------------------------------------

    def _post(self, key: str, kind: str, at: datetime, postings: Sequence[Posting]) -> UUID | None:
        if not postings:
            return None  # nothing moved (e.g. a commission of 0): no entry, only the key
        entry = Entry(
            book=self.book.code, key=key, kind=kind, effective_at=at, postings=tuple(postings)
        )
        self.journal_rows.add_entry(entry)
        for p in postings:
            if p.account in self.receivables:
                self.receivables[p.account] += p.amount_minor
        return entry.id

    def _order(self, order_id: str) -> Order:
        if (order := self.orders.get(order_id)) is None:
            if (paid := self.paid.pop(order_id, None)) is None:
                raise UnknownOrderError(book=self.book.code, order=order_id)
            order = self.orders[order_id] = order_of_rows(paid)
        return order

    def _store(self, order: Order) -> None:
        self.orders[order.order] = order
        if order.order not in self.new_orders:
            self.changed_orders.add(order.order)

    # -- handlers -------------------------------------------------------------------------

    def register_promoter(self, e: PromoterRegistered) -> None:
        """A promoter joins, optionally under an upline that is already registered."""
        if e.upline is not None:
            if e.upline == e.promoter:
                raise UplineError(
                    book=e.book,
                    promoter=e.promoter,
                    upline=e.upline,
                    reason="a promoter cannot be its own upline",
                )
            if e.upline not in self.promoters:
                raise UplineError(
                    book=e.book,
                    promoter=e.promoter,
                    upline=e.upline,
                    reason="is not a registered promoter",
                )
        self.promoters[e.promoter] = (e.upline, e.tier)
        self.new_promoters.append(Promoter(e.promoter, e.upline, e.tier, e.at))

    def create_link(self, e: ShareLinkCreated) -> None:
        """A promoter creates a share link."""
        if e.promoter not in self.promoters:
            raise UnknownPromoterError(book=e.book, promoter=e.promoter)
        link = ShareLink(e.link, e.promoter, e.group, e.sku, e.at)
        self.links[e.link] = link
        self.new_links.append(link)

    def pay_order(self, e: OrderPaid, key: str) -> UUID | None:
        """An order paid through a link: quote each line, accrue every party's share."""
        paid_lines = [
            (ln.line, ln.merchant, ln.sku, ln.category, ln.quantity, ln.amount_minor)
            for ln in e.lines
        ]
        return self._pay(e.book, e.order, e.link, e.paid_at, paid_lines, key)

    def pay_packed(self, p: PackedPaid, key: str) -> UUID | None:
        """:meth:`pay_order` for an order packed by :mod:`~cps_ledger.services.packed`."""
        return self._pay(
            packed.book(p), packed.order(p), packed.link(p), packed.paid_at(p), packed.lines(p), key
        )

    def _pay(  # noqa: PLR0917  (an order's fields, from a model or packed)
        self,
        book: str,
        order_id: str,
        link_id: str,
        paid_at: datetime,
        paid_lines: Iterable[PaidLine],
        key: str,
    ) -> UUID | None:
        link = self.links.get(link_id)
        if link is None:
            other = repo.books_of_links(self.conn, [link_id]).get(link_id)
            if other is not None and other != book:
                raise LinkOfAnotherBookError(book=book, link=link_id, link_book=other)
            raise UnknownLinkError(book=book, link=link_id)
        if paid_at < link.created_at:
            raise OrderBeforeLinkError(
                order=order_id,
                link=link_id,
                paid_at=paid_at.isoformat(),
                link_created_at=link.created_at.isoformat(),
            )
        promoter = link.promoter
        upline, tier = self.promoters[promoter]
        if (pricing := self._pricing) is None:
            pricing = self._pricing = _pricing(self.conn, self.book)
        rules, ruleset = pricing.rules, pricing.ruleset
        weights = pricing.without_upline if upline is None else pricing.with_upline
        lines = []
        for line, merchant, sku, category, quantity, amount_minor in paid_lines:
            ctx = LineContext(
                book=book,
                merchant=merchant,
                sku=sku,
                category=category,
                amount_minor=amount_minor,
                quantity=quantity,
                promoter=promoter,
                tier=tier,
                paid_at=paid_at,
            )
            terms = quote_line(ruleset, ctx, weights)
            lines.append(
                LineState(
                    line,
                    merchant,
                    sku,
                    category,
                    quantity,
                    amount_minor,
                    terms,
                    0,
                    shares_for(terms, amount_minor),
                )
            )
        order = Order(
            order_id,
            link_id,
            promoter,
            upline,
            OrderState.PAID,
            rules.version,
            paid_at,
            None,
            None,
            tuple(lines),
        )
        legs = lifecycle.accrual_legs(order)
        # Checked and made rows before the order is kept: a refused entry leaves no trace.
        entry_id = self.journal_rows.add_legs(key, "order_paid", paid_at, legs, self.book.currency)
        self.paid[order_id] = order_rows(self.book.code, order)
        self.new_orders.add(order_id)
        return entry_id

    def complete_order(self, e: OrderCompleted, key: str) -> UUID | None:
        """The order is past its return window: estimated money becomes earned."""
        order, postings = lifecycle.complete(self._order(e.order), e.at, self.book.currency)
        self._store(order)
        self.completed_orders.append(order.order)
        return self._post(key, "order_completed", e.at, postings)

    def cancel_order(self, e: OrderCancelled, key: str) -> UUID | None:
        """An invalid order, before completion: reverse what remains."""
        order, postings = lifecycle.cancel(self._order(e.order), e.at, self.book.currency)
        self._store(order)
        return self._post(key, "order_cancelled", e.at, postings)

    def refund(self, e: Refund, key: str) -> UUID | None:
        """A partial or full refund of some lines, from wherever each party's money is."""
        before = self._order(e.order)
        order, postings, refunded = lifecycle.refund(
            before, [(ln.line, ln.amount_minor) for ln in e.lines], self.book.currency
        )
        self._store(order)
        for r in refunded:
            self.changed_lines[(order.order, r.line)] = order.line(r.line)
            self.refund_rows.append((e.refund, order.order, e.at, r))
        return self._post(key, "refund", e.at, postings)

    def merchant_payment(self, e: MerchantPayment, key: str) -> UUID | None:
        """A merchant pays commission it owes now; more than it owes is refused."""
        account = merchant_receivable(e.merchant, estimated=False)
        owed = self.receivables.get(account, 0)
        if e.amount_minor > owed:
            raise PaymentExceedsReceivableError(
                merchant=e.merchant, amount_minor=e.amount_minor, receivable_minor=owed
            )
        postings = (
            Posting(PLATFORM_CASH, e.amount_minor, self.book.currency),
            Posting(account, -e.amount_minor, self.book.currency),
        )
        return self._post(key, "merchant_payment", e.at, postings)

    # -- writing --------------------------------------------------------------------------

    def write(self) -> None:
        """Store every accepted change: one multi-row statement per table."""
        code = self.book.code
        repo.insert_promoters(self.conn, code, self.new_promoters)
        repo.insert_links(self.conn, code, self.new_links)
        repo.insert_orders(
            self.conn,
            [
                self.paid[o] if o in self.paid else order_rows(code, self.orders[o])
                for o in sorted(self.new_orders)
            ],
        )
        existing = sorted(self.changed_orders - self.new_orders)
        lines = [
            (o, ln) for (o, _), ln in sorted(self.changed_lines.items()) if o not in self.new_orders
        ]
        repo.update_orders(self.conn, code, [self.orders[o] for o in existing], lines)
        add_due(self.conn, code, [self.orders[o] for o in sorted(self.completed_orders)])
        repo.insert_refund_lines(self.conn, code, self.refund_rows)
