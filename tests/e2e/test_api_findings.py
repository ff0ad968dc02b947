"""Minimal reproductions of API bugs the fuzz run found (live API on PostgreSQL).

Fixed: control characters (NUL) are refused by the core's validation with a 4xx, and a
list cursor must be a payment id.
"""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"reference": "order\x001"}, id="nul-in-reference"),
        pytest.param({"cursor": "\U0001d413\x00"}, id="nul-in-cursor"),
        pytest.param({"created_from": "1134-06-29T00:23:15Z"}, id="year-1134"),
        pytest.param({"created_to": "5960-09-16T20:30:08.2-05:10"}, id="year-5960"),
    ],
)
def test_listing_with_odd_filters_is_never_a_server_error(live, query):
    """Garbage in list filters is a 4xx (or an empty page), never a 5xx."""
    response = httpx.get(
        f"{live.api_url}/api/v1/payments",
        params=query,
        headers={"Authorization": f"Bearer {live.token('odd-filters')}"},
        timeout=10,
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "extra",
    [
        {"reference": "order\u00001"},
        {"description": "tea\u0000"},
        {"metadata": {"note": "x\u0000y"}},
    ],
    ids=["reference", "description", "metadata"],
)
def test_a_nul_character_in_a_payment_is_never_a_server_error(live, extra):
    """JSON strings may hold U+0000; PostgreSQL text cannot: the API must answer 4xx (or store it)."""
    body = {
        "amount": "2.00",
        "payer": {"msisdn": "0245551234"},
        "payee": {"merchant_account": "nul-merchant"},  # the token's own account
        **extra,
    }
    response = httpx.post(
        f"{live.api_url}/api/v1/payments/initiate",
        json=body,
        headers={
            "Authorization": f"Bearer {live.token('nul-merchant')}",
            "Idempotency-Key": f"nul-{min(extra)}",
        },
        timeout=10,
    )
    assert response.status_code < 500, response.text
