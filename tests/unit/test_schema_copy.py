"""The JSON Schema published in docs/ is the one the event models generate."""

from __future__ import annotations

import json
from pathlib import Path

from cps_ledger.domain.events import events_json_schema

SCHEMA_COPY = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"
REGENERATE = (
    '.venv/bin/python -c "import json; from cps_ledger.domain.events import events_json_schema;'
    ' print(json.dumps(events_json_schema(), indent=2, sort_keys=True))" > docs/events.schema.json'
)


def test_the_committed_schema_equals_the_one_generated_from_the_models() -> None:
    committed = json.loads(SCHEMA_COPY.read_text(encoding="utf-8"))
    assert committed == events_json_schema(), f"docs/events.schema.json is stale; run {REGENERATE}"


def test_the_committed_schema_describes_every_event_type() -> None:
    committed = json.loads(SCHEMA_COPY.read_text(encoding="utf-8"))
    types = set(committed["discriminator"]["mapping"])
    assert types == {
        "promoter_registered",
        "share_link_created",
        "order_paid",
        "order_completed",
        "order_cancelled",
        "refund",
        "merchant_payment",
    }
