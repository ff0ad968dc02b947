"""RedisEventPublisher.publish_rows: one script call, the same entries as publish, in order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from synccash.adapters.redis.events import RedisEventPublisher
from synccash.adapters.sql._outbox import JsonPayload
from synccash.core.ports import OutboxRow

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
PAYLOAD = {
    "seq": 3,
    "data": {"reason": "Solde insuffisant — réessayez", "amount": "12.50", "n": [1, 2.5, None]},
    "at": T0.isoformat(),
    "state": "FAILED",
    "quote": 'a "quoted" \\ value',
}


async def test_a_batch_writes_the_entries_publish_writes_in_order(counting_redis):
    """Field for field and byte for byte, one round trip for the whole batch."""
    redis, trips = counting_redis
    one, batch = (RedisEventPublisher(redis, stream=s) for s in ("one", "batch"))
    rows = [
        OutboxRow(f"evt-{i}", f"pay_{i % 7}", i, f"payment.t{i}", {**PAYLOAD, "seq": i}, T0)
        for i in range(120)
    ]
    for row in rows:
        await one.publish(row.id, row.payment_id, row.type, row.payload)
    await redis.script_flush()  # the batch call must load its script again by itself
    before = trips.count
    await batch.publish_rows(rows)
    assert trips.count - before <= 3  # EVALSHA, NOSCRIPT: SCRIPT LOAD and EVALSHA again
    written = [f for _, f in await redis.xrange("one")]
    batched = [f for _, f in await redis.xrange("batch")]
    assert batched == written
    assert [f[b"event_id"] for f in batched] == [r.id.encode() for r in rows]
    before = trips.count
    await batch.publish_rows(rows[:3])
    assert trips.count - before == 1
    await batch.publish_rows([])
    assert trips.count - before == 1
    assert await redis.xlen("batch") == 123


async def test_the_stream_stays_capped(redis: Redis):
    """MAXLEN ~ applies to batches too."""
    publisher = RedisEventPublisher(redis, stream="capped", maxlen=10)
    rows = [OutboxRow(f"e{i}", "p", i, "payment.x", {"i": i}, T0) for i in range(500)]
    await publisher.publish_rows(rows)
    assert await redis.xlen("capped") < 500


async def test_a_payload_with_its_own_json_text_is_sent_as_is(redis: Redis):
    """The PostgreSQL outbox's JsonPayload: its stored text goes out untouched, every time."""
    stored = '{"at": "2026-01-15T10:00:00+00:00", "seq": 1, "data": {"note": "réessayez"}}'
    payload = JsonPayload(stored)
    row = OutboxRow("evt-1", "pay_1", 1, "payment.pending", payload, T0)
    publisher = RedisEventPublisher(redis, stream="raw")
    await publisher.publish_rows([row])
    await publisher.publish_rows([row])  # a re-publish after a crash: the same bytes
    await publisher.publish(row.id, row.payment_id, row.type, row.payload)
    entries = [f for _, f in await redis.xrange("raw")]
    assert [f[b"data"] for f in entries] == [stored.encode()] * 3
    assert json.loads(entries[0][b"data"]) == dict(payload)
    assert payload == json.loads(stored)
    assert payload["data"] == {"note": "réessayez"}
