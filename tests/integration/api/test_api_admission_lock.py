"""Admission takes the rate-limit token and the in-flight lock in one Redis command.

A request refused at admission takes no lock, and one that fails before its handler
(body validation) frees the lock at once, so the key is never left busy for the lock TTL.
"""

from __future__ import annotations

import httpx
import pytest

from synccash.adapters.bootstrap import bootstrap
from synccash.adapters.memory.ratelimit import MemoryLocks
from synccash.adapters.redis.ratelimit import RedisLocks, RedisRateLimiter
from synccash.api import create_app, mint_token
from synccash.api.idempotency import lock_name

pytestmark = pytest.mark.integration

URL = "/api/v1/payments/initiate"
BODY = {
    "amount": "12.50",
    "payer": {"msisdn": "0241234567"},
    "payee": {"msisdn": "0551234567"},
    "reference": "order-1",
}


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def _headers(settings, merchant: str, key: str) -> dict[str, str]:
    token = mint_token(settings, merchant, ["payments:write", "payments:read"])
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


async def _lock_exists(container, merchant: str, key: str) -> bool:
    return bool(await container.redis.exists(container.locks.key(lock_name(merchant, key))))


async def test_a_body_rejected_before_the_handler_frees_the_key(container, merchant):
    """A 4xx from body validation leaves no lock behind: the corrected request is 202 at once."""
    settings = container.settings
    async with _client(create_app(container)) as client:
        bad = await client.post(
            URL, json={"amount": "12.50"}, headers=_headers(settings, merchant, "k")
        )
        held = await _lock_exists(container, merchant, "k")
        good = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "k"))
    assert bad.status_code in (400, 422), bad.text
    assert not held
    assert good.status_code == 202, good.text
    assert not await _lock_exists(container, merchant, "k")


async def test_a_rate_limited_request_takes_no_lock(make_settings, merchant):
    """429 at admission: the key's lock was never taken."""
    settings = make_settings(RATE_LIMIT_BURST="1", RATE_LIMIT_PER_SECOND="1")
    async with bootstrap(settings) as limited, _client(create_app(limited)) as client:
        first = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "a"))
        second = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "b"))
        held = await _lock_exists(limited, merchant, "b")
    assert first.status_code == 202, first.text
    assert second.status_code == 429
    assert not held


async def test_acquire_and_lock_in_one_script(container, merchant):
    """Granted + free -> a token; granted + held -> None; refused -> a wait and no lock."""
    redis = container.redis
    locks = RedisLocks(redis, prefix=f"test:{merchant}:lock:")
    limiter = RedisRateLimiter(
        redis, capacity=2, per_second=0.01, prefix=f"test:{merchant}:bucket:"
    )
    wait, token = await limiter.acquire_and_lock("m", locks, "x", 5_000)
    assert wait is None
    assert token is not None
    assert await locks.try_lock("x", 5_000) is None  # really held, by that token
    assert await limiter.acquire_and_lock("m", locks, "x", 5_000) == (None, None)
    wait, token = await limiter.acquire_and_lock("m", locks, "y", 5_000)
    assert wait is not None
    assert wait > 0
    assert token is None
    assert await locks.try_lock("y", 5_000) is not None  # the refused call took nothing


async def test_acquire_and_lock_with_other_locks_takes_both_in_turn(container, merchant):
    """Locks that are not on the limiter's Redis are taken after the token, separately."""
    limiter = RedisRateLimiter(
        container.redis, capacity=1, per_second=0.01, prefix=f"test:{merchant}:bucket:"
    )
    locks = MemoryLocks()
    wait, token = await limiter.acquire_and_lock("m", locks, "x", 5_000)
    assert wait is None
    assert token is not None
    assert await locks.try_lock("x", 5_000) is None
    wait, token = await limiter.acquire_and_lock("m", locks, "z", 5_000)
    assert wait is not None
    assert token is None
    assert await locks.try_lock("z", 5_000) is not None
