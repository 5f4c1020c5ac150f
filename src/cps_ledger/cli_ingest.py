"""``cps-ledger ingest FILE|-``: JSON Lines in constant memory, a summary at the end.

The file is read line by line as bytes (a line that is not UTF-8 is rejected on its own),
handed to the facade in batches of 1,000 events per transaction, and only counters and the
first ``ERRORS_REPORTED_MAX`` errors are kept. Blank lines are skipped but still numbered,
so line numbers always match the file.
"""

# ruff: noqa: PLC0415  (heavy imports wait for the command that needs them: start-up time)

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Final

import typer

from cps_ledger.cli_output import (
    EXIT_BAD_INPUT,
    emit,
    globals_of,
    key_value_table,
    open_ledger,
    rows_table,
)
from cps_ledger.errors import InputFileError, InvalidEventError
from cps_ledger.tuning import bulk_work

ERRORS_REPORTED_MAX: Final = 1000
"""Errors listed in the summary; ``rejected`` always counts them all."""


def ingest(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="JSON Lines file, or - for stdin.")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at the first rejected line.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=16,
            help="Processes that apply the events of different orders at once (PostgreSQL, "
            "MariaDB); the outcomes are those of one process. Not with --strict.",
        ),
    ] = 1,
) -> None:
    """Apply the events of a JSON Lines file (or stdin), one event per line.

    Each bad line is rejected with its line number and writes nothing; the others go on.
    Exit code 0 only if nothing was rejected, 2 otherwise.

    Example:  cps-ledger --json ingest events.jsonl
    Bulk load on a server database:  cps-ledger ingest --workers 2 festival.jsonl
    """
    from cps_ledger.services.ingest import Status

    g = globals_of(ctx)
    if strict and workers > 1:
        raise InvalidEventError(
            "--workers: --strict applies lines one after the other; use one worker",
            field="workers",
        )
    counts = {"read": 0, "applied": 0, "replayed": 0, "rejected": 0}
    errors: list[dict[str, Any]] = []
    with ExitStack() as stack:
        stream, size = _open(source, stack)
        stack.enter_context(bulk_work())
        ledger = open_ledger(ctx)
        stack.callback(ledger.close)
        lines: Iterator[bytes] = iter(stream)
        if sys.stderr.isatty():
            lines = _with_progress(lines, size, stack)
        for outcome in ledger.ingest_lines(lines, stop_at_first_rejection=strict, workers=workers):
            counts["read"] += 1
            counts[outcome.status.value] += 1
            if outcome.status is Status.REJECTED and len(errors) < ERRORS_REPORTED_MAX:
                error = outcome.error
                errors.append(
                    {
                        "line": outcome.position,
                        "error": type(error).__name__,
                        "message": error.message if error is not None else "",
                    }
                )
    document = {**counts, "errors": errors}
    emit(g, document, lambda: _tables(document))
    if counts["rejected"]:
        raise typer.Exit(EXIT_BAD_INPUT)


def _open(source: str, stack: ExitStack) -> tuple[BinaryIO, int | None]:
    if source == "-":
        return sys.stdin.buffer, None
    path = Path(source)
    try:
        stream = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise InputFileError(path=source, reason=str(exc.strerror)) from None
    return stream, os.fstat(stream.fileno()).st_size


def _with_progress(lines: Iterator[bytes], size: int | None, stack: ExitStack) -> Iterator[bytes]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    # The bar follows bytes read, which is known for a file and constant-memory to track.
    columns: list[Any] = [TextColumn("ingest"), BarColumn()]
    columns += [DownloadColumn()] if size else [MofNCompleteColumn()]
    progress = stack.enter_context(
        Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    )
    task = progress.add_task("ingest", total=size)
    for line in lines:
        progress.advance(task, len(line) if size else 1)
        yield line


def _tables(document: dict[str, Any]) -> list[Any]:
    summary = {k: v for k, v in document.items() if k != "errors"}
    tables = [key_value_table("ingest", summary)]
    if document["errors"]:
        tables.append(
            rows_table("rejected lines", document["errors"], ["line", "error", "message"])
        )
    return tables
