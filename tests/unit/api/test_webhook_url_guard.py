"""Initiate refuses webhook URLs aimed at internal targets (SSRF) with a stable 422 problem."""

from __future__ import annotations

import pytest
from api_helpers import MERCHANT, assert_problem, initiate_body, make_settings
from litestar.testing import AsyncTestClient

from synccash.adapters.bootstrap import wire
from synccash.api import create_app, mint_token


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:5432/",
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://[fd00:ec2::254]/",
        "https://10.1.2.3/h",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://user@merchant.example/h",
        "http://merchant.example/h",
    ],
)
async def test_internal_webhook_urls_are_refused_and_nothing_is_stored(initiate, client, auth, url):
    """422 webhook_url_not_allowed; the merchant's payment list stays empty."""
    response = await initiate(initiate_body(webhook_url=url))
    problem = assert_problem(response, 422, "webhook_url_not_allowed")
    assert "webhook URLs must" in problem["detail"]
    listed = await client.get("/api/v1/payments", headers=auth())
    assert listed.json()["items"] == []


async def test_a_public_https_webhook_url_is_accepted(initiate):
    """The common case still works."""
    response = await initiate(initiate_body(webhook_url="https://hooks.merchant.example/h"))
    assert response.status_code == 202, response.text


async def test_the_development_allowlist_admits_a_loopback_receiver():
    """WEBHOOK_ALLOWED_TARGETS=127.0.0.1 lets a local receiver over http be registered."""
    settings = make_settings(WEBHOOK_ALLOWED_TARGETS="127.0.0.1")
    headers = {
        "Authorization": f"Bearer {mint_token(settings, MERCHANT)}",
        "Idempotency-Key": "k-dev",
    }
    body = initiate_body(webhook_url="http://127.0.0.1:9000/hooks")
    async with AsyncTestClient(app=create_app(wire(settings))) as client:
        response = await client.post("/api/v1/payments/initiate", json=body, headers=headers)
    assert response.status_code == 202, response.text
