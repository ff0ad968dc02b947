"""Real PostgreSQL (a throwaway migrated database per run) and Redis for the API tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from synccash.adapters.bootstrap import Container, bootstrap
from synccash.adapters.settings import Settings
from synccash.adapters.sql import migrate

DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "integration-secret-key-long-enough-for-hs256-" + "y" * 20


async def _admin(sql: str) -> None:
    engine = create_async_engine(
        make_url(DATABASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def api_database_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this run, dropped at the end."""
    name = f"synccash_api_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {DATABASE_URL}: {exc}", pytrace=False)
    url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def make_settings(api_database_url: str) -> Callable[..., Settings]:
    """Settings on the run's database and the test Redis, with overrides."""

    def build(**overrides: str) -> Settings:
        return Settings.from_env(
            {
                "DATABASE_URL": api_database_url,
                "REDIS_URL": REDIS_URL,
                "JWT_SECRET_KEY": SECRET,
                "WEBHOOK_SECRET": SECRET + "-webhooks",
                "API_KEY_SECRET": SECRET + "-api-keys",
                "RATE_LIMIT_BURST": "10000",
                "RATE_LIMIT_PER_SECOND": "10000",
                # The API never calls a provider on its request path; no sandboxes needed.
                "SANDBOX_MODE": "external",
                **overrides,
            }
        )

    return build


@pytest.fixture
async def container(make_settings: Callable[..., Settings]) -> AsyncIterator[Container]:
    """The production container: PostgreSQL, Redis, embedded sandboxes."""
    async with bootstrap(make_settings()) as built:
        yield built


@pytest.fixture
def merchant() -> str:
    """A merchant id of its own per test (Redis and the database are shared)."""
    return f"m-{uuid.uuid4().hex[:12]}"
