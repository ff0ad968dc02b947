"""Forged callbacks cannot amplify into provider calls (issue 16.7)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import ALL, initiate_body, make_settings, run_ready_tasks
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.gateway import FakeProviderGateway, Script
from synccash.adapters.settings import Settings
from synccash.api import create_app, mint_token
from synccash.api.callback_gate import CallbackGate
from synccash.core.outcomes import ProviderOutcome
from synccash.core.providers import ProviderId

PAYER = "0241234567"
FLOOD = 200


async def _stack(**env: str) -> tuple[Container, FakeProviderGateway, Settings]:
    settings = make_settings(**env)
    gateway = FakeProviderGateway()
    # The payer never approves: every status query answers "still pending".
    gateway.script(PAYER, Script(status=(ProviderOutcome.pending("PENDING"),)))
    return wire(settings, gateway=gateway), gateway, settings


@pytest.fixture
async def flood_client() -> AsyncIterator[tuple[AsyncTestClient[Any], Container, Any]]:
    """An app over a fake provider whose payer never approves; its container and gateway."""
    container, gateway, settings = await _stack()
    async with AsyncTestClient(app=create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {mint_token(settings, 'shop', ALL)}"
        yield client, container, gateway


async def _processing_reference(client: AsyncTestClient[Any], container: Container) -> str:
    body = initiate_body(payer={"msisdn": PAYER}, payee={"merchant_account": "shop"})
    created = await client.post(
        "/api/v1/payments/initiate", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    await run_ready_tasks(container)
    status = await client.get(f"/api/v1/payments/{created.json()['id']}/status")
    assert status.json()["state"] == "PROCESSING"
    return str(status.json()["attempts"][0]["reference"])


def _outcomes(metrics_text: str, provider: str = "mtn") -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in metrics_text.splitlines():
        if line.startswith("synccash_callbacks_total{") and f'provider="{provider}"' in line:
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = int(float(line.rsplit(" ", 1)[1]))
    return counts


async def test_a_flood_for_one_reference_makes_one_status_query(flood_client):
    """200 forged MTN callbacks for one real attempt: all 200, one queued, one status query."""
    client, container, gateway = flood_client
    reference = await _processing_reference(client, container)
    before = len(gateway.status_calls)
    answers = [
        (
            await client.put(f"/api/v1/callbacks/mtn/{reference}", json={"status": "SUCCESSFUL"})
        ).status_code
        for _ in range(FLOOD)
    ]
    await run_ready_tasks(container, rounds=50)
    outcomes = _outcomes((await client.get("/metrics")).text)
    assert (
        answers,
        len(gateway.status_calls) - before,
        outcomes["queued"],
        outcomes["coalesced"],
    ) == ([200] * FLOOD, 1, 1, FLOOD - 1)


async def test_a_callback_with_news_passes_the_window(flood_client):
    """A different claimed status (FAILED after SUCCESSFUL) is news: it queues a check."""
    client, container, _ = flood_client
    reference = await _processing_reference(client, container)
    for status in ("SUCCESSFUL", "SUCCESSFUL", "FAILED", "FAILED"):
        await client.put(f"/api/v1/callbacks/mtn/{reference}", json={"status": status})
    assert _outcomes((await client.get("/metrics")).text) == {"queued": 2, "coalesced": 2}


async def test_distinct_references_are_rate_limited_per_provider():
    """With a burst of 3, ten callbacks for ten unknown references look up only three."""
    container, _, _ = await _stack(
        CALLBACK_RATE_LIMIT_BURST="3", CALLBACK_RATE_LIMIT_PER_SECOND="1"
    )
    async with AsyncTestClient(app=create_app(container)) as client:
        for _ in range(10):
            await client.put(f"/api/v1/callbacks/mtn/{uuid.uuid4()}", json={"status": "FAILED"})
        # another provider has its own bucket
        telecel = await client.post(
            f"/api/v1/callbacks/telecel/{uuid.uuid4()}", json={"ResponseCode": "0000", "Data": {}}
        )
        metrics = (await client.get("/metrics")).text
    assert telecel.status_code == 200
    assert _outcomes(metrics) == {"unknown_reference": 3, "rate_limited": 7}
    assert _outcomes(metrics, "telecel") == {"unknown_reference": 1}


async def test_callbacks_from_outside_the_allowlist_are_ignored():
    """MTN_CALLBACK_ALLOWED_IPS set: the test client's address is outside: 200, ignored."""
    container, _, _ = await _stack(MTN_CALLBACK_ALLOWED_IPS="10.0.0.0/8")
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.put(f"/api/v1/callbacks/mtn/{uuid.uuid4()}", json={})
        metrics = (await client.get("/metrics")).text
    assert (response.status_code, _outcomes(metrics)) == (200, {"source_refused": 1})


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("10.1.2.3", True), ("192.168.1.1", False), ("::1", False), (None, False), ("x", False)],
)
def test_source_allowlist_matches_networks(host, allowed):
    """Addresses inside a listed network pass; others, and unparseable hosts, do not."""
    settings = Settings.from_env({"MTN_CALLBACK_ALLOWED_IPS": "10.0.0.0/8, 2001:db8::/32"})
    gate = CallbackGate(settings.callbacks)
    assert allowed == gate.source_allowed(ProviderId.MTN, host)
    assert gate.source_allowed(ProviderId.TELECEL, host)  # no list: any source
