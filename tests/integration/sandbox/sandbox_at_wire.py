"""Raw-HTTP helpers for the AT Money (Airtel-shaped) sandbox in tests."""

from __future__ import annotations

import uuid

import httpx

from synccash.sandbox.airteltigo import DEFAULT_CREDENTIALS


async def at_headers(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    """Bearer token plus X-Country/X-Currency."""
    response = await http.post(
        f"{base}/auth/oauth2/token",
        json={**DEFAULT_CREDENTIALS, "grant_type": "client_credentials"},
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Country": "GH", "X-Currency": "GHS"}


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
    response = await http.post(
        f"{base}/merchant/v1/payments/", headers={**headers, **(extra_headers or {})}, json=body
    )
    return txn_id, response


async def enquiry(http: httpx.AsyncClient, base: str, headers: dict[str, str], txn_id: str) -> dict:
    """GET /standard/v1/payments/{id} -> the JSON envelope."""
    response = await http.get(f"{base}/standard/v1/payments/{txn_id}", headers=headers)
    assert response.status_code == 200
    return response.json()
