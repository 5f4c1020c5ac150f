"""Time-ordered identifiers (UUID version 7, RFC 9562).

Ids sort by creation time, so B-tree inserts stay at the right edge, and they need no global
sequence: any process on any node can mint them (DESIGN §7).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Final

_VERSION_AND_VARIANT: Final = (0x7 << 76) | (0b10 << 62)
_RANDOM_BITS: Final = ((1 << 80) - 1) & ~((0xF << 76) | (0b11 << 62))
"""Of 80 random bits, the 74 a UUIDv7 keeps: all but the version and the variant."""
_new = object.__new__
_set_int = uuid.UUID.int.__set__  # type: ignore[misc,attr-defined]  # a slot descriptor
_set_safe = uuid.UUID.is_safe.__set__  # type: ignore[misc,attr-defined]
# Read once: on Python 3.11 each read of an enum member runs enum's Python-level descriptor.
_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7: 48 bits of Unix milliseconds, then 74 random bits."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = ((unix_ms & 0xFFFF_FFFF_FFFF) << 80) | (rand & _RANDOM_BITS) | _VERSION_AND_VARIANT
    # uuid.UUID(int=...) checks its five ways of being called and the range: half the cost
    # of an id, once per entry (finding 25). The value is valid by construction; this stores
    # it as the constructor does (and as Python 3.14's own uuid7 does).
    made = _new(uuid.UUID)
    _set_int(made, value)
    _set_safe(made, _UNKNOWN_SAFETY)
    return made
