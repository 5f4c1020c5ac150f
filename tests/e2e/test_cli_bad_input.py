"""Bad input at the edges: each refused with a typed one-line error and the right exit code."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from cps_ledger.demo import Window, book_toml, programme_events
from tests.e2e.conftest import Cli, run_cli

UNREACHABLE = "postgresql://nobody:secret@127.0.0.1:1/x"
TZ = ZoneInfo("Asia/Shanghai")


def _lines(book: str) -> list[str]:
    at = "2026-09-01T10:00:00+08:00"
    return [
        json.dumps({"type": "promoter_registered", "book": book, "promoter": "a", "at": at}),
        '{"type": "promoter_registered",',
        "",
        json.dumps({"type": "order_shipped", "book": book, "order": "o1", "at": at}),
        json.dumps({"type": "promoter_registered", "book": book, "at": at}),
        json.dumps(
            {
                "type": "merchant_payment",
                "book": book,
                "payment": "x",
                "merchant": "m",
                "amount_minor": 100.0,
                "at": at,
            }
        ),
        json.dumps(
            {
                "type": "merchant_payment",
                "book": book,
                "payment": "y",
                "merchant": "m",
                "amount_minor": "100",
                "at": at,
            }
        ),
        json.dumps(
            {
                "type": "promoter_registered",
                "book": book,
                "promoter": "n",
                "at": "2026-09-01T10:00:00",
            }
        ),
        json.dumps({"type": "promoter_registered", "book": book, "promoter": "z", "at": at}),
    ]


@pytest.fixture
def bad_file(sqlite_cli: Cli, book_code: str, tmp_path: Path) -> Path:
    book_file = tmp_path / "book.toml"
    book_file.write_text(book_toml(book_code), encoding="utf-8")
    assert sqlite_cli("book", "apply", str(book_file)).code == 0
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(_lines(book_code)) + "\n", encoding="utf-8")
    return path


def test_each_bad_line_is_rejected_with_its_line_number_and_the_rest_go_on(
    sqlite_cli: Cli, bad_file: Path
) -> None:
    result = sqlite_cli("ingest", str(bad_file))

    assert result.code == 2
    summary = result.document
    assert (summary["read"], summary["applied"], summary["rejected"]) == (8, 2, 6)
    by_line = {e["line"]: e for e in summary["errors"]}
    assert sorted(by_line) == [2, 4, 5, 6, 7, 8]
    assert all(set(e) == {"line", "error", "message"} for e in summary["errors"])
    assert "malformed JSON" in by_line[2]["message"]
    assert "promoter" in by_line[5]["message"]
    assert by_line[6]["error"] == by_line[7]["error"]
    assert "amount_minor" in by_line[6]["message"]
    assert by_line[8]["error"] == "NaiveDatetimeError"


def test_strict_stops_at_the_first_rejected_line_and_applies_nothing_after_it(
    sqlite_cli: Cli, bad_file: Path, book_code: str, tmp_path: Path
) -> None:
    result = sqlite_cli("ingest", "--strict", str(bad_file))

    assert result.code == 2
    assert (result.document["read"], result.document["rejected"]) == (2, 1)
    last = tmp_path / "last.jsonl"
    last.write_text(_lines(book_code)[-1] + "\n", encoding="utf-8")
    assert sqlite_cli("ingest", str(last)).document["applied"] == 1


def test_a_bad_book_file_exits_2_and_names_the_field(sqlite_cli: Cli, tmp_path: Path) -> None:
    book_file = tmp_path / "book.toml"
    book_file.write_text(book_toml("bb").replace('rate = "0.03"', "rate = 0.03"), encoding="utf-8")

    result = sqlite_cli("book", "apply", str(book_file))

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: BookFileError: ")
    assert "rate" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unreachable_database_exits_1_with_one_line_and_no_password() -> None:
    result = run_cli("--database-url", UNREACHABLE, "balance", "--book", "b", "--promoter", "p")

    assert result.code == 1
    assert result.stderr.startswith("error: DatabaseUnavailableError: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_help_never_prints_the_password_of_the_database_url() -> None:
    result = run_cli("--help", env={"CPS_LEDGER_DATABASE_URL": UNREACHABLE})

    assert result.code == 0
    assert "secret" not in result.stdout + result.stderr


def test_a_naive_as_of_is_refused_with_exit_2(sqlite_cli: Cli) -> None:
    result = sqlite_cli("trial-balance", "--book", "b", "--as-of", "2026-09-01T00:00:00")

    assert result.code == 2
    assert result.stderr.startswith("error: NaiveDatetimeError: ")


def test_an_unmigrated_database_asks_for_db_upgrade_which_creates_the_schema(
    tmp_path: Path,
) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")

    refused = cli("audit", "--book", "b")
    upgraded = cli("db", "upgrade")
    after = cli("audit", "--book", "b")

    assert refused.code == 1
    assert "cps-ledger db upgrade" in refused.stderr
    assert upgraded.code == 0
    assert list(upgraded.document) == ["revision"]
    assert after.stderr.startswith("error: UnknownBookError: ")
    assert after.code == 2


@pytest.mark.parametrize(
    "command",
    [
        ["db", "upgrade"], ["demo"], ["book", "apply"], ["ingest"], ["settle"],
        ["payouts", "request"], ["payouts", "complete"], ["payouts", "fail"], ["balance"],
        ["trial-balance"], ["statement"], ["audit"], ["report"], ["export"], ["schema", "events"],
    ],
)  # fmt: skip
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run_cli(*command, "--help")

    assert result.code == 0
    assert "Example:" in result.stdout
    assert "cps-ledger " + command[0] in " ".join(result.stdout.split())


def test_the_published_schema_accepts_generated_events_and_rejects_bad_ones() -> None:
    result = run_cli("schema", "events")
    assert result.code == 0
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))
    window = Window(datetime(2026, 9, 1, tzinfo=TZ), datetime(2026, 10, 1, tzinfo=TZ))
    events = programme_events("sch", seed=5, promoters=10, orders=80, window=window)

    assert {e["type"] for e in events} >= {"promoter_registered", "order_paid", "refund"}
    for event in events:
        validator.validate(event)
    good = next(e for e in events if e["type"] == "order_paid")
    bad = [
        {**good, "type": "order_shipped"},
        {k: v for k, v in good.items() if k != "link"},
        {**good, "lines": [{**good["lines"][0], "amount_minor": "100"}]},
        {**good, "lines": [{**good["lines"][0], "amount_minor": 100.5}]},
        {**good, "surprise": 1},
    ]
    for event in bad:
        assert not validator.is_valid(event), event
