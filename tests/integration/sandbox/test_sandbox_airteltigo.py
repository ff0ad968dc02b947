"""AT Money sandbox (Airtel Money Open API shape) over real HTTP, mounted at /airteltigo."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from sandbox_at_wire import at_headers, encrypted_pin, enquiry, pay, signed_post

pytestmark = pytest.mark.integration

NSN = "261234567"
KEY = "233" + NSN


@pytest.fixture
def at(combined):
    """(AT sandbox, AT base URL)."""
    app, url = combined
    return app["airteltigo"], f"{url}/airteltigo"


async def test_token_with_bad_credentials(http, at):
    """Wrong client secret gives Airtel's invalid_client 401."""
    _, base = at
    response = await http.post(
        f"{base}/auth/oauth2/token",
        json={
            "client_id": "synccash-at-client",
            "client_secret": "x",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_shape(http, at):
    """expires_in is a string, token_type bearer."""
    _, base = at
    response = await http.post(
        f"{base}/auth/oauth2/token",
        json={
            "client_id": "synccash-at-client",
            "client_secret": "synccash-at-secret",
            "grant_type": "client_credentials",
        },
    )
    body = response.json()
    assert (body["expires_in"], body["token_type"]) == ("180", "bearer")


async def test_bad_token_is_403_invalid_token(http, at):
    """An unknown bearer token gets 403 invalid_token."""
    _, base = at
    response = await http.get(
        f"{base}/standard/v1/payments/x",
        headers={"Authorization": "Bearer nope", "X-Country": "GH", "X-Currency": "GHS"},
    )
    assert (response.status_code, response.json()["error"]) == (403, "invalid_token")


async def test_missing_country_is_router110(http, at):
    """Without X-Country the gateway answers ROUTER110."""
    _, base = at
    headers = await at_headers(http, base)
    del headers["X-Country"]
    response = await http.get(f"{base}/standard/v1/payments/x", headers=headers)
    assert (response.status_code, response.json()["status_code"]) == (400, "ROUTER110")


async def test_payment_accepted_then_ts_with_one_debit(http, at):
    """Accepted with DP00800001006, enquiry says TS with an airtel_money_id; one debit."""
    sandbox, base = at
    headers = await at_headers(http, base)
    txn_id, response = await pay(http, base, headers, NSN, amount=12.5)
    body = response.json()
    assert response.status_code == 200
    assert body["status"]["response_code"] == "DP00800001006"
    assert body["status"]["success"] is True
    assert body["data"]["transaction"]["status"] == "SUCCESS"
    result = await enquiry(http, base, headers, txn_id)
    txn = result["data"]["transaction"]
    assert (txn["status"], txn["id"]) == ("TS", txn_id)
    assert txn["airtel_money_id"].startswith("MP")
    [entry] = sandbox.ledger.for_reference(txn_id)
    assert (entry.kind, entry.msisdn, entry.amount_minor) == ("debit", KEY, 1250)


async def test_duplicate_transaction_id_moves_money_once(http, at):
    """A reused transaction.id is a business error on HTTP 200; still one debit."""
    sandbox, base = at
    headers = await at_headers(http, base)
    txn_id, _ = await pay(http, base, headers, NSN)
    _, again = await pay(http, base, headers, NSN, txn_id=txn_id)
    assert again.status_code == 200
    assert again.json()["status"]["success"] is False
    assert len(sandbox.ledger.for_reference(txn_id)) == 1


async def test_unknown_transaction(http, at):
    """An id never accepted: success false, DP00800001025, HTTP 200."""
    _, base = at
    headers = await at_headers(http, base)
    body = await enquiry(http, base, headers, str(uuid.uuid4()))
    assert body["status"]["success"] is False
    assert body["status"]["response_code"] == "DP00800001025"


async def test_msisdn_must_be_national(http, at):
    """A number with the country code is refused (Airtel wants the 9-digit NSN)."""
    _, base = at
    headers = await at_headers(http, base)
    _, response = await pay(http, base, headers, KEY)
    assert response.json()["status"]["result_code"] == "ESB000033"


async def test_insufficient_funds(http, at, world):
    """A poor payer ends TF with DP00800001007 and no debit."""
    sandbox, base = at
    world.register(KEY, "airteltigo", balance_minor=100)
    headers = await at_headers(http, base)
    txn_id, _ = await pay(http, base, headers, NSN, amount=2)
    body = await enquiry(http, base, headers, txn_id)
    assert body["data"]["transaction"]["status"] == "TF"
    assert body["status"]["response_code"] == "DP00800001007"
    assert sandbox.ledger.debits() == ()


async def test_refund_is_full_and_once(http, at, world):
    """A refund by airtel_money_id returns the whole amount once, even when repeated."""
    sandbox, base = at
    headers = await at_headers(http, base)
    txn_id, _ = await pay(http, base, headers, NSN, amount=7)
    money_id = (await enquiry(http, base, headers, txn_id))["data"]["transaction"][
        "airtel_money_id"
    ]
    body = {"transaction": {"airtel_money_id": money_id}}
    url = f"{base}/standard/v1/payments/refund"
    first = await signed_post(http, url, headers, body)
    second = await signed_post(http, url, headers, body)
    assert first.json()["data"]["transaction"]["status"] == "SUCCESS"
    assert second.json()["data"]["transaction"]["status"] == "SUCCESS"
    refunds = [e for e in sandbox.ledger if e.kind == "refund"]
    assert [e.amount_minor for e in refunds] == [700]
    assert world.lookup(KEY).balance_minor == world.default_balance_minor


async def test_disbursement_credits_payee(http, at, world):
    """A B2C disbursement answers TS at once and credits the payee."""
    sandbox, base = at
    headers = await at_headers(http, base)
    txn_id = str(uuid.uuid4())
    body = {
        "payee": {"currency": "GHS", "msisdn": NSN},
        "reference": "payout123",
        "pin": await encrypted_pin(http, base, headers),
        "transaction": {"amount": 25, "id": txn_id, "type": "B2C"},
    }
    response = await signed_post(http, f"{base}/standard/v1/disbursements/", headers, body)
    assert response.json()["data"]["transaction"]["status"] == "TS"
    assert response.json()["status"]["response_code"] == "DP00900001001"
    status = await http.get(
        f"{base}/standard/v2/disbursements/{txn_id}",
        params={"transactionType": "B2C"},
        headers=headers,
    )
    assert status.json()["data"]["transaction"]["status"] == "TS"
    assert world.lookup(KEY).balance_minor == world.default_balance_minor + 2500
    assert [e.kind for e in sandbox.ledger] == ["credit"]


async def test_kyc_names(http, at, world):
    """GET /standard/v1/users/{msisdn} gives the wallet's names."""
    world.register(KEY, "airteltigo", name="Yaw Darko")
    _, base = at
    headers = await at_headers(http, base)
    body = (await http.get(f"{base}/standard/v1/users/{NSN}", headers=headers)).json()
    assert (body["data"]["first_name"], body["data"]["last_name"]) == ("Yaw", "Darko")
    assert body["status"]["success"] is True


async def test_callback_with_hash(http, at, receiver):
    """With a callback secret the TS callback carries a verifiable Base64 HMAC-SHA256 hash."""
    sandbox, base = at
    recorder, receiver_url = receiver
    sandbox.config.options["callback_secret"] = "app-private-key"
    sandbox.config.options["callback_url"] = f"{receiver_url}/callbacks/at"
    headers = await at_headers(http, base)
    txn_id, _ = await pay(http, base, headers, NSN)
    [callback] = await recorder.wait_for(1)
    body = callback["json"]
    hash_value = body.pop("hash")
    # Airtel: HMAC-SHA256 over the `transaction` object, keyed with the app's private key.
    signed = json.dumps(body["transaction"], separators=(",", ":")).encode()
    expected = base64.b64encode(hmac.new(b"app-private-key", signed, hashlib.sha256).digest())
    assert hash_value == expected.decode()
    assert (body["transaction"]["id"], body["transaction"]["status_code"]) == (txn_id, "TS")
    assert callback["path"] == "/callbacks/at"


async def test_body_country_must_match(http, at):
    """A subscriber country other than GH is refused with ESB000034 on HTTP 200."""
    sandbox, base = at
    headers = await at_headers(http, base)
    body = {
        "reference": "order1234",
        "subscriber": {"country": "UG", "currency": "GHS", "msisdn": NSN},
        "transaction": {"amount": 1, "country": "GH", "currency": "GHS", "id": str(uuid.uuid4())},
    }
    response = await signed_post(http, f"{base}/merchant/v1/payments/", headers, body)
    assert response.status_code == 200
    assert response.json()["status"]["result_code"] == "ESB000034"
    assert sandbox.transactions == ()
