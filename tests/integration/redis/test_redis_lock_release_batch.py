"""RedisLocks.release: concurrent releases share round trips; each caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from conftest import REDIS_URL
from synccash.adapters.redis.ratelimit import RedisLocks

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A flushed test database."""
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def test_concurrent_releases_are_coalesced_and_compare_their_tokens(redis: Redis):
    """20 releases at once: owners free their locks, stale tokens free nothing, fewer trips."""
    locks = RedisLocks(redis)
    tokens = [await locks.try_lock(f"k{i}", 10_000) for i in range(20)]
    assert all(tokens)
    # odd locks are released with someone else's token: they must stay held
    attempts = [(f"k{i}", t if i % 2 == 0 else "stale") for i, t in enumerate(tokens)]
    results = await asyncio.gather(*(locks.release(k, t) for k, t in attempts if t is not None))
    assert results == [i % 2 == 0 for i in range(20)]
    assert locks.releases == 20
    assert locks.release_round_trips < 20  # the ones queued behind the first went together
    for i in range(20):
        held = await redis.exists(locks.key(f"k{i}"))
        assert held == (i % 2 == 1)
    # a lone release after the burst still goes out on its own, at once
    again = await locks.try_lock("k0", 10_000)
    assert again is not None
    assert await locks.release("k0", again)


async def test_a_failed_round_trip_fails_every_release_in_it():
    """No Redis: every caller sees the error (the lock would expire by its TTL)."""
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    locks = RedisLocks(dead)
    try:
        results = await asyncio.gather(
            *(locks.release(f"k{i}", "t") for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
        assert not locks._queued  # nothing left waiting
    finally:
        await dead.aclose()
