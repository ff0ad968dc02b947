"""Queue consumers: take tasks, run the lifecycle handler, acknowledge on success.

A handler that raises leaves its delivery unacknowledged: the queue delivers it again after
the visibility timeout, and moves it to the dead letters after too many tries. On shutdown
the loop stops reading, gives in-flight tasks `shutdown_timeout_s` to finish, then cancels
the rest, which stay unacknowledged and are redelivered to another worker.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio
import structlog

from synccash.adapters.coordination import ConsumableTaskQueue, DeadLetter, Delivery
from synccash.adapters.failures import FailureLog, dependency_unavailable
from synccash.core.ports import Task, TaskQueue
from synccash.worker.metrics import WorkerMetrics, default_metrics

_log = structlog.get_logger(__name__)


class TaskHandler(Protocol):
    """What the worker calls for each task (`LifecycleService` satisfies it)."""

    async def handle(self, task: Task) -> None:
        """Handle one task idempotently."""
        ...


class ConsumerHost(Protocol):
    """The parts of the bootstrap Container the consumer uses."""

    @property
    def lifecycle(self) -> TaskHandler:
        """The lifecycle use-cases."""
        ...

    @property
    def queue(self) -> TaskQueue:
        """The task queue (must also be a ConsumableTaskQueue)."""
        ...


def consumable(queue: TaskQueue) -> ConsumableTaskQueue:
    """The queue's consumer side, or a clear error if this queue cannot be consumed."""
    if not isinstance(queue, ConsumableTaskQueue):
        raise TypeError(f"{type(queue).__name__} has no consumer side (consume/ack)")
    return queue


async def run_worker(
    container: ConsumerHost,
    *,
    concurrency: int,
    consumer_name: str,
    stop: anyio.Event,
    metrics: WorkerMetrics | None = None,
    block_ms: int = 1000,
    shutdown_timeout_s: float = 30.0,
    failures: FailureLog | None = None,
) -> None:
    """Consume tasks with up to `concurrency` handlers at once until `stop` is set.

    Failures because the database or Redis is away go to `failures` (logged once, then at
    a bounded rate); any other handler error is logged with its traceback.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    queue = consumable(container.queue)
    handler = container.lifecycle
    m = metrics or default_metrics()
    failures = failures or FailureLog()
    queue.on_dead_letter(lambda dead: _on_dead_letter(m, dead))
    slots = anyio.Semaphore(concurrency)
    log = _log.bind(consumer=consumer_name)

    async def handle(delivery: Delivery) -> None:
        kind = delivery.task.kind.value
        m.in_flight.inc()
        started = time.perf_counter()
        try:
            await handler.handle(delivery.task)
        except Exception as exc:
            m.tasks_failed.labels(kind).inc()
            if dependency_unavailable(exc):  # the database or Redis is away: quietly
                failures.failed("task_handler", exc)
            else:
                log.exception(
                    "task_failed",
                    kind=kind,
                    payment_id=delivery.task.payment_id,
                    deliveries=delivery.deliveries,
                )
            return  # no ack: redelivered after the visibility timeout
        finally:
            m.in_flight.dec()
            m.task_seconds.labels(kind).observe(time.perf_counter() - started)
            slots.release()
        try:
            await queue.ack(delivery)
        except Exception:
            # The work is done and idempotent; a lost ack only means one harmless redelivery.
            m.loop_errors.labels("ack").inc()
            log.exception("ack_failed", payment_id=delivery.task.payment_id)
            return
        m.tasks_processed.labels(kind).inc()

    async with anyio.create_task_group() as handlers:
        while await _acquire_unless_stopped(slots, stop):
            free = 1
            while free < concurrency and slots.value > 0:  # take every free slot at once
                await slots.acquire()
                free += 1
            try:
                deliveries = await queue.consume(consumer_name, count=free, block_ms=block_ms)
            except Exception as exc:
                m.loop_errors.labels("consume").inc()
                failures.failed("queue_consume", exc)
                deliveries = []
                with anyio.move_on_after(1.0):
                    await stop.wait()
            else:
                failures.succeeded("queue_consume")
            for _ in range(free - len(deliveries)):
                slots.release()
            now_ms = time.time() * 1000
            for delivery in deliveries:
                m.queue_lag.observe(max(0.0, (now_ms - delivery.enqueued_at_ms) / 1000))
                handlers.start_soon(handle, delivery)
        log.info("consumer_stopping", in_flight=concurrency - slots.value)
        with anyio.move_on_after(shutdown_timeout_s) as grace:
            for _ in range(concurrency):  # all slots back = nothing in flight
                await slots.acquire()
        if grace.cancelled_caught:
            log.warning("shutdown_timeout_unacked_left_for_redelivery")
            handlers.cancel_scope.cancel()
            return
    with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
        try:
            await queue.forget_consumer(consumer_name)
        except Exception:
            log.warning("forget_consumer_failed", exc_info=True)


async def _acquire_unless_stopped(slots: anyio.Semaphore, stop: anyio.Event) -> bool:
    """Wait for a free handler slot; False as soon as `stop` is set (even if all are busy)."""
    while not stop.is_set():
        with anyio.move_on_after(0.1):
            await slots.acquire()
            if stop.is_set():
                slots.release()
                return False
            return True
    return False


def _on_dead_letter(metrics: WorkerMetrics, dead: DeadLetter) -> None:
    metrics.dead_letters.labels(dead.task.kind.value).inc()
    _log.error(
        "task_dead_lettered",
        kind=dead.task.kind.value,
        payment_id=dead.task.payment_id,
        deliveries=dead.deliveries,
    )


__all__ = ["ConsumerHost", "TaskHandler", "consumable", "run_worker"]
