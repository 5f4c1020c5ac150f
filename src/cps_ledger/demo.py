"""``cps-ledger demo``: a realistic month and a half of a programme, end to end.

Promoters with uplines share links; orders arrive over the weeks before a sales festival and
burst on 11-11 (most of them in its first minutes); some are cancelled, some refunded, the
rest complete after a 7-day return window. October is settled and paid out (with labour
remuneration tax withheld), then refunds of paid orders claw commission back, merchants pay,
November is settled, and the report of November is printed. Same seed, same month.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from cps_ledger.api import CpsLedger
from cps_ledger.cli_output import Globals, document_tables, emit
from cps_ledger.domain.bookfile import parse_book_file
from cps_ledger.domain.commands import CompletePayout, FailPayout, RequestPayout
from cps_ledger.services.reports import report_json

TZ: Final = ZoneInfo("Asia/Shanghai")
RETURN_WINDOW: Final = timedelta(days=7)
HERO_SKU: Final = "100012043978"
SKUS: Final = (HERO_SKU, "200001", "200002", "200003", "300001", "300002", "400001")
CATEGORIES: Final = ("3C", "food", "beauty", "home", "baby")

BOOK_TOML: Final = """
[book]
code = "{code}"
currency = "CNY"
timezone = "Asia/Shanghai"
payout_minimum_minor = 100
withholding = "{withholding}"

[split]
fee_rate = "0.10"
upline_rate = "{upline_rate}"

[[rules]]
kind = "sku"
priority = 40
sku = "100012043978"
rate = "0.20"
cap_minor = 5000

[[rules]]
kind = "campaign"
priority = 30
starts_at = "2026-11-11T00:00:00+08:00"
ends_at = "2026-11-12T00:00:00+08:00"
rate = "0.06"

[[rules]]
kind = "category"
priority = 20
category = "beauty"
rate = "0.08"

[[rules]]
kind = "default"
priority = 0
rate = "0.03"
"""


def book_toml(code: str, *, withholding: str = "none", upline_rate: str = "0.10") -> str:
    """The demo's book file: a hero SKU at 20% (capped), an 11-11 campaign, a default 3%."""
    return BOOK_TOML.format(code=code, withholding=withholding, upline_rate=upline_rate)


@dataclass(frozen=True, slots=True)
class Window:
    """Where generated activity happens: orders paid in [start, end), a peak day."""

    start: datetime
    end: datetime
    peak: datetime | None = None


def _iso(t: datetime) -> str:
    return t.astimezone(TZ).isoformat()


def programme_events(
    book: str, *, seed: int, promoters: int, orders: int, window: Window
) -> list[dict[str, Any]]:
    """Events of a programme in time order: registrations, links, orders and their fates.

    Every event is valid and in a consistent order; nothing happens at or after
    ``window.end`` (late completions and refunds are simply not generated).
    """
    rng = random.Random(seed)
    timed: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(at: datetime, event: dict[str, Any]) -> None:
        if at < window.end:
            timed.append((at, len(timed), {"book": book, **event}))

    links: list[str] = []
    weights: list[float] = []
    heads = max(1, promoters // 10)
    for i in range(promoters):
        at = window.start - timedelta(days=1) + timedelta(seconds=i)
        reg: dict[str, Any] = {"type": "promoter_registered", "promoter": f"p{i:05d}"}
        if i >= heads:
            reg["upline"] = f"p{rng.randrange(heads):05d}"
        if rng.random() < 0.3:
            reg["tier"] = rng.choice(("gold", "silver"))
        add(at, {**reg, "at": _iso(at)})
        for k in range(rng.randint(1, 2)):
            link = f"L{i:05d}-{k}"
            group = f"g{i:05d}"
            add(at, {"type": "share_link_created", "link": link, "promoter": f"p{i:05d}",
                     "group": group, "sku": rng.choice(SKUS), "at": _iso(at)})  # fmt: skip
            links.append(link)
            weights.append(1.0 / (i + 1) ** 0.8)  # a few promoters sell most (Zipf-like)
    span_s = (window.end - window.start).total_seconds()
    for n in range(orders):
        paid = _paid_at(rng, window, span_s)
        order = f"o{n:06d}"
        lines = [_line(rng, j) for j in range(1, rng.choice((1, 1, 1, 2, 3)) + 1)]
        link = rng.choices(links, weights)[0]
        add(paid, {"type": "order_paid", "order": order, "link": link, "paid_at": _iso(paid),
                   "lines": lines})  # fmt: skip
        fate = rng.random()
        if fate < 0.04:
            at = paid + timedelta(hours=rng.randint(1, 120))
            add(at, {"type": "order_cancelled", "order": order, "at": _iso(at)})
            continue
        add(paid + RETURN_WINDOW, {"type": "order_completed", "order": order,
                                   "at": _iso(paid + RETURN_WINDOW)})  # fmt: skip
        if fate < 0.10:
            line = rng.choice(lines)
            amount = line["amount_minor"] if fate < 0.06 else rng.randint(1, line["amount_minor"])
            at = paid + timedelta(hours=rng.randint(2, 400))
            add(at, {"type": "refund", "refund": f"r{n:06d}", "order": order, "at": _iso(at),
                     "lines": [{"line": line["line"], "amount_minor": amount}]})  # fmt: skip
    timed.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in timed]


def _paid_at(rng: random.Random, window: Window, span_s: float) -> datetime:
    if window.peak is not None and window.start <= window.peak < window.end:
        roll = rng.random()
        if roll < 0.12:  # the first ten minutes of the festival
            return window.peak + timedelta(seconds=rng.uniform(0, 600))
        if roll < 0.40:
            return window.peak + timedelta(seconds=rng.uniform(0, 86_399))
    return window.start + timedelta(seconds=int(rng.uniform(0, span_s - 1)))


def _line(rng: random.Random, number: int) -> dict[str, Any]:
    sku = rng.choice(SKUS)
    price = 19900 if sku == HERO_SKU else rng.choice((990, 1990, 2990, 4990, 8990, 15900, 29900))
    quantity = rng.choice((1, 1, 1, 2, 3))
    return {"line": str(number), "merchant": f"m{rng.randint(1, 20):02d}", "sku": sku,
            "category": rng.choice(CATEGORIES), "quantity": quantity,
            "amount_minor": price * quantity}  # fmt: skip


def clawback_refunds(
    events: list[dict[str, Any]], promoters: set[str], at: datetime, *, limit: int
) -> list[dict[str, Any]]:
    """Full refunds, at ``at``, of untouched completed orders sold by ``promoters``."""
    owner = {e["link"]: e["promoter"] for e in events if e["type"] == "share_link_created"}
    touched = {e["order"] for e in events if e["type"] in ("refund", "order_cancelled")}
    completed = {e["order"] for e in events if e["type"] == "order_completed"}
    refunds: list[dict[str, Any]] = []
    for e in events:
        if e["type"] != "order_paid" or e["order"] in touched or e["order"] not in completed:
            continue
        if owner[e["link"]] in promoters and len(refunds) < limit:
            lines = [{"line": ln["line"], "amount_minor": ln["amount_minor"]} for ln in e["lines"]
                     if ln["amount_minor"] > 0]  # fmt: skip
            refunds.append({"type": "refund", "book": e["book"], "refund": f"cb-{e['order']}",
                            "order": e["order"], "at": _iso(at), "lines": lines})  # fmt: skip
    return refunds


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


def _ingest(ledger: CpsLedger, events: list[dict[str, Any]]) -> None:
    rejected = [o for o in ledger.ingest(events) if o.error is not None]
    if rejected:  # the generator only makes valid events: a rejection is a bug, say so
        first = rejected[0]
        raise RuntimeError(f"demo event {first.position} rejected: {first.error}")


def _pay_out(ledger: CpsLedger, book: str, at: datetime, promoters: int) -> set[str]:
    """Pay out the whole available balance of the ten best and five small promoters.

    The last request fails (a bank account that bounced). Returns the small promoters paid.
    """
    balances = [ledger.promoter_balances(book, f"p{i:05d}") for i in range(promoters)]
    ranked = [b for b in sorted(balances, key=lambda b: -b.available) if b.available >= 100]
    small = ranked[len(ranked) // 2 :][:5]
    chosen = ranked[:10] + small
    for n, b in enumerate(chosen):
        request_id = f"{book}-w{n:04d}"
        ledger.request_payout(RequestPayout(book=book, promoter=b.promoter,
                                            amount_minor=b.available, request_id=request_id,
                                            at=at))  # fmt: skip
        later = at + timedelta(hours=20)
        if n == 9:
            ledger.fail_payout(FailPayout(book=book, request_id=request_id, at=later))
        else:
            ledger.complete_payout(CompletePayout(book=book, request_id=request_id, at=later))
    return {b.promoter for b in small}


def _merchant_payments(ledger: CpsLedger, book: str, at: datetime) -> list[dict[str, Any]]:
    payments = []
    for m in range(1, 21):
        owed = ledger.balance(book, f"merchant:m{m:02d}:receivable").balance_minor
        if owed * 8 // 10 >= 1:
            payments.append({"type": "merchant_payment", "book": book, "payment": f"mp-m{m:02d}",
                             "merchant": f"m{m:02d}", "amount_minor": owed * 8 // 10,
                             "at": _iso(at)})  # fmt: skip
    return payments


def run_programme(ledger: CpsLedger, book: str, *, seed: int, promoters: int, orders: int) -> None:
    """Six weeks of one programme: October settled and paid, November settled, clawbacks."""
    nov = datetime(2026, 11, 1, tzinfo=TZ)
    window = Window(datetime(2026, 10, 15, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ),
                    peak=datetime(2026, 11, 11, tzinfo=TZ))  # fmt: skip
    events = programme_events(book, seed=seed, promoters=promoters, orders=orders, window=window)
    october = [e for e in events if _at(e) < nov]
    _ingest(ledger, october)
    ledger.settle(book, "2026-10", now=nov + timedelta(hours=9))
    paid = _pay_out(ledger, book, nov + timedelta(days=1, hours=10), promoters)
    later = _merchant_payments(ledger, book, nov + timedelta(minutes=1))
    later += [e for e in events if _at(e) >= nov]
    later.sort(key=_at)
    _ingest(ledger, later)
    ledger.settle(book, "2026-11", now=window.end + timedelta(hours=9))
    # Customers of the small promoters paid in November return their goods after the
    # settlement: the commission is taken back from available, which goes negative.
    _ingest(ledger, clawback_refunds(events, paid, window.end + timedelta(hours=10), limit=200))


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event.get("paid_at") or event["at"])


def run_demo(path: Path, *, seed: int = 7, json_output: bool = False) -> None:
    """Recreate ``path`` as a SQLite ledger, run two programmes, print the report."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with CpsLedger.open(f"sqlite:///{path}", migrate=True) as ledger:
        ledger.apply_book(
            parse_book_file(book_toml("fenxiang", withholding="cn_labour_remuneration"))
        )
        ledger.apply_book(parse_book_file(book_toml("kuaituan", upline_rate="0")))
        _say("demo: fenxiang - 300 promoters, 6,000 orders, 11-11 peak ...")
        run_programme(ledger, "fenxiang", seed=seed, promoters=300, orders=6000)
        _say("demo: kuaituan - 40 promoters, 600 orders, no upline, no withholding ...")
        run_programme(ledger, "kuaituan", seed=seed + 1, promoters=40, orders=600)
        _print_report(ledger, "fenxiang", "2026-11", json_output=json_output)
        audit = ledger.audit("fenxiang")
    _say(f"demo: audit {'ok' if audit.ok else 'FAILED'}; {time.perf_counter() - started:.1f} s")
    _say(f"demo: the ledger is in {path.resolve()}; try:")
    _say(f"  cps-ledger --database-url sqlite:///{path.resolve()} trial-balance --book fenxiang")


def _print_report(ledger: CpsLedger, book: str, period: str, *, json_output: bool) -> None:
    document = report_json(ledger.report(book, period))
    g = Globals(url="", json=json_output)
    emit(g, document, lambda: document_tables(f"report of {book} {period}", document))
