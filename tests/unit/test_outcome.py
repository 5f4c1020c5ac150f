"""Outcomes cross the pipe from an ingest worker unchanged."""

from __future__ import annotations

import pickle

import pytest

from cps_ledger.errors import IdempotencyConflictError
from cps_ledger.services.ingest import Outcome, Status


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(7, "order_paid:o7", Status.APPLIED),
        Outcome(8, None, Status.REJECTED, IdempotencyConflictError(book="b", key="k")),
    ],
)
def test_an_outcome_survives_pickling(outcome: Outcome) -> None:
    again = pickle.loads(pickle.dumps(outcome))
    assert (again.position, again.key, again.status) == (
        outcome.position,
        outcome.key,
        outcome.status,
    )
    assert type(again.error) is type(outcome.error)
    assert str(again.error) == str(outcome.error)
