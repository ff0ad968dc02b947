"""Bad input is always a problem+json 4xx with a stable code, never a 500."""

from __future__ import annotations

import pytest
from api_helpers import assert_problem, initiate_body

URL = "/api/v1/payments/initiate"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": 12.5}, "invalid_amount"),  # a float
        ({"amount": 12}, "invalid_amount"),  # a JSON number at all
        ({"amount": "-5.00"}, "invalid_amount"),
        ({"amount": "12.505"}, "invalid_amount"),
        ({"amount": "1e3"}, "invalid_amount"),
        ({"amount": "NaN"}, "invalid_amount"),
        ({"amount": "0.50"}, "amount_out_of_range"),  # below MIN_TRANSACTION_AMOUNT
        ({"amount": "25000.01"}, "amount_out_of_range"),  # above MAX_TRANSACTION_AMOUNT
        ({"currency": "USD"}, "unsupported_currency"),
        ({"payer": {"msisdn": "12345"}}, "invalid_msisdn"),
        ({"payer": {"msisdn": "0311234567"}}, "invalid_msisdn"),  # a landline prefix
        ({"payee": {"msisdn": "not-a-number"}}, "invalid_msisdn"),
        (
            {
                "payer": {
                    "msisdn": "0241234567",
                    "wallets": [{"provider": "paypal", "msisdn": "0241234567"}],
                }
            },
            "unknown_provider",
        ),
        (
            {
                "payer": {
                    "msisdn": "0241234567",
                    "wallets": [{"provider": "mtn", "msisdn": "0241234567", "balance": 5.5}],
                }
            },
            "invalid_amount",
        ),
        ({"payee": {"msisdn": "0551234567", "merchant_account": "a"}}, "invalid_payee"),
        ({"payee": {}}, "invalid_payee"),
        ({"webhook_url": "ftp://merchant.example"}, "invalid_webhook_url"),
        ({"surprise": True}, "validation_error"),  # unknown field
        ({"payer": {"msisdn": "0241234567", "nickname": "x"}}, "validation_error"),
        ({"description": 42}, "validation_error"),
    ],
)
async def test_bad_initiate_bodies(initiate, changes, code):
    """Each bad field gets 422 and its own code."""
    problem = assert_problem(await initiate(initiate_body(**changes)), 422, code)
    assert problem["detail"]


async def test_field_errors_name_the_field(initiate):
    """Type errors list the offending field under `errors`."""
    problem = assert_problem(await initiate(initiate_body(amount=1.5)), 422, "invalid_amount")
    assert problem["errors"][0]["field"] == "amount"


async def test_missing_required_field(initiate):
    """A body without the payer is 422."""
    body = initiate_body()
    del body["payer"]
    assert_problem(await initiate(body), 422, "validation_error")


async def test_malformed_json_is_400(client, auth):
    """Broken JSON is a 400 malformed_json problem."""
    response = await client.post(URL, content=b'{"amount": "1', headers=auth(key="k"))
    assert_problem(response, 400, "malformed_json")


async def test_empty_body_is_400(client, auth):
    """No body at all is a 400."""
    response = await client.post(URL, content=b"", headers=auth(key="k"))
    assert_problem(response, 400, "malformed_json")


async def test_json_array_body_is_422(client, auth):
    """A JSON array where an object is expected is a validation problem."""
    response = await client.post(URL, json=[1, 2], headers=auth(key="k"))
    assert_problem(response, 422, "validation_error")


async def test_oversized_body_is_413(client, auth, settings):
    """A body above MAX_BODY_BYTES is refused before it is parsed."""
    big = initiate_body(description="x" * (settings.max_body_bytes + 10))
    response = await client.post(URL, json=big, headers=auth(key="k"))
    assert_problem(response, 413, "body_too_large")


async def test_unknown_route_is_a_404_problem(client):
    """Unknown paths answer problem+json too."""
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_a_405_problem(client):
    """DELETE on a POST-only route is a 405 problem."""
    assert_problem(await client.delete(URL), 405, "method_not_allowed")


async def test_idempotency_key_too_long_is_400(client, auth):
    """Keys are at most 255 characters."""
    response = await client.post(URL, json=initiate_body(), headers=auth(key="k" * 256))
    assert_problem(response, 400, "idempotency_key_invalid")


async def test_chunked_oversized_body_is_413(app, auth, settings):
    """Without Content-Length the limit is enforced while streaming the body."""
    import httpx

    chunk = b'{"description": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'

    async def stream():
        for i in range(0, len(chunk), 4096):
            yield chunk[i : i + 4096]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as raw:
        response = await raw.post(URL, content=stream(), headers=auth(key="k"))
    assert_problem(response, 413, "body_too_large")


async def test_absurdly_nested_json_is_400(client, auth):
    """JSON nested thousands deep is malformed input, not a server error."""
    body = b'{"metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await client.post(URL, content=body, headers=auth(key="k"))
    assert_problem(response, 400, "malformed_json")
