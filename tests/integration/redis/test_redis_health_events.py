"""Provider health shared through Redis, and the `synccash:events` stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from redis.asyncio import Redis

from synccash.adapters.redis.events import EVENTS_STREAM, RedisEventPublisher
from synccash.adapters.redis.health import RedisHealthStore
from synccash.core.fees import TransferKind
from synccash.core.ports import OutboxRow
from synccash.core.providers import ProviderId
from synccash.core.reliability import CircuitState, HealthSample, HealthTracker, SampleKind

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def sample(provider: ProviderId, i: int, *, ok: bool, latency: int = 800) -> HealthSample:
    """The i-th sample, one second apart."""
    return HealthSample(provider, ok, latency, T0 + timedelta(seconds=i))


async def test_samples_recorded_by_one_replica_are_seen_by_another(redis: Redis):
    """Two stores (two processes) share the window; the snapshot equals the core tracker's."""
    writer_a, writer_b, reader = (RedisHealthStore(redis, max_staleness_s=0) for _ in range(3))
    samples = [sample(ProviderId.MTN, i, ok=i % 4 != 0, latency=500 + 10 * i) for i in range(12)]
    for i, s in enumerate(samples):
        await (writer_a if i % 2 else writer_b).record(s)
    await writer_a.flush()
    await writer_b.flush()
    now = T0 + timedelta(minutes=1)
    expected = HealthTracker()
    expected.record_many(samples)
    snapshot = await reader.snapshot(now)
    assert snapshot[ProviderId.MTN] == expected.health(ProviderId.MTN, now)
    assert snapshot[ProviderId.MTN].samples == 12


async def test_failures_open_the_circuit_for_every_reader(redis: Redis):
    """Ten failures (the minimum volume) recorded anywhere open MTN's circuit; Telecel stays closed."""
    store = RedisHealthStore(redis, max_staleness_s=0)
    for i in range(10):
        await store.record(sample(ProviderId.MTN, i, ok=False))
    await store.record(sample(ProviderId.TELECEL, 6, ok=True))
    await store.flush()
    snapshot = await RedisHealthStore(redis, max_staleness_s=0).snapshot(T0 + timedelta(seconds=10))
    assert snapshot[ProviderId.MTN].circuit is CircuitState.OPEN
    assert snapshot[ProviderId.TELECEL].circuit is CircuitState.CLOSED


async def test_sample_kinds_and_transfer_kinds_survive_the_round_trip(redis: Redis):
    """Accepted, ambiguous and per-kind samples read back as written; old entries still decode."""
    written = [
        HealthSample.of(ProviderId.MTN, SampleKind.ACCEPTED, 300, T0),
        HealthSample.of(ProviderId.MTN, SampleKind.AMBIGUOUS, 9_000, T0 + timedelta(seconds=1)),
        HealthSample.of(
            ProviderId.MTN,
            SampleKind.CONFIRMED,
            400,
            T0 + timedelta(seconds=2),
            TransferKind.CROSS_NETWORK,
        ),
    ]
    await redis.rpush("synccash:health:mtn", f"0|700|{int(T0.timestamp() * 1000) - 1000}")
    store = RedisHealthStore(redis, max_staleness_s=0)
    for s in written:
        await store.record(s)
    await store.flush()
    now = T0 + timedelta(minutes=1)
    expected = HealthTracker()
    expected.record_many([sample(ProviderId.MTN, -1, ok=False, latency=700), *written])
    snapshot = await RedisHealthStore(redis, max_staleness_s=0).snapshot(now)
    assert expected.health(ProviderId.MTN, now) == snapshot[ProviderId.MTN]
    assert TransferKind.CROSS_NETWORK in snapshot[ProviderId.MTN].by_transfer


async def test_history_is_capped(redis: Redis):
    """Only the newest `history` samples are kept per provider."""
    store = RedisHealthStore(redis, history=10, max_staleness_s=0)
    for i in range(25):
        await store.record(sample(ProviderId.AIRTELTIGO, i, ok=True))
    await store.flush()
    assert await redis.llen("synccash:health:airteltigo") == 10
    assert (await store.snapshot(T0 + timedelta(minutes=1)))[ProviderId.AIRTELTIGO].samples == 10


async def test_snapshot_serves_its_copy_for_the_staleness_bound(redis: Redis):
    """Within `max_staleness_s` other replicas' samples do not show; after it, they do."""
    clock = [100.0]
    store = RedisHealthStore(redis, max_staleness_s=1.0, monotonic=lambda: clock[0])
    other = RedisHealthStore(redis, max_staleness_s=0)
    now = T0 + timedelta(minutes=1)
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 0
    await other.record(sample(ProviderId.MTN, 1, ok=True))
    await other.flush()
    clock[0] += 0.5
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 0
    clock[0] += 0.5
    assert (await store.snapshot(now))[ProviderId.MTN].samples == 1


async def test_samples_wait_in_process_until_flushed_in_one_round_trip(counting_redis):
    """record() does not talk to Redis; one flush writes every provider's samples, capped."""
    redis, trips = counting_redis
    await RedisHealthStore(redis).snapshot(T0)  # loads the store's script if the server lacks it
    trips.count = 0
    store = RedisHealthStore(redis, history=10, max_staleness_s=0, flush_interval_s=60)
    for i in range(15):
        await store.record(sample(ProviderId.MTN, i, ok=True))
        await store.record(sample(ProviderId.TELECEL, i, ok=False))
    assert trips.count == 0
    await store.flush()
    await store.flush()  # nothing waits any more: no round trip
    assert trips.count == 1
    assert await redis.llen("synccash:health:mtn") == 10
    assert await redis.llen("synccash:health:telecel") == 10


async def test_own_waiting_samples_are_in_the_snapshot(redis: Redis):
    """A snapshot writes this process's waiting samples first, so it sees them at once."""
    store = RedisHealthStore(redis, max_staleness_s=0, flush_interval_s=60)
    for i in range(10):
        await store.record(sample(ProviderId.MTN, i, ok=False))
    snapshot = await store.snapshot(T0 + timedelta(seconds=10))
    assert snapshot[ProviderId.MTN].circuit is CircuitState.OPEN
    # ... and they are in Redis now, for the other replicas
    other = await RedisHealthStore(redis, max_staleness_s=0).snapshot(T0 + timedelta(seconds=10))
    assert other[ProviderId.MTN].samples == 10


async def test_a_sample_older_than_the_flush_interval_is_written_by_the_next_record(redis: Redis):
    """Without any flush call, waiting samples reach Redis once the oldest waited long enough."""
    store = RedisHealthStore(redis, max_staleness_s=0, flush_interval_s=0.05)
    await store.record(sample(ProviderId.MTN, 0, ok=True))
    assert await redis.llen("synccash:health:mtn") == 0
    await anyio.sleep(0.06)
    await store.record(sample(ProviderId.MTN, 1, ok=True))
    assert await redis.llen("synccash:health:mtn") == 2


async def test_published_events_carry_their_id_and_data(redis: Redis):
    """publish and publish_rows XADD entries with the event id, type and JSON data."""
    publisher = RedisEventPublisher(redis)
    await publisher.publish("evt-1", "pay_1", "payment.initiated", {"amount": "10.00"})
    rows = [OutboxRow(f"evt-{i}", "pay_1", i, "payment.confirmed", {"seq": i}, T0) for i in (2, 3)]
    await publisher.publish_rows(rows)
    entries = await redis.xrange(EVENTS_STREAM)
    fields = [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]
    assert [f["event_id"] for f in fields] == ["evt-1", "evt-2", "evt-3"]
    assert json.loads(fields[0]["data"]) == {"amount": "10.00"}
    assert (fields[2]["payment_id"], fields[2]["type"]) == ("pay_1", "payment.confirmed")
