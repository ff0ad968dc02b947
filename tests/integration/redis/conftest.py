"""Real Redis for the Redis adapter tests: TEST_REDIS_URL (default db 15), flushed per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from synccash.adapters.engines.resp import LeanRedis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client on the test database, empty at the start of each test."""
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
async def lean(redis: Redis) -> AsyncIterator[LeanRedis]:
    """A pipelined connection to the test database (closed after)."""
    connection = LeanRedis.from_client(redis)
    assert connection is not None
    try:
        yield connection
    finally:
        connection.close()


class RoundTrips:
    """How many times clients of one `counting_redis` wrote to the socket (one per round trip)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
async def counting_redis(redis: Redis) -> AsyncIterator[tuple[Redis, RoundTrips]]:
    """A second client on the (emptied) test database that counts its round trips."""
    trips = RoundTrips()

    class CountingConnection(Connection):
        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            trips.count += 1
            await super().send_packed_command(command, check_health)

    pool = ConnectionPool.from_url(REDIS_URL, connection_class=CountingConnection)
    client = Redis(connection_pool=pool)
    await client.ping()  # connect now: the handshake is not counted
    trips.count = 0
    try:
        yield client, trips
    finally:
        await client.aclose()
        await pool.aclose()
