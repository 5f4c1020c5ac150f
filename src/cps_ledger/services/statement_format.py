"""A promoter's statement as flat rows (CSV) or one JSON document.

Pure functions of a :class:`~cps_ledger.services.statements.Statement`: money stays in
integer minor units, rates and ids become strings, datetimes ISO 8601 in the book's zone.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from cps_ledger.services.statements import Statement

STATEMENT_COLUMNS = (
    "section", "order", "line", "paid_at", "merchant", "sku", "base_minor", "refunded_minor",
    "rule", "rule_version", "rate", "cap_minor", "commission_minor", "promoter_minor",
    "upline_minor", "platform_minor", "role", "share_minor", "state", "settled", "refund",
    "at", "amount_minor", "delta_minor", "stage", "request_id", "tax_minor", "account",
    "kind", "opening_minor", "movement_minor", "closing_minor", "explanation",
)  # fmt: skip
"""The columns of :func:`statement_rows`, in CSV order; every row has all of them."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def statement_rows(s: Statement) -> list[dict[str, Any]]:
    """Flat rows for CSV: one per line, refund, settlement, payout, account and movement."""

    def row(section: str, **values: Any) -> dict[str, Any]:
        out = dict.fromkeys(STATEMENT_COLUMNS)
        out.update(section=section, **{k: _plain(v) for k, v in values.items()})
        return out

    rows = [row("line", **dataclasses.asdict(ln)) for ln in s.lines]
    for r in s.refunds:
        fields = dataclasses.asdict(r)
        rows.append(row("refund", at=fields.pop("refunded_at"), **fields))
    if (st := s.settlement) is not None:
        rows.append(row("settlement", at=st.settled_at, amount_minor=st.amount_minor))
    rows += [
        row("payout", request_id=p.request_id, amount_minor=p.amount_minor, tax_minor=p.tax_minor,
            state=p.state, at=p.requested_at)
        for p in s.payouts
    ]  # fmt: skip
    for a in s.accounts:
        rows.append(
            row("balance", account=a.account, opening_minor=a.opening_minor,
                movement_minor=a.movement_minor, closing_minor=a.closing_minor)
        )  # fmt: skip
        rows += [
            row("movement", account=a.account, kind=k, movement_minor=m) for k, m in a.movements
        ]
    return rows


def statement_json(s: Statement) -> dict[str, Any]:
    """The statement as one JSON-able document: money as ints, rates as strings, ISO times."""
    heading = ("book", "promoter", "period", "currency", "timezone", "starts_at", "ends_at")
    doc: dict[str, Any] = {name: _plain(getattr(s, name)) for name in heading}
    doc["lines"] = [_plain(dataclasses.asdict(ln)) for ln in s.lines]
    doc["refunds"] = [{**_plain(dataclasses.asdict(r)), "clawback": r.clawback} for r in s.refunds]
    doc["settlement"] = None if s.settlement is None else _plain(dataclasses.asdict(s.settlement))
    doc["payouts"] = [_plain(dataclasses.asdict(p)) for p in s.payouts]
    doc["accounts"] = {
        a.bucket: {
            "account": a.account,
            "opening_minor": a.opening_minor,
            "movements": dict(a.movements),
            "movement_minor": a.movement_minor,
            "closing_minor": a.closing_minor,
        }
        for a in s.accounts
    }
    doc["earned_minor"] = s.earned_minor
    return doc
