"""Migrations up and down, no drift between models and migrations, and startup checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from payments_factory import T0
from sqlalchemy import inspect, text

from synccash.adapters.settings import Settings
from synccash.adapters.sql import (
    DatabaseUnavailable,
    DeliveryStatus,
    SchemaBehind,
    SqlWebhookDeliveries,
    check_schema,
    create_engine_from_settings,
    downgrade,
    head_revision,
    make_engine,
    migrate,
    schema_drift,
)

pytestmark = pytest.mark.integration

TABLES = {
    "alembic_version",
    "api_keys",
    "merchants",
    "blocklist",
    "ledger_balances",
    "ledger_entries",
    "ledger_postings",
    "outbox",
    "payment_attempts",
    "payment_events",
    "payments",
    "reconciliation_items",
    "reconciliation_runs",
    "risk_audit",
    "risk_reviews",
    "statement_lines",
    "webhook_deliveries",
    "webhook_endpoints",
}


async def _tables(url):
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture
def empty_pg(pg_server):
    """An empty PostgreSQL database of its own, dropped after the test."""
    url = pg_server.create("synccash_migrations")
    yield url
    pg_server.drop(url)


async def test_postgres_upgrade_downgrade_upgrade_without_drift(empty_pg):
    """Empty -> head -> base -> head works on PostgreSQL and the models match the migrations."""
    await migrate(empty_pg)
    assert await _tables(empty_pg) == TABLES
    await downgrade(empty_pg, "base")
    assert await _tables(empty_pg) == {"alembic_version"}
    await migrate(empty_pg)

    assert await _tables(empty_pg) == TABLES
    assert await schema_drift(empty_pg) == []


async def test_sqlite_migrates_without_drift(tmp_path):
    """The same migrations build the SQLite schema, matching the models."""
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/dir/db.sqlite3"
    await migrate(url)
    await downgrade(url, "base")
    await migrate(url)

    assert await _tables(url) == TABLES
    assert await schema_drift(url) == []


async def test_check_schema_tells_to_migrate_an_empty_database(empty_pg, tmp_path):
    """Startup on an unmigrated database says to run `synccash migrate`."""
    for url in (empty_pg, f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3"):
        engine = make_engine(url)
        try:
            with pytest.raises(SchemaBehind, match=r"run `synccash migrate`"):
                await check_schema(engine)
            await migrate(url)
            await check_schema(engine)
        finally:
            await engine.dispose()


async def test_check_schema_refuses_a_newer_schema(tmp_path):
    """A database migrated by newer code is refused with what to do."""
    url = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3"
    await migrate(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaBehind, match="newer than this code"):
            await check_schema(engine)
    finally:
        await engine.dispose()


async def test_check_schema_explains_an_unreachable_server():
    """An unreachable PostgreSQL is a clear error saying how to start it."""
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(DatabaseUnavailable, match=r"unreachable.*start PostgreSQL"):
            await check_schema(engine)
    finally:
        await engine.dispose()


async def test_migrate_explains_an_unreachable_server():
    """`synccash migrate` against a stopped PostgreSQL fails with how to start it."""
    with pytest.raises(DatabaseUnavailable, match=r"unreachable.*start PostgreSQL"):
        await migrate("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")


async def test_engine_from_settings_uses_pool_settings(pg_url):
    """DATABASE_URL and the pool sizes from Settings reach the engine."""
    settings = Settings.from_env(
        {"DATABASE_URL": pg_url, "DATABASE_POOL_SIZE": "7", "DATABASE_MAX_OVERFLOW": "3"}
    )
    engine = create_engine_from_settings(settings)
    try:
        assert engine.pool.size() == 7
        assert engine.pool._max_overflow == 3
        await check_schema(engine)
    finally:
        await engine.dispose()


def test_head_revision_is_the_latest_migration():
    """The packaged migrations have one head."""
    assert head_revision() == "0008"


async def test_webhook_deliveries_retry_then_succeed(sqlite_engine):
    """A delivery is due until delivered; failures are counted with the next try time."""
    deliveries = SqlWebhookDeliveries(sqlite_engine)
    first = await deliveries.create(
        outbox_id="o1", payment_id="p1", url="https://m.example/h", now=T0
    )
    again = await deliveries.create(
        outbox_id="o1", payment_id="p1", url="https://m.example/h", now=T0
    )
    assert first == again
    assert [d.id for d in await deliveries.due(T0, 10)] == [first]

    await deliveries.record_attempt(
        first,
        at=T0,
        status_code=500,
        error="server error",
        delivered=False,
        next_attempt_at=T0 + timedelta(seconds=30),
    )
    assert await deliveries.due(T0 + timedelta(seconds=29), 10) == []
    assert len(await deliveries.due(T0 + timedelta(seconds=30), 10)) == 1

    await deliveries.record_attempt(
        first,
        at=T0 + timedelta(seconds=30),
        status_code=200,
        error=None,
        delivered=True,
        next_attempt_at=None,
    )
    stored = await deliveries.get(first)
    assert (stored.status, stored.attempts, stored.last_status_code) == (
        DeliveryStatus.DELIVERED,
        2,
        200,
    )
    assert await deliveries.due(T0 + timedelta(days=1), 10) == []


async def test_webhook_delivery_gives_up_without_next_try(pg_engine):
    """No next attempt after a failure marks the delivery FAILED."""
    deliveries = SqlWebhookDeliveries(pg_engine)
    delivery = await deliveries.create(outbox_id="o1", payment_id="p1", url="https://x", now=T0)

    await deliveries.record_attempt(
        delivery, at=T0, status_code=None, error="timeout", delivered=False, next_attempt_at=None
    )

    stored = await deliveries.get(delivery)
    assert (stored.status, stored.last_error, stored.next_attempt_at) == (
        DeliveryStatus.FAILED,
        "timeout",
        None,
    )
