"""Fixtures for API handler tests: the app over the in-memory container, tokens, request bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import pytest
from api_helpers import ALL, MERCHANT, initiate_body, make_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.settings import Settings
from synccash.api import create_app, mint_token


@pytest.fixture
def settings() -> Settings:
    """Test settings."""
    return make_settings()


@pytest.fixture
def container(settings: Settings) -> Container:
    """Everything in memory."""
    return wire(settings)


@pytest.fixture
def app(container: Container) -> Litestar:
    """The API over the in-memory container."""
    return create_app(container)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An ASGI test client."""
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
def auth(settings: Settings) -> Callable[..., dict[str, str]]:
    """Authorization headers for a merchant with scopes (all by default)."""

    def headers(
        merchant: str = MERCHANT, scopes: Iterable[str] = ALL, key: str | None = None
    ) -> dict[str, str]:
        result = {"Authorization": f"Bearer {mint_token(settings, merchant, scopes)}"}
        if key is not None:
            result["Idempotency-Key"] = key
        return result

    return headers


@pytest.fixture
def initiate(
    client: AsyncTestClient[Litestar], auth: Callable[..., dict[str, str]]
) -> Callable[..., Any]:
    """POST /payments/initiate with a key; returns the response."""

    async def post(
        body: dict[str, Any] | None = None, key: str = "key-1", merchant: str = MERCHANT
    ) -> Any:
        return await client.post(
            "/api/v1/payments/initiate",
            json=body if body is not None else initiate_body(),
            headers=auth(merchant, key=key),
        )

    return post
