"""The scheduler: periodic jobs that only one worker process runs at a time.

Leadership is a short-lived lock (Redis `SET NX PX` with an owner token, or in memory in the
embedded mode) that the leader extends every tick; if the leader dies, the lock expires and
another worker takes over within `lock_ttl_ms`.

Jobs:
- the overdue sweep (`LifecycleService.sweep_due`): every non-terminal payment whose
  next_action_at has passed is re-enqueued from the database. This is what expires payments,
  resumes reconciliation polling whose delayed task was lost, and makes a Redis wipe lose
  nothing;
- due merchant webhook deliveries (retries with backoff);
- queue depth gauges.
"""

from __future__ import annotations

from typing import Protocol

import anyio
import structlog

from synccash.adapters.coordination import ConsumableTaskQueue, Locks
from synccash.adapters.failures import FailureLog
from synccash.adapters.webhooks import WebhookDispatcher
from synccash.worker.metrics import WorkerMetrics, default_metrics

_log = structlog.get_logger(__name__)
COMPONENT = "scheduler"


class Sweeper(Protocol):
    """The overdue sweep (`LifecycleService` satisfies it)."""

    async def sweep_due(self, limit: int = 500) -> int:
        """Re-enqueue overdue payments; how many."""
        ...


class Scheduler:
    """Runs the periodic jobs while holding the leader lock."""

    def __init__(
        self,
        sweeper: Sweeper,
        locks: Locks,
        *,
        queue: ConsumableTaskQueue | None = None,
        webhooks: WebhookDispatcher | None = None,
        metrics: WorkerMetrics | None = None,
        failures: FailureLog | None = None,
        lock_key: str = "scheduler:leader",
        lock_ttl_ms: int = 15_000,
        sweep_every_ticks: int = 5,
        sweep_limit: int = 500,
        sweep_rounds: int = 10,
    ) -> None:
        self._sweeper = sweeper
        self._locks = locks
        self._queue = queue
        self._webhooks = webhooks
        self._metrics = metrics or default_metrics()
        self._failures = failures or FailureLog()
        self._lock_key = lock_key
        self._lock_ttl_ms = lock_ttl_ms
        self._sweep_every = sweep_every_ticks
        self._sweep_limit = sweep_limit
        self._sweep_rounds = sweep_rounds
        self._token: str | None = None
        self._ticks = 0

    @property
    def is_leader(self) -> bool:
        """True while this scheduler holds the leader lock."""
        return self._token is not None

    async def _lead(self) -> bool:
        if self._token is not None and not await self._locks.extend(
            self._lock_key, self._token, self._lock_ttl_ms
        ):
            _log.warning("scheduler_leadership_lost")
            self._token = None
        if self._token is None:
            self._token = await self._locks.try_lock(self._lock_key, self._lock_ttl_ms)
            if self._token is not None:
                _log.info("scheduler_leadership_taken")
                self._ticks = 0  # a new leader sweeps at once
        self._metrics.is_leader.set(1 if self._token else 0)
        return self._token is not None

    async def tick(self) -> bool:
        """Run the due jobs if this process is the leader; True if it was."""
        if not await self._lead():
            return False
        if self._ticks % self._sweep_every == 0:
            await self.sweep()
        self._ticks += 1
        if self._webhooks is not None:
            delivered, failed = await self._webhooks.deliver_due()
            self._metrics.webhook_attempts.labels("delivered").inc(delivered)
            self._metrics.webhook_attempts.labels("failed").inc(failed)
        if self._queue is not None:
            stats = await self._queue.stats()
            for state in ("ready", "in_flight", "delayed", "dead"):
                self._metrics.queue_depth.labels(state).set(getattr(stats, state))
        return True

    async def sweep(self) -> int:
        """Re-enqueue overdue payments, in rounds of `sweep_limit`; how many in total."""
        total = 0
        for _ in range(self._sweep_rounds):
            swept = await self._sweeper.sweep_due(self._sweep_limit)
            total += swept
            if swept < self._sweep_limit:
                break
        if total:
            self._metrics.sweep_requeued.inc(total)
            _log.info("overdue_payments_requeued", count=total)
        return total

    async def resign(self) -> None:
        """Give up leadership now (on shutdown) so another worker takes over at once."""
        if self._token is not None:
            await self._locks.release(self._lock_key, self._token)
            self._token = None
            self._metrics.is_leader.set(0)

    async def run(self, stop: anyio.Event, *, interval_s: float = 2.0) -> None:
        """Tick every `interval_s` until `stop`, then resign."""
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception as exc:
                    self._metrics.loop_errors.labels("scheduler").inc()
                    self._failures.failed(COMPONENT, exc)
                else:
                    self._failures.succeeded(COMPONENT)
                with anyio.move_on_after(interval_s):
                    await stop.wait()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
                await self.resign()


__all__ = ["Scheduler", "Sweeper"]
