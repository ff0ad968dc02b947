"""Per-merchant rate limiting: 429 with Retry-After, before any other work."""

from __future__ import annotations

import attrs
from api_helpers import MERCHANT, OTHER_MERCHANT, assert_problem
from litestar.testing import AsyncTestClient

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.ratelimit import MemoryRateLimiter
from synccash.api import create_app


async def test_burst_then_429_with_retry_after(container, auth):
    """After the burst, the merchant gets 429 + Retry-After; another merchant does not."""
    clock = ManualClock()
    limiter = MemoryRateLimiter(capacity=3, per_second=0.5, clock=clock)
    app = create_app(attrs.evolve(container, rate_limiter=limiter))
    async with AsyncTestClient(app=app) as client:
        statuses = [
            (await client.get("/api/v1/payments", headers=auth(MERCHANT))).status_code
            for _ in range(3)
        ]
        limited = await client.get("/api/v1/payments", headers=auth(MERCHANT))
        other = await client.get("/api/v1/payments", headers=auth(OTHER_MERCHANT))
        clock.advance(seconds=2)
        after_wait = await client.get("/api/v1/payments", headers=auth(MERCHANT))
    assert statuses == [200, 200, 200]
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 200
    assert after_wait.status_code == 200


async def test_rate_limit_comes_before_body_and_key_checks(container, auth):
    """A limited merchant gets 429 even for a request that would be a 400."""
    limiter = MemoryRateLimiter(capacity=1, per_second=0.001, clock=ManualClock())
    app = create_app(attrs.evolve(container, rate_limiter=limiter))
    async with AsyncTestClient(app=app) as client:
        await client.get("/api/v1/payments", headers=auth())
        response = await client.post(
            "/api/v1/payments/initiate", content=b"{broken", headers=auth()
        )
    assert_problem(response, 429, "rate_limited")


async def test_rate_limited_requests_are_counted(container, auth):
    """The 429s show in /metrics."""
    limiter = MemoryRateLimiter(capacity=1, per_second=0.001, clock=ManualClock())
    app = create_app(attrs.evolve(container, rate_limiter=limiter))
    async with AsyncTestClient(app=app) as client:
        for _ in range(3):
            await client.get("/api/v1/payments", headers=auth())
        metrics = (await client.get("/metrics")).text
    assert "synccash_api_rate_limited_total 2.0" in metrics
