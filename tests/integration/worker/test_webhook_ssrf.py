"""SSRF guard at delivery: connects go to checked DNS answers only, on loopback only."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from http_receiver import Receiver, serving

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.urlguard import UrlGuard, merchant_http_client
from synccash.adapters.webhooks import (
    InMemoryWebhookDeliveries,
    MemoryDelivery,
    WebhookDispatcher,
    event_body,
)
from synccash.bench.harness.processes import free_port
from synccash.core.ports import OutboxRow

pytestmark = pytest.mark.integration

ROW = OutboxRow(
    id="0b0f3d52-7a3c-5d8e-9f00-000000000002",
    payment_id="pay_2",
    seq=3,
    type="payment.confirmed",
    payload={"payment_id": "pay_2", "state": "CONFIRMED", "seq": 3},
    created_at=ManualClock().now(),
)


class FixedEvents:
    """EventLookup that knows ROW only."""

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """ROW when asked for it."""
        return ROW if outbox_id == ROW.id else None


def table(answers: dict[str, Sequence[str]]):
    """A resolver answering from a table: no DNS traffic leaves the machine."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        return answers.get(host, ())

    return resolve


async def deliver_once(
    guard: UrlGuard, url: str, client: httpx.AsyncClient, *, resolve_first: bool = False
) -> MemoryDelivery:
    """Schedule ROW to `url`, attempt it once, return the recorded delivery."""
    store = InMemoryWebhookDeliveries()
    dispatcher = WebhookDispatcher(
        client,
        store,
        FixedEvents(),
        secret="whsec_x",
        clock=ManualClock(),
        guard=guard,
        resolve_first=resolve_first,
    )
    await dispatcher.schedule(ROW, url)
    await dispatcher.deliver_due()
    [delivery] = store.deliveries.values()
    return delivery


async def test_the_connection_goes_to_the_checked_answer_with_the_original_host_header():
    """A name only the guard's resolver knows reaches the receiver: we connected to its answer."""
    port = free_port()
    receiver = Receiver([204])
    guard = UrlGuard(["hooks.test"], resolver=table({"hooks.test": ["127.0.0.1"]}))
    async with merchant_http_client(guard) as client, serving(receiver, port):
        delivery = await deliver_once(guard, f"http://hooks.test:{port}/h", client)
    assert (delivery.delivered, delivery.last_status_code) == (True, 204)
    [got] = receiver.received
    assert f"hooks.test:{port}" == got.headers["host"]
    assert event_body(ROW) == got.body


async def test_a_name_rebound_to_loopback_is_refused_before_any_connection():
    """Public at registration, loopback at delivery: refused, nothing reaches the listener."""
    port = free_port()
    receiver = Receiver([200])
    guard = UrlGuard(resolver=table({"hooks.merchant.example": ["127.0.0.1"]}))
    url = f"https://hooks.merchant.example:{port}/h"
    guard.check(url)  # what registration checks: passes
    async with merchant_http_client(guard) as client, serving(receiver, port):
        delivery = await deliver_once(guard, url, client)
    assert receiver.received == []
    assert not delivery.delivered
    assert delivery.last_error is not None
    assert "resolves to a loopback address" in delivery.last_error
    assert delivery.next_attempt_at is not None  # DNS may change back: retried on the ladder


async def test_a_stored_url_the_guard_refuses_is_given_up_without_a_request():
    """A URL stored before the guard (or after the allowlist shrank) is failed, not retried."""
    port = free_port()
    receiver = Receiver([200])
    async with merchant_http_client(UrlGuard()) as client, serving(receiver, port):
        delivery = await deliver_once(UrlGuard(), f"http://127.0.0.1:{port}/h", client)
    assert receiver.received == []
    assert (delivery.delivered, delivery.next_attempt_at) == (False, None)
    assert delivery.last_error == "refused: webhook URLs must use https"


async def test_redirects_are_not_followed():
    """A 302 is a failed attempt; the client does not go where it points."""
    port = free_port()
    receiver = Receiver([302])
    guard = UrlGuard(["127.0.0.1"])
    async with merchant_http_client(guard) as client, serving(receiver, port):
        delivery = await deliver_once(guard, f"http://127.0.0.1:{port}/h", client)
    assert len(receiver.received) == 1
    assert (delivery.last_error, delivery.delivered) == ("HTTP 302", False)


async def test_through_the_egress_proxy_the_answers_are_checked_before_the_request():
    """WEBHOOK_PROXY_URL: the request goes to the proxy; an internal answer stops it first."""
    port = free_port()
    proxy = Receiver([200])
    good = UrlGuard(["hooks.test"], resolver=table({"hooks.test": ["127.0.0.1"]}))
    bad = UrlGuard(resolver=table({"hooks.merchant.example": ["10.0.0.7"]}))
    proxy_url = f"http://127.0.0.1:{port}"
    async with merchant_http_client(good, proxy=proxy_url) as client, serving(proxy, port):
        sent = await deliver_once(good, "http://hooks.test/h", client, resolve_first=True)
        refused = await deliver_once(
            bad, "https://hooks.merchant.example/h", client, resolve_first=True
        )
    [got] = proxy.received
    assert got.request_line == "POST http://hooks.test/h HTTP/1.1"
    assert sent.delivered
    assert refused.last_error == "refused: hooks.merchant.example resolves to a private address"
