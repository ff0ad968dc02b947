"""The consumer loop on the in-memory queue: ack on success, redelivery on failure, shutdown."""

from __future__ import annotations

import anyio
import pytest
from attrs import define, field
from prometheus_client import CollectorRegistry

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.queue import MemoryTaskQueue
from synccash.core.ports import Task, TaskKind
from synccash.worker.consumer import run_worker
from synccash.worker.metrics import WorkerMetrics


@define
class RecordingHandler:
    """Records handled tasks; raises for payments listed in `fail_once` the first time."""

    fail_once: set[str] = field(factory=set)
    handled: list[Task] = field(factory=list)
    gate: anyio.Event | None = None
    started: anyio.Event = field(factory=anyio.Event)

    async def handle(self, task: Task) -> None:
        """Handle (or fail) one task."""
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if task.payment_id in self.fail_once:
            self.fail_once.discard(task.payment_id)
            raise RuntimeError("boom")
        self.handled.append(task)


@define
class Host:
    """The two things the consumer needs from the container."""

    lifecycle: RecordingHandler
    queue: MemoryTaskQueue


def value(metrics: WorkerMetrics, registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's current value from the test registry."""
    return registry.get_sample_value(name, labels) or 0.0


async def drive(host: Host, metrics: WorkerMetrics, until, *, clock: ManualClock | None = None):
    """Run the consumer until `until()` holds, then stop it."""
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run_worker(
                host, concurrency=4, consumer_name="w1", stop=stop, metrics=metrics, block_ms=10
            )
        )
        with anyio.fail_after(5):
            while not until():
                if clock is not None:
                    clock.advance(seconds=31)  # past the visibility timeout
                await anyio.sleep(0.01)
        stop.set()


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


async def test_tasks_are_handled_and_acknowledged(registry):
    """Every enqueued task is handled once and acknowledged (nothing left in flight)."""
    queue = MemoryTaskQueue()
    host = Host(RecordingHandler(), queue)
    metrics = WorkerMetrics(registry)
    for i in range(10):
        await queue.enqueue(Task(TaskKind.ADVANCE, f"pay_{i}"))
    await drive(host, metrics, lambda: len(host.lifecycle.handled) == 10)
    stats = await queue.stats()
    assert (stats.ready, stats.in_flight) == (0, 0)
    assert sorted(t.payment_id for t in host.lifecycle.handled) == sorted(
        f"pay_{i}" for i in range(10)
    )
    assert value(metrics, registry, "synccash_worker_tasks_processed_total", kind="advance") == 10


async def test_failed_task_is_not_acked_and_comes_back(registry):
    """A handler exception leaves the task unacknowledged; it is redelivered and then succeeds."""
    clock = ManualClock()
    queue = MemoryTaskQueue(clock=clock, visibility_timeout_s=30)
    host = Host(RecordingHandler(fail_once={"pay_flaky"}), queue)
    metrics = WorkerMetrics(registry)
    await queue.enqueue(Task(TaskKind.CHECK_STATUS, "pay_flaky", hint="ref"))
    await drive(host, metrics, lambda: len(host.lifecycle.handled) == 1, clock=clock)
    assert host.lifecycle.handled == [Task(TaskKind.CHECK_STATUS, "pay_flaky", hint="ref")]
    assert value(metrics, registry, "synccash_worker_tasks_failed_total", kind="check_status") == 1
    assert (
        value(metrics, registry, "synccash_worker_tasks_processed_total", kind="check_status") == 1
    )


async def test_always_failing_task_is_dead_lettered_and_counted(registry):
    """A poison task stops being retried after max deliveries and shows in the metrics."""
    clock = ManualClock()
    queue = MemoryTaskQueue(clock=clock, visibility_timeout_s=30, max_deliveries=3)

    class Poison(RecordingHandler):
        async def handle(self, task: Task) -> None:
            raise RuntimeError("always")

    host = Host(Poison(), queue)
    metrics = WorkerMetrics(registry)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_poison"))
    await drive(host, metrics, lambda: len(queue.dead_letters) == 1, clock=clock)
    assert value(metrics, registry, "synccash_worker_tasks_failed_total", kind="advance") == 3
    assert value(metrics, registry, "synccash_worker_dead_letters_total", kind="advance") == 1


async def test_shutdown_waits_for_in_flight_tasks(registry):
    """On stop, a task already being handled finishes and is acknowledged."""
    queue = MemoryTaskQueue()
    gate = anyio.Event()
    handler = RecordingHandler(gate=gate)
    host = Host(handler, queue)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_1"))
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run_worker(
                host,
                concurrency=2,
                consumer_name="w1",
                stop=stop,
                metrics=WorkerMetrics(registry),
                block_ms=10,
            )
        )
        await handler.started.wait()
        stop.set()
        await anyio.sleep(0.05)
        gate.set()
    assert [t.payment_id for t in handler.handled] == ["pay_1"]
    assert (await queue.stats()).in_flight == 0


async def test_shutdown_timeout_leaves_the_task_for_redelivery(registry):
    """A task still running when the grace period ends is cancelled and left unacknowledged."""
    queue = MemoryTaskQueue()
    handler = RecordingHandler(gate=anyio.Event())  # never opens
    host = Host(handler, queue)
    await queue.enqueue(Task(TaskKind.ADVANCE, "pay_stuck"))
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: run_worker(
                host,
                concurrency=1,  # every slot busy: stop must still be noticed
                consumer_name="w1",
                stop=stop,
                metrics=WorkerMetrics(registry),
                block_ms=10,
                shutdown_timeout_s=0.05,
            )
        )
        await handler.started.wait()
        stop.set()
    assert handler.handled == []
    assert (await queue.stats()).in_flight == 1


async def test_a_queue_without_a_consumer_side_is_refused():
    """Starting the worker on an enqueue-only queue fails clearly."""

    class EnqueueOnly:
        async def enqueue(self, task, at=None):
            return None

    @define
    class BadHost:
        lifecycle: RecordingHandler
        queue: EnqueueOnly

    with pytest.raises(TypeError, match="no consumer side"):
        await run_worker(
            BadHost(RecordingHandler(), EnqueueOnly()),
            concurrency=1,
            consumer_name="w",
            stop=anyio.Event(),
        )
