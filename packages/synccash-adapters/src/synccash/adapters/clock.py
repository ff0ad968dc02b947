"""The real clock and id generator (the core only sees the Clock/IdGenerator ports)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit ms timestamp + random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a (12 bits)
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b (62 bits)
    return uuid.UUID(int=value)


class UuidIds:
    """Payment ids are UUIDv7 (index-friendly, time-ordered); attempt references are UUIDv4."""

    def payment_id(self) -> str:
        """A new time-ordered payment id."""
        return str(uuid7())

    def reference(self) -> str:
        """A new random attempt reference (the provider's idempotency key)."""
        return str(uuid.uuid4())
