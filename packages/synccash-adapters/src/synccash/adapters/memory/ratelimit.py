"""In-memory token bucket and locks with the Redis versions' semantics (one process only)."""

from __future__ import annotations

import secrets

from synccash.adapters.clock import SystemClock
from synccash.adapters.coordination import epoch_ms
from synccash.core.ports import Clock

_PURGE_AT = 10_000


class MemoryRateLimiter:
    """A token bucket per key: `capacity` burst, refilled at `per_second` tokens a second."""

    def __init__(self, *, capacity: int, per_second: float, clock: Clock | None = None) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("capacity must be >= 1 and per_second > 0")
        self._capacity = float(capacity)
        self._per_second = per_second
        self._clock: Clock = clock or SystemClock()
        self._buckets: dict[str, tuple[float, int]] = {}  # key -> (tokens, last refill ms)

    async def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds until one is available."""
        now = epoch_ms(self._clock.now())
        tokens, ts = self._buckets.get(key, (self._capacity, now))
        if now > ts:
            tokens = min(self._capacity, tokens + (now - ts) * self._per_second / 1000)
            ts = now
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, ts)
            return None
        self._buckets[key] = (tokens, ts)
        return (1 - tokens) / self._per_second


class MemoryLocks:
    """Short-lived exclusive locks with owner tokens, in this process."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._held: dict[str, tuple[str, int]] = {}  # key -> (token, expires ms)

    def _owner(self, key: str) -> str | None:
        held = self._held.get(key)
        if held is None:
            return None
        if held[1] <= epoch_ms(self._clock.now()):
            del self._held[key]
            return None
        return held[0]

    async def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """Take the lock for `ttl_ms`: its owner token, or None if it is held."""
        if self._owner(key) is not None:
            return None
        if len(self._held) >= _PURGE_AT:  # locks of crashed holders: drop the expired ones
            now = epoch_ms(self._clock.now())
            self._held = {k: v for k, v in self._held.items() if v[1] > now}
        token = secrets.token_hex(16)
        self._held[key] = (token, epoch_ms(self._clock.now()) + ttl_ms)
        return token

    async def extend(self, key: str, token: str, ttl_ms: int) -> bool:
        """Extend a lock we still hold; False if it expired or changed owner."""
        if self._owner(key) != token:
            return False
        self._held[key] = (token, epoch_ms(self._clock.now()) + ttl_ms)
        return True

    async def release(self, key: str, token: str) -> bool:
        """Delete the lock only if `token` still owns it."""
        if self._owner(key) != token:
            return False
        del self._held[key]
        return True


__all__ = ["MemoryLocks", "MemoryRateLimiter"]
