"""The CLI commands that change the books: db upgrade, book apply, settle, payouts, schema.

The facade and the pydantic commands are imported inside each command, so that ``--help``
and the other commands do not load them.
"""

# ruff: noqa: PLC0415  (heavy imports wait for the command that needs them: start-up time)

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cps_ledger.cli_output import (
    emit,
    globals_of,
    key_value_table,
    open_ledger,
    pick,
)
from cps_ledger.tuning import bulk_work

if TYPE_CHECKING:
    from cps_ledger.api import CpsLedger
    from cps_ledger.services.payouts import PayoutResult

BookOpt = Annotated[str, typer.Option("--book", help="The book (programme) code.")]
PeriodOpt = Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")]
RequestIdOpt = Annotated[str, typer.Option("--request-id", help="The payout request id.")]

db_app = typer.Typer(help="Database schema: migrations.", no_args_is_help=True)
book_app = typer.Typer(
    help="Books (programmes): settings and commission rules.", no_args_is_help=True
)
payouts_app = typer.Typer(help="Payouts: request, complete, fail.", no_args_is_help=True)
schema_app = typer.Typer(help="Published JSON Schemas.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every migration to the database (creates the schema on a new one).

    Example:  cps-ledger --database-url postgresql://app@db/ledger db upgrade
    """
    from cps_ledger.api import CpsLedger

    g = globals_of(ctx)
    with CpsLedger.open(g.url, migrate=True) as ledger:
        revision = ledger.upgrade()
    emit(g, {"revision": revision}, lambda: key_value_table("db upgrade", {"revision": revision}))


@book_app.command("apply")
def book_apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The book file (TOML).")],
) -> None:
    """Create a book, or publish its changed rules as a new version (identical: no change).

    Example:  cps-ledger book apply fenxiang.toml
    """
    g = globals_of(ctx)
    with open_ledger(ctx) as ledger:
        applied = ledger.apply_book(file)
    document = pick(applied, ("book", "rules_version", "changed"))
    emit(g, document, lambda: key_value_table("book apply", document))


def settle(
    ctx: typer.Context,
    book: BookOpt,
    period: PeriodOpt,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=16,
            show_default=False,
            help="Pages of promoters settled at once (default: 2 on PostgreSQL and MariaDB, "
            "1 on SQLite).",
        ),
    ] = None,
) -> None:
    """Move confirmed commission of lines completed by the period's end to available.

    Periods are settled in order; a re-run returns the original figures, "replayed": true.

    Example:  cps-ledger settle --book fenxiang --period 2026-11
    """
    g = globals_of(ctx)
    with bulk_work(), open_ledger(ctx) as ledger, _settle_progress() as progress:
        result = ledger.settle(book, period, progress=progress, workers=workers)
    document = pick(result, ("book", "period", "promoters", "amount_minor", "replayed"))
    emit(g, document, lambda: key_value_table("settlement", document))


@contextmanager
def _settle_progress() -> Iterator[Callable[[int], None] | None]:
    """A live count of promoters settled, on a terminal only (never in pipes or CI logs)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("settling: {task.completed} promoters"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("settle", total=None)
        yield lambda done: bar.update(task, completed=done)


@payouts_app.command("request")
def payouts_request(
    ctx: typer.Context,
    book: BookOpt,
    promoter: Annotated[str, typer.Option("--promoter", help="The promoter id.")],
    amount_minor: Annotated[
        int, typer.Option("--amount-minor", help="Amount in minor units (fen).")
    ],
    request_id: RequestIdOpt,
) -> None:
    """Request a payout: available -> payout_pending, checked against the balance.

    Example:  cps-ledger payouts request --book fenxiang --promoter p1 --amount-minor 5000 --request-id w-001
    """
    from cps_ledger.domain.commands import RequestPayout

    g = globals_of(ctx)
    command = RequestPayout(
        book=book, promoter=promoter, amount_minor=amount_minor, request_id=request_id, at=_now()
    )
    with open_ledger(ctx) as ledger:
        result = ledger.request_payout(command)
    document = pick(result, ("request_id", "state", "amount_minor"))
    emit(g, document, lambda: key_value_table("payout", document))


@payouts_app.command("complete")
def payouts_complete(ctx: typer.Context, book: BookOpt, request_id: RequestIdOpt) -> None:
    """Mark a requested payout paid: payout_pending -> cash (and tax payable if withheld).

    Example:  cps-ledger payouts complete --book fenxiang --request-id w-001
    """
    from cps_ledger.domain.commands import CompletePayout

    _resolve_payout(
        ctx,
        lambda ledger: ledger.complete_payout(
            CompletePayout(book=book, request_id=request_id, at=_now())
        ),
    )


@payouts_app.command("fail")
def payouts_fail(ctx: typer.Context, book: BookOpt, request_id: RequestIdOpt) -> None:
    """Mark a requested payout failed: the money returns to the promoter's available.

    Example:  cps-ledger payouts fail --book fenxiang --request-id w-001
    """
    from cps_ledger.domain.commands import FailPayout

    _resolve_payout(
        ctx,
        lambda ledger: ledger.fail_payout(FailPayout(book=book, request_id=request_id, at=_now())),
    )


def _resolve_payout(ctx: typer.Context, resolve: Callable[[CpsLedger], PayoutResult]) -> None:
    """Complete or fail a requested payout (``resolve`` says which) and print its state.

    The command is built inside ``resolve``, after the database is opened, so that an
    unreachable database is reported before anything about the command.
    """
    g = globals_of(ctx)
    with open_ledger(ctx) as ledger:
        result = resolve(ledger)
    document = pick(result, ("request_id", "state", "amount_minor", "tax_minor"))
    emit(g, document, lambda: key_value_table("payout", document))


@schema_app.command("events")
def schema_events() -> None:
    """Print the JSON Schema (draft 2020-12) of one event line.

    Example:  cps-ledger schema events > events.schema.json
    """
    from cps_ledger.domain.events import events_json_schema

    sys.stdout.write(json.dumps(events_json_schema(), indent=2, ensure_ascii=False) + "\n")


def _now() -> datetime:
    return datetime.now(UTC)
