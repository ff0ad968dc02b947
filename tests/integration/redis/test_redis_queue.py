"""Redis-specific queue behaviour: surviving a flush, dead-letter stream, pipelined enqueue."""

from __future__ import annotations

from datetime import timedelta

import anyio
import anyio.lowlevel
import pytest
from redis.asyncio import Redis

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.redis.queue import RedisTaskQueue
from synccash.core.ports import Task, TaskKind

pytestmark = pytest.mark.integration


async def test_queue_keeps_working_after_redis_is_flushed(redis: Redis):
    """A FLUSHDB drops the group; the next consume recreates it and new tasks flow again."""
    queue = RedisTaskQueue(redis)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_lost"))
    assert len(await queue.consume("c1")) == 1
    await redis.flushdb()
    assert await queue.consume("c1") == []
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_after"))
    assert [d.task.payment_id for d in await queue.consume("c1")] == ["pay_after"]


async def test_dead_letters_are_kept_in_their_own_stream(redis: Redis):
    """A dead-lettered task can be read back from the dead-letter stream with its count."""
    queue = RedisTaskQueue(redis, visibility_timeout_s=0.05, max_deliveries=1)
    await queue.enqueue(Task(TaskKind.CHECK_STATUS, "pay_dead", hint="ref"))
    await queue.consume("c1")
    await anyio.sleep(0.1)
    assert await queue.consume("c1") == []
    [dead] = await queue.dead_letters()
    assert (Task(TaskKind.CHECK_STATUS, "pay_dead", hint="ref"), 1) == (dead.task, dead.deliveries)


async def test_enqueue_many_mixes_immediate_and_delayed_tasks(redis: Redis):
    """A pipelined batch puts due tasks on the stream and future ones in the delayed set."""
    clock = ManualClock()
    queue = RedisTaskQueue(redis, clock=clock)
    later = clock.now() + timedelta(seconds=30)
    await queue.enqueue_many(
        [(Task(TaskKind.ADVANCE, f"pay_{i}"), later if i % 2 else None) for i in range(6)]
    )
    stats = await queue.stats()
    assert (stats.ready, stats.delayed) == (3, 3)
    clock.advance(seconds=31)
    assert len(await queue.consume("c1", count=10)) == 6


async def test_delayed_task_is_promoted_once_by_competing_consumers(redis: Redis):
    """Many consumers racing to promote one due task deliver it exactly once."""
    clock = ManualClock()
    queues = [RedisTaskQueue(redis, clock=clock) for _ in range(5)]
    await queues[0].enqueue(Task(TaskKind.ADVANCE, "pay_1"), at=clock.now() + timedelta(seconds=1))
    clock.advance(seconds=2)
    got: list[str] = []

    async def consume(i: int) -> None:
        got.extend(d.task.payment_id for d in await queues[i].consume(f"c{i}", count=5))

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(consume, i)
    assert got == ["pay_1"]


async def test_a_stopped_consumer_is_forgotten_only_without_pending_work(redis: Redis):
    """A consumer holding an unacked delivery stays registered; once it acked, it is removed."""
    queue = RedisTaskQueue(redis)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_1"))
    [delivery] = await queue.consume("w-old")
    assert not await queue.forget_consumer("w-old")
    await queue.ack(delivery)
    assert await queue.forget_consumer("w-old")
    consumers = await redis.xinfo_consumers(queue.stream, queue.group)
    assert [c["name"] for c in consumers] == []


async def test_recovery_reaches_stuck_entries_behind_busy_ones(redis: Redis):
    """XAUTOCLAIM's cursor walks the pending list, so idle entries behind busy ones are found."""
    queue = RedisTaskQueue(redis, visibility_timeout_s=0.2)
    for i in range(30):
        await queue.enqueue(Task(TaskKind.ADVANCE, f"pay_{i}"))
    taken = await queue.consume("crashed", count=30)
    await anyio.sleep(0.3)
    # The first 20 are taken over by a live consumer (idle time reset); the last 10 stay stuck.
    await redis.xclaim(
        queue.stream, queue.group, "busy", 0, [d.id for d in taken[:20]], justid=True
    )
    recovered = []
    for _ in range(4):  # each call scans at most 10 entries of the pending list
        recovered += await queue.consume("survivor", count=1)
    assert recovered
    assert {d.task.payment_id for d in recovered} <= {f"pay_{i}" for i in range(20, 30)}


async def test_consume_under_load_is_one_round_trip(counting_redis):
    """With tasks ready, promotion, recovery and the read are one script call."""
    redis, trips = counting_redis
    clock = ManualClock()
    queue = RedisTaskQueue(redis, clock=clock)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_now"))
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_due"), at=clock.now() + timedelta(seconds=1))
    clock.advance(seconds=2)
    trips.count = 0
    got = await queue.consume("c1", count=5, block_ms=1000)
    assert sorted(d.task.payment_id for d in got) == ["pay_due", "pay_now"]
    assert trips.count == 1


async def test_consume_blocks_only_when_the_script_found_nothing(redis: Redis):
    """An empty queue waits in XREADGROUP; a task enqueued meanwhile is delivered."""
    queue = RedisTaskQueue(redis)
    await queue.ensure_group()
    got = []

    async def consume() -> None:
        got.extend(await queue.consume("c1", count=2, block_ms=2000))

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.sleep(0.1)
        await RedisTaskQueue(redis).enqueue(Task(TaskKind.ADVANCE, "pay_late"))
    assert [d.task.payment_id for d in got] == ["pay_late"]


async def test_acks_finishing_together_go_out_in_one_round_trip(counting_redis):
    """Concurrent acks with no consume to carry them are sent together, and all take effect."""
    redis, trips = counting_redis
    queue = RedisTaskQueue(redis, ack_linger_ms=20)
    for i in range(5):
        await queue.enqueue(Task(TaskKind.ADVANCE, f"pay_{i}"))
    deliveries = await queue.consume("c1", count=5)
    trips.count = 0
    async with anyio.create_task_group() as tg:
        for delivery in deliveries:
            tg.start_soon(queue.ack, delivery)
    assert trips.count == 1
    stats = await queue.stats()
    assert (stats.ready, stats.in_flight) == (0, 0)
    assert await redis.xlen(queue.stream) == 0


async def test_waiting_acks_ride_on_the_next_consume(counting_redis):
    """An ack followed by a consume costs one round trip: the script acknowledges it."""
    redis, trips = counting_redis
    queue = RedisTaskQueue(redis, ack_linger_ms=1000)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_1"))
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_2"))
    [first] = await queue.consume("c1")
    trips.count = 0
    acked = anyio.Event()

    async def ack() -> None:
        await queue.ack(first)
        acked.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ack)
        await anyio.lowlevel.checkpoint()  # the ack waits for a ride
        [second] = await queue.consume("c1")
        with anyio.fail_after(0.5):  # long before the 1 s linger
            await acked.wait()
    assert second.task.payment_id == "pay_2"
    assert trips.count == 1
    assert (await queue.stats()).in_flight == 1  # only the second one


async def test_an_ack_alone_is_sent_after_the_linger(redis: Redis):
    """With no consume coming, ack() still returns with the entry acknowledged and deleted."""
    queue = RedisTaskQueue(redis, ack_linger_ms=5)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_1"))
    [delivery] = await queue.consume("c1")
    with anyio.fail_after(1):
        await queue.ack(delivery)
    assert (await queue.stats()).in_flight == 0
    assert await redis.xlen(queue.stream) == 0


async def test_a_withdrawn_delayed_task_is_never_delivered(redis: Redis):
    """withdraw() drops exactly the task waiting for that time; others stay; unknown ones are a no-op."""
    clock = ManualClock()
    queue = RedisTaskQueue(redis, clock=clock)
    first = clock.now() + timedelta(seconds=30)
    second = clock.now() + timedelta(seconds=60)
    task = Task(TaskKind.ADVANCE, "pay_w")
    await queue.enqueue(task, at=first)
    await queue.enqueue(task, at=second)
    await queue.withdraw(task, first)
    await queue.withdraw(Task(TaskKind.ADVANCE, "pay_never"), first)
    assert (await queue.stats()).delayed == 1
    clock.advance(seconds=31)
    assert await queue.consume("c1", count=10) == []
    clock.advance(seconds=30)
    assert [d.task for d in await queue.consume("c1", count=10)] == [task]


async def test_a_delayed_enqueue_and_a_withdraw_ride_on_the_next_consume(counting_redis):
    """A worker's task ends with its next look scheduled (or withdrawn) and its ack: all of
    it goes to Redis with the next consume, in call order, in that one round trip."""
    redis, trips = counting_redis
    clock = ManualClock()
    queue = RedisTaskQueue(redis, clock=clock, ack_linger_ms=1000)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_1"))
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_2"))
    [first] = await queue.consume("c1")
    later = clock.now() + timedelta(seconds=30)
    kept, dropped = Task(TaskKind.ADVANCE, "pay_kept"), Task(TaskKind.ADVANCE, "pay_dropped")
    trips.count = 0
    finished = []

    async def finish_task() -> None:
        await queue.enqueue(kept, at=later)
        await queue.enqueue(dropped, at=later)
        await queue.withdraw(dropped, later)  # scheduled, then withdrawn: in that order
        await queue.ack(first)
        finished.append(first)

    async with anyio.create_task_group() as tg:
        tg.start_soon(finish_task)
        for _ in range(4):  # each carried step frees the next: one consume carries each
            await anyio.lowlevel.checkpoint()
            got = await queue.consume("c1")
            await anyio.lowlevel.checkpoint()
            if got:
                assert [d.task.payment_id for d in got] == ["pay_2"]
        with anyio.fail_after(0.5):  # long before the 1 s linger
            while not finished:
                await anyio.lowlevel.checkpoint()
    assert trips.count == 4  # the consumes, nothing else
    stats = await queue.stats()
    assert (stats.delayed, stats.in_flight) == (1, 1)  # pay_kept waits; pay_2 is in flight
    clock.advance(seconds=31)
    assert [d.task for d in await queue.consume("c1", count=10)] == [kept]


async def test_a_delayed_enqueue_alone_is_sent_after_the_linger(redis: Redis):
    """With no consume coming, a delayed enqueue still returns with the task in Redis."""
    clock = ManualClock()
    queue = RedisTaskQueue(redis, clock=clock, ack_linger_ms=5)
    task = Task(TaskKind.ADVANCE, "pay_alone")
    with anyio.fail_after(1):
        await queue.enqueue(task, at=clock.now() + timedelta(seconds=5))
    assert (await RedisTaskQueue(redis, clock=clock).stats()).delayed == 1
    with anyio.fail_after(1):
        await queue.withdraw(task, clock.now() + timedelta(seconds=5))
    assert (await RedisTaskQueue(redis, clock=clock).stats()).delayed == 0
