"""Provider callbacks: always 200; only a known reference queues a status check."""

from __future__ import annotations

import json

import pytest
from api_helpers import make_settings
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import wire
from synccash.adapters.providers._airtel_crypto import callback_hash
from synccash.api import create_app
from synccash.core.ports import TaskKind


async def _queued_kinds(container) -> list[TaskKind]:
    deliveries = await container.queue.consume("test", count=100)
    return [d.task.kind for d in deliveries]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/callbacks/mtn", b"not json at all"),
        (
            "PUT",
            "/api/v1/callbacks/mtn/2f0e2c8e-1111-4aaa-8bbb-0123456789ab",
            b'{"status": "SUCCESSFUL"}',
        ),
        (
            "POST",
            "/api/v1/callbacks/airteltigo",
            b'{"transaction": {"id": "nope", "status_code": "TS"}}',
        ),
        ("POST", "/api/v1/callbacks/telecel", b"[]"),
        ("POST", "/api/v1/callbacks/paypal", b"{}"),
        ("PUT", "/api/v1/callbacks/mtn/x", b"\xff\xfe\x00garbage"),
    ],
)
async def test_garbage_and_unknown_callbacks_get_200(client, container, method, path, body):
    """Unreadable bodies, unknown references and unknown providers are acknowledged and ignored."""
    response = await client.request(method, path, content=body)
    assert response.status_code == 200
    assert response.json() == {"received": True}
    assert TaskKind.CHECK_STATUS not in await _queued_kinds(container)


async def test_oversized_callback_is_still_200(client, settings):
    """Even a too-large callback body is acknowledged (and ignored)."""
    body = json.dumps({"pad": "x" * (settings.max_body_bytes + 1)}).encode()
    response = await client.post("/api/v1/callbacks/mtn/ref", content=body)
    assert response.status_code == 200


async def test_callbacks_are_counted_by_outcome(client):
    """The callback counter records provider and outcome."""
    await client.post("/api/v1/callbacks/mtn", content=b"garbage")
    metrics = (await client.get("/metrics")).text
    assert 'synccash_callbacks_total{outcome="unreadable",provider="mtn"} 1.0' in metrics


@pytest.mark.parametrize(
    ("hashed_with", "outcome"),
    [(None, "unverified"), ("another-key", "unverified"), ("app-key", "unknown_reference")],
)
async def test_at_money_callback_authentication(hashed_with, outcome):
    """With AIRTELTIGO_CALLBACK_KEY set, an AT callback without Airtel's hash of its
    transaction under that key is refused (acknowledged, nothing queued)."""
    container = wire(make_settings(AIRTELTIGO_CALLBACK_KEY="app-key"))
    transaction = {"id": "ref-unknown", "message": "Paid", "status_code": "TS"}
    body: dict[str, object] = {"transaction": transaction}
    if hashed_with is not None:
        body["hash"] = callback_hash(transaction, hashed_with)
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.post("/api/v1/callbacks/airteltigo", content=json.dumps(body))
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    label = f'synccash_callbacks_total{{outcome="{outcome}",provider="airteltigo"}} 1.0'
    assert label in metrics
