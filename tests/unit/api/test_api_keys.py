"""API keys and the merchant registry at the API: who may call, into which account it collects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from api_helpers import assert_problem, initiate_body, make_settings
from attrs import evolve
from litestar import Litestar
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import Container, wire
from synccash.adapters.memory.clock import ManualClock
from synccash.adapters.merchants import ApiKeys, Merchant, MerchantStatus
from synccash.api import create_app, mint_token

SHOP = "shop-42"
OTHER = "shop-99"
ALL = ("payments:write", "payments:read", "reports:read")


@pytest.fixture
def clock() -> ManualClock:
    """The container's clock."""
    return ManualClock()


@pytest.fixture
def container(clock: ManualClock) -> Container:
    """In-memory container on a manual clock."""
    return wire(make_settings(), clock=clock)


@pytest.fixture
def keys(container: Container) -> ApiKeys:
    """The container's API keys."""
    assert container.api_keys is not None
    return container.api_keys


@pytest.fixture
async def merchants(keys: ApiKeys, clock: ManualClock) -> None:
    """shop-42 (with a sub-account) and shop-99 registered."""
    await keys.registry.add_merchant(
        Merchant(SHOP, "Shop 42", MerchantStatus.ACTIVE, clock.now(), accounts=("shop-42-till",))
    )
    await keys.registry.add_merchant(Merchant(OTHER, "Shop 99", MerchantStatus.ACTIVE, clock.now()))


@pytest.fixture
async def client(container: Container, merchants: None) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The API over the container."""
    async with AsyncTestClient(app=create_app(container)) as test_client:
        yield test_client


def bearer(secret: str, key: str | None = None) -> dict[str, str]:
    """Authorization (and Idempotency-Key) headers."""
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def test_an_api_key_authenticates_its_merchant_and_is_shown_once(client, keys):
    """sk_test_ key: the payment belongs to its merchant; only a keyed hash is stored."""
    issued = await keys.issue(SHOP, ALL)
    assert issued.secret.startswith("sk_test_")
    body = initiate_body(payee={"merchant_account": SHOP})
    response = await client.post(
        "/api/v1/payments/initiate", json=body, headers=bearer(issued.secret, "k1")
    )
    assert response.status_code == 202, response.text
    fetched = await client.get(
        f"/api/v1/payments/{response.json()['id']}", headers=bearer(issued.secret)
    )
    assert fetched.status_code == 200
    stored = await keys.registry.key_by_hash(keys.hash(issued.secret))
    assert stored is not None
    assert issued.secret not in repr(stored)
    assert issued.secret not in repr(issued)
    assert stored.last_used_at is not None


async def test_another_merchants_key_sees_a_404(client, keys):
    """A merchant never sees another merchant's payment, API keys included."""
    mine, theirs = await keys.issue(SHOP, ALL), await keys.issue(OTHER, ALL)
    body = initiate_body(payee={"merchant_account": SHOP})
    created = await client.post(
        "/api/v1/payments/initiate", json=body, headers=bearer(mine.secret, "k1")
    )
    response = await client.get(
        f"/api/v1/payments/{created.json()['id']}", headers=bearer(theirs.secret)
    )
    assert_problem(response, 404, "payment_not_found")


@pytest.mark.parametrize(
    ("account", "status"), [(SHOP, 202), ("shop-42-till", 202), (OTHER, 403), ("shop-42-x", 403)]
)
async def test_a_merchant_collects_only_into_itself_or_its_sub_accounts(
    client, keys, account, status
):
    """shop-42 may collect into shop-42 and shop-42-till, never into shop-99."""
    issued = await keys.issue(SHOP, ALL)
    body = initiate_body(payee={"merchant_account": account})
    response = await client.post(
        "/api/v1/payments/initiate", json=body, headers=bearer(issued.secret, "k")
    )
    if status == 403:
        assert_problem(response, 403, "payee_account_not_allowed")
    else:
        assert response.status_code == status, response.text


async def test_an_unregistered_jwt_merchant_collects_only_into_its_own_id(client):
    """Development tokens for unregistered merchants: own id only (shop-7 cannot pay shop-42)."""
    token = mint_token(make_settings(), "shop-7", ALL)
    for account, status in (("shop-7", 202), (SHOP, 403)):
        body = initiate_body(payee={"merchant_account": account})
        response = await client.post(
            "/api/v1/payments/initiate", json=body, headers=bearer(token, f"k-{account}")
        )
        assert response.status_code == status, response.text


async def test_scopes_of_a_key_are_enforced(client, keys):
    """A read-only key cannot create payments (403 insufficient_scope)."""
    issued = await keys.issue(SHOP, ["payments:read"])
    response = await client.post(
        "/api/v1/payments/initiate", json=initiate_body(), headers=bearer(issued.secret, "k1")
    )
    assert_problem(response, 403, "insufficient_scope")
    assert (await client.get("/api/v1/payments", headers=bearer(issued.secret))).status_code == 200


async def test_revoked_expired_and_unknown_keys_are_401(client, keys, clock):
    """Each refusal has its own code; nothing about the key is echoed."""
    revoked = await keys.issue(SHOP, ALL)
    await keys.revoke(revoked.record.id)
    expiring = await keys.issue(SHOP, ALL, expires_at=clock.now() + timedelta(hours=1))
    assert (
        await client.get("/api/v1/payments", headers=bearer(expiring.secret))
    ).status_code == 200
    clock.advance(hours=1)
    cases = [
        (revoked.secret, "api_key_revoked"),
        (expiring.secret, "api_key_expired"),
        ("sk_test_" + "x" * 40, "invalid_api_key"),
    ]
    for secret, code in cases:
        response = await client.get("/api/v1/payments", headers=bearer(secret))
        problem = assert_problem(response, 401, code)
        assert secret not in response.text, problem


async def test_a_disabled_merchant_is_refused_with_keys_and_tokens(client, keys, clock):
    """Disabling a merchant stops its keys and its JWTs (403 merchant_disabled)."""
    issued = await keys.issue(SHOP, ALL)
    merchant = await keys.registry.merchant(SHOP)
    assert merchant is not None
    await keys.registry.update_merchant(evolve(merchant, status=MerchantStatus.DISABLED))
    clock.advance(seconds=11)  # past the lookup cache
    token = mint_token(make_settings(), SHOP, ALL)
    for credential in (issued.secret, token):
        response = await client.get("/api/v1/payments", headers=bearer(credential))
        assert_problem(response, 403, "merchant_disabled")
