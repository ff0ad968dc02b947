"""Raw-HTTP helpers for talking to the MTN sandbox in tests."""

from __future__ import annotations

import base64
import uuid

import httpx

from synccash.sandbox.mtn import DEFAULT_CREDENTIALS

ENV = {"X-Target-Environment": "sandbox"}


def subscription(product: str) -> dict[str, str]:
    """The product's subscription-key header."""
    return {"Ocp-Apim-Subscription-Key": DEFAULT_CREDENTIALS[f"{product}_subscription_key"]}


async def token(http: httpx.AsyncClient, base: str, product: str = "collection") -> str:
    """A bearer token for a product."""
    user = DEFAULT_CREDENTIALS[f"{product}_user_id"]
    key = DEFAULT_CREDENTIALS[f"{product}_api_key"]
    basic = base64.b64encode(f"{user}:{key}".encode()).decode()
    response = await http.post(
        f"{base}/{product}/token/",
        headers={"Authorization": f"Basic {basic}", **subscription(product)},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def auth(http: httpx.AsyncClient, base: str, product: str = "collection") -> dict[str, str]:
    """Every header a business call needs."""
    bearer = await token(http, base, product)
    return {"Authorization": f"Bearer {bearer}", **subscription(product), **ENV}


def rtp_body(msisdn: str, amount: str = "100", currency: str = "GHS") -> dict:
    """A request-to-pay body."""
    return {
        "amount": amount,
        "currency": currency,
        "externalId": "order-1",
        "payer": {"partyIdType": "MSISDN", "partyId": msisdn},
        "payerMessage": "Pay for order 1",
        "payeeNote": "order 1",
    }


async def request_to_pay(
    http: httpx.AsyncClient,
    base: str,
    headers: dict[str, str],
    msisdn: str,
    *,
    amount: str = "100",
    reference: str | None = None,
    callback: str | None = None,
) -> tuple[str, httpx.Response]:
    """POST requesttopay; returns (reference, response)."""
    reference = reference or str(uuid.uuid4())
    extra = {"X-Reference-Id": reference}
    if callback:
        extra["X-Callback-Url"] = callback
    response = await http.post(
        f"{base}/collection/v1_0/requesttopay",
        headers={**headers, **extra},
        json=rtp_body(msisdn, amount),
    )
    return reference, response


async def rtp_status(
    http: httpx.AsyncClient, base: str, headers: dict[str, str], reference: str
) -> httpx.Response:
    """GET requesttopay/{reference}."""
    return await http.get(f"{base}/collection/v1_0/requesttopay/{reference}", headers=headers)
