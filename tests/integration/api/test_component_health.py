"""A worker's failing component (its outbox relay) shows in the API's detailed health check."""

from __future__ import annotations

import httpx
import pytest

from synccash.adapters.failures import FailureLog
from synccash.adapters.redis.components import publish_components, read_components
from synccash.api import create_app

pytestmark = pytest.mark.integration


async def test_a_workers_failing_relay_shows_in_the_detailed_health(container, merchant):
    """The worker reports through Redis; the API lists it as failing, overall degraded."""
    worker = FailureLog()
    worker.failed("outbox_relay", ConnectionError("connection is closed"))
    worker.succeeded("scheduler")  # a component that never failed is not listed
    process = f"worker-{merchant}"
    await publish_components(container.redis, process, worker.statuses())
    assert [s.component for s in (await read_components(container.redis))[process]] == [
        "outbox_relay"
    ]
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        health = await client.get("/api/v1/health/detailed")
    check = health.json()["checks"][f"component:{process}:outbox_relay"]
    assert check["status"] == "failing"
    assert check["error"] == "ConnectionError: connection is closed"
    assert check["detail"]["failures"] == 1
    assert health.json()["status"] == "degraded"
    await container.redis.delete(f"synccash:components:{process}")
