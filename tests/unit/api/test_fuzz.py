"""Property: whatever JSON arrives at initiate or quote, the answer is never a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from api_helpers import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from synccash.adapters.bootstrap import wire
from synccash.api import create_app, mint_token

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_amounts = st.from_regex(r"\A-?\d{0,17}(\.\d{0,4})?\Z") | _json
_msisdns = st.sampled_from(["0241234567", "233201234567", "+233 27 123 4567", "12", ""]) | _json
_wallet = st.fixed_dictionaries(
    {
        "provider": st.sampled_from(["mtn", "telecel", "airteltigo", "x"]) | _json,
        "msisdn": _msisdns,
    },
    optional={"balance": _amounts, "extra": _json},
)
_party = st.fixed_dictionaries(
    {},
    optional={
        "msisdn": _msisdns,
        "merchant_account": _json,
        "wallets": st.lists(_wallet, max_size=3) | _json,
    },
)
_bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "amount": _amounts,
            "currency": st.sampled_from(["GHS", "USD"]) | _json,
            "payer": _party | _json,
            "payee": _party | _json,
            "description": _json,
            "reference": _json,
            "metadata": _json,
            "webhook_url": st.sampled_from(["https://x.example/h", "ftp://x"]) | _json,
        },
    )
    | _json
)


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app for all examples (keys are unique per example)."""
    config = make_settings()
    token = mint_token(config, "fuzz-merchant", ["payments:write", "payments:read"])
    with TestClient(app=create_app(wire(config))) as client:
        yield client, {"Authorization": f"Bearer {token}"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies, path=st.sampled_from(["/api/v1/payments/initiate", "/api/v1/routing/quote"]))
def test_no_input_gives_a_server_error(fuzz_client, body, path):
    """Any JSON body: a 2xx, or a 4xx problem document, never a 5xx."""
    client, headers = fuzz_client
    response = client.post(
        path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code < 500, (body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]
