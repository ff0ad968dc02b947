"""The worker on the Redis Streams queue: a killed worker's task is redelivered, a wipe is swept."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import anyio
import pytest
from attrs import define, field
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.redis.health import RedisHealthStore
from synccash.adapters.redis.queue import RedisTaskQueue
from synccash.adapters.redis.ratelimit import RedisLocks
from synccash.core.commands import InitiatePayment
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import Payment, PaymentState
from synccash.core.ports import AttemptRequest, ProviderHealthStore, Task, TaskKind
from synccash.core.routing import Router, RoutingPolicy
from synccash.worker import run, run_worker
from synccash.worker.metrics import WorkerMetrics

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
VISIBILITY_S = 0.3


@define
class HangOnceGateway(FakeProviderGateway):
    """The fake provider, except the first submit's answer never comes back (the worker hangs)."""

    hung: anyio.Event = field(factory=anyio.Event)

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Forward to the fake provider; the first time, hang after it accepted the request."""
        outcome = await super().submit(request)
        if not self.hung.is_set():
            self.hung.set()
            await anyio.sleep_forever()
        return outcome


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """The test Redis database, empty."""
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


def redis_container(
    redis: Redis, gateway: FakeProviderGateway, health: ProviderHealthStore | None = None
) -> tuple[Container, ManualClock]:
    """The in-memory container with the task queue and locks (and `health`) on Redis."""
    clock = ManualClock()
    app = wire(
        clock=clock,
        gateway=gateway,
        queue=RedisTaskQueue(redis, clock=clock, visibility_timeout_s=VISIBILITY_S),
        locks=RedisLocks(redis),
        health=health,
        router=Router(policy=RoutingPolicy(exploration_share=0.0)),
    )
    return app, clock


def command(key: str, payer: str = "0241234567") -> InitiatePayment:
    """A GHS 25.00 payment from an MTN wallet."""
    return InitiatePayment(
        merchant_id="m1",
        idempotency_key=key,
        fingerprint=f"fp-{key}",
        amount="25.00",
        payer_msisdn=payer,
        payee_account="shop-1",  # collections: one leg each
    )


async def settle(app: Container, clock: ManualClock, ids: list[str]) -> list[Payment]:
    """Let the running worker work, moving the clock to each next action, until all are final."""
    with anyio.fail_after(15):
        while True:
            payments = [await app.payments.get("m1", pid) for pid in ids]
            if all(p.next_action_at is None for p in payments):
                return payments
            due = min(p.next_action_at for p in payments if p.next_action_at is not None)
            if due > clock.now():
                clock.set(due)
            await anyio.sleep(0.02)


async def test_payment_of_a_worker_killed_mid_submit_completes_once(redis):
    """A worker dies mid-submit; another worker finishes the payment with one debit, same reference."""
    gateway = HangOnceGateway()
    app, clock = redis_container(redis, gateway)
    payment_id = (await app.payments.initiate(command("k1"))).payment.id
    metrics = WorkerMetrics(CollectorRegistry())
    async with anyio.create_task_group() as doomed:
        doomed.start_soon(
            lambda: run_worker(
                app, concurrency=2, consumer_name="doomed", stop=anyio.Event(), metrics=metrics
            )
        )
        await gateway.hung.wait()
        doomed.cancel_scope.cancel()  # killed: no ack, no graceful shutdown
    # The survivor runs the whole worker: the redelivered task finds the payment leased by the
    # dead worker (next_action_at a few seconds ahead); the sweep picks it up when that passes.
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run(
                app,
                stop=stop,
                concurrency=2,
                consumer_name="survivor",
                metrics=metrics,
                scheduler_interval_s=0.02,
                relay_idle_s=0.02,
                block_ms=20,
            )
        )
        [payment] = await settle(app, clock, [payment_id])
        stop.set()
    assert payment.state is PaymentState.CONFIRMED
    assert len(gateway.debits()) == 1
    assert len({r.reference for r in gateway.submits}) == 1  # re-sent with the same reference


async def test_redis_flushed_mid_flight_loses_no_payment(redis):
    """All queued work is wiped from Redis; the scheduler's sweep re-enqueues every payment."""
    gateway = FakeProviderGateway()
    app, clock = redis_container(redis, gateway)
    payers = [f"02412345{60 + i}" for i in range(5)]  # five payers: velocity rules stay quiet
    ids = [
        (await app.payments.initiate(command(f"k{i}", p))).payment.id for i, p in enumerate(payers)
    ]
    await redis.flushdb()
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
                scheduler_interval_s=0.02,
                relay_idle_s=0.02,
                block_ms=20,
            )
        )
        payments = await settle(app, clock, ids)
        stop.set()
    assert [p.state for p in payments] == [PaymentState.CONFIRMED] * 5
    assert len(gateway.debits()) == 5


async def test_two_workers_with_duplicate_tasks_debit_each_payment_once(redis):
    """Two workers sharing the group, each payment's task enqueued thrice: one attempt, one debit."""
    gateway = FakeProviderGateway()
    app, clock = redis_container(redis, gateway)
    payers = [f"02412345{70 + i}" for i in range(8)]
    ids = [
        (await app.payments.initiate(command(f"k{i}", p))).payment.id for i, p in enumerate(payers)
    ]
    for payment_id in ids:
        for _ in range(2):
            await app.queue.enqueue(Task(TaskKind.ADVANCE, payment_id))
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        for name in ("w1", "w2"):
            tg.start_soon(
                lambda name=name: run(
                    app,
                    stop=stop,
                    concurrency=4,
                    consumer_name=name,
                    metrics=WorkerMetrics(CollectorRegistry()),
                    scheduler_interval_s=0.02,
                    relay_idle_s=0.02,
                    block_ms=20,
                )
            )
        payments = await settle(app, clock, ids)
        stop.set()
    assert [p.state for p in payments] == [PaymentState.CONFIRMED] * 8
    assert [len(p.attempts) for p in payments] == [1] * 8
    assert len(gateway.debits()) == 8
    assert len({r.reference for r in gateway.submits}) == 8


async def test_worker_writes_the_waiting_health_samples_when_it_stops(redis):
    """Provider outcomes held in process (long flush interval) reach Redis on shutdown."""
    gateway = FakeProviderGateway()
    health = RedisHealthStore(redis, flush_interval_s=3600, cache_ttl_s=3600)
    app, clock = redis_container(redis, gateway, health)
    payment_id = (await app.payments.initiate(command("k1"))).payment.id
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run(
                app,
                stop=stop,
                concurrency=2,
                consumer_name="w1",
                metrics=WorkerMetrics(CollectorRegistry()),
                scheduler_interval_s=0.02,
                relay_idle_s=0.02,
                block_ms=20,
            )
        )
        [payment] = await settle(app, clock, [payment_id])
        assert await redis.llen("synccash:health:mtn") == 0  # still waiting in the process
        stop.set()
    assert payment.state is PaymentState.CONFIRMED
    assert await redis.llen("synccash:health:mtn") >= 1


@define
class CountingHandler:
    """Handles every task after a short await (the acks of several tasks overlap)."""

    expected: int
    handled: list[Task] = field(factory=list)
    all_done: anyio.Event = field(factory=anyio.Event)

    async def handle(self, task: Task) -> None:
        """Record the task."""
        await anyio.sleep(0.002)
        self.handled.append(task)
        if len(self.handled) >= self.expected:
            self.all_done.set()


@define
class QueueHost:
    """Just a handler and a Redis queue for `run_worker`."""

    lifecycle: CountingHandler
    queue: RedisTaskQueue


async def test_graceful_stop_leaves_every_handled_task_acknowledged(redis):
    """Acks that wait for a ride on the next read are all in Redis once the worker stopped."""
    queue = RedisTaskQueue(redis, ack_linger_ms=50)
    host = QueueHost(CountingHandler(expected=40), queue)
    await queue.enqueue_many([(Task(TaskKind.ADVANCE, f"pay_{i}"), None) for i in range(40)])
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run_worker(
                host,
                concurrency=4,
                consumer_name="w1",
                stop=stop,
                metrics=WorkerMetrics(CollectorRegistry()),
                block_ms=20,
            )
        )
        with anyio.fail_after(5):
            await host.lifecycle.all_done.wait()
        stop.set()
    stats = await queue.stats()
    assert (stats.ready, stats.in_flight) == (0, 0)
    assert await redis.xlen(queue.stream) == 0
    assert len(host.lifecycle.handled) == 40
