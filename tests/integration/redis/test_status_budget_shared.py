"""The status budget in Redis is one bucket for every worker on an egress address."""

from __future__ import annotations

import pytest

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.gateway import FakeProviderGateway
from synccash.adapters.providers.budget import BudgetedGateway, budgeted
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId

pytestmark = pytest.mark.integration


async def test_two_workers_share_one_mtn_budget(redis):
    """Two gateways (two workers) over one Redis pass 15 queries at once in total, not 30."""
    clock = ManualClock()
    inner = FakeProviderGateway()
    # no waiting: count what passes at one instant
    workers = [
        budgeted(
            inner,
            {ProviderId.MTN: 150},
            redis=redis,
            clock=clock,
            egress="nat-1",
            max_wait_seconds=0,
        )
        for _ in range(2)
    ]
    assert all(isinstance(worker, BudgetedGateway) for worker in workers)
    for i in range(20):
        for n, worker in enumerate(workers):
            await worker.status(ProviderId.MTN, AttemptKind.COLLECT, f"w{n}-{i}")
    assert len(inner.status_calls) == 15
    clock.advance(seconds=1)
    await workers[1].status(ProviderId.MTN, AttemptKind.COLLECT, "later")
    assert inner.status_calls[-1] == "later"
