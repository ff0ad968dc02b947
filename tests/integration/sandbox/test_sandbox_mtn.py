"""MTN MoMo sandbox over real HTTP: auth, request to pay, status, disbursement, refunds."""

from __future__ import annotations

import base64
import uuid

import pytest
from sandbox_mtn_wire import ENV, auth, request_to_pay, rtp_body, rtp_status, subscription

pytestmark = pytest.mark.integration

PAYER = "233241234567"


async def test_token_needs_a_subscription_key(http, mtn_url):
    """No subscription key gives APIM's 401 shape."""
    response = await http.post(f"{mtn_url}/collection/token/")
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert "missing subscription key" in response.json()["message"]


async def test_token_with_a_wrong_subscription_key(http, mtn_url):
    """A wrong subscription key gives APIM's 401 'invalid subscription key'."""
    response = await http.post(
        f"{mtn_url}/collection/token/", headers={"Ocp-Apim-Subscription-Key": "nope"}
    )
    assert response.status_code == 401
    assert "invalid subscription key" in response.json()["message"]


async def test_token_with_wrong_api_key(http, mtn_url):
    """Wrong API user credentials give 401 invalid_client."""
    basic = base64.b64encode(b"synccash-collection-user:wrong").decode()
    response = await http.post(
        f"{mtn_url}/collection/token/",
        headers={"Authorization": f"Basic {basic}", **subscription("collection")},
    )
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


async def test_token_shape_and_product_scope(http, mtn_url):
    """A token expires in 3600 s and only opens its own product."""
    headers = await auth(http, mtn_url, "collection")
    disbursement = {**headers, **subscription("disbursement")}
    response = await http.get(f"{mtn_url}/disbursement/v1_0/account/balance", headers=disbursement)
    assert response.status_code == 401
    ok = await http.get(f"{mtn_url}/collection/v1_0/account/balance", headers=headers)
    assert ok.status_code == 200
    assert ok.json() == {"availableBalance": "1000000", "currency": "EUR"}


async def test_expired_token_is_refused(http, mtn_url, mtn_sandbox, clock):
    """After expires_in seconds the token gets a 401."""
    headers = await auth(http, mtn_url)
    clock.advance(3601)
    response = await http.get(f"{mtn_url}/collection/v1_0/account/balance", headers=headers)
    assert response.status_code == 401


async def test_request_to_pay_debits_exactly_once(http, mtn_url, mtn_sandbox):
    """202 with an empty body, SUCCESSFUL status, one ledger debit, payer balance down."""
    headers = await auth(http, mtn_url)
    before = mtn_sandbox.world.lookup(PAYER).balance_minor
    reference, response = await request_to_pay(http, mtn_url, headers, PAYER, amount="12.50")
    assert (response.status_code, response.content) == (202, b"")
    status = (await rtp_status(http, mtn_url, headers, reference)).json()
    assert status["status"] == "SUCCESSFUL"
    assert status["financialTransactionId"]
    assert "reason" not in status
    [entry] = mtn_sandbox.ledger.for_reference(reference)
    assert (entry.kind, entry.amount_minor, entry.msisdn) == ("debit", 1250, PAYER)
    assert mtn_sandbox.world.lookup(PAYER).balance_minor == before - 1250


async def test_reused_reference_is_409_and_no_second_debit(http, mtn_url, mtn_sandbox):
    """The same X-Reference-Id twice: 409 RESOURCE_ALREADY_EXIST, still one debit."""
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(http, mtn_url, headers, PAYER)
    _, again = await request_to_pay(http, mtn_url, headers, PAYER, reference=reference)
    assert again.status_code == 409
    assert again.json()["code"] == "RESOURCE_ALREADY_EXIST"
    assert len(mtn_sandbox.ledger.debits(PAYER)) == 1


async def test_unknown_reference_is_404(http, mtn_url):
    """A reference never accepted answers 404 RESOURCE_NOT_FOUND."""
    headers = await auth(http, mtn_url)
    response = await rtp_status(http, mtn_url, headers, str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


async def test_reference_must_be_uuid4(http, mtn_url):
    """A non-UUID reference is a 400."""
    headers = await auth(http, mtn_url)
    _, response = await request_to_pay(http, mtn_url, headers, PAYER, reference="abc")
    assert response.status_code == 400


async def test_missing_target_environment_is_400(http, mtn_url):
    """Business calls need X-Target-Environment."""
    headers = await auth(http, mtn_url)
    del headers["X-Target-Environment"]
    response = await http.get(f"{mtn_url}/collection/v1_0/account/balance", headers=headers)
    assert response.status_code == 400


async def test_insufficient_funds(http, mtn_url, mtn_sandbox):
    """A payer with too little money fails NOT_ENOUGH_FUNDS and is not debited."""
    mtn_sandbox.world.register(PAYER, "mtn", name="Ama Owusu", balance_minor=500)
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(http, mtn_url, headers, PAYER, amount="5.01")
    status = (await rtp_status(http, mtn_url, headers, reference)).json()
    assert (status["status"], status["reason"]) == ("FAILED", "NOT_ENOUGH_FUNDS")
    assert mtn_sandbox.ledger.debits() == ()
    assert mtn_sandbox.world.lookup(PAYER).balance_minor == 500


async def test_reason_object_form(http, mtn_url, mtn_sandbox):
    """With reason_format=object the reason is MTN's documented {code, message}."""
    mtn_sandbox.config.options["reason_format"] = "object"
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(http, mtn_url, headers, "46733123451")
    status = (await rtp_status(http, mtn_url, headers, reference)).json()
    assert status["reason"]["code"] == "APPROVAL_REJECTED"


async def test_content_length_quirk(http, mtn_url, mtn_sandbox):
    """With the 411 quirk on, a body-less token POST without Content-Length gets 411."""
    mtn_sandbox.config.options["require_content_length"] = True

    async def no_body():
        for chunk in ():
            yield chunk

    response = await http.post(
        f"{mtn_url}/collection/token/", headers=subscription("collection"), content=no_body()
    )
    assert response.status_code == 411


async def test_disbursement_transfer_credits_payee(http, mtn_url, mtn_sandbox):
    """A transfer credits the payee once and reads back SUCCESSFUL."""
    headers = await auth(http, mtn_url, "disbursement")
    reference = str(uuid.uuid4())
    body = {
        "amount": "20",
        "currency": "EUR",
        "externalId": "payout-1",
        "payee": {"partyIdType": "MSISDN", "partyId": PAYER},
        "payerMessage": "payout",
        "payeeNote": "payout",
    }
    response = await http.post(
        f"{mtn_url}/disbursement/v1_0/transfer",
        headers={**headers, "X-Reference-Id": reference},
        json=body,
    )
    assert response.status_code == 202
    status = await http.get(f"{mtn_url}/disbursement/v1_0/transfer/{reference}", headers=headers)
    assert status.json()["status"] == "SUCCESSFUL"
    assert [e.kind for e in mtn_sandbox.ledger.for_reference(reference)] == ["credit"]


async def refund(http, base, headers, original: str, amount: str) -> str:
    """POST a refund and return its reference."""
    reference = str(uuid.uuid4())
    body = {
        "amount": amount,
        "currency": "GHS",
        "externalId": "refund-1",
        "payerMessage": "refund",
        "payeeNote": "refund",
        "referenceIdToRefund": original,
    }
    response = await http.post(
        f"{base}/disbursement/v1_0/refund",
        headers={**headers, "X-Reference-Id": reference},
        json=body,
    )
    assert response.status_code == 202
    return reference


async def test_refunds_not_beyond_the_original(http, mtn_url, mtn_sandbox):
    """Partial refunds succeed up to the original amount; the one beyond fails NOT_ALLOWED."""
    collection = await auth(http, mtn_url)
    original, _ = await request_to_pay(http, mtn_url, collection, PAYER, amount="10")
    headers = await auth(http, mtn_url, "disbursement")
    first = await refund(http, mtn_url, headers, original, "6")
    second = await refund(http, mtn_url, headers, original, "5")
    third = await refund(http, mtn_url, headers, original, "4")
    statuses = [
        (await http.get(f"{mtn_url}/disbursement/v1_0/refund/{ref}", headers=headers)).json()
        for ref in (first, second, third)
    ]
    assert [s["status"] for s in statuses] == ["SUCCESSFUL", "FAILED", "SUCCESSFUL"]
    assert statuses[1]["reason"] == "NOT_ALLOWED"
    refunds = [e for e in mtn_sandbox.ledger if e.kind == "refund"]
    assert sum(e.amount_minor for e in refunds) == 1000


async def test_account_holder_and_name(http, mtn_url, mtn_sandbox):
    """An MTN number is active with a name; a Telecel number is not active on MTN."""
    mtn_sandbox.world.register(PAYER, "mtn", name="Kofi Boateng")
    headers = await auth(http, mtn_url)
    active = await http.get(
        f"{mtn_url}/collection/v1_0/accountholder/msisdn/{PAYER}/active", headers=headers
    )
    info = await http.get(
        f"{mtn_url}/collection/v1_0/accountholder/msisdn/{PAYER}/basicuserinfo", headers=headers
    )
    other = await http.get(
        f"{mtn_url}/collection/v1_0/accountholder/msisdn/233201234567/active", headers=headers
    )
    assert active.json() == {"result": True}
    assert (info.json()["given_name"], info.json()["family_name"]) == ("Kofi", "Boateng")
    assert other.json() == {"result": False}
    assert ENV["X-Target-Environment"] == "sandbox"


async def test_callback_host_allow_list(http, mtn_url, mtn_sandbox):
    """An X-Callback-Url off the allow-listed host ends FAILED INVALID_CALLBACK_URL_HOST, unbilled."""
    mtn_sandbox.config.options["callback_host"] = "merchant.example"
    headers = await auth(http, mtn_url)
    reference, _ = await request_to_pay(
        http, mtn_url, headers, PAYER, callback="http://127.0.0.1:9/cb"
    )
    status = (await rtp_status(http, mtn_url, headers, reference)).json()
    assert (status["status"], status["reason"]) == ("FAILED", "INVALID_CALLBACK_URL_HOST")
    assert mtn_sandbox.ledger.debits() == ()
    assert mtn_sandbox.callbacks_sent == []


async def test_new_platform_quirks(http, mtn_url, mtn_sandbox):
    """new_platform: the token needs X-Target-Environment; a python-requests User-Agent gets 403."""
    mtn_sandbox.config.options["new_platform"] = True
    basic = base64.b64encode(b"synccash-collection-user:synccash-collection-key").decode()
    token_headers = {"Authorization": f"Basic {basic}", **subscription("collection")}
    missing = await http.post(f"{mtn_url}/collection/token/", headers=token_headers)
    agent = await http.post(
        f"{mtn_url}/collection/token/",
        headers={**token_headers, **ENV, "User-Agent": "python-requests/2.32"},
    )
    ok = await http.post(f"{mtn_url}/collection/token/", headers={**token_headers, **ENV})
    assert missing.status_code == 400
    assert agent.status_code == 403
    assert ok.status_code == 200


async def test_long_payer_message_is_400(http, mtn_url):
    """payerMessage over 160 characters is a 400, as MTN documents."""
    headers = await auth(http, mtn_url)
    body = {**rtp_body(PAYER), "payerMessage": "x" * 161}
    response = await http.post(
        f"{mtn_url}/collection/v1_0/requesttopay",
        headers={**headers, "X-Reference-Id": str(uuid.uuid4())},
        json=body,
    )
    assert response.status_code == 400


async def test_national_number_reaches_no_wallet(http, mtn_url, mtn_sandbox):
    """A partyId without the country code (0244…) ends PAYER_NOT_FOUND; nothing is debited."""
    headers = await auth(http, mtn_url)
    reference, response = await request_to_pay(http, mtn_url, headers, "0241234567")
    status = (await rtp_status(http, mtn_url, headers, reference)).json()
    assert response.status_code == 202
    assert (status["status"], status["reason"]) == ("FAILED", "PAYER_NOT_FOUND")
    assert mtn_sandbox.ledger.debits() == ()
