"""The merchant registry contract over memory, SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attrs import evolve

from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.merchants import (
    ApiKeys,
    InMemoryMerchantRegistry,
    KeyStatus,
    Merchant,
    MerchantExists,
    MerchantRegistry,
    MerchantStatus,
)
from synccash.adapters.sql import SqlMerchantRegistry

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def registry(request: pytest.FixtureRequest) -> MerchantRegistry:
    """One registry implementation."""
    if request.param == "memory":
        return InMemoryMerchantRegistry()
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    return SqlMerchantRegistry(engine)


async def test_merchants_round_trip_and_ids_are_unique(registry: MerchantRegistry):
    """A merchant reads back as stored; a second one with its id is refused; updates stick."""
    clock = ManualClock()
    shop = Merchant(
        "shop-42", "Shop 42", MerchantStatus.ACTIVE, clock.now(), ("till-1",), {"tier": "a"}
    )
    await registry.add_merchant(shop)
    assert shop == await registry.merchant("shop-42")
    with pytest.raises(MerchantExists):
        await registry.add_merchant(evolve(shop, name="other"))
    await registry.update_merchant(evolve(shop, status=MerchantStatus.DISABLED))
    stored = await registry.merchant("shop-42")
    assert stored is not None
    assert stored.status is MerchantStatus.DISABLED
    assert [m.id for m in await registry.merchants()] == ["shop-42"]
    assert await registry.merchant("nobody") is None


async def test_keys_verify_by_keyed_hash_expire_revoke_and_record_use(registry: MerchantRegistry):
    """The full key life on each store: valid, used, expired, revoked; the key is never stored."""
    clock = ManualClock()
    await registry.add_merchant(Merchant("shop-42", "Shop", MerchantStatus.ACTIVE, clock.now()))
    keys = ApiKeys(registry, secret="s" * 32, clock=clock, cache_ttl=timedelta(0))
    forever = await keys.issue("shop-42", ["payments:read"], label="pos")
    clock.advance(seconds=1)
    brief = await keys.issue(
        "shop-42", ["payments:read"], expires_at=clock.now() + timedelta(minutes=5)
    )
    check = await keys.verify(forever.secret)
    assert (check.status, check.key and check.key.scopes) == (
        KeyStatus.VALID,
        frozenset({"payments:read"}),
    )
    stored = await registry.key(forever.record.id)
    assert stored is not None
    assert stored.last_used_at == clock.now()  # recorded on first use
    assert forever.secret not in {stored.prefix, stored.label, stored.id}
    assert (await registry.key_by_hash(forever.secret)) is None  # stored only under its HMAC
    other_secret = ApiKeys(registry, secret="t" * 32, clock=clock)
    assert (await other_secret.verify(forever.secret)).status is KeyStatus.UNKNOWN
    clock.advance(minutes=5)
    assert (await keys.verify(brief.secret)).status is KeyStatus.EXPIRED
    first = await keys.revoke(forever.record.id)
    clock.advance(minutes=1)
    again = await keys.revoke(forever.record.id)
    assert first.revoked_at == again.revoked_at  # idempotent: the first time stays
    assert (await keys.verify(forever.secret)).status is KeyStatus.REVOKED
    assert [k.id for k in await registry.keys("shop-42")] == [forever.record.id, brief.record.id]
