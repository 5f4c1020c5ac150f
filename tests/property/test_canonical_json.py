"""The fast JSON paths (orjson) agree with the standard library they stand in for.

Idempotency digests are stored: the canonical bytes of a payload must not depend on which
path wrote them, and parsing must refuse exactly the documents json.loads with a
duplicate-key check refuses.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cps_ledger.domain.canonical import canonical_json, loads_unique, loads_unique_digest
from cps_ledger.errors import InvalidEventError

keys = st.text(max_size=8)
scalars = (
    st.none() | st.booleans() | st.integers() | st.text() | st.sampled_from(["a:b", ":", "T1:2"])
)
# No floats: no payload that is hashed can hold one (amounts and rates refuse floats).
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(keys, json_values, max_size=6)


def reference_canonical(value: Any) -> bytes:
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8", "surrogatepass")


def reference_loads(text: str) -> Any:
    def refuse(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise InvalidEventError(f"{key}: appears twice in one object", field=key)
            obj[key] = value
        return obj

    try:
        return json.loads(text, object_pairs_hook=refuse)
    except (ValueError, RecursionError) as exc:
        raise InvalidEventError(f"malformed JSON: {exc}") from None


def same(a: Any, b: Any) -> bool:
    """Equality that also holds for NaN and tells 1 from 1.0 and True from 1."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(documents)
def test_canonical_bytes_equal_the_standard_librarys(value: dict[str, Any]) -> None:
    assert canonical_json(value) == reference_canonical(value)


@given(documents, st.booleans())
def test_parsing_returns_what_json_loads_returns(value: dict[str, Any], pretty: bool) -> None:
    text = json.dumps(value, indent=1 if pretty else None, ensure_ascii=pretty)
    assert same(loads_unique(text), reference_loads(text))


@given(documents, st.booleans())
def test_the_digest_made_with_the_parse_is_the_digest_of_what_was_parsed(
    value: dict[str, Any], pretty: bool
) -> None:
    text = json.dumps(value, indent=1 if pretty else None, ensure_ascii=pretty)
    parsed, digest = loads_unique_digest(text)
    assert same(parsed, reference_loads(text))
    assert digest == hashlib.sha256(reference_canonical(parsed)).digest()


@given(documents, keys, json_values, json_values)
def test_a_repeated_key_is_refused_wherever_it_is(
    value: dict[str, Any], key: str, first: Any, second: Any
) -> None:
    body = json.dumps({**value, key: second})[1:]  # never empty: it holds ``key``
    text = "{" + json.dumps(key) + ":" + json.dumps(first) + "," + body
    nested = '{"outer":' + text + "}"
    for doc in (text, nested, "[1," + text + "]"):
        with pytest.raises(InvalidEventError, match="appears twice"):
            loads_unique(doc)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_as_the_standard_library_decides(text: str) -> None:
    try:
        expected = reference_loads(text)
    except InvalidEventError as exc:
        refusal = exc.message.split(":")[0]  # "malformed JSON" or the repeated key
    else:
        assert same(loads_unique(text), expected)
        return
    with pytest.raises(InvalidEventError) as caught:
        loads_unique(text)
    assert caught.value.message.split(":")[0] == refusal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"amount_minor": 123456789012345678901234567890}', 123456789012345678901234567890),
        ('{"amount_minor": 1.5}', 1.5),
        ('{"amount_minor": NaN}', math.nan),
        ('{"k": "\\u003a", "amount_minor": 7}', 7),
    ],
)
def test_numbers_and_escapes_read_as_the_standard_library_reads_them(
    text: str, expected: Any
) -> None:
    assert same(loads_unique(text)["amount_minor"], expected)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 1}',
        '{"a": "x:y", "b": {"c": 1, "c": 2}}',
        '[{"k": "v"}, {"k": 1, "k": 2}]',
        '{"a\\u0062": 1, "ab": 2}',  # the same key, once escaped
    ],
)
def test_examples_of_repeated_keys_are_refused(text: str) -> None:
    with pytest.raises(InvalidEventError, match="appears twice"):
        loads_unique(text)
