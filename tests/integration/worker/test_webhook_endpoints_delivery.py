"""Endpoint deliveries on loopback: subscribed events only, Standard Webhooks verified by the
reference library, rotation overlap, per-endpoint sequence, byte-identical retries, redelivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from attrs import evolve
from http_receiver import Received, Receiver, serving
from litestar.testing import AsyncTestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.settings import Settings
from synccash.adapters.urlguard import UrlGuard, merchant_http_client
from synccash.adapters.webhook_endpoints import new_endpoint, new_secret
from synccash.adapters.webhooks import SIGNATURE_HEADER, WebhookDispatcher, verify
from synccash.api import create_app, mint_token
from synccash.bench.harness.processes import free_port
from synccash.core.ports import OutboxRow

pytestmark = pytest.mark.integration

MERCHANT = "shop-42"
LOOPBACK = UrlGuard(["127.0.0.1"])


class NoLookups:
    """EventLookup that fails the test if consulted: endpoint deliveries carry their body."""

    async def event(self, payment_id: str, outbox_id: str) -> OutboxRow | None:
        """Never."""
        raise AssertionError("a stored body must be sent as stored")


def row(n: int, type_: str, created: datetime, merchant: str = MERCHANT) -> OutboxRow:
    """One outbox event of payment pay_1."""
    return OutboxRow(
        id=f"0b0f3d52-7a3c-5d8e-9f00-{n:012d}",
        payment_id="pay_1",
        seq=n,
        type=type_,
        payload={"payment_id": "pay_1", "merchant_id": merchant, "state": "X", "seq": n},
        created_at=created,
    )


def dispatcher(container: Container, client) -> WebhookDispatcher:
    """The worker's dispatcher over the container (no endpoint cache, to see changes at once)."""
    return WebhookDispatcher(
        client,
        container.webhook_deliveries,
        NoLookups(),
        secret=container.settings.webhook_secret,
        clock=container.clock,
        guard=LOOPBACK,
        endpoints=container.webhook_endpoints,
        endpoint_cache=timedelta(0),
    )


def headers_of(got: Received) -> dict[str, str]:
    """The Standard Webhooks headers as the library wants them."""
    return {k: got.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}


@pytest.fixture
def clock() -> ManualClock:
    """Real time now (the reference library checks timestamps against its own clock)."""
    return ManualClock(datetime.now(UTC))


async def add_endpoint(container: Container, url: str, events: list[str]):
    """Register an endpoint directly in the store."""
    endpoint = new_endpoint(MERCHANT, url, events, container.clock.now())
    await container.webhook_endpoints.add(endpoint)
    return endpoint


async def test_only_subscribed_events_arrive_numbered_and_verifiable(clock: ManualClock):
    """confirmed + failed subscribed: processing is not sent; sequence 1, 2; both signatures hold."""
    container = wire(clock=clock)
    port = free_port()
    receiver = Receiver([200])
    url = f"http://127.0.0.1:{port}/hooks"
    endpoint = await add_endpoint(container, url, ["payment.confirmed", "payment.failed"])
    async with merchant_http_client(LOOPBACK) as client, serving(receiver, port):
        hooks = dispatcher(container, client)
        now = clock.now()
        created = [
            await hooks.schedule(row(1, "payment.processing", now), None),
            await hooks.schedule(row(2, "payment.confirmed", now), None),
            await hooks.schedule(row(3, "payment.failed", now), None),
            await hooks.schedule(row(4, "payment.confirmed", now, merchant="shop-99"), None),
        ]
        assert created == [False, True, True, False]
        assert await hooks.deliver_due() == (2, 0)
    got = sorted(receiver.received, key=lambda r: json.loads(r.body)["sequence"])
    assert [json.loads(r.body)["type"] for r in got] == ["payment.confirmed", "payment.failed"]
    assert [json.loads(r.body)["sequence"] for r in got] == [1, 2]
    for received in got:
        Webhook(endpoint.secret).verify(received.body, headers_of(received))
        assert verify(
            endpoint.secret, received.headers[SIGNATURE_HEADER.lower()], received.body, clock.now()
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got[0].body, headers_of(got[0]))


async def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(clock: ManualClock):
    """Two signatures in each header during the overlap; one once it has ended."""
    container = wire(clock=clock)
    port = free_port()
    receiver = Receiver([200])
    endpoint = await add_endpoint(container, f"http://127.0.0.1:{port}/h", ["*"])
    fresh = new_secret()
    await container.webhook_endpoints.update(
        endpoint.rotated(fresh, clock.now(), timedelta(hours=1))
    )
    async with merchant_http_client(LOOPBACK) as client, serving(receiver, port):
        hooks = dispatcher(container, client)
        await hooks.schedule(row(1, "payment.confirmed", clock.now()), None)
        await hooks.deliver_due()
        rotated = await container.webhook_endpoints.by_id(endpoint.id)
        assert rotated is not None
        await container.webhook_endpoints.update(evolve(rotated, previous_expires_at=clock.now()))
        await hooks.schedule(row(2, "payment.refunded", clock.now()), None)
        await hooks.deliver_due()
    during, after = receiver.received
    for secret in (endpoint.secret, fresh):
        Webhook(secret).verify(during.body, headers_of(during))
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(fresh).verify(after.body, headers_of(after))
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(after.body, headers_of(after))


async def test_retries_are_byte_identical_and_the_payment_webhook_url_still_works(
    clock: ManualClock,
):
    """503 then 200: the same body twice (endpoint and the payment's own webhook_url alike)."""
    settings = Settings.from_env({"WEBHOOK_ALLOWED_TARGETS": "127.0.0.1"})
    container = wire(settings, clock=clock)
    port = free_port()
    receiver = Receiver([503, 503, 200])  # both first attempts fail, every later one passes
    await add_endpoint(container, f"http://127.0.0.1:{port}/endpoint", ["payment.confirmed"])
    async with merchant_http_client(LOOPBACK) as client, serving(receiver, port):
        hooks = dispatcher(container, client)
        await hooks.schedule(
            row(1, "payment.confirmed", clock.now()), f"http://127.0.0.1:{port}/legacy"
        )
        assert await hooks.deliver_due() == (0, 2)
        clock.advance(minutes=2)
        assert await hooks.deliver_due() == (2, 0)
    by_path: dict[str, list[bytes]] = {}
    for received in receiver.received:
        by_path.setdefault(received.request_line.split()[1], []).append(received.body)
    assert set(by_path) == {"/endpoint", "/legacy"}
    for bodies in by_path.values():
        assert len(bodies) == 2
        assert bodies[0] == bodies[1]
    legacy = next(r for r in receiver.received if "/legacy" in r.request_line)
    assert verify(
        settings.webhook_secret, legacy.headers[SIGNATURE_HEADER.lower()], legacy.body, clock.now()
    )


async def test_the_deliveries_log_and_manual_redelivery_through_the_api(clock: ManualClock):
    """GET …/deliveries shows the attempt; POST …/redeliver sends the same body once more."""
    container = wire(clock=clock)
    port = free_port()
    receiver = Receiver([200])
    token = mint_token(container.settings, MERCHANT)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        AsyncTestClient(app=create_app(container)) as api,
        merchant_http_client(LOOPBACK) as client,
        serving(receiver, port),
    ):
        # registration through the API refuses loopback by default: register in the store
        endpoint = await add_endpoint(
            container, f"http://127.0.0.1:{port}/h", ["payment.confirmed"]
        )
        hooks = dispatcher(container, client)
        await hooks.schedule(row(1, "payment.confirmed", clock.now()), None)
        await hooks.deliver_due()
        log = (
            await api.get(f"/api/v1/webhook-endpoints/{endpoint.id}/deliveries", headers=auth)
        ).json()
        [entry] = log["items"]
        assert (entry["status"], entry["attempts"], entry["sequence"]) == ("delivered", 1, 1)
        again = await api.post(
            f"/api/v1/webhook-endpoints/{endpoint.id}/deliveries/{entry['id']}/redeliver",
            headers=auth,
        )
        assert again.status_code == 202, again.text
        assert await hooks.deliver_due() == (1, 0)
        other = {"Authorization": f"Bearer {mint_token(container.settings, 'shop-99')}"}
        refused = await api.post(
            f"/api/v1/webhook-endpoints/{endpoint.id}/deliveries/{entry['id']}/redeliver",
            headers=other,
        )
        assert refused.status_code == 404
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_a_deleted_endpoint_is_not_called_again(clock: ManualClock):
    """Pending deliveries of a deleted endpoint are given up without a request."""
    container = wire(clock=clock)
    port = free_port()
    receiver = Receiver([200])
    endpoint = await add_endpoint(container, f"http://127.0.0.1:{port}/h", ["*"])
    async with merchant_http_client(LOOPBACK) as client, serving(receiver, port):
        hooks = dispatcher(container, client)
        await hooks.schedule(row(1, "payment.confirmed", clock.now()), None)
        await container.webhook_endpoints.delete(MERCHANT, endpoint.id)
        assert await hooks.deliver_due() == (0, 1)
    assert receiver.received == []
    [delivery] = await container.webhook_deliveries.of_endpoint(endpoint.id)
    assert (delivery.last_error, delivery.next_attempt_at) == ("endpoint deleted", None)
