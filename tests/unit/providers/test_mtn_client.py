"""MtnMomoClient against a scripted MockTransport: wire shape, quirks and every mapping."""

from __future__ import annotations

import base64

import httpx
import pytest
from provider_fakes import (
    MTN_COLLECTION,
    MTN_DISBURSEMENT,
    FakeClock,
    FakeProvider,
    body_of,
    jresp,
)
from provider_fakes import (
    attempt as make_attempt,
)

from synccash.adapters.providers import LookupUnavailable, MtnMomoClient
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind

TOKEN = "/collection/token/"
RTP = "/collection/v1_0/requesttopay"
DTOKEN = "/disbursement/token/"


def token_reply(value: str = "tok-1", expires_in: object = 3600) -> httpx.Response:
    """A token answer."""
    return jresp(
        200, {"access_token": value, "token_type": "access_token", "expires_in": expires_in}
    )


def client(
    fake: FakeProvider, clock: FakeClock | None = None, environment: str = "sandbox"
) -> MtnMomoClient:
    """A client over the fake with public callbacks enabled."""
    return MtnMomoClient(
        fake.client(),
        collection=MTN_COLLECTION,
        disbursement=MTN_DISBURSEMENT,
        target_environment=environment,
        public_base_url="https://pay.example/",
        clock=clock or FakeClock(),
    )


async def test_requesttopay_wire_shape(fake):
    """The token call and requesttopay carry MTN's headers, body and Content-Length: 0."""
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, httpx.Response(202))
    req = make_attempt(reference="0b7f3e1e-6f0a-4c1e-9a43-3f2d1a9c8b7e")
    outcome = await client(fake).submit(req)
    assert outcome.kind is OutcomeKind.PENDING
    token_call = fake.calls("POST", TOKEN)[0]
    expected = base64.b64encode(f"mtn-user:{MTN_COLLECTION.secret}".encode()).decode()
    assert token_call.headers["authorization"] == f"Basic {expected}"
    assert token_call.headers["ocp-apim-subscription-key"] == MTN_COLLECTION.subscription_key
    assert token_call.headers["content-length"] == "0"
    call = fake.calls("POST", RTP)[0]
    assert call.url == httpx.URL("https://mtn.test/collection/v1_0/requesttopay")
    assert call.headers["authorization"] == "Bearer tok-1"
    assert call.headers["x-reference-id"] == req.reference
    assert call.headers["x-target-environment"] == "sandbox"
    assert (
        call.headers["x-callback-url"]
        == f"https://pay.example/api/v1/callbacks/mtn/{req.reference}"
    )
    assert "python-requests" not in call.headers["user-agent"]
    assert body_of(call) == {
        "amount": "12.50",
        "currency": "EUR",
        "externalId": "pay_01HZX",
        "payer": {"partyIdType": "MSISDN", "partyId": "233241234567"},
        "payerMessage": "Order 42",
        "payeeNote": "Order 42",
    }


async def test_currency_is_the_payments_outside_the_sandbox_environment(fake):
    """In mtnghana the currency is GHS; only MTN's sandbox environment insists on EUR."""
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, httpx.Response(202))
    await client(fake, environment="mtnghana").submit(make_attempt())
    assert body_of(fake.calls("POST", RTP)[0])["currency"] == "GHS"


async def test_explicit_callback_url_wins(fake):
    """A callback URL on the request is sent as given."""
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, httpx.Response(202))
    await client(fake).submit(make_attempt(callback_url="https://cb.example/x"))
    assert fake.calls("POST", RTP)[0].headers["x-callback-url"] == "https://cb.example/x"


async def test_token_is_cached_until_expiry(fake, clock):
    """Two calls within the token lifetime fetch one token; after expiry a new one."""
    fake.on("POST", TOKEN, token_reply("tok-1"), token_reply("tok-2"))
    fake.on("POST", RTP, httpx.Response(202))
    mtn = client(fake, clock)
    await mtn.submit(make_attempt())
    await mtn.submit(make_attempt())
    assert len(fake.calls("POST", TOKEN)) == 1
    clock.now += 3600
    await mtn.submit(make_attempt())
    assert len(fake.calls("POST", TOKEN)) == 2
    assert fake.calls("POST", RTP)[-1].headers["authorization"] == "Bearer tok-2"


async def test_token_is_replaced_ten_minutes_before_it_expires(fake, clock):
    """MTN advises refreshing about 10 minutes ahead: a 3600 s token is used for 3000 s."""
    fake.on("POST", TOKEN, token_reply("tok-1"), token_reply("tok-2"))
    fake.on("POST", RTP, httpx.Response(202))
    mtn = client(fake, clock)
    await mtn.submit(make_attempt())
    clock.now += 2999
    await mtn.submit(make_attempt())
    assert len(fake.calls("POST", TOKEN)) == 1
    clock.now += 2
    await mtn.submit(make_attempt())
    assert len(fake.calls("POST", TOKEN)) == 2


async def test_401_refreshes_the_token_once_and_resends(fake):
    """A 401 on a business call invalidates the token, fetches a new one and resends once."""
    fake.on("POST", TOKEN, token_reply("tok-old"), token_reply("tok-new"))
    fake.on("POST", RTP, jresp(401, {"error": "expired"}), httpx.Response(202))
    outcome = await client(fake).submit(make_attempt())
    assert outcome.kind is OutcomeKind.PENDING
    calls = fake.calls("POST", RTP)
    assert [c.headers["authorization"] for c in calls] == ["Bearer tok-old", "Bearer tok-new"]
    assert calls[0].headers["x-reference-id"] == calls[1].headers["x-reference-id"]


async def test_persistent_401_is_a_configuration_failure_on_submit(fake):
    """Two 401s in a row (bad credentials): nothing was created, FAILED(configuration)."""
    fake.on("POST", TOKEN, token_reply())
    fake.on("POST", RTP, jresp(401, {"statusCode": 401, "message": "Access denied"}))
    outcome = await client(fake).submit(make_attempt())
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.CONFIGURATION)
    assert len(fake.calls("POST", RTP)) == 2


async def test_persistent_401_on_status_is_transient(fake):
    """A status query that cannot authenticate says nothing about the attempt."""
    fake.on("POST", TOKEN, token_reply())
    fake.on("GET", f"{RTP}/ref-1", jresp(401, {"error": "nope"}))
    outcome = await client(fake).status(AttemptKind.COLLECT, "ref-1")
    assert outcome.kind is OutcomeKind.TRANSIENT


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        (401, OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        (500, OutcomeKind.TRANSIENT, None),
    ],
)
async def test_token_endpoint_failure_never_submits(fake, status, kind, reason):
    """A failed token call returns an outcome and never sends the business request."""
    fake.on("POST", TOKEN, jresp(status, {"error": "invalid_client"}))
    fake.on("POST", RTP, httpx.Response(202))
    outcome = await client(fake).submit(make_attempt())
    assert (outcome.kind, outcome.reason) == (kind, reason)
    assert fake.calls("POST", RTP) == []


async def test_token_connect_error_is_transient(fake):
    """Connection refused on the token call: nothing was sent."""
    fake.on("POST", TOKEN, httpx.ConnectError("refused"))
    outcome = await client(fake).submit(make_attempt())
    assert outcome.kind is OutcomeKind.TRANSIENT


async def test_409_reused_reference_is_accepted(fake):
    """409 RESOURCE_ALREADY_EXIST means the first submission is the real one: pending."""
    fake.on("POST", TOKEN, token_reply())
    fake.on("POST", RTP, jresp(409, {"code": "RESOURCE_ALREADY_EXIST", "message": "Duplicated"}))
    outcome = await client(fake).submit(make_attempt())
    assert outcome.kind is OutcomeKind.PENDING
    assert outcome.provider_code == "RESOURCE_ALREADY_EXIST"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), OutcomeKind.TRANSIENT),
        (httpx.ConnectTimeout("slow connect"), OutcomeKind.TRANSIENT),
        (httpx.PoolTimeout("pool"), OutcomeKind.TRANSIENT),
        (httpx.ReadTimeout("no answer"), OutcomeKind.UNKNOWN),
        (httpx.WriteTimeout("half sent"), OutcomeKind.UNKNOWN),
        (httpx.RemoteProtocolError("dropped"), OutcomeKind.UNKNOWN),
        (httpx.ReadError("reset"), OutcomeKind.UNKNOWN),
    ],
)
async def test_transport_failures_on_submit(fake, exc, kind):
    """Before sending: TRANSIENT; after the request may have been sent: UNKNOWN, never FAILED."""
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, exc)
    outcome = await client(fake).submit(make_attempt())
    assert outcome.kind is kind


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("x"), httpx.ReadTimeout("x"), httpx.RemoteProtocolError("x")]
)
async def test_transport_failures_on_status_are_transient(fake, exc):
    """Asking again is harmless: every transport failure of a status query is TRANSIENT."""
    fake.on("POST", TOKEN, token_reply()).on("GET", f"{RTP}/r", exc)
    outcome = await client(fake).status(AttemptKind.COLLECT, "r")
    assert outcome.kind is OutcomeKind.TRANSIENT


@pytest.mark.parametrize(
    ("status", "body", "kind", "reason"),
    [
        (500, {"code": "INTERNAL_PROCESSING_ERROR", "message": "x"}, OutcomeKind.UNKNOWN, None),
        (503, {"code": "SERVICE_UNAVAILABLE", "message": "x"}, OutcomeKind.UNKNOWN, None),
        (502, None, OutcomeKind.UNKNOWN, None),
        (500, {"code": "INVALID_CURRENCY"}, OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        (
            500,
            {"code": "NOT_ALLOWED_TARGET_ENVIRONMENT"},
            OutcomeKind.FAILED,
            FailureReason.CONFIGURATION,
        ),
        (
            500,
            {"code": "INVALID_CALLBACK_URL_HOST"},
            OutcomeKind.FAILED,
            FailureReason.CONFIGURATION,
        ),
        (500, {"code": "PAYER_NOT_FOUND"}, OutcomeKind.FAILED, FailureReason.PAYER_NOT_FOUND),
        (500, {"code": "APPROVAL_REJECTED"}, OutcomeKind.UNKNOWN, None),
        (400, {"code": "APPROVAL_REJECTED"}, OutcomeKind.FAILED, FailureReason.REJECTED_BY_PAYER),
        (400, {"code": "BAD"}, OutcomeKind.FAILED, FailureReason.INVALID_REQUEST),
        (403, {"message": "IP not authorized"}, OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        (404, {"code": "RESOURCE_NOT_FOUND"}, OutcomeKind.FAILED, FailureReason.INVALID_REQUEST),
    ],
)
async def test_submit_error_answers(fake, status, body, kind, reason):
    """Error answers on POST: 5xx is UNKNOWN unless MTN names a definitive code."""
    reply = jresp(status, body) if body is not None else httpx.Response(status, text="<html>")
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, reply)
    outcome = await client(fake).submit(make_attempt())
    assert (outcome.kind, outcome.reason) == (kind, reason)


async def test_429_is_transient_with_retry_after(fake):
    """429 is TRANSIENT and carries Retry-After in seconds."""
    fake.on("POST", TOKEN, token_reply())
    fake.on("POST", RTP, jresp(429, {"message": "slow down"}, {"Retry-After": "7"}))
    outcome = await client(fake).submit(make_attempt())
    assert outcome.kind is OutcomeKind.TRANSIENT
    assert outcome.retry_after_seconds == 7.0


def status_reply(status: str, **extra: object) -> httpx.Response:
    """A RequestToPayResult."""
    return jresp(
        200, {"amount": "12.50", "currency": "EUR", "externalId": "p", "status": status, **extra}
    )


@pytest.mark.parametrize(
    ("reply", "kind", "reason", "txn"),
    [
        (
            status_reply("SUCCESSFUL", financialTransactionId="1234567"),
            OutcomeKind.SUCCEEDED,
            None,
            "1234567",
        ),
        (status_reply("PENDING"), OutcomeKind.PENDING, None, None),
        (status_reply("CREATED"), OutcomeKind.PENDING, None, None),
        (status_reply("ONGOING"), OutcomeKind.PENDING, None, None),
        (status_reply("DELAYED"), OutcomeKind.PENDING, None, None),
        (
            status_reply("FAILED", reason="APPROVAL_REJECTED"),
            OutcomeKind.FAILED,
            FailureReason.REJECTED_BY_PAYER,
            None,
        ),
        (
            status_reply("FAILED", reason={"code": "NOT_ENOUGH_FUNDS", "message": "Not enough"}),
            OutcomeKind.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
            None,
        ),
        (status_reply("FAILED", reason="EXPIRED"), OutcomeKind.FAILED, FailureReason.EXPIRED, None),
        (
            status_reply("FAILED", reason="INTERNAL_PROCESSING_ERROR"),
            OutcomeKind.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
            None,
        ),
        (
            status_reply("FAILED", reason="SERVICE_UNAVAILABLE"),
            OutcomeKind.FAILED,
            FailureReason.PROVIDER_UNAVAILABLE,
            None,
        ),
        (
            status_reply("FAILED", reason="SOMETHING_NEW"),
            OutcomeKind.FAILED,
            FailureReason.OTHER,
            None,
        ),
        (status_reply("FAILED"), OutcomeKind.FAILED, FailureReason.OTHER, None),
        (status_reply("WEIRD"), OutcomeKind.UNKNOWN, None, None),
        (
            jresp(404, {"code": "RESOURCE_NOT_FOUND", "message": "nope"}),
            OutcomeKind.NOT_FOUND,
            None,
            None,
        ),
        (jresp(500, {"code": "INTERNAL_PROCESSING_ERROR"}), OutcomeKind.TRANSIENT, None, None),
        (jresp(503, {"code": "SERVICE_UNAVAILABLE"}), OutcomeKind.TRANSIENT, None, None),
        (jresp(429, {}), OutcomeKind.TRANSIENT, None, None),
        (httpx.Response(200, text="not json"), OutcomeKind.TRANSIENT, None, None),
        (jresp(200, ["a", "list"]), OutcomeKind.TRANSIENT, None, None),
        (httpx.Response(200), OutcomeKind.TRANSIENT, None, None),
    ],
)
async def test_status_answers(fake, reply, kind, reason, txn):
    """Every status value, reason form and error answer of the status GET."""
    fake.on("POST", TOKEN, token_reply()).on("GET", f"{RTP}/ref-9", reply)
    outcome = await client(fake).status(AttemptKind.COLLECT, "ref-9")
    assert (outcome.kind, outcome.reason, outcome.provider_transaction_id) == (kind, reason, txn)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("PAYER_NOT_FOUND", FailureReason.PAYER_NOT_FOUND),
        ("PAYEE_NOT_FOUND", FailureReason.PAYEE_NOT_FOUND),
        ("NOT_ENOUGH_FUNDS", FailureReason.INSUFFICIENT_FUNDS),
        ("PAYER_LIMIT_REACHED", FailureReason.LIMIT_EXCEEDED),
        ("APPROVAL_REJECTED", FailureReason.REJECTED_BY_PAYER),
        ("PAYMENT_NOT_APPROVED", FailureReason.REJECTED_BY_PAYER),
        ("TRANSACTION_CANCELED", FailureReason.REJECTED_BY_PAYER),
        ("EXPIRED", FailureReason.EXPIRED),
        ("COULD_NOT_PERFORM_TRANSACTION", FailureReason.EXPIRED),
        ("PAYEE_NOT_ALLOWED_TO_RECEIVE", FailureReason.NOT_ALLOWED),
        ("NOT_ALLOWED", FailureReason.NOT_ALLOWED),
        ("NOT_ALLOWED_TARGET_ENVIRONMENT", FailureReason.CONFIGURATION),
        ("INVALID_CALLBACK_URL_HOST", FailureReason.CONFIGURATION),
        ("INVALID_CURRENCY", FailureReason.CONFIGURATION),
        ("TRANSFERTYPE_UNKNOWN", FailureReason.CONFIGURATION),
    ],
)
async def test_every_failure_reason_code_as_string_and_object(fake, code, reason):
    """Each ErrorReason code maps the same whether `reason` is a string or an object."""
    fake.on("POST", TOKEN, token_reply())
    fake.on(
        "GET",
        f"{RTP}/a",
        status_reply("FAILED", reason=code),
    ).on("GET", f"{RTP}/b", status_reply("FAILED", reason={"code": code, "message": "m"}))
    mtn = client(fake)
    as_string = await mtn.status(AttemptKind.COLLECT, "a")
    as_object = await mtn.status(AttemptKind.COLLECT, "b")
    assert (as_string.kind, as_string.reason) == (OutcomeKind.FAILED, reason)
    assert (as_object.kind, as_object.reason) == (OutcomeKind.FAILED, reason)
    assert as_string.provider_code == code


async def test_transfer_uses_disbursement_product_and_payee(fake):
    """A disbursement is a transfer with the disbursement token, key and a payee."""
    fake.on("POST", DTOKEN, token_reply("dtok"))
    fake.on("POST", "/disbursement/v1_0/transfer", httpx.Response(202))
    await client(fake).submit(make_attempt(AttemptKind.DISBURSE))
    call = fake.calls("POST", "/disbursement/v1_0/transfer")[0]
    assert call.headers["authorization"] == "Bearer dtok"
    assert call.headers["ocp-apim-subscription-key"] == MTN_DISBURSEMENT.subscription_key
    assert body_of(call)["payee"] == {"partyIdType": "MSISDN", "partyId": "233241234567"}
    assert "payer" not in body_of(call)
    assert fake.calls("POST", TOKEN) == []


async def test_refund_carries_reference_to_refund(fake):
    """A refund posts referenceIdToRefund = the original requesttopay reference."""
    fake.on("POST", DTOKEN, token_reply()).on(
        "POST", "/disbursement/v1_0/refund", httpx.Response(202)
    )
    outcome = await client(fake).submit(
        make_attempt(AttemptKind.REFUND, original_reference="orig-ref")
    )
    assert outcome.kind is OutcomeKind.PENDING
    assert (
        body_of(fake.calls("POST", "/disbursement/v1_0/refund")[0])["referenceIdToRefund"]
        == "orig-ref"
    )


async def test_refund_without_original_is_invalid_and_sends_nothing(fake):
    """A refund with no original reference cannot be sent."""
    outcome = await client(fake).submit(make_attempt(AttemptKind.REFUND))
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.INVALID_REQUEST)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        (AttemptKind.DISBURSE, "/disbursement/v1_0/transfer/r"),
        (AttemptKind.REFUND, "/disbursement/v1_0/refund/r"),
    ],
)
async def test_status_paths_per_kind(fake, kind, path):
    """Transfer and refund status are read from their own disbursement resources."""
    fake.on("POST", DTOKEN, token_reply()).on("GET", path, status_reply("SUCCESSFUL"))
    outcome = await client(fake).status(kind, "r")
    assert outcome.kind is OutcomeKind.SUCCEEDED


async def test_lookup_active_with_name(fake):
    """An active account holder is looked up by MSISDN, then named by basicuserinfo."""
    base = "/collection/v1_0/accountholder/msisdn/233241234567"
    fake.on("POST", TOKEN, token_reply())
    fake.on("GET", f"{base}/active", jresp(200, {"result": True}))
    fake.on(
        "GET", f"{base}/basicuserinfo", jresp(200, {"given_name": "Ama", "family_name": "Mensah"})
    )
    info = await client(fake).lookup(Msisdn.parse("0241234567"))
    assert (info.active, info.name) == (True, "Ama Mensah")


async def test_lookup_inactive_skips_name(fake):
    """{"result": false} is an inactive wallet; no name is asked for."""
    base = "/collection/v1_0/accountholder/msisdn/233241234567"
    fake.on("POST", TOKEN, token_reply()).on("GET", f"{base}/active", jresp(200, {"result": False}))
    info = await client(fake).lookup(Msisdn.parse("0241234567"))
    assert (info.active, info.name) == (False, None)
    assert fake.calls("GET", f"{base}/basicuserinfo") == []


async def test_lookup_without_answer_raises_lookup_unavailable(fake):
    """No answer is not 'inactive': the lookup says it is unavailable."""
    base = "/collection/v1_0/accountholder/msisdn/233241234567"
    fake.on("POST", TOKEN, token_reply()).on("GET", f"{base}/active", httpx.ReadTimeout("slow"))
    with pytest.raises(LookupUnavailable):
        await client(fake).lookup(Msisdn.parse("0241234567"))


async def test_balance(fake):
    """The account balance is read as an exact decimal."""
    fake.on("POST", TOKEN, token_reply())
    fake.on(
        "GET",
        "/collection/v1_0/account/balance",
        jresp(200, {"availableBalance": "1000.25", "currency": "EUR"}),
    )
    balance = await client(fake).balance()
    assert balance is not None
    assert (str(balance.available), balance.currency) == ("1000.25", "EUR")


async def test_relative_paths_when_base_url_is_empty(fake):
    """With base_url="" the paths are relative to the injected client's base URL."""
    fake.on("POST", "/mtn/collection/token/", token_reply())
    fake.on("POST", "/mtn/collection/v1_0/requesttopay", httpx.Response(202))
    mtn = MtnMomoClient(
        fake.client("http://sandbox/mtn"),
        collection=MTN_COLLECTION,
        disbursement=MTN_DISBURSEMENT,
        target_environment="sandbox",
        base_url="",
    )
    outcome = await mtn.submit(make_attempt())
    assert outcome.kind is OutcomeKind.PENDING


async def test_messages_are_cleaned_for_mtn(fake):
    """payerMessage/payeeNote lose characters MTN refuses (') and stop at 160 characters."""
    fake.on("POST", TOKEN, token_reply()).on("POST", RTP, httpx.Response(202))
    await client(fake).submit(make_attempt(note="Kofi's order " + "x" * 200))
    body = body_of(fake.calls("POST", RTP)[0])
    assert "'" not in body["payerMessage"]
    assert len(body["payerMessage"]) == 160
