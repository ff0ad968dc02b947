"""In-memory task queue for the embedded mode and tests, with the Redis queue's semantics.

Delayed tasks wait until their due time (read from the injected Clock), a delivery that is
not acknowledged within the visibility timeout is delivered again, and after
`max_deliveries` deliveries the task moves to the dead letters. State lives in one
process; nothing here awaits between reading and changing it, so it is atomic on one
event loop.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from datetime import datetime

import anyio
import structlog
from attrs import define

from synccash.adapters.clock import SystemClock
from synccash.adapters.coordination import (
    DeadLetter,
    DeadLetterListener,
    Delivery,
    QueueStats,
    epoch_ms,
    notify,
)
from synccash.core.ports import Clock, Task

_log = structlog.get_logger(__name__)


@define
class _InFlight:
    task: Task
    consumer: str
    delivered_at_ms: int
    deliveries: int
    enqueued_at_ms: int


class MemoryTaskQueue:
    """TaskQueue + consumer side, in memory (see `ConsumableTaskQueue`)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        visibility_timeout_s: float = 30.0,
        max_deliveries: int = 5,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._visibility_ms = int(visibility_timeout_s * 1000)
        self._max_deliveries = max_deliveries
        self._ids = itertools.count(1)
        self._ready: deque[tuple[str, Task, int, int]] = deque()  # id, task, enq ms, deliveries
        self._delayed: list[tuple[int, int, Task]] = []  # due ms, seq, task
        self._delayed_keys: set[tuple[int, Task]] = set()
        self._in_flight: dict[str, _InFlight] = {}
        self._listeners: list[DeadLetterListener] = []
        self._wakeup = anyio.Event()
        self.dead_letters: list[DeadLetter] = []

    def _now_ms(self) -> int:
        return epoch_ms(self._clock.now())

    def _new_id(self) -> str:
        return str(next(self._ids))

    async def enqueue(self, task: Task, at: datetime | None = None) -> None:
        """Deliver `task` now (at=None or past) or not before `at`."""
        now = self._now_ms()
        if at is None or epoch_ms(at) <= now:
            self._ready.append((self._new_id(), task, now, 0))
        else:
            due = epoch_ms(at)
            if (due, task) in self._delayed_keys:  # identical task for the same time: once
                return
            self._delayed_keys.add((due, task))
            heapq.heappush(self._delayed, (due, next(self._ids), task))
        self._wakeup.set()

    async def withdraw(self, task: Task, at: datetime) -> None:
        """Drop `task` if it still waits to be delivered at `at` (its heap entry is skipped)."""
        self._delayed_keys.discard((epoch_ms(at), task))

    def _promote_due(self, now: int) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            due, _, task = heapq.heappop(self._delayed)
            if (due, task) not in self._delayed_keys:
                continue  # withdrawn (or a collapsed duplicate already delivered)
            self._delayed_keys.discard((due, task))
            self._ready.append((self._new_id(), task, due, 0))

    def _reclaim_expired(self, now: int) -> None:
        expired = [
            (msg_id, item)
            for msg_id, item in self._in_flight.items()
            if now - item.delivered_at_ms >= self._visibility_ms
        ]
        for msg_id, item in expired:
            del self._in_flight[msg_id]
            if item.deliveries >= self._max_deliveries:
                dead = DeadLetter(id=msg_id, task=item.task, deliveries=item.deliveries)
                self.dead_letters.append(dead)
                _log.warning(
                    "task_dead_lettered",
                    kind=item.task.kind.value,
                    payment_id=item.task.payment_id,
                    deliveries=item.deliveries,
                )
                notify(self._listeners, dead)
            else:
                # Redelivered before new work, like XAUTOCLAIM before XREADGROUP.
                self._ready.appendleft((msg_id, item.task, item.enqueued_at_ms, item.deliveries))

    def _take(self, consumer: str, count: int) -> list[Delivery]:
        now = self._now_ms()
        self._promote_due(now)
        self._reclaim_expired(now)
        out: list[Delivery] = []
        while self._ready and len(out) < count:
            msg_id, task, enq_ms, deliveries = self._ready.popleft()
            item = _InFlight(task, consumer, now, deliveries + 1, enq_ms)
            self._in_flight[msg_id] = item
            out.append(Delivery(msg_id, task, item.deliveries, enq_ms))
        return out

    async def consume(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[Delivery]:
        """Up to `count` deliveries for `consumer`, waiting up to `block_ms` for the first one."""
        out = self._take(consumer, count)
        if out or block_ms <= 0:
            return out
        wait_s = block_ms / 1000
        if self._delayed:  # wake up for the next delayed task even if nothing is enqueued
            wait_s = min(wait_s, max(0.0, (self._delayed[0][0] - self._now_ms()) / 1000))
        if self._wakeup.is_set():
            self._wakeup = anyio.Event()
        with anyio.move_on_after(wait_s):
            await self._wakeup.wait()
        return self._take(consumer, count)

    async def ack(self, delivery: Delivery) -> None:
        """Mark a delivery done; acknowledging twice or after redelivery elsewhere is harmless."""
        self._in_flight.pop(delivery.id, None)

    async def stats(self) -> QueueStats:
        """Current depth of the queue."""
        return QueueStats(
            ready=len(self._ready),
            in_flight=len(self._in_flight),
            delayed=len(self._delayed_keys),
            dead=len(self.dead_letters),
        )

    async def requeue_dead_letters(self, limit: int = 100) -> int:
        """Put up to `limit` dead letters back on the queue as fresh tasks; how many."""
        revived, self.dead_letters = self.dead_letters[:limit], self.dead_letters[limit:]
        for dead in revived:
            await self.enqueue(dead.task)
        return len(revived)

    async def forget_consumer(self, consumer: str) -> bool:
        """Nothing is registered per consumer in memory; True if it holds no deliveries."""
        return all(item.consumer != consumer for item in self._in_flight.values())

    def on_dead_letter(self, listener: DeadLetterListener) -> None:
        """Call `listener` for every task moved to the dead letters."""
        self._listeners.append(listener)


__all__ = ["MemoryTaskQueue"]
