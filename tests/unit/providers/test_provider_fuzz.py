"""Property tests: whatever a provider answers, the clients never raise and never over-claim."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st
from provider_fakes import (
    AT_CREDENTIALS,
    MTN_COLLECTION,
    MTN_DISBURSEMENT,
    TELECEL_CREDENTIALS,
    FakeClock,
)
from provider_fakes import attempt as make_attempt

from synccash.adapters.providers import AirtelTigoClient, MtnMomoClient, TelecelCashClient
from synccash.core.outcomes import OutcomeKind, ProviderOutcome
from synccash.core.payment import AttemptKind
from synccash.core.providers import ProviderId

KEYS = [
    "status", "reason", "code", "message", "financialTransactionId", "data", "transaction",
    "response_code", "result_code", "success", "status_code", "airtel_money_id", "id",
    "ResponseCode", "responseCode", "Message", "Data", "ClientReference", "TransactionId",
    "access_token", "expires_in", "error", "result", "given_name",
]  # fmt: skip
CODES = [
    "SUCCESSFUL", "PENDING", "FAILED", "CREATED", "TS", "TF", "TA", "TIP", "TE", "Paid", "Unpaid",
    "0000", "0001", "0005", "2001", "DP00800001001", "DP00800001006", "DP00800001025",
    "ESB000001", "ROUTER110", "RESOURCE_ALREADY_EXIST", "APPROVAL_REJECTED", "NOT_ENOUGH_FUNDS",
    "EXPIRED", "PAYER_NOT_FOUND", "INVALID_CURRENCY", "DP00800001008", "DP00800001029", "2050",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(CODES),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=12,
)
#: Provider-shaped error bodies, so codes land where the clients look for them.
shaped = st.one_of(
    st.fixed_dictionaries({"code": st.sampled_from(CODES), "message": st.text(max_size=8)}),
    st.fixed_dictionaries({"ResponseCode": st.sampled_from(CODES), "Message": st.text(max_size=8)}),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {"transaction": st.dictionaries(st.sampled_from(KEYS), scalars)}
            ),
            "status": st.fixed_dictionaries(
                {"response_code": st.sampled_from(CODES), "success": st.booleans()}
            ),
        }
    ),
)
bodies = st.one_of(
    shaped.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
)
statuses = st.one_of(
    st.sampled_from([200, 201, 202, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503]),
    st.integers(100, 599),
)


class Scripted:
    """Answers token calls properly and everything else with the current fuzzed response."""

    def __init__(self) -> None:
        """No response yet."""
        self.status = 200
        self.body = b""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        if request.url.path.endswith(("/token/", "/oauth2/token")):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(self.status, content=self.body)


SCRIPT = Scripted()
HTTP = httpx.AsyncClient(transport=httpx.MockTransport(SCRIPT))
CLIENTS: dict[ProviderId, Any] = {
    ProviderId.MTN: MtnMomoClient(
        HTTP,
        collection=MTN_COLLECTION,
        disbursement=MTN_DISBURSEMENT,
        target_environment="sandbox",
        clock=FakeClock(),
    ),
    ProviderId.AIRTELTIGO: AirtelTigoClient(HTTP, credentials=AT_CREDENTIALS, clock=FakeClock()),
    ProviderId.TELECEL: TelecelCashClient(HTTP, credentials=TELECEL_CREDENTIALS),
}


def run(provider: ProviderId, status: int, body: bytes, *, submit: bool) -> ProviderOutcome:
    """One call against the scripted answer."""
    SCRIPT.status, SCRIPT.body = status, body
    client = CLIENTS[provider]
    if submit:
        return asyncio.run(client.submit(make_attempt(provider=provider, msisdn="0241234567")))
    return asyncio.run(client.status(AttemptKind.COLLECT, "ref"))


@given(st.sampled_from(list(ProviderId)), statuses, bodies)
def test_submit_never_raises_and_never_claims_success_off_2xx(provider, status, body):
    """Submit always returns an outcome; SUCCEEDED only on 2xx, NOT_FOUND never."""
    outcome = run(provider, status, body, submit=True)
    assert isinstance(outcome, ProviderOutcome)
    if not 200 <= status < 300:
        assert outcome.kind is not OutcomeKind.SUCCEEDED
    assert outcome.kind is not OutcomeKind.NOT_FOUND


@given(st.sampled_from(list(ProviderId)), statuses, bodies)
def test_status_never_raises_and_only_2xx_states_a_result(provider, status, body):
    """A status answer off 2xx is TRANSIENT or NOT_FOUND: it never decides the attempt."""
    outcome = run(provider, status, body, submit=False)
    assert isinstance(outcome, ProviderOutcome)
    if not 200 <= status < 300:
        assert outcome.kind in (OutcomeKind.TRANSIENT, OutcomeKind.NOT_FOUND)


@given(st.sampled_from(list(ProviderId)), statuses, bodies)
def test_a_5xx_submit_is_never_a_payer_decision(provider, status, body):
    """A 5xx after submit may have been processed: never PENDING-as-success nor a payer decline."""
    outcome = run(provider, 500 + status % 100, body, submit=True)
    assert outcome.kind is not OutcomeKind.SUCCEEDED
    if outcome.kind is OutcomeKind.FAILED:
        assert outcome.reason is not None
        assert outcome.reason.value not in ("rejected_by_payer", "expired")
