"""RedisHealthStore snapshots: an in-process copy, refreshed within the staleness bound."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis

from synccash.adapters.redis.health import MAX_STALENESS_S, RedisHealthStore
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, HealthSample

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def sample(provider: ProviderId, i: int, *, ok: bool) -> HealthSample:
    """The i-th sample, one millisecond apart."""
    return HealthSample(provider, ok, 700, T0 + timedelta(milliseconds=i))


async def warm(redis: Redis, trips: Any) -> None:
    """Load the store's read script (a fresh server answers NOSCRIPT once), then count from 0."""
    await RedisHealthStore(redis).snapshot(T0)
    trips.count = 0


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class HeldScripts:
    """A Redis client whose next script call, once armed, holds its answer until released."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.armed = False
        self.answered = anyio.Event()
        self.release = anyio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def evalsha(self, *args: Any) -> Any:
        result = await self._redis.evalsha(*args)  # type: ignore[misc]
        if self.armed:
            self.armed = False
            self.answered.set()
            await self.release.wait()
        return result


async def test_samples_recorded_while_a_refresh_is_in_flight_count_once(redis: Redis):
    """Samples recorded (and flushed) between a refresh's read and its rebuild are kept."""
    held = HeldScripts(redis)
    clock = Clock()
    store = RedisHealthStore(held, monotonic=clock)  # type: ignore[arg-type]
    now = T0 + timedelta(seconds=1)
    await store.record(sample(ProviderId.MTN, 0, ok=False))
    held.armed = True
    async with anyio.create_task_group() as tg:
        tg.start_soon(store.snapshot, now)
        await held.answered.wait()  # the refresh read the lists (with sample 0) and waits
        for i in (1, 2):
            await store.record(sample(ProviderId.MTN, i, ok=False))
        tg.start_soon(store.flush)  # must not write behind the refresh's back
        await anyio.sleep(0.01)
        held.release.set()
    snapshot = await store.snapshot(now)  # the fresh copy: no new read
    assert snapshot[ProviderId.MTN].samples == 3
    assert snapshot[ProviderId.MTN].consecutive_failures == 3
    assert await redis.llen("synccash:health:mtn") == 3  # the flush went out after the refresh
    clock.t += MAX_STALENESS_S
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 3


async def test_the_read_script_is_loaded_when_the_server_lacks_it(counting_redis):
    """After SCRIPT FLUSH the refresh loads its script and still sees every sample once."""
    redis, trips = counting_redis
    await redis.script_flush()
    store = RedisHealthStore(redis, max_staleness_s=0)
    for i in range(3):
        await store.record(sample(ProviderId.MTN, i, ok=False))
    assert (await store.snapshot(T0 + timedelta(seconds=1)))[ProviderId.MTN].samples == 3
    assert await redis.llen("synccash:health:mtn") == 3
    before = trips.count
    assert (await store.snapshot(T0 + timedelta(seconds=1)))[ProviderId.MTN].samples == 3
    assert trips.count == before + 1


async def test_own_successes_show_at_the_next_refresh_failures_at_once(redis: Redis):
    """The computed snapshot is reused: a success on a healthy provider waits for the next
    refresh (within the bound), a failure shows at once."""
    clock = Clock()
    store = RedisHealthStore(redis, monotonic=clock)
    now = T0 + timedelta(seconds=1)
    await store.snapshot(now)
    await store.record(sample(ProviderId.MTN, 0, ok=True))
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 0
    await store.record(sample(ProviderId.TELECEL, 1, ok=False))
    snapshot = await store.snapshot(now)
    assert (snapshot[ProviderId.MTN].samples, snapshot[ProviderId.TELECEL].samples) == (1, 1)
    await store.record(sample(ProviderId.MTN, 2, ok=True))
    clock.t += MAX_STALENESS_S
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 2


async def test_a_success_on_a_tripped_provider_shows_at_once(redis: Redis):
    """News for an open or half-open circuit is never held back (a probe closes it at once)."""
    clock = Clock()
    store = RedisHealthStore(redis, monotonic=clock)
    for i in range(10):
        await store.record(sample(ProviderId.MTN, i, ok=False))
    after_cool_down = T0 + timedelta(seconds=31)
    assert (await store.snapshot(after_cool_down))[ProviderId.MTN].circuit is CircuitState.HALF_OPEN
    await store.record(HealthSample(ProviderId.MTN, ok=True, latency_ms=700, at=after_cool_down))
    assert (await store.snapshot(after_cool_down))[ProviderId.MTN].circuit is CircuitState.CLOSED


async def test_the_default_staleness_bound_is_the_documented_constant(redis: Redis):
    """Other replicas' samples are at most MAX_STALENESS_S old; re-read no more often than
    samples are flushed."""
    store = RedisHealthStore(redis)
    assert store.max_staleness_s == MAX_STALENESS_S == 1.0
    assert store.flush_interval_s <= MAX_STALENESS_S


async def test_own_failures_open_the_circuit_at_once_without_a_round_trip(counting_redis):
    """A fresh copy is not re-read, but this process's own failures are in the next snapshot."""
    redis, trips = counting_redis
    await warm(redis, trips)
    clock = Clock()
    store = RedisHealthStore(redis, monotonic=clock, flush_interval_s=60)
    now = T0 + timedelta(seconds=1)
    assert (await store.snapshot(now))[ProviderId.MTN].circuit is CircuitState.CLOSED
    assert trips.count == 1
    for i in range(10):
        await store.record(sample(ProviderId.MTN, i, ok=False))
    snapshot = await store.snapshot(now)
    assert snapshot[ProviderId.MTN].circuit is CircuitState.OPEN
    assert snapshot[ProviderId.MTN].consecutive_failures == 10
    assert trips.count == 1  # neither the records nor the snapshot talked to Redis
    # past the bound the copy is re-read (the waiting samples go out in the same trip) and
    # the circuit stays open: the samples are counted once, not twice
    clock.t += MAX_STALENESS_S
    snapshot = await store.snapshot(now)
    assert trips.count == 2
    assert snapshot[ProviderId.MTN].circuit is CircuitState.OPEN
    assert snapshot[ProviderId.MTN].samples == 10
    assert await redis.llen("synccash:health:mtn") == 10


async def test_snapshots_in_any_now_order_share_one_read_per_bound(counting_redis):
    """Concurrent callers pass `now` in any order; staleness is on the monotonic clock."""
    redis, trips = counting_redis
    await warm(redis, trips)
    clock = Clock()
    store = RedisHealthStore(redis, monotonic=clock)
    nows = [T0 + timedelta(milliseconds=random.Random(7).randrange(1000)) for _ in range(50)]
    async with anyio.create_task_group() as tg:
        for now in nows:
            tg.start_soon(store.snapshot, now)
    assert trips.count == 1  # one refresh, shared by all fifty
    for now in reversed(nows):
        await store.snapshot(now)
    assert trips.count == 1
    clock.t += MAX_STALENESS_S
    await store.snapshot(nows[0])
    assert trips.count == 2


async def test_other_replicas_samples_show_after_the_bound(redis: Redis):
    """Another replica's flushed failures open the circuit here at the next refresh."""
    clock = Clock()
    store = RedisHealthStore(redis, monotonic=clock)
    other = RedisHealthStore(redis)
    now = T0 + timedelta(seconds=1)
    await store.snapshot(now)
    for i in range(10):
        await other.record(sample(ProviderId.TELECEL, i, ok=False))
    await other.flush()
    clock.t += MAX_STALENESS_S / 2
    assert (await store.snapshot(now))[ProviderId.TELECEL].circuit is CircuitState.CLOSED
    clock.t += MAX_STALENESS_S / 2
    assert (await store.snapshot(now))[ProviderId.TELECEL].circuit is CircuitState.OPEN


async def test_samples_recorded_during_refreshes_are_counted_once(redis: Redis):
    """Records, flushes and refreshes interleaved: every snapshot holds each own sample once."""
    store = RedisHealthStore(redis, max_staleness_s=0, flush_interval_s=0.005, history=1000)
    recorded = 0
    rng = random.Random(3)

    async def recorder() -> None:
        nonlocal recorded
        for _ in range(30):  # 90 in all: within the tracker's window of 100
            i = recorded
            recorded += 1
            await store.record(sample(ProviderId.AIRTELTIGO, i, ok=False))
            await anyio.sleep(rng.uniform(0, 0.002))

    async def reader() -> None:
        for _ in range(40):
            before = recorded
            seen = (await store.snapshot(T0 + timedelta(seconds=5)))[ProviderId.AIRTELTIGO]
            assert before <= seen.samples <= recorded
            await anyio.sleep(rng.uniform(0, 0.002))

    async def flusher() -> None:
        for _ in range(20):
            await store.flush()
            await anyio.sleep(rng.uniform(0, 0.003))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(recorder)
            tg.start_soon(reader)
        tg.start_soon(flusher)
    await store.flush()
    assert recorded == 90
    assert (await store.snapshot(T0 + timedelta(seconds=5)))[ProviderId.AIRTELTIGO].samples == 90
    assert await redis.llen("synccash:health:airteltigo") == 90
