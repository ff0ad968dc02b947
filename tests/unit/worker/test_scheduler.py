"""The scheduler acts only while it holds the leader lock, and hands over when the leader goes."""

from __future__ import annotations

import pytest
from attrs import define, field
from prometheus_client import CollectorRegistry

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.ratelimit import MemoryLocks
from synccash.worker.metrics import WorkerMetrics
from synccash.worker.scheduler import Scheduler


@define
class CountingSweeper:
    """A sweep that reports `overdue` payments per call until they run out."""

    overdue: int = 0
    calls: list[int] = field(factory=list)

    async def sweep_due(self, limit: int = 500) -> int:
        """Take up to `limit` of the overdue payments."""
        taken = min(limit, self.overdue)
        self.overdue -= taken
        self.calls.append(taken)
        return taken


@pytest.fixture
def metrics() -> WorkerMetrics:
    """Metrics on a private registry."""
    return WorkerMetrics(CollectorRegistry())


async def test_only_one_of_two_schedulers_acts(metrics):
    """Two workers share the lock: the first to tick leads, the other does nothing."""
    locks = MemoryLocks(clock=ManualClock())
    first, second = CountingSweeper(), CountingSweeper()
    a = Scheduler(first, locks, metrics=metrics)
    b = Scheduler(second, locks, metrics=metrics)
    assert await a.tick()
    assert not await b.tick()
    assert await a.tick()
    assert (len(first.calls), second.calls) == (1, [])  # swept once; the next sweep waits 5 ticks


async def test_leadership_moves_when_the_leader_resigns_or_dies(metrics):
    """After the leader resigns, or its lock expires, the other scheduler takes over."""
    clock = ManualClock()
    locks = MemoryLocks(clock=clock)
    a = Scheduler(CountingSweeper(), locks, metrics=metrics, lock_ttl_ms=10_000)
    b = Scheduler(CountingSweeper(), locks, metrics=metrics, lock_ttl_ms=10_000)
    assert await a.tick()
    await a.resign()
    assert await b.tick()
    clock.advance(seconds=11)  # b "dies": it stops extending its lock
    assert await a.tick()
    assert not await b.tick()  # b notices it lost the lock
    assert not b.is_leader


async def test_sweep_runs_in_rounds_until_the_backlog_is_done(metrics):
    """A backlog larger than one batch is swept in several rounds in one go."""
    sweeper = CountingSweeper(overdue=1200)
    scheduler = Scheduler(sweeper, MemoryLocks(), metrics=metrics, sweep_limit=500)
    assert await scheduler.sweep() == 1200
    assert sweeper.calls == [500, 500, 200]


async def test_new_leader_sweeps_at_once_then_every_nth_tick(metrics):
    """The sweep runs on the first tick of a leader and then every `sweep_every_ticks` ticks."""
    sweeper = CountingSweeper()
    scheduler = Scheduler(sweeper, MemoryLocks(), metrics=metrics, sweep_every_ticks=3)
    for _ in range(7):
        await scheduler.tick()
    assert len(sweeper.calls) == 3  # ticks 0, 3 and 6
