"""The outbox relay on the real stack: SQL outbox (SQLite), Redis event stream, SQL webhooks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from synccash.adapters.bootstrap import Container, bootstrap
from synccash.adapters.redis.events import EVENTS_STREAM
from synccash.adapters.settings import Settings
from synccash.adapters.sql import SqlWebhookDeliveries
from synccash.adapters.webhooks import AuditTrailEvents, WebhookDispatcher
from synccash.core.commands import InitiatePayment
from synccash.worker.metrics import WorkerMetrics
from synccash.worker.relay import OutboxRelay

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@asynccontextmanager
async def production(tmp_path: Path) -> AsyncIterator[Container]:
    """The production container on a fresh SQLite file and the test Redis database.

    (A context manager, not a fixture: bootstrap's task groups must close in the test's task.)
    """
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'relay.sqlite3'}",
            "REDIS_URL": REDIS_URL,
        }
    )
    try:
        async with bootstrap(settings) as container:
            yield container
    finally:
        await redis.flushdb()
        await redis.aclose()


def command(key: str, webhook_url: str | None) -> InitiatePayment:
    """A GHS 10.00 payment from an MTN wallet."""
    return InitiatePayment(
        merchant_id="m1",
        idempotency_key=key,
        fingerprint=f"fp-{key}",
        amount="10.00",
        payer_msisdn="0241234567",
        payee_msisdn="0551234567",
        webhook_url=webhook_url,
    )


async def test_relay_publishes_marks_and_schedules_webhooks(tmp_path: Path):
    """Outbox rows reach synccash:events once, are marked published, and get webhook deliveries."""
    async with production(tmp_path) as app:
        await check_relay(app)


async def check_relay(app: Container) -> None:
    """Initiate two payments (one with a webhook URL) and relay their events."""
    with_hook = (
        await app.payments.initiate(command("k1", "https://merchant.example/hook"))
    ).payment
    without = (await app.payments.initiate(command("k2", None))).payment
    deliveries = app.webhook_deliveries
    assert isinstance(deliveries, SqlWebhookDeliveries)  # bootstrap wires the SQL store
    dispatcher = WebhookDispatcher(
        app.webhook_http, deliveries, AuditTrailEvents(app.uow), secret="s", clock=app.clock
    )
    relay = OutboxRelay(
        app.outbox,
        uow=app.uow,
        clock=app.clock,
        publisher=app.publisher,
        webhooks=dispatcher,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    published = await relay.run_once()
    assert published == 2
    assert await relay.run_once() == 0
    assert await app.outbox.fetch_unpublished(10) == []
    entries = await app.redis.xrange(EVENTS_STREAM)
    by_payment = {f[b"payment_id"].decode(): f[b"type"].decode() for _, f in entries}
    assert by_payment == {with_hook.id: "payment.initiated", without.id: "payment.initiated"}
    due = await deliveries.due(app.clock.now(), 10)
    assert [(d.payment_id, d.url) for d in due] == [(with_hook.id, "https://merchant.example/hook")]
    event = await AuditTrailEvents(app.uow).event(with_hook.id, due[0].outbox_id)
    assert event is not None
    assert (event.type, event.payload["payment_id"]) == ("payment.initiated", with_hook.id)
