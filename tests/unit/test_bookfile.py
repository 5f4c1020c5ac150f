"""The book TOML file of DESIGN §6: parsing, refusals naming the field, the rules digest."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cps_ledger.domain.bookfile import BookFile, load_book_file, parse_book_file
from cps_ledger.errors import BookFileError

DESIGN_EXAMPLE = """
[book]
code = "fenxiang"            # the programme
currency = "CNY"
timezone = "Asia/Shanghai"
payout_minimum_minor = 100   # ¥1.00

[split]
fee_rate = "0.10"            # platform service fee, share of commission
upline_rate = "0.10"         # upline's share; "0" for none

[[rules]]                    # tried by priority, highest first; first quote wins
kind = "sku"                 # default | merchant | category | sku | campaign | tier
priority = 40
sku = "100012043978"
rate = "0.20"
cap_minor = 5000             # optional cap per line

[[rules]]
kind = "default"
priority = 0
rate = "0.03"
"""

CAMPAIGN = """
[[rules]]
kind = "campaign"
name = "双11"
priority = 90
starts_at = "2026-11-11T00:00:00+08:00"
ends_at = "2026-11-12T00:00:00+08:00"
rate = "0.08"
"""


def _refused(text: str) -> BookFileError:
    with pytest.raises(BookFileError) as caught:
        parse_book_file(text)
    return caught.value


def test_the_design_example_parses() -> None:
    book_file = parse_book_file(DESIGN_EXAMPLE)
    assert book_file.book.code == "fenxiang"
    assert book_file.book.currency == "CNY"
    assert book_file.book.timezone == "Asia/Shanghai"
    assert book_file.book.payout_minimum_minor == 100
    assert book_file.book.withholding == "none"
    assert book_file.split.fee_rate == Decimal("0.10")
    assert book_file.split.upline_rate == Decimal("0.10")
    assert book_file.split.policy == "standard"
    assert book_file.rules_payload() == [
        {"kind": "sku", "priority": 40, "sku": "100012043978", "rate": "0.20", "cap_minor": 5000},
        {"kind": "default", "priority": 0, "rate": "0.03"},
    ]


def test_a_minimal_file_takes_the_defaults() -> None:
    book_file = parse_book_file('[book]\ncode = "b"\n[split]\nfee_rate = "0"\nupline_rate = "0"\n')
    assert (book_file.book.currency, book_file.book.timezone) == ("CNY", "Asia/Shanghai")
    assert book_file.book.payout_minimum_minor == 0
    assert book_file.rules == []


def test_a_file_is_loaded_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "fenxiang.toml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    assert load_book_file(path) == parse_book_file(DESIGN_EXAMPLE)


def test_a_missing_file_is_a_book_file_error(tmp_path: Path) -> None:
    with pytest.raises(BookFileError, match="cannot read"):
        load_book_file(tmp_path / "nope.toml")


def test_a_campaign_keeps_its_window_as_iso_strings() -> None:
    payload = parse_book_file(DESIGN_EXAMPLE + CAMPAIGN).rules_payload()
    assert payload[2]["starts_at"] == "2026-11-11T00:00:00+08:00"
    assert payload[2]["ends_at"] == "2026-11-12T00:00:00+08:00"
    assert payload[2]["name"] == "双11"


def test_a_rule_of_a_plugin_kind_keeps_its_own_keys() -> None:
    text = DESIGN_EXAMPLE + '\n[[rules]]\nkind = "new_buyer"\npriority = 5\nrate = "0.05"\n'
    text += "first_order_only = true\n"
    payload = parse_book_file(text).rules_payload()
    assert payload[2] == {
        "kind": "new_buyer",
        "priority": 5,
        "rate": "0.05",
        "first_order_only": True,
    }


def test_a_rule_of_a_plugin_kind_still_needs_the_common_keys() -> None:
    error = _refused(DESIGN_EXAMPLE + '\n[[rules]]\nkind = "new_buyer"\npriority = 5\n')
    assert error.values["field"] == "rules.2.rate"


# -- refusals --------------------------------------------------------------------------


def test_not_toml_is_refused() -> None:
    error = _refused("[book\n")
    assert "TOML" in error.message


def test_a_float_rate_is_refused_naming_the_field() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('fee_rate = "0.10"', "fee_rate = 0.1"))
    assert error.values["field"] == "split.fee_rate"
    assert error.message.startswith("split.fee_rate")
    assert "float" in error.message


def test_a_float_rule_rate_is_refused_naming_the_rule() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('rate = "0.03"', "rate = 0.03"))
    assert error.values["field"] == "rules.1.rate"


@pytest.mark.parametrize("rate", ['"1.5"', '"-0.1"', '"abc"', '"NaN"', '" 0.1"'])
def test_a_rate_outside_0_to_1_or_not_a_decimal_is_refused(rate: str) -> None:
    error = _refused(DESIGN_EXAMPLE.replace('rate = "0.20"', f"rate = {rate}"))
    assert error.values["field"] == "rules.0.rate"


def test_a_missing_code_is_refused_naming_the_field() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('code = "fenxiang"', ""))
    assert error.values["field"] == "book.code"
    assert error.message.startswith("book.code")


def test_an_unknown_time_zone_is_refused_naming_the_field() -> None:
    error = _refused(DESIGN_EXAMPLE.replace("Asia/Shanghai", "Asia/Atlantis"))
    assert error.values["field"] == "book.timezone"


def test_a_lowercase_currency_is_refused() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('"CNY"', '"cny"'))
    assert error.values["field"] == "book.currency"


def test_a_negative_payout_minimum_is_refused() -> None:
    error = _refused(DESIGN_EXAMPLE.replace("= 100 ", "= -1 "))
    assert error.values["field"] == "book.payout_minimum_minor"


def test_a_naive_campaign_time_is_refused_naming_the_field() -> None:
    text = DESIGN_EXAMPLE + CAMPAIGN.replace("2026-11-11T00:00:00+08:00", "2026-11-11T00:00:00")
    error = _refused(text)
    assert error.values["field"] == "rules.2.starts_at"
    assert "offset" in error.message


def test_a_naive_toml_datetime_is_refused_too() -> None:
    text = DESIGN_EXAMPLE + CAMPAIGN.replace('"2026-11-12T00:00:00+08:00"', "2026-11-12T00:00:00")
    assert _refused(text).values["field"] == "rules.2.ends_at"


def test_a_campaign_that_ends_before_it_starts_is_refused() -> None:
    text = DESIGN_EXAMPLE + CAMPAIGN.replace("2026-11-12T00", "2026-11-10T00")
    assert _refused(text).values["field"] == "rules.2.ends_at"


def test_rates_summing_over_one_are_refused_naming_the_split() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('upline_rate = "0.10"', 'upline_rate = "0.95"'))
    assert error.values["field"] == "split.upline_rate"
    assert "exceeds 1" in error.message


def test_rates_summing_to_exactly_one_are_accepted() -> None:
    text = DESIGN_EXAMPLE.replace('upline_rate = "0.10"', 'upline_rate = "0.90"')
    assert parse_book_file(text).split.upline_rate == Decimal("0.90")


def test_an_extra_key_on_a_built_in_rule_is_refused_naming_it() -> None:
    error = _refused(
        DESIGN_EXAMPLE.replace("cap_minor = 5000", 'cap_minor = 5000\nmerchant = "m1"')
    )
    assert error.values["field"] == "rules.0.merchant"


def test_a_misspelt_key_on_a_built_in_rule_is_refused() -> None:
    error = _refused(DESIGN_EXAMPLE.replace("cap_minor = 5000", "cap_minr = 5000"))
    assert error.values["field"] == "rules.0.cap_minr"


def test_a_rule_without_kind_is_refused() -> None:
    error = _refused(DESIGN_EXAMPLE.replace('kind = "default"\n', ""))
    assert error.values["field"] == "rules.1.kind"


def test_an_unknown_section_is_refused() -> None:
    assert _refused(DESIGN_EXAMPLE + "\n[payouts]\nx = 1\n").values["field"] == "payouts"


# -- the rules digest ------------------------------------------------------------------


def test_the_rules_digest_is_stable() -> None:
    first = parse_book_file(DESIGN_EXAMPLE).rules_digest()
    reformatted = DESIGN_EXAMPLE.replace('rate = "0.20"\n', "").replace(
        'sku = "100012043978"', 'rate = "0.20"\nsku   =   "100012043978"'
    )
    assert parse_book_file(reformatted).rules_digest() == first
    assert len(first) == 64


def test_the_rules_digest_ignores_book_settings() -> None:
    other = DESIGN_EXAMPLE.replace("= 100 ", "= 500 ")
    assert parse_book_file(other).rules_digest() == parse_book_file(DESIGN_EXAMPLE).rules_digest()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('rate = "0.20"', 'rate = "0.21"'),
        ("cap_minor = 5000", "cap_minor = 5001"),
        ("priority = 40", "priority = 41"),
        ('fee_rate = "0.10"', 'fee_rate = "0.11"'),
    ],
)
def test_the_rules_digest_changes_when_a_rule_or_the_split_changes(old: str, new: str) -> None:
    before = parse_book_file(DESIGN_EXAMPLE).rules_digest()
    assert parse_book_file(DESIGN_EXAMPLE.replace(old, new)).rules_digest() != before


def test_the_rules_digest_changes_when_rules_are_reordered() -> None:
    book_file = parse_book_file(DESIGN_EXAMPLE)
    swapped = BookFile(book=book_file.book, split=book_file.split, rules=book_file.rules[::-1])
    assert swapped.rules_digest() != book_file.rules_digest()
