"""Idempotency-Key: replays, reuse with another body, missing key, in flight, concurrency."""

from __future__ import annotations

import asyncio

import attrs
from api_helpers import MERCHANT, OTHER_MERCHANT, assert_problem, initiate_body
from litestar.testing import AsyncTestClient

from synccash.adapters.memory.ratelimit import MemoryLocks
from synccash.api import create_app
from synccash.api.idempotency import fingerprint, in_flight, lock_name


async def test_replay_returns_the_same_payment_with_200(initiate):
    """Same key and body: 200, the same payment, Idempotent-Replayed: true."""
    first = await initiate()
    second = await initiate()
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]


async def test_replay_ignores_key_order_and_spacing(client, auth, initiate):
    """The fingerprint is over canonical JSON."""
    first = await initiate()
    body = (
        b'{ "payee": {"msisdn": "0551234567"}, "amount": "12.50", "currency": "GHS", '
        b'"payer": {"msisdn": "0241234567"}, "description": "Order 123", '
        b'"reference": "order-123", "metadata": {"cart": 7} }'
    )
    headers = {**auth(key="key-1"), "Content-Type": "application/json"}
    second = await client.post("/api/v1/payments/initiate", content=body, headers=headers)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]


async def test_same_key_different_body_is_422(initiate):
    """Reusing a key for another request is idempotency_key_reused."""
    await initiate()
    response = await initiate(initiate_body(amount="13.00"))
    assert_problem(response, 422, "idempotency_key_reused")


async def test_keys_are_per_merchant(initiate):
    """Two merchants may use the same key for different payments."""
    a = await initiate(merchant=MERCHANT)
    b = await initiate(merchant=OTHER_MERCHANT)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


async def test_missing_key_is_400(client, auth):
    """POST initiate without Idempotency-Key is refused before anything else."""
    response = await client.post("/api/v1/payments/initiate", json=initiate_body(), headers=auth())
    assert_problem(response, 400, "idempotency_key_missing")


async def test_key_in_flight_is_409(container, auth):
    """While the first request with a key runs, a second one gets 409."""
    locks = MemoryLocks()
    app = create_app(attrs.evolve(container, locks=locks))
    async with AsyncTestClient(app=app) as client, in_flight(locks, MERCHANT, "busy-key"):
        response = await client.post(
            "/api/v1/payments/initiate", json=initiate_body(), headers=auth(key="busy-key")
        )
    assert_problem(response, 409, "idempotency_key_in_flight")
    assert response.headers["retry-after"] == "1"


async def test_a_request_rejected_before_its_handler_leaves_the_key_free(container, auth):
    """The in-flight lock tried at admission is released when the body is refused."""
    locks = MemoryLocks()
    app = create_app(attrs.evolve(container, locks=locks))
    async with AsyncTestClient(app=app) as client:
        bad = await client.post(
            "/api/v1/payments/initiate", json={"amount": "1.00"}, headers=auth(key="k")
        )
        free = await locks.try_lock(lock_name(MERCHANT, "k"), 1_000)
    assert bad.status_code in (400, 422)
    assert free is not None


async def test_a_held_key_is_still_409_after_a_refused_body(container, auth):
    """Body errors come first (as before admission tried the lock); a held key stays held."""
    locks = MemoryLocks()
    app = create_app(attrs.evolve(container, locks=locks))
    async with AsyncTestClient(app=app) as client, in_flight(locks, MERCHANT, "busy"):
        bad = await client.post(
            "/api/v1/payments/initiate", json={"amount": "1.00"}, headers=auth(key="busy")
        )
        busy = await client.post(
            "/api/v1/payments/initiate", json=initiate_body(), headers=auth(key="busy")
        )
    assert bad.status_code in (400, 422)
    assert_problem(busy, 409, "idempotency_key_in_flight")


async def test_fifty_concurrent_identical_requests_create_one_payment(client, auth, initiate):
    """50 identical requests at once: one payment; the rest replay it or get 409."""
    responses = await asyncio.gather(*(initiate(key="storm") for _ in range(50)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 202, 409}
    assert statuses.count(202) == 1
    ids = {r.json()["id"] for r in responses if r.status_code in (200, 202)}
    assert len(ids) == 1
    listing = await client.get("/api/v1/payments", headers=auth())
    assert [p["id"] for p in listing.json()["items"]] == list(ids)


def test_fingerprint_depends_on_method_path_and_content():
    """Canonical JSON: key order and spaces do not matter; path and values do."""
    a = fingerprint("POST", "/p", b'{"a": 1, "b": [1, 2]}')
    assert a == fingerprint("post", "/p", b'{"b":[1,2],"a":1}')
    assert a != fingerprint("POST", "/q", b'{"a": 1, "b": [1, 2]}')
    assert a != fingerprint("POST", "/p", b'{"a": 2, "b": [1, 2]}')
