"""Webhook delivery against a real HTTP receiver on loopback, recorded in real SQL (SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from attrs import define
from http_receiver import Receiver, serving

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.sql import DeliveryStatus, SqlWebhookDeliveries, make_engine, migrate
from synccash.adapters.urlguard import UrlGuard
from synccash.adapters.webhooks import SIGNATURE_HEADER, WebhookDispatcher, event_body, verify
from synccash.bench.harness.processes import free_port
from synccash.core.ports import OutboxRow

pytestmark = pytest.mark.integration

SECRET = "whsec_receiver"
#: The receivers listen on loopback: allowlisted as in local development.
LOOPBACK = UrlGuard(["127.0.0.1"])


@define
class FixedEvents:
    """EventLookup holding the events the test created."""

    rows: dict[str, OutboxRow]

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """The stored event, if any."""
        return self.rows.get(outbox_id)


ROW = OutboxRow(
    id="0b0f3d52-7a3c-5d8e-9f00-000000000001",
    payment_id="pay_1",
    seq=5,
    type="payment.confirmed",
    payload={"payment_id": "pay_1", "state": "CONFIRMED", "seq": 5},
    created_at=datetime(2026, 1, 15, 9, 59, tzinfo=UTC),
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlWebhookDeliveries]:
    """Webhook deliveries in a migrated SQLite database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hooks.sqlite3'}"
    await migrate(url)
    engine = make_engine(url)
    try:
        yield SqlWebhookDeliveries(engine)
    finally:
        await engine.dispose()


async def test_delivery_is_retried_until_the_receiver_comes_up(store: SqlWebhookDeliveries):
    """Receiver down: the attempt is recorded and retried a minute later, then arrives signed."""
    clock = ManualClock()
    port = free_port()
    receiver = Receiver([200])
    async with httpx.AsyncClient() as client:
        dispatcher = WebhookDispatcher(
            client, store, FixedEvents({ROW.id: ROW}), secret=SECRET, clock=clock, guard=LOOPBACK
        )
        assert await dispatcher.schedule(ROW, f"http://127.0.0.1:{port}/hooks")
        assert await dispatcher.deliver_due() == (0, 1)
        assert await dispatcher.deliver_due() == (0, 0)  # the retry waits its minute
        clock.advance(seconds=61)
        async with serving(receiver, port):
            assert await dispatcher.deliver_due() == (1, 0)
    [got] = receiver.received
    assert got.body == event_body(ROW)
    assert verify(SECRET, got.headers[SIGNATURE_HEADER.lower()], got.body, now=clock.now())
    assert list(await store.due(clock.now().replace(year=2030), 10)) == []  # delivered


async def test_non_2xx_answers_are_retried_and_every_attempt_recorded(
    store: SqlWebhookDeliveries,
):
    """A receiver answering 503 twice then 204 gets three attempts, the last one delivered."""
    clock = ManualClock()
    port = free_port()
    receiver = Receiver([503, 503, 204])
    async with httpx.AsyncClient() as client, serving(receiver, port):
        dispatcher = WebhookDispatcher(
            client, store, FixedEvents({ROW.id: ROW}), secret=SECRET, clock=clock, guard=LOOPBACK
        )
        await dispatcher.schedule(ROW, f"http://127.0.0.1:{port}/hooks")
        results = []
        for _ in range(3):
            results.append(await dispatcher.deliver_due())
            clock.advance(minutes=6)
    assert results == [(0, 1), (0, 1), (1, 0)]
    assert len(receiver.received) == 3
    assert len({r.headers["synccash-event-id"] for r in receiver.received}) == 1


async def test_internal_events_and_payments_without_url_get_no_delivery(
    store: SqlWebhookDeliveries,
):
    """Only merchant-facing events of payments with a webhook URL are scheduled."""
    clock = ManualClock()
    async with httpx.AsyncClient() as client:
        dispatcher = WebhookDispatcher(
            client, store, FixedEvents({}), secret=SECRET, clock=clock, guard=LOOPBACK
        )
        assert not await dispatcher.schedule(ROW, None)
        internal = OutboxRow(ROW.id, ROW.payment_id, 1, "attempt.submitted", {}, ROW.created_at)
        assert not await dispatcher.schedule(internal, "http://127.0.0.1:9/hooks")
        assert await dispatcher.deliver_due() == (0, 0)


async def test_delivery_of_a_vanished_event_is_given_up(store: SqlWebhookDeliveries):
    """If the event cannot be found any more, the delivery fails instead of looping forever."""
    clock = ManualClock()
    async with httpx.AsyncClient() as client:
        dispatcher = WebhookDispatcher(
            client, store, FixedEvents({}), secret=SECRET, clock=clock, guard=LOOPBACK
        )
        delivery_id = await store.create(
            outbox_id=ROW.id, payment_id=ROW.payment_id, url="http://127.0.0.1:9/", now=clock.now()
        )
        assert await dispatcher.deliver_due() == (0, 1)
    delivery = await store.get(delivery_id)
    assert delivery is not None
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, "event not found")
