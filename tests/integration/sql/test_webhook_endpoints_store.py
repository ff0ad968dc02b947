"""Webhook endpoints and endpoint deliveries over memory, SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.sql import SqlWebhookDeliveries, SqlWebhookEndpoints
from synccash.adapters.webhook_endpoints import InMemoryWebhookEndpoints, new_endpoint, new_secret
from synccash.adapters.webhooks import InMemoryWebhookDeliveries

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def stores(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """(endpoints, deliveries) of one implementation."""
    if request.param == "memory":
        return InMemoryWebhookEndpoints(), InMemoryWebhookDeliveries()
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    return SqlWebhookEndpoints(engine), SqlWebhookDeliveries(engine)


async def test_endpoints_round_trip_per_merchant_with_rotation_and_sequence(stores):
    """Stored as created; only the owner finds it; rotation sticks; numbers increase per endpoint."""
    endpoints, _ = stores
    clock = ManualClock()
    first = new_endpoint(
        "shop-42", "https://a.example/h", ["payment.confirmed"], clock.now(), "pos"
    )
    clock.advance(seconds=1)
    second = new_endpoint("shop-42", "https://b.example/h", ["*"], clock.now())
    await endpoints.add(first)
    await endpoints.add(second)
    assert first == await endpoints.get("shop-42", first.id)
    assert await endpoints.get("shop-99", first.id) is None
    assert [e.id for e in await endpoints.of_merchant("shop-42")] == [first.id, second.id]
    assert [await endpoints.next_seq(first.id) for _ in range(3)] == [1, 2, 3]
    assert await endpoints.next_seq(second.id) == 1
    rotated = first.rotated(new_secret(), clock.now(), timedelta(hours=2))
    await endpoints.update(rotated)
    assert rotated == await endpoints.by_id(first.id)
    assert not await endpoints.delete("shop-99", first.id)
    assert await endpoints.delete("shop-42", first.id)
    assert await endpoints.by_id(first.id) is None


async def test_endpoint_deliveries_keep_body_and_number_and_can_be_redelivered(stores):
    """Idempotent per (event, endpoint), beside the same event's webhook_url delivery."""
    _, deliveries = stores
    clock = ManualClock()
    event = "0b0f3d52-7a3c-5d8e-9f00-000000000009"
    url = "https://a.example/h"
    kwargs = {"outbox_id": event, "payment_id": "pay_9", "url": url, "now": clock.now()}
    legacy = await deliveries.create(**kwargs, body=b'{"a":1}')
    endpoint = await deliveries.create(**kwargs, endpoint_id="we_1", seq=7, body=b'{"a":1,"s":7}')
    again = await deliveries.create(**kwargs, endpoint_id="we_1", seq=8, body=b"other")
    assert legacy != endpoint
    assert again == endpoint
    stored = await deliveries.get(endpoint)
    assert (stored.seq, stored.body, stored.endpoint_id) == (7, b'{"a":1,"s":7}', "we_1")
    assert [d.id for d in await deliveries.of_endpoint("we_1")] == [endpoint]
    await deliveries.record_attempt(
        endpoint, at=clock.now(), status_code=200, error=None, delivered=True, next_attempt_at=None
    )
    assert [d.id for d in await deliveries.due(clock.now(), 10)] == [legacy]
    clock.advance(minutes=1)
    assert await deliveries.redeliver(endpoint, clock.now())
    assert not await deliveries.redeliver("nope", clock.now())
    assert {d.id for d in await deliveries.due(clock.now(), 10)} == {legacy, endpoint}
