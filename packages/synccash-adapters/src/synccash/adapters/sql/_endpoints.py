"""Merchants' webhook endpoints in SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Index, String, Table, Text, delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.sql._tables import metadata
from synccash.adapters.sql._types import JsonDoc, UtcDateTime
from synccash.adapters.webhook_endpoints import WebhookEndpoint

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    # no foreign key: merchants with development JWTs need not be registered
    Column("merchant_id", String(128), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", JsonDoc, nullable=False),
    Column("description", Text, nullable=False),
    # signing needs the secret itself (it is never returned after creation or rotation)
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_expires_at", UtcDateTime),
    Column("last_seq", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_webhook_endpoints_merchant", webhook_endpoints.c.merchant_id)


def _endpoint(m: RowMapping) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=m["id"],
        merchant_id=m["merchant_id"],
        url=m["url"],
        event_types=tuple(m["event_types"]),
        created_at=m["created_at"],
        secret=m["secret"],
        description=m["description"],
        previous_secret=m["previous_secret"],
        previous_expires_at=m["previous_expires_at"],
    )


class SqlWebhookEndpoints:
    """WebhookEndpointStore on SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Over an async engine."""
        self._engine = engine

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Store a new endpoint."""
        async with self._engine.begin() as conn:
            await conn.execute(
                webhook_endpoints.insert().values(
                    id=endpoint.id,
                    merchant_id=endpoint.merchant_id,
                    url=endpoint.url,
                    event_types=list(endpoint.event_types),
                    description=endpoint.description,
                    secret=endpoint.secret,
                    previous_secret=endpoint.previous_secret,
                    previous_expires_at=endpoint.previous_expires_at,
                    last_seq=0,
                    created_at=endpoint.created_at,
                )
            )

    async def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """One of the merchant's endpoints."""
        stmt = select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.merchant_id == merchant_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else _endpoint(row)

    async def of_merchant(self, merchant_id: str) -> Sequence[WebhookEndpoint]:
        """The merchant's endpoints, oldest first."""
        stmt = (
            select(webhook_endpoints)
            .where(webhook_endpoints.c.merchant_id == merchant_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        async with self._engine.connect() as conn:
            return [_endpoint(r) for r in (await conn.execute(stmt)).mappings()]

    async def by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        """An endpoint by id alone."""
        stmt = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else _endpoint(row)

    async def update(self, endpoint: WebhookEndpoint) -> None:
        """Store changed secrets."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint.id)
                .values(
                    secret=endpoint.secret,
                    previous_secret=endpoint.previous_secret,
                    previous_expires_at=endpoint.previous_expires_at,
                )
            )

    async def delete(self, merchant_id: str, endpoint_id: str) -> bool:
        """Remove an endpoint; False if there was none."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(webhook_endpoints).where(
                    webhook_endpoints.c.id == endpoint_id,
                    webhook_endpoints.c.merchant_id == merchant_id,
                )
            )
        return bool(result.rowcount)

    async def next_seq(self, endpoint_id: str) -> int:
        """Take the endpoint's next sequence number (one atomic UPDATE … RETURNING)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(last_seq=webhook_endpoints.c.last_seq + 1)
                .returning(webhook_endpoints.c.last_seq)
            )
            value = result.scalar_one_or_none()
        return 0 if value is None else int(value)


__all__ = ["SqlWebhookEndpoints", "webhook_endpoints"]
