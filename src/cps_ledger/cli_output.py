"""What the CLI prints: one JSON document or rich tables, and one-line errors.

Errors are ``error: <ErrorClass>: <message>`` on stderr, exit 2 for bad input and 1 for an
operational failure; no traceback ever reaches the user, and a database password never does
either (every URL goes through ``mask_url``, and known passwords are scrubbed as well).

rich, SQLAlchemy and the facade's services are imported where they are used, not here:
``--help`` and a JSON answer should not wait for table rendering or a database driver.
"""

# ruff: noqa: PLC0415  (rich and SQLAlchemy wait for the output that needs them: start-up time)

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import typer

from cps_ledger.domain.periods import require_aware
from cps_ledger.errors import CpsLedgerError, InvalidEventError

if TYPE_CHECKING:
    from rich.table import Table

    from cps_ledger.api import CpsLedger

EXIT_OK: Final = 0
EXIT_OPERATIONAL: Final = 1
EXIT_BAD_INPUT: Final = 2
PIPE_WIDTH: Final = 200

_secrets: set[str] = set()
_urls: list[str] = []


@dataclass(frozen=True, slots=True)
class Globals:
    """The global options, written before the command."""

    url: str
    json: bool


def remember_secret_of(url: str) -> None:
    """Note the password in ``url`` so that no error message can ever print it."""
    _urls.append(url)
    if "@" not in url:
        return  # no user info, so no password: spare the SQLAlchemy import
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except ArgumentError:
        return
    if password:
        _secrets.add(str(password))


def url_in_use() -> str:
    """The database URL of this invocation (unmasked: pass it through ``mask_url``)."""
    return _urls[-1] if _urls else ""


def scrub(text: str) -> str:
    """``text`` with every known password replaced by ``***``."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def globals_of(ctx: typer.Context) -> Globals:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Globals):  # pragma: no cover - the callback always sets it
        raise typer.Exit(EXIT_BAD_INPUT)
    return obj


def open_ledger(ctx: typer.Context) -> CpsLedger:
    """The ledger at ``--database-url``; an unmigrated database is SchemaNotReadyError."""
    from cps_ledger.api import CpsLedger

    return CpsLedger.open(globals_of(ctx).url)


def jsonable(value: Any) -> Any:
    """Plain JSON values for dataclasses, enums, decimals, datetimes and UUIDs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def pick(value: Any, keys: Sequence[str]) -> dict[str, Any]:
    """The named attributes (or keys) of ``value``, in this order, as JSON values."""
    if isinstance(value, Mapping):
        return {k: jsonable(value[k]) for k in keys}
    return {k: jsonable(getattr(value, k)) for k in keys}


def emit(
    g: Globals,
    document: Mapping[str, Any] | list[Any],
    table: Callable[[], Table | Iterable[Table]] | None = None,
) -> None:
    """Print one JSON document with ``--json``; otherwise the table(s) for people."""
    if g.json or table is None:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    # A pipe gets wide lines rather than account codes broken across rows.
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    made = table()
    for t in [made] if isinstance(made, Table) else made:
        console.print(t)


def key_value_table(title: str, document: Mapping[str, Any]) -> Table:
    """A two-column table of a flat document; amounts right-aligned."""
    from rich.table import Table

    t = Table(title=title, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", justify="right")
    for key, value in document.items():
        t.add_row(key, _cell(value))
    return t


def rows_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    """A table with one row per mapping; numbers right-aligned."""
    from rich.table import Table

    t = Table(title=title)
    for column in columns:
        numeric = bool(rows) and isinstance(rows[0].get(column), int | float)
        t.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*(_cell(row.get(c)) for c in columns))
    return t


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping | list):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return str(jsonable(value))


def parse_as_of(text: str | None) -> datetime | None:
    """``--as-of``: ISO 8601 with an offset; a naive or malformed time is bad input."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEventError(
            f"as_of={text!r} is not an ISO 8601 timestamp", field="as_of"
        ) from None
    require_aware(value, field="as_of")
    return value


def error_line(exc: BaseException) -> str:
    """``error: <ErrorClass>: <message>``, one line, passwords scrubbed."""
    message = exc.message if isinstance(exc, CpsLedgerError) else str(exc)
    message = " ".join(message.split())  # one line, whatever the driver said
    return scrub(f"error: {type(exc).__name__}: {message}")


def fail(exc: BaseException, code: int) -> int:
    """Print ``exc`` as the one error line on stderr and return ``code``."""
    sys.stderr.write(error_line(exc) + "\n")
    sys.stderr.flush()
    return code


def document_tables(title: str, document: Mapping[str, Any]) -> list[Table]:
    """Tables for any JSON document: its scalars in one, each list of objects in its own."""
    scalars = {k: v for k, v in document.items() if not isinstance(v, Mapping | list)}
    tables = [key_value_table(title, scalars)] if scalars else []
    for key, value in document.items():
        if isinstance(value, Mapping):
            tables += document_tables(f"{title}: {key}", value)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            columns = list(dict.fromkeys(c for row in value for c in row))
            tables.append(rows_table(f"{title}: {key}", value, columns))
        elif isinstance(value, list):
            tables.append(
                key_value_table(f"{title}: {key}", {str(i): v for i, v in enumerate(value)})
            )
    return tables
