"""JSON in and out, exactly: parsing that refuses duplicate keys, and canonical bytes.

Idempotency compares payloads by the SHA-256 of their canonical JSON (sorted keys, no
spaces, UTF-8), so the same object must give the same bytes in every process and version.
Both directions run once per ingested event, so both take orjson's fast path and fall back
to the standard library exactly where the two could differ; property tests hold the two
paths to the same result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import orjson

from cps_ledger.errors import InvalidEventError

_DIGITS_AS_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER: Final = b"0" * 19
"""A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float."""


def canonical_json(value: Mapping[str, Any] | list[Any]) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces: equal values give equal bytes.

    The bytes are those of ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``. orjson writes the same for strings, 64-bit integers, booleans,
    null, lists and objects with string keys; for what it refuses (larger integers, other
    key types, lone surrogates) the standard library writes them. Floats never reach here:
    every amount and rate is refused as a float before a payload is hashed.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")


def sha256_of(value: Mapping[str, Any] | list[Any]) -> bytes:
    """The SHA-256 digest of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value)).digest()


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would keep the last of two equal keys; an ambiguous amount is refused.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise InvalidEventError(f"{key}: appears twice in one object", field=key)
        obj[key] = value
    return obj


def _strict_loads(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise InvalidEventError(f"malformed JSON: {exc}") from None


def loads_unique(text: str) -> Any:
    """Parse JSON like ``json.loads``, refusing an object that names a key twice.

    The fast path parses with orjson and proves there was no duplicate by counting colons:
    without a backslash in the text, every string reads back as written, so the text holds
    exactly as many colons as the canonical form of what was parsed unless a repeated key
    (with its value) was dropped. Escapes, long digit runs (orjson reads integers beyond
    64 bits as floats) and anything orjson refuses take the standard library's path.
    """
    return _loads(text)[0]


def loads_unique_digest(text: str) -> tuple[Any, bytes]:
    """:func:`loads_unique`, and the :func:`sha256_of` what it parsed: the fast path has
    made its canonical JSON already, and ingest needs both for every line."""
    value, canonical = _loads(text)
    if canonical is None:
        return value, sha256_of(value)
    return value, hashlib.sha256(canonical).digest()


def _loads(text: str) -> tuple[Any, bytes | None]:
    # The value, and its canonical JSON when the fast path made it.
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" not in data and _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return _strict_loads(text), None  # the standard library's message, and leniency
        if isinstance(value, dict | list):
            canonical = canonical_json(value)
            if canonical.count(b":") == data.count(b":"):
                return value, canonical
        else:
            return value, None
    return _strict_loads(text), None
