"""Export a book as a beancount ledger that ``bean-check`` accepts.

Account codes become beancount names under the five roots (asset -> Assets, liability ->
Liabilities, revenue -> Income, ...). Chart words are camel-cased (``fee_revenue`` ->
``FeeRevenue``); ids are encoded injectively (:func:`component_for_id`), so two promoters
``p1`` and ``P1`` never share a beancount account. Each ``open`` keeps the original code as a
comment and as ``code`` metadata. Beancount is debit positive like us: amounts carry over as
they are, shifted from minor units to the currency's decimals.

The journal is streamed (server-side cursor, ``yield_per``) in one snapshot transaction, so
the ledger is consistent and memory stays flat whatever the number of entries.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo
from decimal import Decimal
from itertools import groupby
from typing import Final, TextIO

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.exc import OperationalError as SAOperationalError

from cps_ledger.adapters.engine import READ_ONLY, mask_url
from cps_ledger.adapters.journal import ENTRIES, POSTINGS
from cps_ledger.domain.accounts import AccountType, account_type
from cps_ledger.domain.periods import zone
from cps_ledger.errors import DatabaseUnavailableError
from cps_ledger.services.books import load_book

ROWS_PER_FETCH: Final = 2000
ROOTS: Final = {
    AccountType.ASSET: "Assets",
    AccountType.LIABILITY: "Liabilities",
    AccountType.REVENUE: "Income",
    AccountType.EXPENSE: "Expenses",
    AccountType.EQUITY: "Equity",
}
CURRENCY_DIGITS: Final = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip
"""ISO 4217 minor-unit exponents that differ from the usual 2 (CNY has 2)."""
ID_PARTS: Final = {"merchant": 1, "promoter": 1}
"""For codes starting with these words, the position of the id component."""

_PLAIN: Final = frozenset(string.ascii_letters + string.digits)
_WORD: Final = re.compile(r"^[a-z]+(_[a-z]+)*$")
_ESCAPE: Final = re.compile(r"-([0-9A-F]{2})")


def _escape(text: str) -> str:
    """Every character outside ``[A-Za-z0-9]`` as ``-HH`` per UTF-8 byte (``_`` -> ``-5F``)."""
    return "".join(c if c in _PLAIN else "".join(f"-{b:02X}" for b in c.encode()) for c in text)


def component_for_id(text: str) -> str:
    """An id as a valid beancount component, injectively.

    A lowercase first letter is capitalised (``p1`` -> ``P1``); an uppercase one is kept and
    marked with ``--`` (``P1`` -> ``P--1``); a digit is kept; anything else gets ``0--`` in
    front of the escaped id. ``--`` never occurs in escaped text, so the marks are unambiguous.
    """
    if not text:
        raise ValueError("an id is never empty")
    first, rest = text[0], _escape(text[1:])
    if first in string.ascii_lowercase:
        return first.upper() + rest
    if first in string.digits:
        return first + rest
    if first in string.ascii_uppercase:
        return first + "--" + rest
    return "0--" + _escape(text)


def id_from_component(component: str) -> str:
    """The inverse of :func:`component_for_id`."""
    head, body = component[0], component[1:]

    def unescape(text: str) -> str:
        raw = bytearray()
        i = 0
        while i < len(text):
            if text[i] == "-":
                raw.append(int(text[i + 1 : i + 3], 16))
                i += 3
            else:
                raw += text[i].encode()
                i += 1
        return raw.decode()

    if body.startswith("--"):
        return unescape(body[2:]) if head == "0" else head + unescape(body[2:])
    return (head.lower() if head.isalpha() else head) + unescape(body)


def beancount_account(code: str) -> str:
    """The beancount name of a chart-of-accounts code, e.g. ``Liabilities:Promoter:P1:Estimated``."""
    parts = code.split(":")
    id_at = ID_PARTS.get(parts[0])
    components = [
        component_for_id(part)
        if i == id_at or not _WORD.match(part)
        else "".join(w.capitalize() for w in part.split("_"))
        for i, part in enumerate(parts)
    ]
    return ":".join([ROOTS[account_type(code)], *components])


def units(amount_minor: int, currency: str) -> str:
    """Minor units as a decimal string in the currency's units: 3980 CNY -> ``39.80``."""
    digits = CURRENCY_DIGITS.get(currency, 2)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def _quoted(text: str) -> str:
    # Control characters would break the one-line directive; quotes and backslashes escape.
    clean = "".join(" " if ord(c) < 32 else c for c in text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one snapshot across the export's queries."""
    try:
        conn = engine.connect()
    except SAOperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0]
        raise DatabaseUnavailableError(url=mask_url(engine.url), reason=reason) from None
    try:
        if engine.dialect.name == "sqlite":
            # One SQLite read transaction is a snapshot already (WAL).
            conn = conn.execution_options(**{READ_ONLY: True})
        else:
            # Our engines run at READ COMMITTED: an account first posted to between the
            # ``open`` query and the journal query would otherwise lack its ``open``.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
    finally:
        conn.close()


def export_beancount(engine: Engine, book: str, out: TextIO) -> None:
    """Write ``book``'s accounts and entries to ``out`` as a beancount ledger."""
    with _snapshot(engine) as conn:
        found = load_book(conn, book)
        tz = zone(found.timezone)
        out.write(f"; cps_ledger book {book}; dates in {found.timezone}\n")
        out.write(f'option "title" {_quoted(f"cps_ledger {book}")}\n')
        out.write(f'option "operating_currency" "{found.currency}"\n\n')
        names: dict[str, str] = {}
        for code, currency, first in conn.execute(
            select(POSTINGS.c.account, POSTINGS.c.currency, func.min(POSTINGS.c.effective_at))
            .where(POSTINGS.c.book == book)
            .group_by(POSTINGS.c.account, POSTINGS.c.currency)
            .order_by(POSTINGS.c.account)
        ):
            names[code] = beancount_account(code)
            out.write(
                f"{first.astimezone(tz).date()} open {names[code]} {currency} ; code: {code}\n"
                f"  code: {_quoted(code)}\n"
            )
        _write_entries(conn, book, tz, names, out)


def _write_entries(
    conn: Connection, book: str, tz: tzinfo, names: dict[str, str], out: TextIO
) -> None:
    e, p = ENTRIES.c, POSTINGS.c
    rows = conn.execute(
        select(e.id, e.key, e.kind, e.effective_at, e.memo, p.account, p.currency, p.amount_minor)
        .join(POSTINGS, and_(p.book == e.book, p.entry_id == e.id))
        .where(e.book == book)
        .order_by(e.effective_at, e.id, p.seq)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    for _, legs in groupby(rows, key=lambda r: r.id):
        first, *more = legs
        at = first.effective_at.astimezone(tz)
        out.write(
            f"\n{at.date()} * {_quoted(first.memo or first.key)}\n"
            f"  key: {_quoted(first.key)}\n"
            f"  kind: {_quoted(first.kind)}\n"
            f"  effective_at: {_quoted(at.isoformat())}\n"
        )
        for leg in (first, *more):
            out.write(
                f"  {names[leg.account]}  {units(leg.amount_minor, leg.currency)} {leg.currency}\n"
            )
