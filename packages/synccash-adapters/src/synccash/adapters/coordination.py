"""What the worker and the API need from the queue, rate limiter and locks beyond the core ports.

The core only enqueues (`synccash.core.ports.TaskQueue`). The worker also consumes and
acknowledges; the API rate-limits and takes short locks. Redis and in-memory adapters
implement these Protocols with the same semantics:

- `ConsumableTaskQueue`: at-least-once delivery; a delivery not acknowledged within the
  visibility timeout is delivered again (to any consumer); after `max_deliveries`
  deliveries it goes to the dead letters instead, and listeners are told.
- `RateLimiter`: a token bucket per key.
- `Locks`: short-lived exclusive locks with an owner token and atomic compare-and-delete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from attrs import frozen

from synccash.core.ports import Task, TaskKind


@frozen
class Delivery:
    """One delivery of a queued task to a consumer; acknowledge it when the work is done."""

    id: str  # queue-specific message id (a stream entry id for Redis)
    task: Task
    deliveries: int  # 1 on the first delivery, +1 on every redelivery
    enqueued_at_ms: int  # when it became ready (due time for delayed tasks), epoch ms


@frozen
class DeadLetter:
    """A task given up on after too many deliveries (kept for inspection and replay)."""

    id: str
    task: Task
    deliveries: int


@frozen
class QueueStats:
    """Queue depth for metrics and health pages."""

    ready: int  # waiting, never delivered
    in_flight: int  # delivered, not yet acknowledged
    delayed: int  # waiting for their due time
    dead: int  # dead letters


DeadLetterListener = Callable[[DeadLetter], None]


@runtime_checkable
class ConsumableTaskQueue(Protocol):
    """The TaskQueue port plus the consumer side the worker uses."""

    async def enqueue(self, task: Task, at: datetime | None = None) -> None:
        """Deliver `task` now (at=None) or not before `at`."""
        ...

    async def withdraw(self, task: Task, at: datetime) -> None:
        """Drop `task` if it still waits to be delivered at `at`."""
        ...

    async def consume(self, consumer: str, count: int = 1, block_ms: int = 0) -> list[Delivery]:
        """Up to `count` deliveries for `consumer`, waiting up to `block_ms` for the first one."""
        ...

    async def ack(self, delivery: Delivery) -> None:
        """Mark a delivery done; it will not be delivered again."""
        ...

    async def stats(self) -> QueueStats:
        """Current depth of the queue."""
        ...

    def on_dead_letter(self, listener: DeadLetterListener) -> None:
        """Call `listener` for every task moved to the dead letters."""
        ...

    async def requeue_dead_letters(self, limit: int = 100) -> int:
        """Put up to `limit` dead letters back on the queue (after fixing the cause); how many."""
        ...

    async def forget_consumer(self, consumer: str) -> bool:
        """Drop a stopped consumer's registration if it holds no unacknowledged deliveries."""
        ...


class RateLimiter(Protocol):
    """A token bucket per key (e.g. a merchant id)."""

    async def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds to wait before retrying."""
        ...


class Locks(Protocol):
    """Short-lived exclusive locks (idempotency in-flight check, scheduler leadership)."""

    async def try_lock(self, key: str, ttl_ms: int) -> str | None:
        """Take the lock for `ttl_ms`: its owner token, or None if someone else holds it."""
        ...

    async def extend(self, key: str, token: str, ttl_ms: int) -> bool:
        """Extend a lock we still hold; False if it expired or another owner has it."""
        ...

    async def release(self, key: str, token: str) -> bool:
        """Release a lock only if `token` still owns it (atomic compare-and-delete)."""
        ...


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch for an aware datetime."""
    return int(at.timestamp() * 1000)


def task_fields(task: Task) -> dict[str, str]:
    """A task as flat string fields (Redis stream entry / JSON)."""
    return {"kind": task.kind.value, "payment_id": task.payment_id, "hint": task.hint or ""}


def task_from_fields(fields: dict[str, str]) -> Task:
    """The inverse of `task_fields`."""
    return Task(
        kind=TaskKind(fields["kind"]),
        payment_id=fields["payment_id"],
        hint=fields.get("hint") or None,
    )


def notify(listeners: Sequence[DeadLetterListener], dead: DeadLetter) -> None:
    """Tell every listener about a dead letter; a failing listener never breaks the queue."""
    for listener in listeners:
        try:
            listener(dead)
        except Exception:  # noqa: S112 - listeners are metrics/logging hooks
            continue


__all__ = [
    "ConsumableTaskQueue",
    "DeadLetter",
    "DeadLetterListener",
    "Delivery",
    "Locks",
    "QueueStats",
    "RateLimiter",
    "epoch_ms",
    "notify",
    "task_fields",
    "task_from_fields",
]
