"""Commission rules: order of trial, matching, caps, plug-ins (DESIGN §5, §6 rules file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from cps_ledger.domain.commission import commission_for
from cps_ledger.domain.rules import (
    NO_RULE,
    CapModifier,
    LineContext,
    Quote,
    apply_modifiers,
    build_ruleset,
    rule_kinds,
)
from cps_ledger.domain.splits import StandardSplit, split_policy, split_policy_names
from cps_ledger.errors import (
    CpsLedgerError,
    InvalidAmountError,
    InvalidEventError,
    InvalidRateError,
    NaiveDatetimeError,
    UnknownPolicyError,
    UnknownRuleKindError,
)

D = Decimal
CST = timezone(timedelta(hours=8))
DEFAULT = {"kind": "default", "priority": 0, "rate": "0.03"}
LINE = LineContext(
    book="fenxiang",
    merchant="m1",
    sku="100012043978",
    category="3C",
    amount_minor=19900,
    quantity=1,
    promoter="p1",
    tier="gold",
    paid_at=datetime(2026, 11, 11, 10, 0, tzinfo=CST),
)


def rate_for(specs: Sequence[Mapping[str, Any]], line: LineContext = LINE) -> tuple[str, Decimal]:
    selection = build_ruleset(specs, version=1).select(line)
    return selection.rule, selection.quote.rate


def test_rules_are_tried_by_priority_highest_first_whatever_the_file_order() -> None:
    specs = [DEFAULT, {"kind": "sku", "priority": 40, "sku": "100012043978", "rate": "0.20"}]
    assert rate_for(specs) == ("sku:100012043978", D("0.20"))


def test_rules_of_equal_priority_are_tried_in_file_order() -> None:
    merchant = {"kind": "merchant", "priority": 10, "merchant": "m1", "rate": "0.05"}
    category = {"kind": "category", "priority": 10, "category": "3C", "rate": "0.07"}
    assert rate_for([merchant, category, DEFAULT]) == ("merchant:m1", D("0.05"))
    assert rate_for([category, merchant, DEFAULT]) == ("category:3C", D("0.07"))


def test_a_rule_that_does_not_apply_passes_the_line_to_the_next_one() -> None:
    other_sku = {"kind": "sku", "priority": 40, "sku": "999", "rate": "0.20"}
    merchant = {"kind": "merchant", "priority": 20, "merchant": "m1", "rate": "0.05"}
    assert rate_for([other_sku, merchant, DEFAULT]) == ("merchant:m1", D("0.05"))


def test_the_first_rule_that_quotes_wins_even_if_a_later_one_pays_more() -> None:
    low = {"kind": "merchant", "priority": 20, "merchant": "m1", "rate": "0.01"}
    high = {"kind": "category", "priority": 10, "category": "3C", "rate": "0.50"}
    assert rate_for([high, low]) == ("merchant:m1", D("0.01"))


def test_when_no_rule_quotes_the_rate_is_zero_under_the_name_none() -> None:
    ruleset = build_ruleset([{"kind": "sku", "priority": 1, "sku": "x", "rate": "0.2"}], 7)
    selection = ruleset.select(LINE)
    assert (selection.rule, selection.version, selection.quote.rate) == (NO_RULE, 7, D(0))
    assert build_ruleset([], 1).select(LINE).quote.rate == 0


def test_every_rule_carries_the_version_of_the_set_that_published_it() -> None:
    ruleset = build_ruleset([DEFAULT], version=3)
    assert [rule.version for rule in ruleset.rules] == [3]
    assert ruleset.select(LINE).version == 3


def test_a_tier_rule_matches_the_promoters_tier_only() -> None:
    specs = [{"kind": "tier", "priority": 5, "tier": "gold", "rate": "0.08"}, DEFAULT]
    assert rate_for(specs) == ("tier:gold", D("0.08"))
    assert rate_for(specs, replace(LINE, tier="silver")) == ("default", D("0.03"))
    assert rate_for(specs, replace(LINE, tier=None)) == ("default", D("0.03"))


def test_a_rule_given_a_name_records_that_name() -> None:
    spec = {"kind": "merchant", "priority": 1, "merchant": "m1", "rate": "0.1", "name": "vip-m1"}
    assert rate_for([spec]) == ("vip-m1", D("0.1"))


CAMPAIGN = {
    "kind": "campaign",
    "priority": 90,
    "starts_at": "2026-11-11T00:00:00+08:00",
    "ends_at": "2026-11-12T00:00:00+08:00",
    "rate": "0.25",
}


@pytest.mark.parametrize(
    ("paid_at", "applies"),
    [
        (datetime(2026, 11, 11, 0, 0, tzinfo=CST), True),  # exactly at starts_at
        (datetime(2026, 11, 11, 23, 59, 59, 999999, tzinfo=CST), True),
        (datetime(2026, 11, 12, 0, 0, tzinfo=CST), False),  # exactly at ends_at
        (datetime(2026, 11, 11, 16, 0, tzinfo=UTC), False),  # the same instant as ends_at
        (datetime(2026, 11, 10, 15, 59, 59, tzinfo=UTC), False),  # a second before start
    ],
)
def test_a_campaign_matches_lines_paid_in_its_half_open_window(
    paid_at: datetime, applies: bool
) -> None:
    rule, rate = rate_for([CAMPAIGN, DEFAULT], replace(LINE, paid_at=paid_at))
    expected = D("0.25") if applies else D("0.03")
    assert rate == expected
    if applies:
        assert rule == "campaign:2026-11-11T00:00:00+08:00..2026-11-12T00:00:00+08:00"


def test_a_campaign_accepts_aware_datetimes_as_well_as_strings() -> None:
    spec = {**CAMPAIGN, "starts_at": LINE.paid_at, "ends_at": LINE.paid_at + timedelta(hours=1)}
    assert rate_for([spec]) == (
        "campaign:2026-11-11T10:00:00+08:00..2026-11-11T11:00:00+08:00",
        D("0.25"),
    )


def test_a_campaign_with_a_naive_start_is_refused_naming_the_field() -> None:
    with pytest.raises(NaiveDatetimeError) as caught:
        build_ruleset([DEFAULT, {**CAMPAIGN, "starts_at": "2026-11-11T00:00:00"}], 1)
    assert caught.value.values["field"] == "rules.1.starts_at"


def test_a_campaign_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidEventError) as caught:
        build_ruleset([{**CAMPAIGN, "ends_at": CAMPAIGN["starts_at"]}], 1)
    assert caught.value.values["field"] == "rules.0.ends_at"


def test_the_cap_of_the_quoting_rule_limits_the_commission() -> None:
    spec = {"kind": "sku", "priority": 40, "sku": "100012043978", "rate": "0.20", "cap_minor": 5000}
    quote = build_ruleset([spec], 1).select(replace(LINE, amount_minor=30000)).quote
    assert quote.cap_minor == 5000
    # 30000 × 0.20 = 6000 -> capped to 5000; 19900 × 0.20 = 3980 stays under the cap.
    assert commission_for(30000, quote.rate, quote.cap_minor) == 5000
    assert commission_for(19900, quote.rate, quote.cap_minor) == 3980
    assert apply_modifiers(6000, [CapModifier(5000)]) == 5000


def test_an_unknown_rule_kind_is_refused_with_its_name() -> None:
    with pytest.raises(UnknownRuleKindError) as caught:
        build_ruleset([{"kind": "lottery", "priority": 1, "rate": "0.5"}], 1)
    assert caught.value.values["kind"] == "lottery"


@pytest.mark.parametrize(
    ("spec", "error", "field"),
    [
        ({**DEFAULT, "rate": "1.5"}, InvalidRateError, "rules.0.rate"),
        ({**DEFAULT, "rate": 0.03}, InvalidRateError, "rules.0.rate"),  # a float
        ({**DEFAULT, "rate": "three"}, InvalidRateError, "rules.0.rate"),
        ({**DEFAULT, "cap_minor": -1}, InvalidAmountError, "rules.0.cap_minor"),
        ({**DEFAULT, "cap_minor": "5000"}, InvalidAmountError, "rules.0.cap_minor"),
        ({**DEFAULT, "priority": "high"}, InvalidEventError, "rules.0.priority"),
        ({**DEFAULT, "cap_minr": 5000}, InvalidEventError, "rules.0.cap_minr"),
        ({"kind": "sku", "priority": 1, "rate": "0.1"}, InvalidEventError, "rules.0.sku"),
        ({"priority": 1, "rate": "0.1"}, InvalidEventError, "rules.0.kind"),
    ],
)
def test_a_bad_rule_value_is_refused_naming_the_rule_and_field(
    spec: Mapping[str, Any], error: type[CpsLedgerError], field: str
) -> None:
    with pytest.raises(error) as caught:
        build_ruleset([spec], 1)
    assert caught.value.values["field"] == field


def test_a_quote_refuses_a_float_rate() -> None:
    with pytest.raises(InvalidRateError):
        Quote(0.2)  # type: ignore[arg-type]


def test_a_line_paid_at_a_naive_time_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        replace(LINE, paid_at=datetime(2026, 11, 11))  # noqa: DTZ001 - naive on purpose


# -- plug-ins, found through the entry points of the installed test distribution ------------

FLAT_BONUS = {"kind": "flat_bonus", "priority": 50, "rate": "0.15", "min_quantity": 3}


def test_rule_kinds_lists_the_built_ins_and_the_installed_plug_in() -> None:
    kinds = rule_kinds()
    for kind in ("default", "merchant", "category", "sku", "campaign", "tier", "flat_bonus"):
        assert kind in kinds


def test_a_plug_in_rule_kind_quotes_through_its_entry_point() -> None:
    ruleset = build_ruleset([DEFAULT, FLAT_BONUS], version=2)
    bulk = ruleset.select(replace(LINE, quantity=3))
    assert (bulk.rule, bulk.version, bulk.quote.rate) == ("flat_bonus:3", 2, D("0.15"))
    assert ruleset.select(replace(LINE, quantity=2)).rule == "default"


def test_a_plug_in_split_policy_is_found_through_its_entry_point() -> None:
    assert "no_upline_cut" in split_policy_names()
    policy = split_policy("no_upline_cut")
    weights = policy.weights(fee_rate=D("0.10"), upline_rate=D("0.10"), has_upline=True)
    assert (weights.promoter, weights.upline, weights.platform) == (D("0.90"), D(0), D("0.10"))


def test_the_standard_split_is_built_in() -> None:
    assert isinstance(split_policy("standard"), StandardSplit)


def test_an_unknown_split_policy_is_refused_with_its_name() -> None:
    with pytest.raises(UnknownPolicyError) as caught:
        split_policy("half_and_half")
    assert caught.value.values == {"group": "split", "name": "half_and_half"}
