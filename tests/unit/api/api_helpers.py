"""Shared helpers for API tests (settings, bodies, problem assertions)."""

from __future__ import annotations

from typing import Any

from synccash.adapters.settings import Settings

SECRET = "unit-test-secret-key-long-enough-for-hs256-and-hs512-" + "x" * 16
MERCHANT = "merchant-a"
OTHER_MERCHANT = "merchant-b"
ALL = ("payments:write", "payments:read", "reports:read")


def make_settings(**overrides: str) -> Settings:
    """Settings for tests: a long JWT key and a generous rate limit unless overridden."""
    env = {
        "JWT_SECRET_KEY": SECRET,
        "RATE_LIMIT_BURST": "10000",
        "RATE_LIMIT_PER_SECOND": "10000",
        **overrides,
    }
    return Settings.from_env(env)


def initiate_body(**changes: Any) -> dict[str, Any]:
    """A valid initiate request body, with top-level fields replaced by `changes`."""
    body: dict[str, Any] = {
        "amount": "12.50",
        "currency": "GHS",
        "payer": {"msisdn": "0241234567"},
        "payee": {"msisdn": "0551234567"},
        "description": "Order 123",
        "reference": "order-123",
        "metadata": {"cart": 7},
    }
    body.update(changes)
    return body


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith(code)
    assert problem["title"]
    assert problem["instance"]
    return problem


async def run_ready_tasks(container: Any, rounds: int = 20) -> list[Any]:
    """Let the worker side handle every task that is ready now; returns the tasks handled."""
    handled: list[Any] = []
    for _ in range(rounds):
        deliveries = await container.queue.consume("api-tests", count=50)
        if not deliveries:
            break
        for delivery in deliveries:
            await container.lifecycle.handle(delivery.task)
            await container.queue.ack(delivery)
            handled.append(delivery.task)
    return handled
