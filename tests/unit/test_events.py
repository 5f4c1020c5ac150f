"""The JSON Lines events of DESIGN §6: shape, typed errors, keys, payloads and schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from cps_ledger.domain.events import (
    LINES_PER_ORDER_MAX,
    MerchantPayment,
    OrderCompleted,
    OrderPaid,
    PromoterRegistered,
    Refund,
    event_at,
    events_json_schema,
    idempotency_key,
    parse_event,
    parse_event_line,
    payload_digest,
    payload_of,
)
from cps_ledger.errors import (
    DuplicateLineError,
    InvalidAmountError,
    InvalidEventError,
    NaiveDatetimeError,
)
from cps_ledger.services.ingest import Submitted, parse_line

AT = "2026-11-11T10:00:00+08:00"


def _line(line: str = "1", amount_minor: object = 19900) -> dict[str, Any]:
    return {
        "line": line,
        "merchant": "m1",
        "sku": "100012043978",
        "category": "3C",
        "quantity": 1,
        "amount_minor": amount_minor,
    }


def good_events() -> dict[str, dict[str, Any]]:
    """One valid event of each type, as parsed JSON."""
    book = {"book": "fenxiang"}
    return {
        "promoter_registered": {
            "type": "promoter_registered",
            **book,
            "promoter": "p1",
            "upline": "p0",
            "tier": "gold",
            "at": AT,
        },
        "share_link_created": {
            "type": "share_link_created",
            **book,
            "link": "L1",
            "promoter": "p1",
            "group": "g1",
            "sku": "100012043978",
            "at": AT,
        },
        "order_paid": {
            "type": "order_paid",
            **book,
            "order": "o1",
            "link": "L1",
            "paid_at": AT,
            "lines": [_line()],
        },
        "order_completed": {"type": "order_completed", **book, "order": "o1", "at": AT},
        "order_cancelled": {"type": "order_cancelled", **book, "order": "o1", "at": AT},
        "refund": {
            "type": "refund",
            **book,
            "refund": "r1",
            "order": "o1",
            "at": AT,
            "lines": [{"line": "1", "amount_minor": 5000}],
        },
        "merchant_payment": {
            "type": "merchant_payment",
            **book,
            "payment": "mp1",
            "merchant": "m1",
            "amount_minor": 100,
            "at": AT,
        },
    }


def _json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


@pytest.mark.parametrize("kind", sorted(good_events()))
def test_every_event_type_parses_from_a_json_line(kind: str) -> None:
    obj = good_events()[kind]
    event, raw = parse_event_line(_json(obj))
    assert event.type == kind
    assert raw == obj
    assert event.model_dump(mode="json", exclude_unset=True) == obj


def test_optional_fields_may_be_left_out() -> None:
    event = parse_event({"type": "promoter_registered", "book": "b", "promoter": "p", "at": AT})
    assert isinstance(event, PromoterRegistered)
    assert event.upline is None
    assert event.tier is None


def test_timestamps_keep_their_offset() -> None:
    event = parse_event(good_events()["order_paid"])
    assert event_at(event).utcoffset() == timedelta(hours=8)
    assert event_at(event) == datetime(2026, 11, 11, 2, tzinfo=UTC)


def test_the_business_time_is_at_for_every_other_event() -> None:
    event = parse_event(good_events()["refund"])
    assert event_at(event) == datetime(2026, 11, 11, 10, tzinfo=timezone(timedelta(hours=8)))


def test_events_built_in_python_accept_aware_datetimes() -> None:
    at = datetime(2026, 11, 11, tzinfo=UTC)
    assert OrderCompleted(book="b", order="o1", at=at).at == at


def test_events_are_frozen() -> None:
    event = OrderCompleted(book="b", order="o1", at=AT)
    with pytest.raises(ValidationError, match="frozen"):
        event.order = "o2"  # type: ignore[misc]


# -- refusals: shape -------------------------------------------------------------------


def test_malformed_json_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEventError, match="malformed JSON"):
        parse_event_line('{"type": "order_completed",')


def test_a_json_value_that_is_not_an_object_is_an_invalid_event() -> None:
    with pytest.raises(InvalidEventError, match="JSON object"):
        parse_event_line("[1, 2]")


def test_an_unknown_type_is_refused_naming_type() -> None:
    obj = {**good_events()["order_completed"], "type": "order_shipped"}
    with pytest.raises(InvalidEventError, match="order_shipped") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "type"


def test_a_missing_type_is_refused_naming_type() -> None:
    obj = good_events()["order_completed"]
    del obj["type"]
    with pytest.raises(InvalidEventError, match=r"^type: ") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "type"


@pytest.mark.parametrize(
    ("kind", "field"),
    [("order_completed", "at"), ("order_paid", "lines"), ("merchant_payment", "amount_minor")],
)
def test_a_missing_field_is_refused_naming_it(kind: str, field: str) -> None:
    obj = good_events()[kind]
    del obj[field]
    with pytest.raises(InvalidEventError, match=f"^{field}: ") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == field


def test_a_missing_field_of_a_line_is_refused_with_its_dotted_path() -> None:
    obj = good_events()["order_paid"]
    del obj["lines"][0]["merchant"]
    with pytest.raises(InvalidEventError, match=r"^lines\.0\.merchant: ") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "lines.0.merchant"


def test_an_extra_field_is_refused_naming_it() -> None:
    obj = {**good_events()["refund"], "reason": "broken"}
    with pytest.raises(InvalidEventError, match=r"^reason: ") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "reason"


def test_the_same_key_twice_in_one_object_is_refused() -> None:
    text = _json(good_events()["merchant_payment"])[:-1] + ',"amount_minor":200}'
    with pytest.raises(InvalidEventError, match="amount_minor"):
        parse_event_line(text)


@pytest.mark.parametrize("bad_id", ["o 1", "o:1", "", "订单1", "x" * 65])
def test_an_id_with_characters_outside_the_pattern_is_refused(bad_id: str) -> None:
    obj = {**good_events()["order_completed"], "order": bad_id}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "order"


def test_a_number_where_an_id_is_expected_is_refused() -> None:
    obj = {**good_events()["order_completed"], "order": 12345}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "order"


def test_an_order_without_lines_is_refused() -> None:
    obj = {**good_events()["order_paid"], "lines": []}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "lines"


def test_an_order_of_61_lines_is_refused_and_of_60_accepted() -> None:
    lines = [_line(str(i)) for i in range(LINES_PER_ORDER_MAX + 1)]
    obj = {**good_events()["order_paid"], "lines": lines}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "lines"
    event = parse_event({**obj, "lines": lines[:LINES_PER_ORDER_MAX]})
    assert isinstance(event, OrderPaid)
    assert len(event.lines) == 60


def test_a_refund_without_lines_is_refused() -> None:
    obj = {**good_events()["refund"], "lines": []}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "lines"


def test_a_line_id_twice_in_an_order_is_a_duplicate_line() -> None:
    obj = {**good_events()["order_paid"], "lines": [_line("1"), _line("2"), _line("1")]}
    with pytest.raises(DuplicateLineError) as caught:
        parse_event(obj)
    assert caught.value.values == {"order": "o1", "line": "1"}


def test_a_line_id_twice_in_a_refund_is_a_duplicate_line() -> None:
    lines = [{"line": "1", "amount_minor": 1}, {"line": "1", "amount_minor": 2}]
    with pytest.raises(DuplicateLineError) as caught:
        parse_event({**good_events()["refund"], "lines": lines})
    assert caught.value.values == {"order": "o1", "line": "1"}


def test_a_duplicate_line_built_in_python_is_refused_the_same_way() -> None:
    lines = [{"line": "1", "amount_minor": 1}, {"line": "1", "amount_minor": 2}]
    with pytest.raises(DuplicateLineError):
        Refund(book="b", refund="r1", order="o1", at=AT, lines=lines)


# -- refusals: amounts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (100.0, "integer"),
        (99.5, "integer"),
        ("100", "integer"),
        (True, "integer"),
        (None, "integer"),
        (-1, ">= 0"),
        (10**15 + 1, "<= 1000000000000000"),
    ],
)
def test_a_bad_order_line_amount_is_an_invalid_amount_naming_the_field(
    value: object, reason: str
) -> None:
    obj = {**good_events()["order_paid"], "lines": [_line(amount_minor=value)]}
    with pytest.raises(InvalidAmountError, match=reason) as caught:
        parse_event_line(_json(obj))
    assert caught.value.values["field"] == "lines.0.amount_minor"
    assert caught.value.values["value"] == value


def test_a_float_amount_in_the_json_text_is_refused_even_when_whole() -> None:
    text = _json(good_events()["merchant_payment"]).replace(
        '"amount_minor": 100', '"amount_minor": 100.0'
    )
    assert "100.0" in text
    with pytest.raises(InvalidAmountError) as caught:
        parse_event_line(text)
    assert caught.value.values["field"] == "amount_minor"


def test_an_amount_of_exactly_the_maximum_is_accepted() -> None:
    obj = {**good_events()["merchant_payment"], "amount_minor": 10**15}
    assert isinstance(parse_event(obj), MerchantPayment)


def test_a_free_order_line_of_zero_is_accepted() -> None:
    obj = {**good_events()["order_paid"], "lines": [_line(amount_minor=0)]}
    assert isinstance(parse_event(obj), OrderPaid)


def test_a_zero_refund_is_refused() -> None:
    obj = {**good_events()["refund"], "lines": [{"line": "1", "amount_minor": 0}]}
    with pytest.raises(InvalidAmountError, match=">= 1") as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "lines.0.amount_minor"


def test_a_zero_merchant_payment_is_refused() -> None:
    obj = {**good_events()["merchant_payment"], "amount_minor": 0}
    with pytest.raises(InvalidAmountError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "amount_minor"


@pytest.mark.parametrize("quantity", [0, 1.0, "1", True])
def test_a_quantity_must_be_a_json_integer_of_at_least_one(quantity: object) -> None:
    line = {**_line(), "quantity": quantity}
    with pytest.raises(InvalidEventError) as caught:
        parse_event({**good_events()["order_paid"], "lines": [line]})
    assert caught.value.values["field"] == "lines.0.quantity"


def test_amounts_built_in_python_are_refused_the_same_way() -> None:
    with pytest.raises(InvalidAmountError) as caught:
        MerchantPayment(book="b", payment="p", merchant="m", amount_minor=1.5, at=AT)
    assert caught.value.values["field"] == "amount_minor"


# -- refusals: timestamps --------------------------------------------------------------


def test_a_naive_timestamp_is_refused_naming_the_field() -> None:
    obj = {**good_events()["order_paid"], "paid_at": "2026-11-11T10:00:00"}
    with pytest.raises(NaiveDatetimeError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "paid_at"


def test_a_naive_datetime_built_in_python_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError) as caught:
        OrderCompleted(book="b", order="o", at=datetime(2026, 11, 11))  # noqa: DTZ001
    assert caught.value.values["field"] == "at"


@pytest.mark.parametrize("value", [1762826400, 1762826400.0, "yesterday", None])
def test_a_timestamp_that_is_not_an_iso_string_is_refused(value: object) -> None:
    obj = {**good_events()["order_completed"], "at": value}
    with pytest.raises(InvalidEventError) as caught:
        parse_event(obj)
    assert caught.value.values["field"] == "at"


def test_a_utc_timestamp_written_with_z_is_accepted() -> None:
    event = parse_event({**good_events()["order_completed"], "at": "2026-11-11T02:00:00Z"})
    assert event_at(event) == datetime(2026, 11, 11, 2, tzinfo=UTC)


# -- keys and payloads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("promoter_registered", "promoter:p1"),
        ("share_link_created", "link:L1"),
        ("order_paid", "order:o1:paid"),
        ("order_completed", "order:o1:completed"),
        ("order_cancelled", "order:o1:cancelled"),
        ("refund", "refund:r1"),
        ("merchant_payment", "merchant_payment:mp1"),
    ],
)
def test_each_event_type_has_its_idempotency_key(kind: str, key: str) -> None:
    assert idempotency_key(parse_event(good_events()[kind])) == key


def test_the_payload_of_a_json_event_is_the_raw_object() -> None:
    event, raw = parse_event_line(_json(good_events()["refund"]))
    assert payload_of(event, raw) == good_events()["refund"]


def test_the_payload_of_a_python_event_includes_its_type() -> None:
    event = OrderCompleted(book="fenxiang", order="o1", at=AT)
    assert payload_of(event) == good_events()["order_completed"]


def test_the_digest_does_not_depend_on_key_order() -> None:
    obj = good_events()["order_paid"]
    reordered = dict(reversed(list(obj.items())))
    reordered["lines"] = [dict(reversed(list(obj["lines"][0].items())))]
    assert _json(reordered) != _json(obj)
    _, raw = parse_event_line(_json(obj))
    _, raw_reordered = parse_event_line(_json(reordered))
    assert payload_digest(raw) == payload_digest(raw_reordered)
    assert len(payload_digest(raw)) == 32


def test_the_digest_changes_when_any_field_changes() -> None:
    obj = good_events()["order_paid"]
    changed = {**obj, "lines": [_line(amount_minor=19901)]}
    assert payload_digest(obj) != payload_digest(changed)
    assert payload_digest(obj) != payload_digest({**obj, "link": "L2"})


def test_a_python_event_and_its_json_twin_have_the_same_digest() -> None:
    obj = good_events()["merchant_payment"]
    built = MerchantPayment(book="fenxiang", payment="mp1", merchant="m1", amount_minor=100, at=AT)
    assert payload_digest(payload_of(built)) == payload_digest(obj)


# -- JSON schema -----------------------------------------------------------------------


def _validator() -> jsonschema.Draft202012Validator:
    schema = events_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_is_a_draft_2020_12_schema_titled_for_events() -> None:
    schema = events_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "cps_ledger event"
    payment = schema["$defs"]["MerchantPayment"]["properties"]
    assert payment["at"] == {"type": "string", "format": "date-time", "title": "At"}
    assert payment["amount_minor"]["type"] == "integer"
    assert payment["amount_minor"]["minimum"] == 1
    assert payment["amount_minor"]["maximum"] == 10**15
    assert payment["book"]["pattern"] == r"^[A-Za-z0-9_.@\-]{1,64}$"


@pytest.mark.parametrize("kind", sorted(good_events()))
def test_the_schema_accepts_every_good_event(kind: str) -> None:
    _validator().validate(good_events()[kind])


def _bad_events() -> list[dict[str, Any]]:
    good = good_events()
    no_type = dict(good["order_completed"])
    del no_type["type"]
    return [
        {**good["order_completed"], "type": "order_shipped"},
        no_type,
        {**good["order_completed"], "extra": 1},
        {**good["order_completed"], "order": "o 1"},
        {**good["order_completed"], "order": 7},
        {**good["merchant_payment"], "amount_minor": "100"},
        {**good["merchant_payment"], "amount_minor": 1.5},
        {**good["merchant_payment"], "amount_minor": 0},
        {**good["merchant_payment"], "amount_minor": 10**15 + 1},
        {**good["refund"], "lines": []},
        {**good["order_paid"], "lines": [_line(amount_minor=-1)]},
        {**good["order_paid"], "lines": [_line(str(i)) for i in range(61)]},
        {**good["order_completed"], "at": 1762826400},
    ]


@pytest.mark.parametrize("obj", _bad_events())
def test_the_schema_rejects_bad_events(obj: dict[str, Any]) -> None:
    assert not _validator().is_valid(obj)
    with pytest.raises((InvalidEventError, InvalidAmountError)):
        parse_event(obj)


@pytest.mark.parametrize("kind", sorted(set(good_events()) - {"order_paid"}))
def test_a_parsed_line_carries_the_digest_of_its_raw_object_not_the_object(kind: str) -> None:
    # A paid order's line comes packed, digest included: tests/unit/test_packed.py.
    obj = good_events()[kind]
    item = parse_line(3, _json(obj))
    assert isinstance(item, Submitted)
    assert item.raw is None  # the batch would keep it alive until it commits
    assert item.payload_digest() == payload_digest(obj).hex()
    # The same event handed over with its raw object gives that digest: replays match.
    assert Submitted(3, item.event, obj).payload_digest() == item.digest


@pytest.mark.parametrize("digest", ["", "ab", "A" * 64, "g" * 64, "0" * 65, " " + "0" * 63])
def test_a_digest_that_no_payload_can_have_is_refused(digest: str) -> None:
    event = parse_event(good_events()["order_completed"])
    with pytest.raises(InvalidEventError, match="digest") as caught:
        Submitted(1, event, digest=digest)
    assert caught.value.field == "digest"
