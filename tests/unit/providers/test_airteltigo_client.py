"""AirtelTigoClient against a scripted MockTransport: envelope, codes, token, wire shape."""

from __future__ import annotations

import httpx
import pytest
from provider_fakes import AT_CREDENTIALS, FakeClock, FakeProvider, body_of, jresp
from provider_fakes import attempt as make_attempt

from synccash.adapters.providers import AIRTEL_CODES, AirtelTigoClient, LookupUnavailable
from synccash.adapters.providers._table import Operation
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId

TOKEN = "/auth/oauth2/token"
PAY = "/merchant/v1/payments/"


def token_reply(value: str = "at-tok", expires_in: object = "180") -> httpx.Response:
    """A token answer (expires_in as a string, as the docs show)."""
    return jresp(200, {"access_token": value, "expires_in": expires_in, "token_type": "bearer"})


def envelope(
    response_code: str | None,
    *,
    success: bool = True,
    code: str = "200",
    data: dict[str, object] | None = None,
    result_code: str | None = None,
) -> dict[str, object]:
    """The {data, status} envelope."""
    status: dict[str, object] = {"code": code, "message": "msg", "success": success}
    if response_code is not None:
        status["response_code"] = response_code
    if result_code is not None:
        status["result_code"] = result_code
    return {"data": data or {}, "status": status}


def client(fake: FakeProvider, clock: FakeClock | None = None) -> AirtelTigoClient:
    """A client over the fake."""
    return AirtelTigoClient(fake.client(), credentials=AT_CREDENTIALS, clock=clock or FakeClock())


def at_attempt(kind: AttemptKind = AttemptKind.COLLECT, **extra: object):
    """An AT Money attempt on an AT number."""
    return make_attempt(kind, ProviderId.AIRTELTIGO, msisdn="0261234567", **extra)  # type: ignore[arg-type]


async def test_collection_wire_shape(fake):
    """Token by client credentials; payment with X-Country/X-Currency, NSN msisdn, exact amount."""
    fake.on("POST", TOKEN, token_reply())
    fake.on(
        "POST",
        PAY,
        jresp(
            200, envelope("DP00800001006", data={"transaction": {"id": False, "status": "SUCCESS"}})
        ),
    )
    req = at_attempt(reference="0b7f3e1e-6f0a-4c1e-9a43-3f2d1a9c8b7e")
    outcome = await client(fake).submit(req)
    assert outcome.kind is OutcomeKind.PENDING
    assert body_of(fake.calls("POST", TOKEN)[0]) == {
        "client_id": "at-client",
        "client_secret": AT_CREDENTIALS.secret,
        "grant_type": "client_credentials",
    }
    call = fake.calls("POST", PAY)[0]
    assert call.headers["x-country"] == "GH"
    assert call.headers["x-currency"] == "GHS"
    assert call.headers["authorization"] == "Bearer at-tok"
    assert b'"amount":12.50' in call.content  # an exact JSON number, no float rounding
    assert body_of(call)["subscriber"] == {
        "country": "GH",
        "currency": "GHS",
        "msisdn": "261234567",
    }
    assert body_of(call)["transaction"]["id"] == req.reference
    assert body_of(call)["reference"].isalnum()


async def test_token_cached_and_refreshed_after_expiry(fake, clock):
    """The 180 s token is reused, then fetched again once it is near expiry."""
    fake.on("POST", TOKEN, token_reply("t1"), token_reply("t2"))
    fake.on("POST", PAY, jresp(200, envelope("DP00800001006")))
    at = client(fake, clock)
    await at.submit(at_attempt())
    await at.submit(at_attempt())
    clock.now += 180
    await at.submit(at_attempt())
    assert len(fake.calls("POST", TOKEN)) == 2


@pytest.mark.parametrize(
    "rejection",
    [
        jresp(401, {"error": "invalid_token"}),
        jresp(
            403,
            {
                "error_description": "The access token is invalid or has expired",
                "error": "invalid_token",
            },
        ),
    ],
)
async def test_token_rejection_refreshes_once(fake, rejection):
    """401, or the gateway's 403 invalid_token, refreshes the token once and resends."""
    fake.on("POST", TOKEN, token_reply("old"), token_reply("new"))
    fake.on("POST", PAY, rejection, jresp(200, envelope("DP00800001006")))
    outcome = await client(fake).submit(at_attempt())
    assert outcome.kind is OutcomeKind.PENDING
    assert [c.headers["authorization"] for c in fake.calls("POST", PAY)] == [
        "Bearer old",
        "Bearer new",
    ]


async def test_bad_client_credentials_is_configuration(fake):
    """invalid_client on the token call: FAILED(configuration), nothing submitted."""
    fake.on(
        "POST",
        TOKEN,
        jresp(
            401, {"error_description": "Invalid client authentication", "error": "invalid_client"}
        ),
    )
    outcome = await client(fake).submit(at_attempt())
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.CONFIGURATION)
    assert fake.calls("POST", PAY) == []


@pytest.mark.parametrize(
    ("http", "body", "kind", "reason"),
    [
        (200, envelope("DP00800001000"), OutcomeKind.UNKNOWN, None),
        (
            200,
            envelope("DP00800001001", data={"transaction": {"airtel_money_id": "MP1"}}),
            OutcomeKind.SUCCEEDED,
            None,
        ),
        (
            200,
            envelope("DP00800001002", success=False),
            OutcomeKind.FAILED,
            FailureReason.REJECTED_BY_PAYER,
        ),
        (
            200,
            envelope("DP00800001003", success=False),
            OutcomeKind.FAILED,
            FailureReason.LIMIT_EXCEEDED,
        ),
        (
            200,
            envelope("DP00800001004", success=False),
            OutcomeKind.FAILED,
            FailureReason.INVALID_REQUEST,
        ),
        (200, envelope("DP00800001005", success=False), OutcomeKind.FAILED, FailureReason.EXPIRED),
        (
            200,
            envelope("DP00800001007", success=False, code="400"),
            OutcomeKind.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
        ),
        (
            200,
            envelope("DP00800001008", success=False),
            OutcomeKind.FAILED,
            FailureReason.REJECTED_BY_PAYER,
        ),
        (
            200,
            envelope("DP00800001009", success=False),
            OutcomeKind.FAILED,
            FailureReason.NOT_ALLOWED,
        ),
        (
            200,
            envelope("DP00800001010", success=False),
            OutcomeKind.FAILED,
            FailureReason.NOT_ALLOWED,
        ),
        (200, envelope("DP00800001024", success=False), OutcomeKind.UNKNOWN, None),
        (
            200,
            envelope("DP00800001026", success=False),
            OutcomeKind.FAILED,
            FailureReason.CONFIGURATION,
        ),
        (200, envelope("DP00800001029", success=False), OutcomeKind.FAILED, FailureReason.EXPIRED),
        (
            200,
            envelope(None, success=False, result_code="ESB000008"),
            OutcomeKind.FAILED,
            FailureReason.INVALID_REQUEST,
        ),
        (200, envelope(None, success=False, result_code="ESB000001"), OutcomeKind.UNKNOWN, None),
        (
            200,
            envelope(None, success=False, result_code="ESB000035"),
            OutcomeKind.FAILED,
            FailureReason.CONFIGURATION,
        ),
        (200, envelope(None, success=False), OutcomeKind.FAILED, FailureReason.OTHER),
        (
            400,
            {"status_message": "Partner not found", "status_code": "ROUTER110"},
            OutcomeKind.FAILED,
            FailureReason.CONFIGURATION,
        ),
        (200, {"status_code": "ROUTER117"}, OutcomeKind.UNKNOWN, None),
        (500, {"error": "boom"}, OutcomeKind.UNKNOWN, None),
        (503, None, OutcomeKind.UNKNOWN, None),
        (200, None, OutcomeKind.UNKNOWN, None),
        (200, {"unexpected": True}, OutcomeKind.UNKNOWN, None),
    ],
)
async def test_collection_answers(fake, http, body, kind, reason):
    """Classified on response_code, then ESB/ROUTER code, then success, then HTTP status."""
    reply = jresp(http, body) if body is not None else httpx.Response(http, text="<html>")
    fake.on("POST", TOKEN, token_reply()).on("POST", PAY, reply)
    outcome = await client(fake).submit(at_attempt())
    assert (outcome.kind, outcome.reason) == (kind, reason)


async def test_429_transient_with_retry_after(fake):
    """429 is TRANSIENT with Retry-After."""
    fake.on("POST", TOKEN, token_reply()).on("POST", PAY, jresp(429, {}, {"Retry-After": "3"}))
    outcome = await client(fake).submit(at_attempt())
    assert (outcome.kind, outcome.retry_after_seconds) == (OutcomeKind.TRANSIENT, 3.0)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("x"), OutcomeKind.TRANSIENT),
        (httpx.ReadTimeout("x"), OutcomeKind.UNKNOWN),
    ],
)
async def test_transport_failures_on_submit(fake, exc, kind):
    """Not sent: TRANSIENT; maybe sent: UNKNOWN."""
    fake.on("POST", TOKEN, token_reply()).on("POST", PAY, exc)
    assert (await client(fake).submit(at_attempt())).kind is kind


def enquiry(
    status: str | None, response_code: str = "DP00800001001", **txn: object
) -> httpx.Response:
    """A payment enquiry answer."""
    transaction: dict[str, object] = {"id": "r", "message": "m", **txn}
    if status is not None:
        transaction["status"] = status
    return jresp(200, envelope(response_code, data={"transaction": transaction}))


@pytest.mark.parametrize(
    ("reply", "kind", "reason", "txn"),
    [
        (
            enquiry("TS", airtel_money_id="MP210603.1234"),
            OutcomeKind.SUCCEEDED,
            None,
            "MP210603.1234",
        ),
        (
            enquiry("TF", "DP00800001007"),
            OutcomeKind.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
            None,
        ),
        (enquiry("TF", "DP00800001008"), OutcomeKind.FAILED, FailureReason.REJECTED_BY_PAYER, None),
        (enquiry("TF"), OutcomeKind.FAILED, FailureReason.OTHER, None),
        (enquiry("TA", "DP00800001000"), OutcomeKind.UNKNOWN, None, None),
        (enquiry("TIP", "DP00800001006"), OutcomeKind.PENDING, None, None),
        (enquiry("TE", "DP00800001029"), OutcomeKind.FAILED, FailureReason.EXPIRED, None),
        (enquiry("ZZ"), OutcomeKind.UNKNOWN, None, None),
        (enquiry(None, "DP00800001025"), OutcomeKind.NOT_FOUND, None, None),
        (jresp(404, envelope(None, success=False, code="404")), OutcomeKind.NOT_FOUND, None, None),
        (jresp(500, {}), OutcomeKind.TRANSIENT, None, None),
        (
            jresp(200, envelope(None, success=False, result_code="ESB000014")),
            OutcomeKind.TRANSIENT,
            None,
            None,
        ),
        (
            jresp(200, envelope(None, success=False, result_code="ESB000008")),
            OutcomeKind.TRANSIENT,
            None,
            None,
        ),
        (httpx.Response(200, text="garbage"), OutcomeKind.TRANSIENT, None, None),
    ],
)
async def test_enquiry_answers(fake, reply, kind, reason, txn):
    """TS/TF/TA/TIP/TE and error answers of the payment enquiry."""
    fake.on("POST", TOKEN, token_reply()).on("GET", "/standard/v1/payments/ref-1", reply)
    outcome = await client(fake).status(AttemptKind.COLLECT, "ref-1")
    assert (outcome.kind, outcome.reason, outcome.provider_transaction_id) == (kind, reason, txn)


async def test_disbursement_and_its_enquiry(fake):
    """B2C disbursement to the NSN; duplicate id (DP00900001017) is 'accepted, poll'."""
    path = "/standard/v1/disbursements/"
    fake.on("POST", TOKEN, token_reply())
    fake.on("POST", path, jresp(200, envelope("DP00900001017", success=False)))
    fake.on("GET", f"{path}ref-d", enquiry("TS", "DP00900001001", airtel_money_id="MP9"))
    at = client(fake)
    outcome = await at.submit(at_attempt(AttemptKind.DISBURSE, reference="ref-d"))
    assert outcome.kind is OutcomeKind.PENDING
    body = body_of(fake.calls("POST", path)[0])
    assert body["payee"]["msisdn"] == "261234567"
    assert body["transaction"]["type"] == "B2C"
    status = await at.status(AttemptKind.DISBURSE, "ref-d")
    assert (status.kind, status.provider_transaction_id) == (OutcomeKind.SUCCEEDED, "MP9")
    assert fake.calls("GET", f"{path}ref-d")[0].url.params["transactionType"] == "B2C"


async def test_refund_by_airtel_money_id(fake):
    """A full refund names the original airtel_money_id and is answered synchronously."""
    path = "/standard/v1/payments/refund"
    fake.on("POST", TOKEN, token_reply())
    fake.on(
        "POST",
        path,
        jresp(
            200,
            envelope(None, data={"transaction": {"airtel_money_id": "CI1", "status": "SUCCESS"}}),
        ),
    )
    outcome = await client(fake).submit(
        at_attempt(AttemptKind.REFUND, original_provider_transaction_id="CI1")
    )
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert body_of(fake.calls("POST", path)[0]) == {"transaction": {"airtel_money_id": "CI1"}}


async def test_refund_without_airtel_money_id_sends_nothing(fake):
    """Without the original airtel_money_id a refund cannot be asked for."""
    outcome = await client(fake).submit(at_attempt(AttemptKind.REFUND))
    assert (outcome.kind, outcome.reason) == (OutcomeKind.FAILED, FailureReason.INVALID_REQUEST)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("reply", "active", "name"),
    [
        (
            jresp(
                200,
                envelope(
                    "DP02200000001",
                    data={"first_name": "Kofi", "last_name": "Owusu", "is_barred": False},
                ),
            ),
            True,
            "Kofi Owusu",
        ),
        (jresp(200, envelope(None, data={"first_name": "Kofi", "is_barred": True})), False, "Kofi"),
        (jresp(200, envelope(None, success=False, code="404")), False, None),
        (jresp(404, {}), False, None),
    ],
)
async def test_lookup(fake, reply, active, name):
    """KYC lookup by NSN: registered and not barred means active."""
    fake.on("POST", TOKEN, token_reply()).on("GET", "/standard/v1/users/261234567", reply)
    info = await client(fake).lookup(Msisdn.parse("0261234567"))
    assert (info.active, info.name) == (active, name)


async def test_lookup_5xx_is_unavailable(fake):
    """A 5xx lookup gives no answer."""
    fake.on("POST", TOKEN, token_reply()).on("GET", "/standard/v1/users/261234567", jresp(502, {}))
    with pytest.raises(LookupUnavailable):
        await client(fake).lookup(Msisdn.parse("0261234567"))


def test_request_level_codes_never_classify_a_status_answer():
    """Configuration/validation codes only apply to submits; status answers ignore them."""
    for code in ("ROUTER110", "ESB000008", "DP00800001026", "DP00900001017"):
        assert AIRTEL_CODES.rule(Operation.STATUS, code) is None
        assert AIRTEL_CODES.rule(Operation.SUBMIT, code) is not None


async def test_duplicate_transaction_id_on_payment_is_accepted(fake):
    """A reused transaction.id (generic ESB000001 'Duplicate transaction id') means: poll it."""
    dup = envelope("ESB000001", success=False, result_code="ESB000001")
    dup["status"]["message"] = "Duplicate transaction id"  # type: ignore[index]
    fake.on("POST", TOKEN, token_reply()).on("POST", PAY, jresp(200, dup))
    outcome = await client(fake).submit(at_attempt())
    assert (outcome.kind, outcome.provider_code) == (OutcomeKind.PENDING, "ESB000001")
