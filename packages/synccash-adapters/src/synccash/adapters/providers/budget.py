"""A status-query budget per provider and egress address, shared by every worker.

MTN caps `GET` status queries at 150 requests a second per source IP; a poll ladder that
ignores it gets throttled exactly when the most payments are waiting. `BudgetedGateway`
wraps the gateway: before a status query it takes a token from the provider's bucket,
keyed by provider and egress address (workers behind one NAT share one key, and through
Redis one bucket), waiting for one up to `max_wait_seconds`; without a token in time the
query is not sent and answers TRANSIENT (`status_budget`), which the lifecycle treats as
"ask again later". Submits and lookups are never held back.

A token bucket of capacity `b` refilled at `r` a second lets `b + r` requests through in
any one second, so a budget of `B` a second is a bucket of `b = max(1, B // 10)` refilled at
`B - b`: never more than `B` in any one-second window, whatever the number of workers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import anyio

from synccash.adapters.coordination import RateLimiter
from synccash.adapters.memory.ratelimit import MemoryRateLimiter
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.ports import AccountInfo, AttemptRequest, Clock, ProviderGateway
from synccash.core.providers import ProviderId

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: Redis key prefix of the status buckets (one per provider and egress address).
BUDGET_PREFIX: Final = "synccash:status-budget:"

#: MTN's documented cap on status queries (per source IP); the others publish none.
DEFAULT_BUDGETS: Final = {ProviderId.MTN: 150}


def bucket_shape(per_second: int) -> tuple[int, float]:
    """(capacity, refill per second) of a bucket that never passes `per_second` in a second."""
    if per_second < 1:
        raise ValueError("a status budget is at least 1 per second")
    capacity = max(1, per_second // 10)
    return capacity, float(max(per_second - capacity, 1))


class BudgetedGateway:
    """Delegates to `inner`; status queries spend their provider's budget first."""

    def __init__(
        self,
        inner: ProviderGateway,
        limiters: Mapping[ProviderId, RateLimiter],
        *,
        egress: str = "default",
        max_wait_seconds: float = 2.0,
    ) -> None:
        """`limiters` holds one bucket per budgeted provider (see `bucket_shape`)."""
        self._inner = inner
        self._limiters = dict(limiters)
        self._egress = egress
        self._max_wait = max_wait_seconds

    async def submit(self, request: AttemptRequest) -> ProviderOutcome:
        """Send an attempt (never held back: the budget is for status queries)."""
        return await self._inner.submit(request)

    async def status(
        self, provider: ProviderId, kind: AttemptKind, reference: str
    ) -> ProviderOutcome:
        """Ask for an attempt's state once the provider's budget has a token for it."""
        limiter = self._limiters.get(provider)
        if limiter is not None:
            refused = await self._spend(limiter, f"status:{provider.value}:{self._egress}")
            if refused is not None:
                return refused
        return await self._inner.status(provider, kind, reference)

    async def lookup(self, provider: ProviderId, msisdn: Msisdn) -> AccountInfo:
        """Account-holder lookup (not budgeted)."""
        return await self._inner.lookup(provider, msisdn)

    async def _spend(self, limiter: RateLimiter, key: str) -> ProviderOutcome | None:
        """None once a token was taken; TRANSIENT when none came within max_wait_seconds."""
        deadline = time.monotonic() + self._max_wait
        while True:
            wait = await limiter.acquire(key)
            if wait is None:
                return None
            if time.monotonic() + wait > deadline:
                return ProviderOutcome.transient(
                    code="status_budget",
                    message="status-query budget spent: not sent",
                    retry_after_seconds=wait,
                )
            await anyio.sleep(wait)


def budgeted(
    gateway: ProviderGateway,
    budgets: Mapping[ProviderId, int],
    *,
    redis: Redis | None,
    clock: Clock,
    egress: str = "default",
    max_wait_seconds: float = 2.0,
) -> ProviderGateway:
    """`gateway` with a status budget per provider in `budgets`: in Redis when given (one
    bucket for every worker), else in this process. No budgets: `gateway` itself."""
    limiters: dict[ProviderId, RateLimiter] = {}
    for provider, per_second in budgets.items():
        capacity, rate = bucket_shape(per_second)
        if redis is not None:
            from synccash.adapters.redis.ratelimit import RedisRateLimiter  # noqa: PLC0415

            limiters[provider] = RedisRateLimiter(
                redis, capacity=capacity, per_second=rate, clock=clock, prefix=BUDGET_PREFIX
            )
        else:
            limiters[provider] = MemoryRateLimiter(capacity=capacity, per_second=rate, clock=clock)
    if not limiters:
        return gateway
    return BudgetedGateway(
        gateway, limiters, egress=egress or "default", max_wait_seconds=max_wait_seconds
    )
