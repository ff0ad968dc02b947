"""The API over PostgreSQL and Redis: durability, idempotency across app instances, rate limits."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import bootstrap
from synccash.api import create_app, create_app_from_settings, mint_token
from synccash.api.idempotency import LOCK_TTL_MS, in_flight, lock_name

pytestmark = pytest.mark.integration

BODY = {
    "amount": "12.50",
    "payer": {"msisdn": "0241234567"},
    "payee": {"msisdn": "0551234567"},
    "reference": "order-1",
}
URL = "/api/v1/payments/initiate"


def _client(app) -> httpx.AsyncClient:
    """An in-loop client: the container's PostgreSQL/Redis connections belong to this loop."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


def _headers(settings, merchant: str, key: str | None = None) -> dict[str, str]:
    scopes = ["payments:write", "payments:read", "reports:read"]
    headers = {"Authorization": f"Bearer {mint_token(settings, merchant, scopes)}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def test_initiate_is_committed_and_replays(container, merchant):
    """202 means stored: a second app over another container sees it; the replay is 200."""
    settings = container.settings
    async with _client(create_app(container)) as client:
        created = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "k1"))
    assert created.status_code == 202, created.text
    async with bootstrap(settings) as other, _client(create_app(other)) as client:
        replay = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "k1"))
        fetched = await client.get(
            f"/api/v1/payments/{created.json()['id']}", headers=_headers(settings, merchant)
        )
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == created.json()["id"]
    assert fetched.json()["events"][0]["type"] == "payment.initiated"


async def test_concurrent_identical_requests_on_two_instances_make_one_payment(container, merchant):
    """30 identical requests split over two app instances: exactly one payment."""
    settings = container.settings
    async with (
        bootstrap(settings) as second,
        _client(create_app(container)) as a,
        _client(create_app(second)) as b,
    ):
        headers = _headers(settings, merchant, "storm")
        responses = await asyncio.gather(
            *((a if n % 2 else b).post(URL, json=BODY, headers=headers) for n in range(30))
        )
        listing = await a.get("/api/v1/payments", headers=_headers(settings, merchant))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 202, 409}
    ids = {r.json()["id"] for r in responses if r.status_code in (200, 202)}
    assert len(ids) == 1
    assert [p["id"] for p in listing.json()["items"]] == list(ids)


async def test_key_in_flight_elsewhere_is_409(container, merchant):
    """A request whose key is being processed by another instance (Redis lock) gets 409."""
    settings = container.settings
    async with bootstrap(settings) as other, _client(create_app(other)) as client:
        async with in_flight(container.locks, merchant, "busy"):
            busy = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "busy"))
        after = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "busy"))
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_key_in_flight"
    assert after.status_code == 202


async def test_rate_limit_is_shared_through_redis(make_settings, merchant):
    """The bucket lives in Redis: two instances share one merchant budget."""
    settings = make_settings(RATE_LIMIT_BURST="4", RATE_LIMIT_PER_SECOND="1")
    async with (
        bootstrap(settings) as one,
        bootstrap(settings) as two,
        _client(create_app(one)) as a,
        _client(create_app(two)) as b,
    ):
        headers = _headers(settings, merchant)
        started = time.monotonic()
        responses = [
            await (a if n % 2 else b).get("/api/v1/payments", headers=headers) for n in range(8)
        ]
        elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    assert statuses[:4] == [200, 200, 200, 200]
    # 4 from the burst plus at most one refilled token per second that passed
    assert statuses.count(200) <= 4 + int(elapsed) + 1
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert int(limited[0].headers["retry-after"]) >= 1


async def test_detailed_health_sees_postgres_and_redis(container):
    """Detailed health reports the database and Redis with latencies."""
    async with _client(create_app(container)) as client:
        response = await client.get("/api/v1/health/detailed")
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] == "ok"
    assert checks["redis"]["latency_ms"] >= 0


async def test_app_from_settings_opens_and_closes_the_container(make_settings, merchant):
    """create_app_from_settings: the lifespan bootstraps; requests work; ready is 200."""
    settings = make_settings()
    app = create_app_from_settings(settings)
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/api/v1/health/ready")
        created = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "life"))
    assert ready.status_code == 200
    assert created.status_code == 202, created.text


async def test_a_committed_payment_wins_over_a_lock_left_by_a_dead_request(container, merchant):
    """An API died right after committing, still holding the key's lock: the client's
    retry with the same key gets the stored payment (200 replay) at once, not 409."""
    settings = container.settings
    async with _client(create_app(container)) as client:
        created = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "dead"))
        # the lock as the dead process left it (it never got to release it)
        held = await container.locks.try_lock(lock_name(merchant, "dead"), LOCK_TTL_MS)
        retry = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "dead"))
        other = await client.post(
            URL, json={**BODY, "amount": "13.00"}, headers=_headers(settings, merchant, "dead")
        )
    assert created.status_code == 202
    assert held is not None
    assert (retry.status_code, retry.json()["id"]) == (200, created.json()["id"])
    assert retry.headers["idempotent-replayed"] == "true"
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_the_api_works_with_every_engine_off(make_settings, merchant):
    """Plain httpx, plain redis-py and no group commit: initiate, replay, rate limit, read."""
    settings = make_settings(
        ENGINE_PROVIDER_HTTP="httpx", ENGINE_REDIS="redis-py", ENGINE_GROUP_COMMIT="off"
    )
    async with bootstrap(settings) as container, _client(create_app(container)) as client:
        assert container.uow.group is None
        created = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "off"))
        replay = await client.post(URL, json=BODY, headers=_headers(settings, merchant, "off"))
        status = await client.get(
            f"/api/v1/payments/{created.json()['id']}/status", headers=_headers(settings, merchant)
        )
    assert (created.status_code, replay.status_code, status.status_code) == (202, 200, 200)
    assert replay.json()["id"] == created.json()["id"]
