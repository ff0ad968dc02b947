"""Raw-HTTP helpers for the Telecel (Hubtel-shaped) sandbox in tests."""

from __future__ import annotations

import base64
import uuid

import httpx

from synccash.sandbox.telecel import DEFAULT_CREDENTIALS

POS = DEFAULT_CREDENTIALS["merchant_account"]
PREPAID = DEFAULT_CREDENTIALS["prepaid_account"]


def basic() -> dict[str, str]:
    """The Basic auth header."""
    raw = f"{DEFAULT_CREDENTIALS['client_id']}:{DEFAULT_CREDENTIALS['client_secret']}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


async def receive(
    http: httpx.AsyncClient,
    base: str,
    msisdn: str,
    *,
    amount: float = 10.5,
    reference: str | None = None,
    callback: str = "http://127.0.0.1:9/unused",
    description: str = "Order 1",
) -> tuple[str, httpx.Response]:
    """POST receive money; returns (ClientReference, response)."""
    reference = reference or uuid.uuid4().hex
    body = {
        "CustomerName": "Test Payer",
        "CustomerMsisdn": msisdn,
        "Channel": "vodafone-gh",
        "Amount": amount,
        "PrimaryCallbackUrl": callback,
        "Description": description,
        "ClientReference": reference,
    }
    response = await http.post(
        f"{base}/merchantaccount/merchants/{POS}/receive/mobilemoney", headers=basic(), json=body
    )
    return reference, response


async def status(http: httpx.AsyncClient, base: str, reference: str) -> httpx.Response:
    """GET the receive-money status check."""
    return await http.get(
        f"{base}/transactions/{POS}/status", params={"clientReference": reference}, headers=basic()
    )


async def send(
    http: httpx.AsyncClient, base: str, msisdn: str, *, amount: float = 3, account: str = PREPAID
) -> tuple[str, httpx.Response]:
    """POST send money on `account` (the Prepaid Deposit account by default)."""
    reference = uuid.uuid4().hex
    body = {
        "RecipientName": "Ama",
        "RecipientMsisdn": msisdn,
        "Channel": "vodafone-gh",
        "Amount": amount,
        "PrimaryCallbackURL": "http://127.0.0.1:9/cb",
        "Description": "Payout",
        "ClientReference": reference,
    }
    response = await http.post(
        f"{base}/api/merchants/{account}/send/mobilemoney", headers=basic(), json=body
    )
    return reference, response
