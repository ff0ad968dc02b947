"""Raw-HTTP helpers for the AT Money (Airtel-shaped) sandbox in tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from synccash.adapters.providers._airtel_crypto import encrypt_pin, load_public_key, sign_body
from synccash.sandbox.airteltigo import DEFAULT_CREDENTIALS

#: The sandbox's public key per base URL, fetched with the token.
_KEYS: dict[str, Any] = {}


async def at_headers(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    """Bearer token plus X-Country/X-Currency."""
    response = await http.post(
        f"{base}/auth/oauth2/token",
        json={
            "client_id": DEFAULT_CREDENTIALS["client_id"],
            "client_secret": DEFAULT_CREDENTIALS["client_secret"],
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Country": "GH", "X-Currency": "GHS"}
    _KEYS[base] = await public_key(http, base, headers)  # before a test injects faults
    return headers


async def pay(
    http: httpx.AsyncClient,
    base: str,
    headers: dict[str, str],
    nsn: str,
    *,
    amount: float = 10,
    txn_id: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> tuple[str, httpx.Response]:
    """POST /merchant/v1/payments/; returns (transaction id, response)."""
    txn_id = txn_id or str(uuid.uuid4())
    body = {
        "reference": "order1234",
        "subscriber": {"country": "GH", "currency": "GHS", "msisdn": nsn},
        "transaction": {"amount": amount, "country": "GH", "currency": "GHS", "id": txn_id},
    }
    response = await signed_post(
        http, f"{base}/merchant/v1/payments/", {**headers, **(extra_headers or {})}, body
    )
    return txn_id, response


async def public_key(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> Any:
    """The sandbox's RSA public key from GET /v1/rsa/encryption-keys."""
    response = await http.get(f"{base}/v1/rsa/encryption-keys", headers=headers)
    assert response.status_code == 200, response.text
    return load_public_key(response.json()["data"]["key"])


async def signed_post(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    """POST `body` with Airtel's x-signature / x-key (the key fetched from the sandbox)."""
    base = url.split("/merchant/", maxsplit=1)[0].split("/standard/", maxsplit=1)[0]
    key = _KEYS.get(base) or await public_key(http, base, headers)
    content = json.dumps(body).encode()
    signed = {**headers, **sign_body(key, content), "Content-Type": "application/json"}
    return await http.post(url, headers=signed, content=content)


async def encrypted_pin(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> str:
    """The default PIN encrypted with the sandbox's key."""
    key = _KEYS.get(base) or await public_key(http, base, headers)
    return encrypt_pin(key, DEFAULT_CREDENTIALS["pin"])


async def enquiry(http: httpx.AsyncClient, base: str, headers: dict[str, str], txn_id: str) -> dict:
    """GET /standard/v1/payments/{id} -> the JSON envelope."""
    response = await http.get(f"{base}/standard/v1/payments/{txn_id}", headers=headers)
    assert response.status_code == 200
    return response.json()
