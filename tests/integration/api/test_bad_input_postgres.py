"""The inputs that gave 500 on PostgreSQL (issue 16.6) are 4xx there now, and callbacks stay 200."""

from __future__ import annotations

import logging

import httpx
import pytest

from synccash.api import create_app, mint_token

pytestmark = pytest.mark.integration

BODY = (
    b'{"amount": "12.50", "payer": {"msisdn": "0241234567"}, '
    b'"payee": {"merchant_account": "PAYEE"}}'
)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.mark.parametrize(
    "case",
    [
        (
            "POST",
            "/api/v1/payments/initiate",
            BODY.replace(b"PAYEE", b"shop\\u0000"),
            422,
            "invalid_character",
        ),
        ("GET", "/api/v1/payments/a%00b", None, 400, "invalid_character"),
        ("GET", "/api/v1/payments/a%00b/status", None, 400, "invalid_character"),
        ("POST", "/api/v1/payments/a%00b/cancel", None, 400, "invalid_character"),
        ("POST", "/api/v1/payments/a%00b/refund", b"{}", 400, "invalid_character"),
        ("POST", "/api/v1/payments/initiate", BODY.replace(b"PAYEE", b"\xff"), 400, "invalid_utf8"),
        ("POST", "/api/v1/payments/a/refund", b'{"amount": "\xc3"}', 400, "invalid_utf8"),
        ("POST", "/api/v1/routing/quote", BODY.replace(b"PAYEE", b"\xfe"), 400, "invalid_utf8"),
        ("GET", "/api/v1/reports/daily?date=9999-12-31", None, 422, "parameter_out_of_range"),
        (
            "GET",
            "/api/v1/payments?created_from=0001-01-01T00:00:00%2B23:59",
            None,
            422,
            "parameter_out_of_range",
        ),
        (
            "GET",
            "/api/v1/payments?created_to=9999-12-31T23:59:59-23:59",
            None,
            422,
            "parameter_out_of_range",
        ),
    ],
)
async def test_former_server_errors_are_client_errors_on_postgres(container, merchant, case):
    """Each of the findings' 500s is now a problem with a stable code."""
    method, path, body, status, code = case
    scopes = ["payments:write", "payments:read", "reports:read"]
    headers = {
        "Authorization": f"Bearer {mint_token(container.settings, merchant, scopes)}",
        "Idempotency-Key": "bad-input",
        "Content-Type": "application/json",
    }
    async with _client(create_app(container)) as client:
        response = await client.request(method, path, content=body, headers=headers)
    assert (status, code) == (response.status_code, response.json()["code"]), response.text


async def test_callback_with_nul_reference_on_postgres_is_200_without_error(container, caplog):
    """The NUL reference never reaches PostgreSQL: 200, no ERROR log record."""
    async with _client(create_app(container)) as client:
        with caplog.at_level(logging.INFO):
            response = await client.put(
                "/api/v1/callbacks/mtn/abc%00def", content=b'{"status": "SUCCESSFUL"}'
            )
    assert response.status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
