"""Auth matrix: 401 for missing/invalid tokens, 403 for a missing scope, 404 across merchants."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from api_helpers import MERCHANT, OTHER_MERCHANT, SECRET, assert_problem, initiate_body

from synccash.api.auth import AuthError, mint_token, principal_from_header

URL = "/api/v1/payments/initiate"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": MERCHANT,
        "merchant_id": MERCHANT,
        "scope": "payments:write payments:read",
        "iss": "synccash",
        "iat": now,
        "exp": now + 600,
        **extra,
    }


async def test_missing_token_is_401(client):
    """No Authorization header: 401 with a Bearer challenge."""
    response = await client.post(URL, json=initiate_body(), headers={"Idempotency-Key": "k"})
    assert_problem(response, 401, "missing_token")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_non_bearer_scheme_is_401(client):
    """Basic auth is not accepted."""
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "Idempotency-Key": "k"}
    response = await client.post(URL, json=initiate_body(), headers=headers)
    assert_problem(response, 401, "invalid_token")


async def test_bad_signature_is_401(client):
    """A token signed with another key is rejected."""
    token = jwt.encode(_claims(), "another-secret-key-of-sufficient-length!!", algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    assert_problem(
        await client.post(URL, json=initiate_body(), headers=headers), 401, "invalid_token"
    )


async def test_alg_none_is_401(client):
    """An unsigned token (alg none) is rejected."""
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    assert_problem(
        await client.post(URL, json=initiate_body(), headers=headers), 401, "invalid_token"
    )


async def test_other_hmac_algorithm_is_401(client):
    """HS512 with the right key is still refused: only HS256 is allowed."""
    token = jwt.encode(_claims(), SECRET, algorithm="HS512")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    assert_problem(
        await client.post(URL, json=initiate_body(), headers=headers), 401, "invalid_token"
    )


async def test_expired_token_is_401(client):
    """An expired token is rejected with its own code."""
    token = jwt.encode(_claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    assert_problem(
        await client.post(URL, json=initiate_body(), headers=headers), 401, "token_expired"
    )


async def test_token_without_merchant_is_401(client):
    """A validly signed token that names no merchant is rejected."""
    claims = _claims()
    del claims["sub"], claims["merchant_id"]
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    assert_problem(
        await client.post(URL, json=initiate_body(), headers=headers), 401, "invalid_token"
    )


async def test_sub_claim_alone_names_the_merchant(client):
    """Without merchant_id, `sub` is the merchant."""
    claims = _claims()
    del claims["merchant_id"]
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    response = await client.post(URL, json=initiate_body(), headers=headers)
    assert response.status_code == 202, response.text


async def test_wrong_scope_is_403(client, auth):
    """A read-only token cannot create payments."""
    headers = auth(scopes=["payments:read"], key="k")
    response = await client.post(URL, json=initiate_body(), headers=headers)
    assert_problem(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_reports_need_reports_scope(client, auth):
    """payments:* scopes do not open the daily report."""
    headers = auth(scopes=["payments:read", "payments:write"])
    response = await client.get("/api/v1/reports/daily", headers=headers)
    assert_problem(response, 403, "insufficient_scope")


async def test_other_merchants_payment_is_404(client, auth, initiate):
    """Merchant B cannot see, cancel or refund merchant A's payment: it does not exist for B."""
    created = await initiate()
    payment_id = created.json()["id"]
    other = auth(OTHER_MERCHANT, key="k-b")
    for response in (
        await client.get(f"/api/v1/payments/{payment_id}", headers=other),
        await client.get(f"/api/v1/payments/{payment_id}/status", headers=other),
        await client.post(f"/api/v1/payments/{payment_id}/cancel", headers=other),
        await client.post(f"/api/v1/payments/{payment_id}/refund", json={}, headers=other),
    ):
        assert_problem(response, 404, "payment_not_found")
    mine = await client.get(f"/api/v1/payments/{payment_id}", headers=auth())
    assert mine.status_code == 200


async def test_callbacks_and_health_need_no_token(client):
    """Providers and probes call without a token."""
    assert (await client.post("/api/v1/callbacks/mtn", content=b"{}")).status_code == 200
    assert (await client.get("/api/v1/health")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


def test_minted_token_round_trips(settings):
    """mint_token produces what principal_from_header accepts."""
    token = mint_token(settings, "m-42", ["payments:read", "reports:read"], ttl_seconds=60)
    principal = principal_from_header(settings, f"Bearer {token}")
    assert principal.merchant_id == "m-42"
    assert principal.scopes == frozenset({"payments:read", "reports:read"})


def test_wrong_issuer_is_rejected(settings):
    """A token from another issuer is not ours."""
    token = jwt.encode(_claims(iss="someone-else"), SECRET, algorithm="HS256")
    with pytest.raises(AuthError) as caught:
        principal_from_header(settings, f"Bearer {token}")
    assert caught.value.status == 401


def test_token_cache_rechecks_expiry(settings):
    """A cached token stops working once it expires; other tokens are verified afresh."""
    from synccash.api.auth import TokenCache

    cache = TokenCache()
    token = mint_token(settings, "m-1", ["payments:read"], ttl_seconds=60)
    first = principal_from_header(settings, f"Bearer {token}", cache)
    assert principal_from_header(settings, f"Bearer {token}", cache) is first
    cache.put(settings.jwt_secret_key, token, first, expires=0.0)
    with pytest.raises(AuthError):
        principal_from_header(settings, "Bearer not-a-jwt", cache)
    assert cache.get(settings.jwt_secret_key, token) is None
