"""Several outbox relays on one PostgreSQL outbox publish every event exactly once (SKIP LOCKED)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from attrs import define, field
from prometheus_client import CollectorRegistry
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.memory.repository import InMemoryUnitOfWorkFactory
from synccash.adapters.sql import SqlOutbox, make_engine, migrate
from synccash.adapters.sql._tables import outbox
from synccash.core.ports import OutboxRow
from synccash.worker.metrics import WorkerMetrics
from synccash.worker.relay import OutboxRelay

pytestmark = pytest.mark.integration

DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _admin(sql: str) -> None:
    admin = create_async_engine(
        make_url(DATABASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    """A throwaway migrated PostgreSQL database, dropped after the test."""
    name = f"synccash_relay_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate(url)
        eng = make_engine(url, pool_size=5)
        try:
            yield eng
        finally:
            await eng.dispose()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@define
class SlowRecordingPublisher:
    """Records published event ids; yields while publishing so relays interleave."""

    published: list[str] = field(factory=list)

    async def publish(
        self, event_id: str, payment_id: str, type_: str, data: Mapping[str, Any]
    ) -> None:
        """Record one event."""
        await anyio.sleep(0.001)
        self.published.append(event_id)

    async def publish_rows(self, rows: Sequence[OutboxRow]) -> None:
        """Record a batch."""
        for row in rows:
            await self.publish(row.id, row.payment_id, row.type, row.payload)


async def test_concurrent_relays_publish_each_event_exactly_once(engine: AsyncEngine):
    """Three relays draining 300 rows in batches of 20 never publish a row twice or skip one."""
    t0 = datetime(2026, 1, 15, 10, tzinfo=UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "payment_id": f"pay_{i // 3}",
            "event_seq": i % 3,
            "type": "payment.pending",
            "payload": {"n": i},
            "created_at": t0 + timedelta(milliseconds=i),
            "published_at": None,
        }
        for i in range(300)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), rows)
    publisher = SlowRecordingPublisher()
    relays = [
        OutboxRelay(
            SqlOutbox(engine),
            uow=InMemoryUnitOfWorkFactory(),
            clock=ManualClock(),
            publisher=publisher,
            batch=20,
            metrics=WorkerMetrics(CollectorRegistry()),
        )
        for _ in range(3)
    ]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.run_once():
            pass

    async with anyio.create_task_group() as tg:
        for relay in relays:
            tg.start_soon(drain, relay)
    assert len(publisher.published) == 300
    assert set(publisher.published) == {r["id"] for r in rows}
    assert await SqlOutbox(engine).count_unpublished() == 0
