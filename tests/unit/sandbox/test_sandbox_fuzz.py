"""Property: no JSON body, however odd, makes a sandbox answer 5xx (only injected faults do)."""

from __future__ import annotations

import base64
import uuid

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synccash.sandbox import airteltigo, create_combined_app, mtn, telecel

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)


def _field_keys(*keys: str) -> st.SearchStrategy[dict]:
    """Dicts with the provider's own field names and arbitrary values (reaches deeper code)."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, JSON))


MTN_BODY = _field_keys(
    "amount",
    "currency",
    "externalId",
    "payer",
    "payee",
    "payerMessage",
    "payeeNote",
    "referenceIdToRefund",
)
AT_BODY = _field_keys("reference", "subscriber", "transaction", "payee", "pin")
TELECEL_BODY = _field_keys(
    "CustomerMsisdn",
    "RecipientMsisdn",
    "Channel",
    "Amount",
    "PrimaryCallbackUrl",
    "Description",
    "ClientReference",
)


async def _tokens(http: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    creds = mtn.DEFAULT_CREDENTIALS
    sub = {"Ocp-Apim-Subscription-Key": creds["collection_subscription_key"]}
    basic = base64.b64encode(
        f"{creds['collection_user_id']}:{creds['collection_api_key']}".encode()
    ).decode()
    mtn_token = (
        await http.post(
            "/mtn/collection/token/", headers={"Authorization": f"Basic {basic}", **sub}
        )
    ).json()
    at_token = (
        await http.post(
            "/airteltigo/auth/oauth2/token",
            json={**airteltigo.DEFAULT_CREDENTIALS, "grant_type": "client_credentials"},
        )
    ).json()
    raw = (
        f"{telecel.DEFAULT_CREDENTIALS['client_id']}:{telecel.DEFAULT_CREDENTIALS['client_secret']}"
    )
    return {
        "mtn": {
            "Authorization": f"Bearer {mtn_token['access_token']}",
            "X-Target-Environment": "sandbox",
            **sub,
        },
        "airteltigo": {
            "Authorization": f"Bearer {at_token['access_token']}",
            "X-Country": "GH",
            "X-Currency": "GHS",
        },
        "telecel": {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()},
    }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mtn_body=MTN_BODY | JSON, at_body=AT_BODY | JSON, telecel_body=TELECEL_BODY | JSON)
async def test_odd_bodies_never_give_5xx(mtn_body, at_body, telecel_body):
    """Collections, payouts and refunds with arbitrary JSON answer 2xx/4xx, never 5xx."""
    app = create_combined_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://s"
    ) as http:
        headers = await _tokens(http)
        calls = [
            ("mtn", "/mtn/collection/v1_0/requesttopay", mtn_body),
            ("mtn", "/mtn/disbursement/v1_0/refund", mtn_body),
            ("airteltigo", "/airteltigo/merchant/v1/payments/", at_body),
            ("airteltigo", "/airteltigo/standard/v1/disbursements/", at_body),
            ("airteltigo", "/airteltigo/standard/v1/payments/refund", at_body),
            (
                "telecel",
                "/telecel/merchantaccount/merchants/2017101/receive/mobilemoney",
                telecel_body,
            ),
            ("telecel", "/telecel/api/merchants/2017101/send/mobilemoney", telecel_body),
        ]
        for provider, path, body in calls:
            extra = {"X-Reference-Id": str(uuid.uuid4())} if provider == "mtn" else {}
            if path.endswith("/refund") and provider == "mtn":
                headers_for = {
                    **headers[provider],
                    "Ocp-Apim-Subscription-Key": "synccash-disbursement-subscription",
                }
            else:
                headers_for = headers[provider]
            response = await http.post(path, headers={**headers_for, **extra}, json=body)
            if provider == "mtn" and path.endswith("/refund"):
                assert response.status_code == 401  # a collection token does not open disbursement
            else:
                assert response.status_code < 500, (path, body, response.text)
    await app.aclose()
