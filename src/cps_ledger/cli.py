"""The ``cps-ledger`` command (DESIGN §6): batch scripts, the demo, reports.

Global options come before the command. Exit codes: 0 done, 1 operational failure (database
unreachable, audit failed), 2 bad input (a refused command, a rejected event, a usage error).

Every call pays for what this module imports, so SQLAlchemy, alembic, the services and rich
tables are loaded only by the commands (and the error paths) that use them: ``--help`` needs
none of them.
"""

# ruff: noqa: PLC0415  (heavy imports wait for the command that needs them: start-up time)

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from typer._click.exceptions import NoArgsIsHelpError

from cps_ledger import cli_commands, cli_ingest, cli_reads
from cps_ledger.api import URL_ENV, default_url
from cps_ledger.cli_output import (
    EXIT_BAD_INPUT,
    EXIT_OPERATIONAL,
    Globals,
    fail,
    globals_of,
    remember_secret_of,
    url_in_use,
)
from cps_ledger.errors import CpsLedgerError
from cps_ledger.limits import DEFAULT_DATABASE_URL
from cps_ledger.tuning import bulk_work

PROG: Final = "cps-ledger"

app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _globals(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar=URL_ENV,
            show_default=False,
            help=f"Database URL (default {DEFAULT_DATABASE_URL}; passwords are never printed).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of tables.")
    ] = False,
) -> None:
    """A double-entry commission ledger for CPS community e-commerce.

    Example:  cps-ledger --json --database-url sqlite:///ledger.sqlite3 db upgrade
    """
    url = database_url or default_url()
    remember_secret_of(url)
    ctx.obj = Globals(url=url, json=json_output)


app.add_typer(cli_commands.db_app, name="db")
app.add_typer(cli_commands.book_app, name="book")
app.add_typer(cli_commands.payouts_app, name="payouts")
app.add_typer(cli_commands.schema_app, name="schema")
app.command("ingest")(cli_ingest.ingest)
app.command("settle")(cli_commands.settle)
app.command("balance")(cli_reads.balance)
app.command("trial-balance")(cli_reads.trial_balance)
app.command("statement")(cli_reads.statement)
app.command("audit")(cli_reads.audit)
app.command("report")(cli_reads.report)
app.command("export")(cli_reads.export)


@app.command("demo")
def demo(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option("--path", help="The SQLite file to (re)create.")] = Path(
        "cps_ledger_demo.sqlite3"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same month.")] = 7,
) -> None:
    """Run a realistic month of a programme on a fresh SQLite file and print its report.

    A few hundred promoters, thousands of orders with an 11-11 peak, refunds (some after
    payout), settlement and payouts. Ignores --database-url: the demo never touches it.

    Example:  cps-ledger demo --path /tmp/demo.sqlite3 --seed 42
    """
    from cps_ledger.demo import run_demo

    with bulk_work():
        run_demo(path, seed=seed, json_output=globals_of(ctx).json)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run, then exit with the documented code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the command line ``argv``; returns the exit code instead of exiting."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name=PROG, standalone_mode=False)
    except typer.Abort:
        return fail(KeyboardInterrupt("interrupted"), EXIT_OPERATIONAL)
    except NoArgsIsHelpError as exc:
        exc.show()  # a bare group prints its help, as with click
        return EXIT_BAD_INPUT
    except typer.TyperException as exc:
        return fail(_UsageError(exc.format_message()), EXIT_BAD_INPUT)
    except CpsLedgerError as exc:
        return fail(exc, exc.exit_code)
    except BrokenPipeError:
        return EXIT_OPERATIONAL
    except KeyboardInterrupt as exc:
        return fail(exc, EXIT_OPERATIONAL)
    except Exception as exc:
        return fail(_unreachable_as_typed(exc), EXIT_OPERATIONAL)
    return result if isinstance(result, int) else 0


def _unreachable_as_typed(exc: Exception) -> Exception:
    """A lost or refused database connection as DatabaseUnavailableError; others as they are.

    Only an SQLAlchemy error can be one, and it was raised by a loaded SQLAlchemy, so the
    import below costs nothing, while a module-level import would slow down every call.
    """
    if "sqlalchemy" not in sys.modules:
        return exc
    from sqlalchemy.exc import InterfaceError
    from sqlalchemy.exc import OperationalError as SAOperationalError

    from cps_ledger.services.uow import database_unavailable

    if isinstance(exc, SAOperationalError | InterfaceError):
        return database_unavailable(url_in_use(), exc)
    return exc


class _UsageError(Exception):
    """A command line click could not parse; printed as ``error: UsageError: ...``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


_UsageError.__name__ = "UsageError"
