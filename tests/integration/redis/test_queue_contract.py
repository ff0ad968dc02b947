"""One behavioural contract for the task queue, run on the in-memory queue and on Redis Streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import anyio
import anyio.lowlevel
import pytest
from attrs import define
from redis.asyncio import Redis

from conftest import REDIS_URL
from synccash.adapters.coordination import ConsumableTaskQueue, DeadLetter, Delivery
from synccash.adapters.engines.resp import LeanRedis
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.queue import MemoryTaskQueue
from synccash.adapters.redis.queue import RedisTaskQueue
from synccash.core.ports import Task, TaskKind

pytestmark = pytest.mark.integration

VISIBILITY_S = 0.2


@define
class QueueUnderTest:
    """A queue, its clock, and how to let the visibility timeout pass for it."""

    queue: ConsumableTaskQueue
    clock: ManualClock
    expire: Callable[[], Awaitable[None]]


@pytest.fixture(params=["memory", "redis+pipelined", "redis+redis-py"])
async def qut(request: pytest.FixtureRequest) -> AsyncIterator[QueueUnderTest]:
    """The queue under test with max_deliveries=2 and a 200 ms visibility timeout (Redis with
    the pipelined-connection engine on and off)."""
    clock = ManualClock()
    if request.param == "memory":

        async def expire_memory() -> None:
            clock.advance(seconds=1)

        yield QueueUnderTest(
            MemoryTaskQueue(clock=clock, visibility_timeout_s=VISIBILITY_S, max_deliveries=2),
            clock,
            expire_memory,
        )
        return
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()

    async def expire_redis() -> None:
        # XAUTOCLAIM measures idle time on the Redis server's clock.
        clock.advance(seconds=1)
        await anyio.sleep(VISIBILITY_S * 1.5)

    lean = LeanRedis.from_client(redis) if request.param == "redis+pipelined" else None
    queue = RedisTaskQueue(
        redis, lean=lean, clock=clock, visibility_timeout_s=VISIBILITY_S, max_deliveries=2
    )
    try:
        yield QueueUnderTest(queue, clock, expire_redis)
    finally:
        await redis.flushdb()
        await redis.aclose()
        if lean is not None:
            lean.close()


def advance(payment_id: str) -> Task:
    """An ADVANCE task for a payment."""
    return Task(TaskKind.ADVANCE, payment_id)


async def test_enqueued_task_is_delivered_once_and_not_again_after_ack(qut: QueueUnderTest):
    """A task is delivered with its fields, and an acknowledged one never comes back."""
    task = Task(TaskKind.CHECK_STATUS, "pay_1", hint="ref-1")
    await qut.queue.enqueue(task)
    [delivery] = await qut.queue.consume("c1", count=10)
    assert (task, 1) == (delivery.task, delivery.deliveries)
    await qut.queue.ack(delivery)
    await qut.expire()
    assert await qut.queue.consume("c1", count=10) == []


async def test_delayed_task_waits_for_its_due_time(qut: QueueUnderTest):
    """A task enqueued for later is not delivered before its time, then is delivered once."""
    await qut.queue.enqueue(advance("pay_later"), at=qut.clock.now() + timedelta(seconds=60))
    await qut.queue.enqueue(advance("pay_now"), at=qut.clock.now() - timedelta(seconds=1))
    first = await qut.queue.consume("c1", count=10)
    assert [d.task.payment_id for d in first] == ["pay_now"]
    await qut.queue.ack(first[0])
    assert (await qut.queue.stats()).delayed == 1
    qut.clock.advance(seconds=61)
    second = await qut.queue.consume("c1", count=10)
    assert [d.task.payment_id for d in second] == ["pay_later"]
    assert (await qut.queue.stats()).delayed == 0


async def test_identical_delayed_tasks_for_the_same_time_collapse(qut: QueueUnderTest):
    """Enqueuing the same task for the same due time twice delivers it once."""
    at = qut.clock.now() + timedelta(seconds=5)
    await qut.queue.enqueue(advance("pay_1"), at=at)
    await qut.queue.enqueue(advance("pay_1"), at=at)
    qut.clock.advance(seconds=6)
    assert len(await qut.queue.consume("c1", count=10)) == 1


async def test_unacked_delivery_goes_to_another_consumer_after_the_visibility_timeout(
    qut: QueueUnderTest,
):
    """A consumer that crashes mid-task loses it to another consumer once it is idle too long."""
    await qut.queue.enqueue(advance("pay_crash"))
    [first] = await qut.queue.consume("crashed", count=1)
    assert await qut.queue.consume("survivor", count=1) == []
    await qut.expire()
    [second] = await qut.queue.consume("survivor", count=1)
    assert (first.id, first.task, 2) == (second.id, second.task, second.deliveries)
    await qut.queue.ack(second)
    await qut.expire()
    assert await qut.queue.consume("survivor", count=1) == []


async def test_task_is_dead_lettered_after_max_deliveries(qut: QueueUnderTest):
    """After two unacknowledged deliveries the task goes to the dead letters and listeners hear."""
    heard: list[DeadLetter] = []
    qut.queue.on_dead_letter(heard.append)
    await qut.queue.enqueue(advance("pay_poison"))
    assert len(await qut.queue.consume("c1")) == 1
    await qut.expire()
    assert len(await qut.queue.consume("c1")) == 1
    await qut.expire()
    assert await qut.queue.consume("c1") == []
    assert [(d.task.payment_id, d.deliveries) for d in heard] == [("pay_poison", 2)]
    stats = await qut.queue.stats()
    assert (stats.dead, stats.in_flight, stats.ready) == (1, 0, 0)


async def test_two_consumers_never_receive_the_same_message(qut: QueueUnderTest):
    """Consumers reading concurrently split the tasks between them without overlap."""
    for i in range(40):
        await qut.queue.enqueue(advance(f"pay_{i}"))
    got: dict[str, list[Delivery]] = {"a": [], "b": []}

    async def drain(name: str) -> None:
        while batch := await qut.queue.consume(name, count=3):
            got[name].extend(batch)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(drain, "a")
        tg.start_soon(drain, "b")
    ids_a = {d.id for d in got["a"]}
    ids_b = {d.id for d in got["b"]}
    assert set() == ids_a & ids_b
    assert len(ids_a | ids_b) == 40
    assert {f"pay_{i}" for i in range(40)} == {d.task.payment_id for d in got["a"] + got["b"]}


async def test_blocking_consume_wakes_up_when_a_task_arrives(qut: QueueUnderTest):
    """A consumer blocked on an empty queue receives a task enqueued while it waits."""
    received: list[Delivery] = []

    async def wait_for_work() -> None:
        received.extend(await qut.queue.consume("c1", count=1, block_ms=5000))

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait_for_work)
        await anyio.sleep(0.05)
        await qut.queue.enqueue(advance("pay_wake"))
    assert [d.task.payment_id for d in received] == ["pay_wake"]


async def test_stats_count_ready_in_flight_and_delayed(qut: QueueUnderTest):
    """Stats report tasks waiting, delivered-but-unacked and delayed."""
    for i in range(3):
        await qut.queue.enqueue(advance(f"pay_{i}"))
    await qut.queue.enqueue(advance("pay_x"), at=qut.clock.now() + timedelta(minutes=5))
    await qut.queue.consume("c1", count=1)
    stats = await qut.queue.stats()
    assert (stats.ready, stats.in_flight, stats.delayed, stats.dead) == (2, 1, 1, 0)


async def test_dead_letters_can_be_requeued(qut: QueueUnderTest):
    """After the cause is fixed, dead letters go back on the queue as fresh tasks."""
    await qut.queue.enqueue(advance("pay_poison"))
    for _ in range(2):
        await qut.queue.consume("c1")
        await qut.expire()
    assert await qut.queue.consume("c1") == []
    assert await qut.queue.requeue_dead_letters() == 1
    [again] = await qut.queue.consume("c1")
    assert (again.task.payment_id, again.deliveries) == ("pay_poison", 1)
    assert (await qut.queue.stats()).dead == 0
