"""Provider health shared by every worker and API replica through Redis.

Each provider's recent outcomes live in a capped list (`RPUSH` + `LTRIM`). `record` does
not talk to Redis: samples wait in this process and go out together, one pipelined round
trip for all of them, when

- `flush()` is called (the worker calls it every `flush_interval_s` and on shutdown),
- a `record` finds the oldest waiting sample at least `flush_interval_s` old, or
- a snapshot reads Redis (the waiting samples are written in the same round trip, before
  the reads, so a process always sees its own samples).

Health is advisory, so this trades durability for round trips: a crash loses the samples
of the last `flush_interval_s` (250 ms by default), and other replicas see a sample up to
that much later. A snapshot reads the lists and replays them, oldest first, through a fresh
core `HealthTracker`, so the sliding window and circuit-breaker rules are the core's, not a
second copy. Snapshots are cached for `cache_ttl_s` (clock time) so routing every payment
does not replay the window every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

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
        flush_interval_s: float = 0.25,
    ) -> None:
        self._redis = redis
        self._factory = tracker_factory
        # Keep more than one window so the circuit breaker's recent history replays faithfully.
        self._history = history or 2 * tracker_factory().window
        self._cache_ttl = timedelta(seconds=cache_ttl_s)
        self._prefix = prefix
        self._cached: tuple[datetime, dict[ProviderId, ProviderHealth]] | None = None
        self.flush_interval_s = flush_interval_s
        self._waiting: dict[ProviderId, list[str]] = {}
        self._oldest_waiting = 0.0  # monotonic time the first waiting sample came in

    def _key(self, provider: ProviderId) -> str:
        return f"{self._prefix}{provider.value}"

    async def record(self, sample: HealthSample) -> None:
        """Keep one outcome for the next flush (sent now if the oldest waited long enough)."""
        now = time.monotonic()
        if not self._waiting:
            self._oldest_waiting = now
        self._waiting.setdefault(sample.provider, []).append(_encode(sample))
        if now - self._oldest_waiting >= self.flush_interval_s:
            await self.flush()

    async def flush(self) -> None:
        """Write every waiting sample to its provider's capped list, in one round trip."""
        if not self._waiting:
            return
        pipe = self._redis.pipeline(transaction=False)
        self._push_waiting(pipe)
        await pipe.execute()

    def _push_waiting(self, pipe: Pipeline) -> int:
        """Queue the waiting samples on `pipe` (they leave this process); how many commands."""
        waiting, self._waiting = self._waiting, {}
        for provider, encoded in waiting.items():
            key = self._key(provider)
            pipe.rpush(key, *encoded)
            pipe.ltrim(key, -self._history, -1)
        return 2 * len(waiting)

    async def snapshot(self, now: datetime) -> Mapping[ProviderId, ProviderHealth]:
        """Health of every provider at `now` from the shared samples (this process's too)."""
        if self._cached is not None and timedelta(0) <= now - self._cached[0] < self._cache_ttl:
            return self._cached[1]
        providers = list(ProviderId)
        pipe = self._redis.pipeline(transaction=False)
        pushed = self._push_waiting(pipe)
        for provider in providers:
            pipe.lrange(self._key(provider), 0, -1)
        lists = (await pipe.execute())[pushed:]
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
