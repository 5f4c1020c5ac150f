"""Entry ids: valid, time-ordered UUIDv7 that behave like any other UUID."""

from __future__ import annotations

import pickle
import time
import uuid

from cps_ledger.domain.ids import uuid7

SAMPLE = 2_000


def test_uuid7_is_a_version_7_rfc_uuid_with_the_time_in_front() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [uuid7() for _ in range(SAMPLE)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == SAMPLE
    for made in ids:
        rebuilt = uuid.UUID(str(made))  # through the checking constructor
        assert made == rebuilt
        assert hash(made) == hash(rebuilt)
        assert made.version == 7
        assert made.variant == uuid.RFC_4122
        assert made.is_safe is uuid.SafeUUID.unknown
        assert before_ms <= made.int >> 80 <= after_ms
        assert pickle.loads(pickle.dumps(made)) == made
    prefixes = [made.int >> 80 for made in ids]
    assert prefixes == sorted(prefixes)


def test_uuid7_random_bits_vary_in_every_position() -> None:
    # 74 random bits: over 2,000 ids each of them is seen both set and clear, and the
    # version and variant bits never vary.
    ids = [uuid7().int for _ in range(SAMPLE)]
    random_mask = ((1 << 80) - 1) & ~((0xF << 76) | (0b11 << 62))
    ever_set = 0
    ever_clear = 0
    for value in ids:
        ever_set |= value
        ever_clear |= ~value
    assert ever_set & random_mask == random_mask
    assert ever_clear & random_mask == random_mask
    assert {(value >> 76) & 0xF for value in ids} == {7}
    assert {(value >> 62) & 0b11 for value in ids} == {0b10}
