"""The CLI commands that read the books: balance, trial-balance, statement, audit, report,
export.

Each command imports the formatting it needs itself, so that the others do not load it.
"""

# ruff: noqa: PLC0415  (heavy imports wait for the command that needs them: start-up time)

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from cps_ledger.cli_output import (
    EXIT_OPERATIONAL,
    document_tables,
    emit,
    globals_of,
    key_value_table,
    open_ledger,
    parse_as_of,
    pick,
    rows_table,
)
from cps_ledger.errors import InvalidEventError

BookOpt = Annotated[str, typer.Option("--book", help="The book (programme) code.")]
PeriodOpt = Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="ISO 8601 instant with an offset, e.g. 2026-12-01T00:00+08:00."),
]


class StatementFormat(StrEnum):
    """Output formats of ``statement``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class ExportFormat(StrEnum):
    """Output formats of ``export``."""

    BEANCOUNT = "beancount"


def balance(
    ctx: typer.Context,
    book: BookOpt,
    account: Annotated[str | None, typer.Option("--account", help="An account code.")] = None,
    promoter: Annotated[
        str | None, typer.Option("--promoter", help="A promoter: all four balances.")
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Balance of one account, or a promoter's four balances, in minor units.

    Example:  cps-ledger balance --book fenxiang --promoter p1 --as-of 2026-11-30T12:00+08:00
    """
    g = globals_of(ctx)
    if (account is None) == (promoter is None):
        raise InvalidEventError("give exactly one of --account and --promoter", field="account")
    when = parse_as_of(as_of)
    with open_ledger(ctx) as ledger:
        if account is not None:
            result: Any = ledger.balance(book, account, as_of=when)
            keys: tuple[str, ...] = ("account", "currency", "balance_minor")
        else:
            result = ledger.promoter_balances(book, str(promoter), as_of=when)
            keys = ("promoter", "estimated", "confirmed", "available", "payout_pending")
    document = pick(result, keys)
    emit(g, document, lambda: key_value_table("balance", document))


def trial_balance(ctx: typer.Context, book: BookOpt, as_of: AsOfOpt = None) -> None:
    """Every account of the book in its debit or credit column; the totals are equal.

    Example:  cps-ledger --json trial-balance --book fenxiang
    """
    g = globals_of(ctx)
    when = parse_as_of(as_of)
    with open_ledger(ctx) as ledger:
        tb = ledger.trial_balance(book, as_of=when)
    columns = ("account", "type", "currency", "debit_minor", "credit_minor", "balance_minor")
    accounts = [pick(line, columns) for line in tb.accounts]
    document = {
        "book": tb.book,
        "accounts": accounts,
        "total_debit_minor": tb.total_debit_minor,
        "total_credit_minor": tb.total_credit_minor,
    }

    def tables() -> list[Any]:
        totals = {"account": "total", "debit_minor": tb.total_debit_minor}
        rows = [*accounts, {**totals, "credit_minor": tb.total_credit_minor}]
        return [rows_table(f"trial balance of {book}", rows, columns)]

    emit(g, document, tables)


def statement(
    ctx: typer.Context,
    book: BookOpt,
    promoter: Annotated[str, typer.Option("--promoter", help="The promoter id.")],
    period: PeriodOpt,
    output: Annotated[
        StatementFormat, typer.Option("--format", help="table, json or csv.")
    ] = StatementFormat.TABLE,
) -> None:
    """A promoter's statement of a period: order lines, refunds, settlement, payouts, tax.

    Each order line shows its rule, rule version, base, rate, cap and every party's share.

    Example:  cps-ledger statement --book fenxiang --promoter p1 --period 2026-11 --format csv
    """
    from cps_ledger.services.statement_format import statement_json, statement_rows

    g = globals_of(ctx)
    with open_ledger(ctx) as ledger:
        st = ledger.statement(book, promoter, period)
    if output is StatementFormat.CSV and not g.json:
        rows = statement_rows(st)
        columns = list(dict.fromkeys(c for row in rows for c in row))
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    document = statement_json(st)
    json_wanted = g if output is not StatementFormat.JSON else type(g)(url=g.url, json=True)
    emit(json_wanted, document, lambda: document_tables(f"statement of {promoter}", document))


def audit(ctx: typer.Context, book: BookOpt) -> None:
    """Check the invariants of the book; exit 1 if any does not hold.

    Example:  cps-ledger --json audit --book fenxiang
    """
    g = globals_of(ctx)
    with open_ledger(ctx) as ledger:
        report = ledger.audit(book)
    checks = [pick(c, ("name", "ok", "detail")) for c in report.checks]
    document = {"ok": report.ok, "checks": checks}
    emit(
        g,
        document,
        lambda: rows_table(f"audit of {book}", checks, ["name", "ok", "detail"]),
    )
    if not report.ok:
        raise typer.Exit(EXIT_OPERATIONAL)


def report(ctx: typer.Context, book: BookOpt, period: PeriodOpt) -> None:
    """A book's report of a period: GMV, commission, fee, refunds, settled, paid, clawbacks.

    With figures per merchant and for the top promoters.

    Example:  cps-ledger report --book fenxiang --period 2026-11
    """
    from cps_ledger.services.reports import report_json

    g = globals_of(ctx)
    with open_ledger(ctx) as ledger:
        document = report_json(ledger.report(book, period))
    emit(g, document, lambda: document_tables(f"report of {book} {period}", document))


def export(
    ctx: typer.Context,
    book: BookOpt,
    output: Annotated[
        ExportFormat, typer.Option("--format", help="beancount.")
    ] = ExportFormat.BEANCOUNT,
) -> None:
    """Write the book to stdout as a ledger that bean-check accepts.

    Example:  cps-ledger export --book fenxiang --format beancount > fenxiang.beancount
    """
    with open_ledger(ctx) as ledger:
        ledger.export_beancount(book, sys.stdout)
