"""Token bucket and lock behaviour, the same on Redis and in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import pytest
from attrs import define
from redis.asyncio import Redis

from conftest import REDIS_URL
from synccash.adapters.coordination import Locks, RateLimiter
from synccash.adapters.engines.resp import LeanRedis
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.ratelimit import MemoryLocks, MemoryRateLimiter
from synccash.adapters.redis.ratelimit import RedisLocks, RedisRateLimiter

pytestmark = pytest.mark.integration

LOCK_TTL_MS = 100


@define
class Coordination:
    """A rate limiter (burst 5, 10/s), locks, the clock, and how to let a lock expire."""

    limiter: RateLimiter
    locks: Locks
    clock: ManualClock
    expire_locks: Callable[[], Awaitable[None]]


@pytest.fixture(params=["memory", "redis+pipelined", "redis+redis-py"])
async def coord(request: pytest.FixtureRequest) -> AsyncIterator[Coordination]:
    """The implementation under test (Redis with the pipelined-connection engine on and off)."""
    clock = ManualClock()
    if request.param == "memory":

        async def expire_memory() -> None:
            clock.advance(seconds=1)

        yield Coordination(
            MemoryRateLimiter(capacity=5, per_second=10, clock=clock),
            MemoryLocks(clock=clock),
            clock,
            expire_memory,
        )
        return
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()

    async def expire_redis() -> None:
        # PX expiry runs on the Redis server's clock.
        await anyio.sleep(LOCK_TTL_MS * 1.5 / 1000)

    lean = LeanRedis.from_client(redis) if request.param == "redis+pipelined" else None
    try:
        yield Coordination(
            RedisRateLimiter(redis, capacity=5, per_second=10, clock=clock, lean=lean),
            RedisLocks(redis, lean=lean),
            clock,
            expire_redis,
        )
    finally:
        await redis.flushdb()
        await redis.aclose()
        if lean is not None:
            lean.close()


async def test_bucket_allows_a_burst_then_says_how_long_to_wait(coord: Coordination):
    """Five requests pass at once, the sixth is told to wait one refill interval (0.1 s)."""
    results = [await coord.limiter.acquire("merchant-1") for _ in range(6)]
    assert results[:5] == [None] * 5
    assert results[5] == pytest.approx(0.1)


async def test_bucket_refills_with_time(coord: Coordination):
    """After the burst, 200 ms of refill at 10/s allows exactly two more requests."""
    for _ in range(5):
        await coord.limiter.acquire("merchant-1")
    coord.clock.advance(seconds=0.2)
    results = [await coord.limiter.acquire("merchant-1") for _ in range(3)]
    assert [r is None for r in results] == [True, True, False]


async def test_buckets_are_per_key(coord: Coordination):
    """One merchant exhausting its bucket does not limit another."""
    for _ in range(6):
        await coord.limiter.acquire("merchant-1")
    assert await coord.limiter.acquire("merchant-2") is None


async def test_bucket_never_exceeds_its_capacity(coord: Coordination):
    """A long idle period refills to the burst size, not beyond."""
    await coord.limiter.acquire("merchant-1")
    coord.clock.advance(hours=1)
    results = [await coord.limiter.acquire("merchant-1") for _ in range(6)]
    assert [r is None for r in results] == [True] * 5 + [False]


async def test_lock_is_exclusive_until_released(coord: Coordination):
    """A held lock refuses a second taker; after release it can be taken again."""
    token = await coord.locks.try_lock("leader", 10_000)
    assert token is not None
    assert await coord.locks.try_lock("leader", 10_000) is None
    assert await coord.locks.release("leader", token)
    assert await coord.locks.try_lock("leader", 10_000) is not None


async def test_release_with_a_stale_token_keeps_the_new_owner(coord: Coordination):
    """A holder whose lock expired cannot release or extend the next owner's lock."""
    old = await coord.locks.try_lock("leader", LOCK_TTL_MS)
    assert old is not None
    await coord.expire_locks()
    new = await coord.locks.try_lock("leader", 10_000)
    assert new is not None
    assert not await coord.locks.release("leader", old)
    assert not await coord.locks.extend("leader", old, 10_000)
    assert await coord.locks.try_lock("leader", 10_000) is None
    assert await coord.locks.release("leader", new)


async def test_extend_keeps_the_lock_past_its_first_ttl(coord: Coordination):
    """An owner that extends its lock still holds it after the original TTL."""
    token = await coord.locks.try_lock("leader", LOCK_TTL_MS)
    assert token is not None
    assert await coord.locks.extend("leader", token, 60_000)
    await coord.expire_locks()
    assert await coord.locks.try_lock("leader", 10_000) is None
