"""A generated month through the installed command: book, ingest, settle, payouts, reports."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cps_ledger.demo import Window, book_toml, programme_events
from tests.e2e.conftest import Cli

TZ = ZoneInfo("Asia/Shanghai")
SEPTEMBER = Window(
    datetime(2026, 9, 1, tzinfo=TZ),
    datetime(2026, 10, 1, tzinfo=TZ),
    datetime(2026, 9, 9, tzinfo=TZ),
)
PROMOTERS = 12


def _write_month(tmp_path: Path, book: str) -> tuple[Path, Path, int]:
    book_file = tmp_path / "book.toml"
    book_file.write_text(book_toml(book, withholding="cn_labour_remuneration"), encoding="utf-8")
    events = programme_events(book, seed=11, promoters=PROMOTERS, orders=120, window=SEPTEMBER)
    jsonl = tmp_path / "month.jsonl"
    jsonl.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return book_file, jsonl, len(events)


def test_a_generated_month_goes_from_book_file_to_report_and_replays_without_change(  # noqa: PLR0915  (one story, told in order)
    cli: Cli, book_code: str, tmp_path: Path
) -> None:
    book_file, jsonl, count = _write_month(tmp_path, book_code)

    applied = cli("book", "apply", str(book_file))
    assert applied.code == 0, applied.stderr
    assert applied.document == {"book": book_code, "rules_version": 1, "changed": True}
    again = cli("book", "apply", str(book_file)).document
    assert again == {"book": book_code, "rules_version": 1, "changed": False}

    ingested = cli("ingest", str(jsonl))
    assert ingested.code == 0, ingested.stdout + ingested.stderr
    assert ingested.document == {
        "read": count,
        "applied": count,
        "replayed": 0,
        "rejected": 0,
        "errors": [],
    }

    settled = cli("settle", "--book", book_code, "--period", "2026-09")
    assert settled.code == 0, settled.stderr
    figures = settled.document
    assert list(figures) == ["book", "period", "promoters", "amount_minor", "replayed"]
    assert figures["amount_minor"] > 0
    assert figures["promoters"] > 0
    assert figures["replayed"] is False
    rerun = cli("settle", "--book", book_code, "--period", "2026-09").document
    assert rerun == {**figures, "replayed": True}

    settled_tb = cli("trial-balance", "--book", book_code).document
    available = {
        line["account"].split(":")[1]: line["balance_minor"]
        for line in settled_tb["accounts"]
        if line["account"].endswith(":available")
    }
    (rich, rich_minor), (poor, _) = sorted(available.items(), key=lambda kv: -kv[1])[:2]
    first = cli("balance", "--book", book_code, "--promoter", rich).document
    assert first == {
        "promoter": rich,
        "estimated": first["estimated"],
        "confirmed": first["confirmed"],
        "available": rich_minor,
        "payout_pending": 0,
    }
    assert rich_minor >= 100
    richest = first

    requested = cli(
        "payouts", "request", "--book", book_code, "--promoter", richest["promoter"],
        "--amount-minor", str(richest["available"]), "--request-id", "w1",
    )  # fmt: skip
    assert requested.code == 0, requested.stderr
    assert requested.document == {
        "request_id": "w1",
        "state": "pending",
        "amount_minor": richest["available"],
    }
    completed = cli("payouts", "complete", "--book", book_code, "--request-id", "w1").document
    assert list(completed) == ["request_id", "state", "amount_minor", "tax_minor"]
    assert completed["state"] == "completed"
    cli(
        "payouts", "request", "--book", book_code, "--promoter", poor,
        "--amount-minor", "100", "--request-id", "w2",
    )  # fmt: skip
    failed = cli("payouts", "fail", "--book", book_code, "--request-id", "w2").document
    assert failed == {"request_id": "w2", "state": "failed", "amount_minor": 100, "tax_minor": 0}
    after = cli("balance", "--book", book_code, "--promoter", richest["promoter"]).document
    assert after["available"] == 0
    assert after["payout_pending"] == 0

    cash = cli("balance", "--book", book_code, "--account", "platform:cash").document
    assert cash == {
        "account": "platform:cash",
        "currency": "CNY",
        "balance_minor": -(richest["available"] - completed["tax_minor"]),
    }

    tb = cli("trial-balance", "--book", book_code)
    assert tb.code == 0, tb.stderr
    trial = tb.document
    assert list(trial) == ["book", "accounts", "total_debit_minor", "total_credit_minor"]
    assert trial["total_debit_minor"] == trial["total_credit_minor"] > 0
    assert list(trial["accounts"][0]) == [
        "account", "type", "currency", "debit_minor", "credit_minor", "balance_minor",
    ]  # fmt: skip

    statement = cli(
        "statement", "--book", book_code, "--promoter", richest["promoter"], "--period", "2026-09"
    )
    assert statement.code == 0, statement.stderr
    assert isinstance(statement.document, dict)
    csv_out = cli(
        "statement", "--book", book_code, "--promoter", richest["promoter"],
        "--period", "2026-09", "--format", "csv", json_output=False,
    )  # fmt: skip
    assert csv_out.code == 0, csv_out.stderr
    assert len(csv_out.stdout.splitlines()) > 1

    audit = cli("audit", "--book", book_code)
    assert audit.code == 0, audit.stdout
    assert list(audit.document) == ["ok", "checks"]
    assert audit.document["ok"] is True
    assert all(list(c) == ["name", "ok", "detail"] for c in audit.document["checks"])

    report = cli("report", "--book", book_code, "--period", "2026-09")
    assert report.code == 0, report.stderr
    assert report.document["book"] == book_code

    table = cli("trial-balance", "--book", book_code, json_output=False)
    assert table.code == 0
    assert "platform:cash" in table.stdout

    replay = cli("ingest", str(jsonl))
    assert replay.code == 0, replay.stdout
    assert replay.document == {
        "read": count,
        "applied": 0,
        "replayed": count,
        "rejected": 0,
        "errors": [],
    }
    assert cli("trial-balance", "--book", book_code).document == trial


def test_ingest_reads_events_from_stdin(sqlite_cli: Cli, book_code: str, tmp_path: Path) -> None:
    book_file, jsonl, count = _write_month(tmp_path, book_code)
    sqlite_cli("book", "apply", str(book_file))

    result = sqlite_cli("ingest", "-", stdin=jsonl.read_text(encoding="utf-8"))

    assert result.code == 0, result.stdout
    assert result.document["applied"] == count
