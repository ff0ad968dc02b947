"""The merchant registry and API key records in SQL (PostgreSQL or SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from synccash.adapters.merchants import (
    ApiKey,
    Merchant,
    MerchantExists,
    MerchantNotFound,
    MerchantStatus,
)
from synccash.adapters.sql._tables import metadata
from synccash.adapters.sql._types import JsonDoc, UtcDateTime

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),
    # registered sub-accounts the merchant may collect into (besides its own id)
    Column("accounts", JsonDoc, nullable=False),
    Column("settings", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "merchant_id",
        String(128),
        ForeignKey("merchants.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    # hex HMAC-SHA256 of the key with API_KEY_SECRET: the key itself is never stored
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("label", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
)
Index("ix_api_keys_merchant", api_keys.c.merchant_id, api_keys.c.created_at)


def _merchant(m: RowMapping) -> Merchant:
    return Merchant(
        id=m["id"],
        name=m["name"],
        status=MerchantStatus(m["status"]),
        created_at=m["created_at"],
        accounts=tuple(m["accounts"]),
        settings=dict(m["settings"]),
    )


def _key(m: RowMapping) -> ApiKey:
    return ApiKey(
        id=m["id"],
        merchant_id=m["merchant_id"],
        prefix=m["prefix"],
        scopes=frozenset(m["scopes"].split()),
        created_at=m["created_at"],
        label=m["label"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


class SqlMerchantRegistry:
    """MerchantRegistry on SQLAlchemy Core (`merchants`, `api_keys`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Over an async engine."""
        self._engine = engine

    async def add_merchant(self, merchant: Merchant) -> None:
        """Register a merchant; MerchantExists if the id is taken."""
        values = {
            "id": merchant.id,
            "name": merchant.name,
            "status": merchant.status.value,
            "accounts": list(merchant.accounts),
            "settings": dict(merchant.settings),
            "created_at": merchant.created_at,
            "updated_at": merchant.created_at,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(merchants.insert().values(values))
        except IntegrityError:
            raise MerchantExists(f"merchant {merchant.id!r} already exists") from None

    async def merchant(self, merchant_id: str) -> Merchant | None:
        """One merchant, or None."""
        async with self._engine.connect() as conn:
            row = (
                (await conn.execute(select(merchants).where(merchants.c.id == merchant_id)))
                .mappings()
                .first()
            )
        return None if row is None else _merchant(row)

    async def merchants(self) -> Sequence[Merchant]:
        """Every merchant, by id."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(merchants).order_by(merchants.c.id))).mappings()
            return [_merchant(r) for r in rows]

    async def update_merchant(self, merchant: Merchant) -> None:
        """Store a changed merchant."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(merchants)
                .where(merchants.c.id == merchant.id)
                .values(
                    name=merchant.name,
                    status=merchant.status.value,
                    accounts=list(merchant.accounts),
                    settings=dict(merchant.settings),
                    updated_at=datetime.now(merchant.created_at.tzinfo),
                )
            )
        if result.rowcount == 0:
            raise MerchantNotFound(f"no merchant {merchant.id!r}")

    async def add_key(self, key: ApiKey, key_hash: str) -> None:
        """Store a key record under the key's hash."""
        async with self._engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    merchant_id=key.merchant_id,
                    key_hash=key_hash,
                    prefix=key.prefix,
                    scopes=" ".join(sorted(key.scopes)),
                    label=key.label,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    revoked_at=key.revoked_at,
                    last_used_at=key.last_used_at,
                )
            )

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The record of the key with this hash."""
        return await self._one(api_keys.c.key_hash == key_hash)

    async def key(self, key_id: str) -> ApiKey | None:
        """One key record."""
        return await self._one(api_keys.c.id == key_id)

    async def _one(self, where: ColumnElement[bool]) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(where))).mappings().first()
        return None if row is None else _key(row)

    async def keys(self, merchant_id: str | None = None) -> Sequence[ApiKey]:
        """Key records (of one merchant), oldest first."""
        stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if merchant_id is not None:
            stmt = stmt.where(api_keys.c.merchant_id == merchant_id)
        async with self._engine.connect() as conn:
            return [_key(r) for r in (await conn.execute(stmt)).mappings()]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark a key revoked (the first revocation time stays)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return await self.key(key_id)

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at `at`."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at)
            )


__all__ = ["SqlMerchantRegistry", "api_keys", "merchants"]
