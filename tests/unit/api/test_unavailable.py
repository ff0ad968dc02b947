"""A database or Redis outage is a 503 problem with Retry-After, not a 500."""

from __future__ import annotations

import pytest
from api_helpers import MERCHANT
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, OperationalError

from synccash.adapters.bootstrap import wire
from synccash.api import create_app, mint_token


class _PgError(Exception):
    """What SQLAlchemy's asyncpg adapter puts in `.orig`: the server's SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


class _Down:
    """A payments service whose database has gone away."""

    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    async def get(self, merchant_id: str, payment_id: str):
        raise self._exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        RedisConnectionError("Connection refused"),
        DBAPIError("SELECT 1", {}, _PgError("57P03")),  # the database system is starting up
        DBAPIError("SELECT 1", {}, _PgError("57P01")),  # terminating connection (restart)
        DBAPIError("SELECT 1", {}, _PgError("08006")),  # connection failure
    ],
    ids=["socket", "sqlalchemy", "redis", "starting-up", "admin-shutdown", "connection-failure"],
)
async def test_dependency_outage_is_503_with_retry_after(exc):
    """Clients learn to retry (same Idempotency-Key) instead of seeing an internal error."""
    container = wire()
    container.payments = _Down(exc)  # type: ignore[assignment]
    token = mint_token(container.settings, MERCHANT, ["payments:read"])
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.get(
            "/api/v1/payments/00000000-0000-7000-8000-000000000001",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "service_unavailable"
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    "exc",
    [ZeroDivisionError("bug"), DBAPIError("INSERT", {}, _PgError("23505"))],
    ids=["bug", "unique-violation"],
)
async def test_a_bug_is_still_a_500(exc):
    """Only connection failures are 503: anything else stays an internal error."""
    container = wire()
    container.payments = _Down(exc)  # type: ignore[assignment]
    token = mint_token(container.settings, MERCHANT, ["payments:read"])
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.get(
            "/api/v1/payments/00000000-0000-7000-8000-000000000001",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


async def test_an_outage_is_logged_quietly_and_flagged():
    """Fifty 503s in a row: one failure episode with its count, a flag the health check shows."""
    container = wire()
    container.payments = _Down(ConnectionRefusedError(111, "Connection refused"))  # type: ignore[assignment]
    token = mint_token(container.settings, MERCHANT, ["payments:read"])
    async with AsyncTestClient(app=create_app(container)) as client:
        for _ in range(50):
            await client.get(
                "/api/v1/payments/00000000-0000-7000-8000-000000000001",
                headers={"Authorization": f"Bearer {token}"},
            )
        health = await client.get("/api/v1/health/detailed")
    [status] = container.failures.statuses()
    assert (status.component, status.failing, status.failures) == ("api_requests", True, 50)
    assert health.json()["checks"]["component:api_requests"]["status"] == "failing"
