"""Provider health shared by every worker and API replica through Redis.

Each provider's recent outcomes live in a capped list (`RPUSH` + `LTRIM`, one pipelined
round trip). A snapshot reads the lists (one pipelined round trip) and replays them, oldest
first, through a fresh core `HealthTracker`, so the sliding window and circuit-breaker rules
are the core's, not a second copy. Snapshots are cached for `cache_ttl_s` (clock time) so
routing every payment does not replay the window every time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from synccash.adapters.coordination import epoch_ms
from synccash.core.providers import ProviderId
from synccash.core.reliability import HealthSample, HealthTracker, ProviderHealth


def _encode(sample: HealthSample) -> str:
    return f"{int(sample.ok)}|{sample.latency_ms}|{epoch_ms(sample.at)}"


def _decode(provider: ProviderId, raw: Any) -> HealthSample:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    ok, latency, at_ms = text.split("|")
    at = datetime.fromtimestamp(int(at_ms) / 1000, UTC)
    return HealthSample(provider, ok == "1", int(latency), at)


class RedisHealthStore:
    """ProviderHealthStore on Redis lists, evaluated by the core's HealthTracker."""

    def __init__(
        self,
        redis: Redis,
        *,
        tracker_factory: Callable[[], HealthTracker] = HealthTracker,
        history: int | None = None,
        cache_ttl_s: float = 1.0,
        prefix: str = "synccash:health:",
    ) -> None:
        self._redis = redis
        self._factory = tracker_factory
        # Keep more than one window so the circuit breaker's recent history replays faithfully.
        self._history = history or 2 * tracker_factory().window
        self._cache_ttl = timedelta(seconds=cache_ttl_s)
        self._prefix = prefix
        self._cached: tuple[datetime, dict[ProviderId, ProviderHealth]] | None = None

    def _key(self, provider: ProviderId) -> str:
        return f"{self._prefix}{provider.value}"

    async def record(self, sample: HealthSample) -> None:
        """Append one outcome to its provider's capped list."""
        key = self._key(sample.provider)
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(key, _encode(sample))
        pipe.ltrim(key, -self._history, -1)
        await pipe.execute()

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """Health of every provider at `now` from the shared samples."""
        if self._cached is not None and timedelta(0) <= now - self._cached[0] < self._cache_ttl:
            return self._cached[1]
        providers = list(ProviderId)
        pipe = self._redis.pipeline(transaction=False)
        for provider in providers:
            pipe.lrange(self._key(provider), 0, -1)
        lists = await pipe.execute()
        tracker = self._factory()
        samples = [
            _decode(provider, raw)
            for provider, raws in zip(providers, lists, strict=True)
            for raw in raws
        ]
        samples.sort(key=lambda s: s.at)
        tracker.record_many(samples)
        snapshot = tracker.snapshot(now)
        self._cached = (now, snapshot)
        return snapshot


__all__ = ["RedisHealthStore"]
