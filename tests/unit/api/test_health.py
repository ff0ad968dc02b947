"""Health, readiness, liveness and metrics."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from synccash.api import create_app


class _DatabaseDown:
    """The container with an unreachable database."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def check_database(self) -> float:
        raise ConnectionRefusedError("database is down")


async def test_cheap_health_and_liveness(client):
    """/health and /health/live answer ok without dependencies."""
    for path in ("/api/v1/health", "/api/v1/health/live", "/health/live"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_answers(client):
    """Ready is 200 with a working database."""
    assert (await client.get("/api/v1/health/ready")).status_code == 200


async def test_not_ready_when_the_database_is_down(container):
    """Ready is a 503 problem when the database is unreachable; live stays 200."""
    app = create_app(_DatabaseDown(container))
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/api/v1/health/ready")
        live = await client.get("/health/live")
        detailed = await client.get("/api/v1/health/detailed")
    assert ready.status_code == 503
    assert ready.json()["code"] == "database_unavailable"
    assert live.status_code == 200
    assert detailed.status_code == 503
    assert detailed.json()["status"] == "down"
    assert detailed.json()["checks"]["database"]["status"] == "down"


async def test_detailed_lists_database_redis_and_providers(client):
    """Detailed health names every dependency with a status."""
    response = await client.get("/api/v1/health/detailed")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] in ("ok", "degraded")
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    assert "latency_ms" in checks["database"]
    assert checks["redis"]["status"] == "not_configured"
    assert all(
        checks[f"provider:{name}"]["latency_ms"] >= 0 for name in ("mtn", "airteltigo", "telecel")
    )
    assert {k for k in checks if k.startswith("provider:")} == {
        "provider:mtn",
        "provider:airteltigo",
        "provider:telecel",
    }


async def test_metrics_count_requests_by_route_and_status(client, initiate):
    """Requests are counted by route template (not raw path) and status."""
    await initiate()
    await client.get("/api/v1/payments/abc/status")
    text = (await client.get("/metrics")).text
    assert (
        'synccash_api_requests_total{method="POST",route="/api/v1/payments/initiate",status="202"} 1.0'
        in text
    )
    assert 'route="/api/v1/payments/{payment_id}/status",status="401"' in text
    assert 'synccash_payments_initiated_total{currency="GHS"} 1.0' in text
    assert "synccash_api_request_duration_seconds_bucket" in text
    assert 'synccash_queue_depth{depth="ready"} 1.0' in text  # the initiated payment's task


async def test_metrics_keep_counting_the_same_route_and_status(client, initiate):
    """Every request counts, not only the first one of a route and status."""
    for n in range(3):
        await initiate(key=f"key-{n}")
    text = (await client.get("/metrics")).text
    assert (
        'synccash_api_requests_total{method="POST",route="/api/v1/payments/initiate",status="202"} 3.0'
        in text
    )
    assert (
        'synccash_api_request_duration_seconds_count{method="POST",'
        'route="/api/v1/payments/initiate"} 3.0' in text
    )
