"""The shipped state machine against the real library, and proof that it can fail."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy.engine import URL

import cps_ledger.domain.commission
import cps_ledger.domain.orders
import cps_ledger.services.payouts
from cps_ledger.domain.commission import LineTerms, Shares, shares_for
from cps_ledger.testing import LedgerStateMachine, run_state_machine
from cps_ledger.testing.stateful import MONEY_PATHS

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A broken ledger must be caught while generating; shrinking would only cost time, and
# the failing example must not be saved where the genuine machine would replay it.
BROKEN = settings(SETTINGS, max_examples=200, phases=[Phase.generate], database=None)
# The same examples on every run, none saved: what the bias reaches must not vary by luck.
FIXED = settings(SETTINGS, derandomize=True, phases=[Phase.generate], database=None)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_ledger_agrees_with_the_reference_model_at_every_step(
    backend: str, database_url_for: dict[str, URL]
) -> None:
    run_state_machine(database_url_for[backend], settings=SETTINGS)


def test_a_fixed_run_of_the_machine_reaches_every_money_out_path(
    database_url_for: dict[str, URL],
) -> None:
    reached: Counter[str] = Counter()

    class Counting(LedgerStateMachine):
        def teardown(self) -> None:
            reached.update(self.paths)
            super().teardown()

    run_state_machine(database_url_for["sqlite"], machine=Counting, settings=FIXED)
    missed = [path for path in MONEY_PATHS if not reached[path]]
    assert not missed, f"the machine's bias no longer reaches {missed}: {dict(reached)}"
    # Most payout requests must be the kind that can succeed, not refusals.
    assert reached["payout requested"] > sum(
        n for path, n in reached.items() if path.startswith("request payout") and "rejected" in path
    )


def test_a_ledger_whose_rule_rounds_down_is_caught(
    monkeypatch: pytest.MonkeyPatch, database_url_for: dict[str, URL]
) -> None:
    def round_down(amount_minor: int, rate: Decimal) -> int:
        return int((Decimal(amount_minor) * rate).to_integral_value(rounding=ROUND_FLOOR))

    monkeypatch.setattr(cps_ledger.domain.commission, "multiply_half_up", round_down)
    with pytest.raises(AssertionError, match="model"):
        run_state_machine(database_url_for["sqlite"], settings=BROKEN)


def test_a_ledger_whose_refunds_forget_earlier_refunds_is_caught(
    monkeypatch: pytest.MonkeyPatch, database_url_for: dict[str, URL]
) -> None:
    def forgetful(
        terms: LineTerms, refunded_before_minor: int, refund_minor: int, *, order: str, line: str
    ) -> tuple[Shares, Shares]:
        # Reverses from the full base every time: a second refund takes back too much.
        return shares_for(terms, terms.base_minor), shares_for(
            terms, max(terms.base_minor - refund_minor, 0)
        )

    monkeypatch.setattr(cps_ledger.domain.orders, "refund_targets", forgetful)
    with pytest.raises(AssertionError, match="model"):
        run_state_machine(database_url_for["sqlite"], settings=BROKEN)


def test_a_ledger_that_pays_out_more_than_is_available_is_caught(
    monkeypatch: pytest.MonkeyPatch, database_url_for: dict[str, URL]
) -> None:
    # Every promoter seems to have ¥10 billion available: a request for too much goes through.
    monkeypatch.setattr(cps_ledger.services.payouts, "to_normal", lambda _type, _b: 10**12)
    with pytest.raises(AssertionError, match="model"):
        run_state_machine(database_url_for["sqlite"], settings=BROKEN)


class SubclassedMachine(LedgerStateMachine):
    """What a user does: subclass, and let pytest collect the TestCase."""


SubclassedMachine.TestCase.settings = settings(SETTINGS, max_examples=5)
TestSubclassedMachine = SubclassedMachine.TestCase


def test_the_default_database_is_removed_when_the_process_exits() -> None:
    # Every run of the state machine used to leave a directory with a SQLite file in /tmp.
    script = (
        "from cps_ledger.testing import stateful\n"
        "url = stateful._default_url()\n"
        "stateful._engine(url)\n"  # migrated and left open, as a test run leaves it
        "print(url.removeprefix('sqlite:///'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    database = Path(done.stdout.strip())
    assert database.name == "ledger.sqlite3"
    assert not database.parent.exists()
