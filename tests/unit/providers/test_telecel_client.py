"""TelecelCashClient (Hubtel-style) against a scripted MockTransport."""

from __future__ import annotations

import base64

import httpx
import pytest
from provider_fakes import TELECEL_CREDENTIALS, FakeProvider, body_of, jresp
from provider_fakes import attempt as make_attempt

from synccash.adapters.providers import HubtelHosts, LookupUnavailable, TelecelCashClient
from synccash.adapters.providers.telecel import client_reference, reference_from_client
from synccash.adapters.settings import Settings
from synccash.core.msisdn import Msisdn
from synccash.core.outcomes import FailureReason, OutcomeKind
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId

RECEIVE = "/merchantaccount/merchants/2017101/receive/mobilemoney"
STATUS = "/transactions/2017101/status"
SEND = "/api/merchants/2017101/send/mobilemoney"
REF = "0b7f3e1e-6f0a-4c1e-9a43-3f2d1a9c8b7e"


def client(fake: FakeProvider) -> TelecelCashClient:
    """A client over the fake with public callbacks enabled."""
    return TelecelCashClient(
        fake.client(), credentials=TELECEL_CREDENTIALS, public_base_url="https://pay.example"
    )


def tc_attempt(kind: AttemptKind = AttemptKind.COLLECT, **extra: object):
    """A Telecel attempt on a Telecel number."""
    return make_attempt(kind, ProviderId.TELECEL, msisdn="0201234567", reference=REF, **extra)  # type: ignore[arg-type]


def answer(code: str, message: str = "m", **data: object) -> httpx.Response:
    """A receive-money answer."""
    return jresp(
        200, {"ResponseCode": code, "Message": message, "Data": {"ClientReference": "x", **data}}
    )


async def test_receive_money_wire_shape(fake):
    """Basic auth, vodafone-gh channel, 233 MSISDN, 2-dp amount, dashless ClientReference."""
    fake.on(
        "POST",
        RECEIVE,
        answer("0001", "Transaction pending. Expect callback request for final state"),
    )
    outcome = await client(fake).submit(tc_attempt(note="Order #42 & co"))
    assert outcome.kind is OutcomeKind.PENDING
    call = fake.calls("POST", RECEIVE)[0]
    expected = base64.b64encode(f"tc-client:{TELECEL_CREDENTIALS.secret}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {expected}"
    body = body_of(call)
    assert body["Channel"] == "vodafone-gh"
    assert body["CustomerMsisdn"] == "233201234567"
    assert b'"Amount":12.50' in call.content
    assert body["ClientReference"] == REF.replace("-", "")
    assert body["PrimaryCallbackUrl"] == f"https://pay.example/api/v1/callbacks/telecel/{REF}"
    assert "&" not in body["Description"]
    assert "#" not in body["Description"]


@pytest.mark.parametrize(
    ("code", "message", "kind", "reason"),
    [
        ("0000", "success", OutcomeKind.SUCCEEDED, None),
        ("0001", "pending", OutcomeKind.PENDING, None),
        ("0005", "exception reaching partner", OutcomeKind.UNKNOWN, None),
        ("2001", "failed", OutcomeKind.FAILED, FailureReason.REJECTED_BY_PAYER),
        (
            "2001",
            "Insufficient funds in wallet",
            OutcomeKind.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
        ),
        ("2001", "USSD session timeout", OutcomeKind.FAILED, FailureReason.EXPIRED),
        ("2050", "insufficient", OutcomeKind.FAILED, FailureReason.INSUFFICIENT_FUNDS),
        ("2201", "not registered", OutcomeKind.FAILED, FailureReason.PAYER_NOT_FOUND),
        ("2153", "too much", OutcomeKind.FAILED, FailureReason.LIMIT_EXCEEDED),
        ("4000", "validation", OutcomeKind.FAILED, FailureReason.INVALID_REQUEST),
        ("4070", "fees", OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        ("4101", "scope", OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        ("4103", "channel", OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        ("5000", "something went wrong", OutcomeKind.UNKNOWN, None),
        ("9999", "new", OutcomeKind.UNKNOWN, None),
    ],
)
async def test_receive_money_response_codes(fake, code, message, kind, reason):
    """Every ResponseCode of the receive-money answer, with 2001 refined by its message."""
    fake.on("POST", RECEIVE, answer(code, message))
    outcome = await client(fake).submit(tc_attempt())
    assert (outcome.kind, outcome.reason, outcome.provider_code) == (kind, reason, code)


@pytest.mark.parametrize(
    ("reply", "kind", "reason"),
    [
        (httpx.Response(500, text="oops"), OutcomeKind.UNKNOWN, None),
        (
            jresp(400, {"ResponseCode": "4000", "Message": "bad"}),
            OutcomeKind.FAILED,
            FailureReason.INVALID_REQUEST,
        ),
        (httpx.Response(403), OutcomeKind.FAILED, FailureReason.CONFIGURATION),
        (jresp(429, {}, {"Retry-After": "2"}), OutcomeKind.TRANSIENT, None),
        (httpx.Response(200, text="<html>"), OutcomeKind.UNKNOWN, None),
        (httpx.ReadTimeout("x"), OutcomeKind.UNKNOWN, None),
        (httpx.ConnectError("x"), OutcomeKind.TRANSIENT, None),
    ],
)
async def test_receive_money_transport_and_http_answers(fake, reply, kind, reason):
    """HTTP-level answers: 5xx and maybe-sent timeouts UNKNOWN, 403 configuration, 429 TRANSIENT."""
    fake.on("POST", RECEIVE, reply)
    outcome = await client(fake).submit(tc_attempt())
    assert (outcome.kind, outcome.reason) == (kind, reason)


def check(status: str | None, code: str = "0000", **data: object) -> httpx.Response:
    """A status check answer."""
    payload: dict[str, object] = {"clientReference": REF.replace("-", ""), **data}
    if status is not None:
        payload["status"] = status
    return jresp(200, {"message": "Successful", "responseCode": code, "data": payload})


@pytest.mark.parametrize(
    ("reply", "kind", "reason", "txn"),
    [
        (
            check("Paid", externalTransactionId="0000006824852622"),
            OutcomeKind.SUCCEEDED,
            None,
            "0000006824852622",
        ),
        (check("Unpaid"), OutcomeKind.PENDING, None, None),
        (check("Refunded"), OutcomeKind.SUCCEEDED, None, None),
        (check("Failed"), OutcomeKind.FAILED, FailureReason.OTHER, None),
        (check("Unpaid", code="2001"), OutcomeKind.FAILED, FailureReason.REJECTED_BY_PAYER, None),
        (check("Unpaid", code="2050"), OutcomeKind.FAILED, FailureReason.INSUFFICIENT_FUNDS, None),
        (check(None, code="5000"), OutcomeKind.TRANSIENT, None, None),
        (check(None, code="4101"), OutcomeKind.TRANSIENT, None, None),
        (
            jresp(404, {"message": "Transaction not found", "responseCode": "4040"}),
            OutcomeKind.NOT_FOUND,
            None,
            None,
        ),
        # A 404 without Hubtel's envelope: a wrong host, not "never accepted".
        (jresp(404, {"Message": "No HTTP resource was found"}), OutcomeKind.TRANSIENT, None, None),
        (httpx.Response(502), OutcomeKind.TRANSIENT, None, None),
        (httpx.Response(200, text="x"), OutcomeKind.TRANSIENT, None, None),
    ],
)
async def test_status_check_answers(fake, reply, kind, reason, txn):
    """Paid/Unpaid/Refunded and error answers of the status check."""
    fake.on("GET", STATUS, reply)
    outcome = await client(fake).status(AttemptKind.COLLECT, REF)
    assert (outcome.kind, outcome.reason, outcome.provider_transaction_id) == (kind, reason, txn)
    assert fake.calls("GET", STATUS)[0].url.params["clientReference"] == REF.replace("-", "")


@pytest.mark.parametrize(
    ("reply", "charges"),
    [
        # Hubtel's receive-money sample: the customer pays the charge on top.
        (
            answer("0001", Amount=0.8, Charges=0.05, AmountAfterCharges=0.8, AmountCharged=0.85),
            0,
        ),
        (answer("0001", Amount=10, Charges=0.1, AmountAfterCharges=9.9), 10),
        # Send money has no AmountAfterCharges: the charge comes out of the prepaid float.
        (answer("0001", Amount=3, Charges=0.03, AmountDebited=3.03), 3),
        (answer("0001", Amount=3), None),
        (answer("0001", Amount=3, Charges=0.001), None),
    ],
)
async def test_submit_reads_the_charges_we_bear(fake, reply, charges):
    """Charges / AmountAfterCharges become provider_charges_minor, exactly (no floats)."""
    fake.on("POST", RECEIVE, reply)
    outcome = await client(fake).submit(tc_attempt())
    assert (OutcomeKind.PENDING, charges) == (outcome.kind, outcome.provider_charges_minor)


async def test_status_check_reads_charges_of_hubtels_paid_sample(fake):
    """Hubtel's Paid sample (amount 0.1, charges 0.02, after 0.08) costs us 2 pesewas."""
    fake.on("GET", STATUS, check("Paid", amount=0.1, charges=0.02, amountAfterCharges=0.08))
    outcome = await client(fake).status(AttemptKind.COLLECT, REF)
    assert (outcome.kind, outcome.provider_charges_minor) == (OutcomeKind.SUCCEEDED, 2)


async def test_status_check_timeout_is_transient(fake):
    """A status check that times out is simply asked again."""
    fake.on("GET", STATUS, httpx.ReadTimeout("x"))
    outcome = await client(fake).status(AttemptKind.COLLECT, REF)
    assert outcome.kind is OutcomeKind.TRANSIENT


async def test_disbursement_and_refund_are_send_money(fake):
    """Payouts and refunds go through Send Money to the recipient."""
    fake.on("POST", SEND, answer("0001"))
    tc = client(fake)
    assert (await tc.submit(tc_attempt(AttemptKind.DISBURSE))).kind is OutcomeKind.PENDING
    assert (await tc.submit(tc_attempt(AttemptKind.REFUND))).kind is OutcomeKind.PENDING
    body = body_of(fake.calls("POST", SEND)[0])
    assert body["RecipientMsisdn"] == "233201234567"
    assert body["PrimaryCallbackURL"].endswith(f"/callbacks/telecel/{REF}")


@pytest.mark.parametrize(
    ("reply", "active", "name"),
    [
        (
            jresp(
                200, {"responseCode": "0000", "data": {"isRegistered": True, "name": "Ama Boateng"}}
            ),
            True,
            "Ama Boateng",
        ),
        (jresp(200, {"responseCode": "0000", "data": {"isRegistered": False}}), False, None),
        (jresp(200, {"responseCode": "2201", "data": {}}), False, None),
        (jresp(404, {"responseCode": "4040", "message": "not found"}), False, None),
    ],
)
async def test_lookup(fake, reply, active, name):
    """Name check on the vodafone-gh channel."""
    path = "/merchantaccount/merchants/2017101/mobilemoney/verify"
    fake.on("GET", path, reply)
    info = await client(fake).lookup(Msisdn.parse("0201234567"))
    assert (info.active, info.name) == (active, name)
    assert fake.calls("GET", path)[0].url.params["channel"] == "vodafone-gh"


async def test_lookup_unavailable(fake):
    """A lookup with no answer raises LookupUnavailable."""
    fake.on("GET", "/merchantaccount/merchants/2017101/mobilemoney/verify", httpx.ConnectError("x"))
    with pytest.raises(LookupUnavailable):
        await client(fake).lookup(Msisdn.parse("0201234567"))


def test_client_reference_round_trip():
    """A UUID reference survives the dashless ClientReference; others pass unchanged."""
    assert reference_from_client(client_reference(REF)) == REF
    assert len(client_reference(REF)) <= 36
    assert reference_from_client("abc123") == "abc123"


def test_the_single_base_url_fills_every_host():
    """TELECEL_BASE_URL alone is the convenience that serves every host."""
    settings = Settings.from_env({"TELECEL_BASE_URL": "https://hubtel.example/"})
    one = "https://hubtel.example"
    assert HubtelHosts(one, one, one, one, one) == HubtelHosts.from_credentials(settings.telecel)
    partial = Settings.from_env({"TELECEL_STATUS_URL": "https://api-txnstatus.hubtel.com"})
    assert (
        HubtelHosts.from_credentials(partial.telecel).status == "https://api-txnstatus.hubtel.com"
    )
