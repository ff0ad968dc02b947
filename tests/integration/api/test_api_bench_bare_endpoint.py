"""The bench's bare endpoint (the framework limit of bench-api) really does the initiate's inserts."""

from __future__ import annotations

import json

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from synccash.bench import bare_api
from synccash.bench.api import BODY

pytestmark = pytest.mark.integration


async def test_bare_endpoint_stores_payment_event_and_outbox_and_queues_a_task(
    api_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """202 after one payment row, its first event and outbox row, and one stream entry."""
    redis_url = "redis://127.0.0.1:6379/15"
    monkeypatch.setenv("DATABASE_URL", api_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "2")
    redis = Redis.from_url(redis_url)
    before = await redis.xlen(bare_api.STREAM)
    async with AsyncTestClient(app=bare_api.create_app()) as client:
        response = await client.post(
            "/api/v1/payments/initiate",
            content=BODY,
            headers={"Idempotency-Key": "bare-1", "Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text
    payment_id = response.json()["payment_id"]
    url = make_url(api_database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        row = await conn.fetchrow(
            "SELECT amount_minor, idempotency_key, state FROM payments WHERE id = $1", payment_id
        )
        events = await conn.fetchval(
            "SELECT count(*) FROM payment_events WHERE payment_id = $1", payment_id
        )
        outbox = await conn.fetchval("SELECT payload FROM outbox WHERE payment_id = $1", payment_id)
    finally:
        await conn.close()
    assert dict(row) == {"amount_minor": 1250, "idempotency_key": "bare-1", "state": "INITIATED"}
    assert events == 1
    assert json.loads(outbox)["payment_id"] == payment_id
    assert await redis.xlen(bare_api.STREAM) == before + 1
    await redis.delete(bare_api.STREAM)
    await redis.aclose()
