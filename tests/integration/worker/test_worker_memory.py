"""The whole worker (consumers, relay, scheduler) on the in-memory container."""

from __future__ import annotations

import anyio
import httpx
import pytest
from http_receiver import Receiver, serving
from prometheus_client import CollectorRegistry

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.settings import Settings
from synccash.adapters.urlguard import UrlGuard, merchant_http_client
from synccash.adapters.webhooks import SIGNATURE_HEADER, verify
from synccash.bench.harness.processes import free_port
from synccash.core.commands import InitiatePayment
from synccash.core.payment import Payment, PaymentState
from synccash.core.routing import Router, RoutingPolicy
from synccash.worker import run
from synccash.worker.metrics import WorkerMetrics

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"


def command(key: str, webhook_url: str | None = None) -> InitiatePayment:
    """A GHS 25.00 payment from an MTN wallet."""
    return InitiatePayment(
        merchant_id="m1",
        idempotency_key=key,
        fingerprint=f"fp-{key}",
        amount="25.00",
        payer_msisdn="0241234567",
        payee_account="shop-1",  # collections: one leg each
        webhook_url=webhook_url,
    )


async def settle(app: Container, clock: ManualClock, payment_ids: list[str]) -> list[Payment]:
    """Let the running worker work, moving the clock to each next action, until all are final."""
    with anyio.fail_after(10):
        while True:
            payments = [await app.payments.get("m1", pid) for pid in payment_ids]
            if all(p.next_action_at is None for p in payments):
                return payments
            due = min(p.next_action_at for p in payments if p.next_action_at is not None)
            if due > clock.now():
                clock.set(due)
            await anyio.sleep(0.01)


def container(
    webhook_http: httpx.AsyncClient | None = None,
) -> tuple[Container, ManualClock, FakeProviderGateway]:
    """An in-memory container on a manual clock with deterministic routing."""
    clock = ManualClock()
    gateway = FakeProviderGateway()
    router = Router(policy=RoutingPolicy(exploration_share=0.0))
    # the webhook receiver listens on loopback: allowlisted, as in local development
    settings = Settings.from_env({"WEBHOOK_ALLOWED_TARGETS": LOOPBACK})
    app = wire(settings, clock=clock, gateway=gateway, router=router, webhook_http=webhook_http)
    return app, clock, gateway


async def test_worker_takes_payments_to_confirmed_and_signs_their_webhooks():
    """Initiated payments are confirmed by the worker alone; their webhooks arrive signed."""
    async with merchant_http_client(UrlGuard.from_setting(LOOPBACK)) as webhook_http:
        await confirm_and_deliver(*container(webhook_http))


async def confirm_and_deliver(app: Container, clock: ManualClock, gateway: FakeProviderGateway):
    """Three payments with a webhook URL: confirmed, and their webhooks received signed."""
    port = free_port()
    receiver = Receiver([200])
    ids = [
        (await app.payments.initiate(command(f"k{i}", f"http://127.0.0.1:{port}/hook"))).payment.id
        for i in range(3)
    ]
    stop = anyio.Event()
    registry = CollectorRegistry()
    async with serving(receiver, port), anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run(
                app,
                stop=stop,
                concurrency=4,
                consumer_name="w1",
                metrics=WorkerMetrics(registry),
                scheduler_interval_s=0.01,
                relay_idle_s=0.01,
                block_ms=10,
            )
        )
        payments = await settle(app, clock, ids)
        with anyio.fail_after(10):
            while (  # noqa: ASYNC110 - polls the receiver and the outbox
                sum(b"payment.confirmed" in r.body for r in receiver.received) < 3
                or await app.outbox.fetch_unpublished(100)
            ):
                await anyio.sleep(0.01)
        stop.set()
    assert [p.state for p in payments] == [PaymentState.CONFIRMED] * 3
    assert len(gateway.debits()) == 3
    assert await app.outbox.fetch_unpublished(100) == []
    succeeded = {"provider": "mtn", "status": "succeeded"}
    assert registry.get_sample_value("synccash_worker_attempt_outcomes_total", succeeded) == 3
    for got in receiver.received:
        assert verify(
            app.settings.webhook_secret,
            got.headers[SIGNATURE_HEADER.lower()],
            got.body,
            now=clock.now(),
        )


async def test_sweep_recovers_payments_whose_tasks_were_lost():
    """Payments whose queued tasks vanished (a wiped queue) are found by the overdue sweep."""
    app, clock, gateway = container()
    ids = [(await app.payments.initiate(command(f"k{i}"))).payment.id for i in range(3)]
    lost = await app.queue.consume("thief", count=100)
    for delivery in lost:  # the tasks are gone for good, as after a Redis wipe
        await app.queue.ack(delivery)
    assert len(lost) == 3
    clock.advance(seconds=11)  # the sweep takes payments overdue by more than its grace period
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run(
                app,
                stop=stop,
                concurrency=4,
                consumer_name="w1",
                metrics=WorkerMetrics(CollectorRegistry()),
                scheduler_interval_s=0.01,
                relay_idle_s=0.01,
                block_ms=10,
            )
        )
        payments = await settle(app, clock, ids)
        stop.set()
    assert [p.state for p in payments] == [PaymentState.CONFIRMED] * 3
    assert len(gateway.debits()) == 3
