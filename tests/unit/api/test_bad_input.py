"""Bad input is never a 5xx (issue 16.6): control characters, bad UTF-8, odd dates, duplicates."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from api_helpers import ALL, assert_problem, initiate_body, make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from synccash.adapters.bootstrap import wire
from synccash.api import create_app, mint_token

INITIATE = "/api/v1/payments/initiate"


def _raw(client: Any, auth: Any, path: str, body: bytes) -> Any:
    return client.post(
        path,
        content=body,
        headers={**auth(key=uuid.uuid4().hex), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payee": {"merchant_account": "shop\x0042"}}, "payee.merchant_account"),
        ({"payee": {"merchant_account": "shop\x01"}}, "payee.merchant_account"),
        ({"reference": "order\x7f"}, "reference"),
        ({"payer": {"msisdn": "0241234567\x00"}}, "payer.msisdn"),
        ({"description": "tea\x00"}, "description"),
        ({"metadata": {"note": "x\x00y"}}, "metadata.note"),
        ({"metadata": {"k\x00": "v"}}, "metadata.k\x00"),
        ({"metadata": {"list": ["ok", "\x85"]}}, "metadata.list[1]"),
        ({"currency": "GHS\x00"}, "currency"),
    ],
)
async def test_control_characters_in_body_strings_are_422(initiate, changes, field):
    """NUL, C0/C1 controls and DEL in any body string (or key) are refused, naming the field."""
    problem = assert_problem(await initiate(initiate_body(**changes)), 422, "invalid_character")
    assert field == problem["errors"][0]["field"]


async def test_tab_and_newline_stay_allowed_in_free_text(initiate):
    """Description and metadata may hold tab and line breaks (merchants' notes)."""
    body = initiate_body(description="line 1\nline 2\ttabbed", metadata={"note": "a\r\nb"})
    response = await initiate(body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("path", [INITIATE, "/api/v1/routing/quote"])
async def test_invalid_utf8_in_a_json_string_is_400(client, auth, path):
    """Bytes that are not UTF-8 inside a JSON string: 400 invalid_utf8."""
    body = json.dumps(initiate_body()).encode().replace(b"Order 123", b"Order \xff\xfe")
    if path.endswith("quote"):
        body = b'{"amount": "12.50", "payer": {"msisdn": "\xc3"}}'
    assert_problem(await _raw(client, auth, path, body), 400, "invalid_utf8")


async def test_invalid_utf8_on_refund_is_400(client, auth):
    """The refund body is screened too (before the payment is even looked up)."""
    response = await _raw(client, auth, "/api/v1/payments/some-id/refund", b'{"amount": "\xff"}')
    assert_problem(response, 400, "invalid_utf8")


async def test_duplicate_keys_are_refused_not_last_wins(client, auth):
    """`{"amount":"1.00","amount":"20000.00"}` is 422 and stores nothing."""
    body = (
        b'{"amount":"1.00","amount":"20000.00","payer":{"msisdn":"0241234567"},'
        b'"payee":{"msisdn":"0551234567"}}'
    )
    problem = assert_problem(await _raw(client, auth, INITIATE, body), 422, "duplicate_json_key")
    assert problem["errors"][0]["field"] == "amount"
    listed = await client.get("/api/v1/payments", headers=auth())
    assert listed.json()["items"] == []


async def test_duplicate_keys_in_nested_objects_are_refused(client, auth):
    """A repeated key deep inside (payer.msisdn) is refused as well."""
    body = b'{"amount":"1.00","payer":{"msisdn":"0241234567","msisdn":"0271234567"},"payee":{}}'
    assert_problem(await _raw(client, auth, INITIATE, body), 422, "duplicate_json_key")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": " 12.50"}, "invalid_amount"),
        ({"amount": "12.50 "}, "invalid_amount"),
        ({"amount": "12.50\n"}, "invalid_character"),
        ({"amount": "+12.50"}, "invalid_amount"),
        ({"payer": {"msisdn": "-241234567"}}, "invalid_msisdn"),
        ({"payer": {"msisdn": " 0241234567"}}, "invalid_msisdn"),
        ({"payee": {"msisdn": "0551234567-"}}, "invalid_msisdn"),
        (
            {
                "payer": {
                    "msisdn": "0241234567",
                    "wallets": [{"provider": "mtn", "msisdn": "0241234567", "balance": " 5"}],
                }
            },
            "invalid_amount",
        ),
    ],
)
async def test_padded_amounts_and_signed_msisdns_are_refused(initiate, changes, code):
    """No surrounding whitespace in amounts, no sign on a phone number."""
    assert_problem(await initiate(initiate_body(**changes)), 422, code)


async def test_usual_msisdn_forms_still_pass(initiate):
    """+233 with spaces, 233…, 0… and hyphenated forms are still accepted."""
    for n, msisdn in enumerate(["+233 24 123 4567", "233241234567", "024-123-4567"]):
        response = await initiate(initiate_body(payer={"msisdn": msisdn}), key=f"k{n}")
        assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payments/ab%00c",
        "/api/v1/payments/ab%00c/status",
        "/api/v1/payments/ab%01c",
    ],
)
async def test_control_characters_in_path_parameters_are_400(client, auth, path):
    """A NUL or control character in a payment id is a 400 naming the path parameter."""
    problem = assert_problem(await client.get(path, headers=auth()), 400, "invalid_character")
    assert problem["errors"][0] == {
        "field": "payment_id",
        "message": "control characters (such as NUL) are not allowed",
        "source": "path",
    }


@pytest.mark.parametrize("action", ["cancel", "refund"])
async def test_control_characters_in_path_of_posts_are_400(client, auth, action):
    """Cancel and refund refuse a NUL payment id the same way."""
    response = await client.post(f"/api/v1/payments/x%00/{action}", headers=auth(key="k-1"))
    assert_problem(response, 400, "invalid_character")


@pytest.mark.parametrize("name", ["reference", "cursor", "state"])
async def test_control_characters_in_query_parameters_are_400(client, auth, name):
    """Query parameters are screened too."""
    response = await client.get("/api/v1/payments", params={name: "a\x00"}, headers=auth())
    assert assert_problem(response, 400, "invalid_character")["errors"][0]["field"] == name


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1969-12-31"])
async def test_daily_report_out_of_range_dates_are_422(client, auth, day):
    """Days outside 1970-01-01..9998-12-31 are 422 parameter_out_of_range."""
    response = await client.get("/api/v1/reports/daily", params={"date": day}, headers=auth())
    assert_problem(response, 422, "parameter_out_of_range")


async def test_daily_report_in_range_edges_work(client, auth):
    """The first and last accepted days answer 200."""
    for day in ("1970-01-01", "9998-12-31"):
        response = await client.get("/api/v1/reports/daily", params={"date": day}, headers=auth())
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created_from", "0001-01-01T00:00:00+23:59"),
        ("created_to", "9999-12-31T23:59:59-23:59"),
        ("created_from", "2026-01-01T00:00:00+14:01"),
        ("created_to", "1134-06-29T00:23:15Z"),
    ],
)
async def test_list_filters_with_extreme_offsets_or_years_are_422(client, auth, name, value):
    """Offsets beyond ±14:00 and instants outside the day range are 422, not an overflow."""
    response = await client.get("/api/v1/payments", params={name: value}, headers=auth())
    problem = assert_problem(response, 422, "parameter_out_of_range")
    assert problem["errors"][0]["field"] == name


async def test_callback_with_a_nul_reference_is_200_without_error_logs(client, caplog):
    """A NUL reference is unreadable: 200 at once, nothing looked up, no ERROR record."""
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/api/v1/callbacks/mtn/ab%00c", content=b'{"status": "SUCCESSFUL"}'
        )
    assert (response.status_code, response.json()) == (200, {"received": True})
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- every operation, nasty bytes ------------------------------------------------------------

_controls = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F)
    | st.sampled_from(["a", "\u00e9", "\U0001d413"]),
    min_size=1,
    max_size=12,
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _controls,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_controls, inner, max_size=3),
    max_leaves=6,
)
_bodies = (
    st.binary(max_size=64)
    | _json_values.map(lambda v: json.dumps(v).encode())
    | st.builds(
        lambda doc, junk: json.dumps(doc).encode().replace(b"a", junk, 1),
        st.dictionaries(st.sampled_from(["amount", "payer", "payee", "a"]), _json_values),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b'a","a":"']),
    )
)


def _operations() -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every documented operation."""
    app = create_app(wire(make_settings()))
    found = []
    for path, item in app.openapi_schema.to_schema()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                found.append((method.upper(), path, query))
    return found


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz() -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    """One in-memory app and a token with every scope."""
    config = make_settings()
    with TestClient(app=create_app(wire(config))) as client:
        yield client, {"Authorization": f"Bearer {mint_token(config, 'bad-bytes', ALL)}"}


def test_the_fuzz_covers_every_documented_operation():
    """The operation list comes from the OpenAPI document (so new routes are fuzzed too)."""
    paths = {path for _, path, _ in OPERATIONS}
    assert {"/api/v1/payments/initiate", "/api/v1/payments/{payment_id}/refund"} <= paths
    assert len(OPERATIONS) >= 12


@pytest.mark.parametrize(("method", "template", "query"), OPERATIONS, ids=str)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_nasty_bytes_to_every_operation_are_never_a_5xx(fuzz, method, template, query, data):
    """Control characters in path and query, random or broken-UTF-8 bodies: always < 500."""
    client, headers = fuzz
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = quote(data.draw(_controls), safe="")
        path = path[:start] + value + path[end + 1 :]
    params = {name: data.draw(_controls) for name in query if data.draw(st.booleans())}
    body = data.draw(_bodies) if method in {"POST", "PUT"} else None
    response = client.request(
        method,
        path,
        params=params,
        content=body,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code < 500, (method, path, params, body, response.text)


async def test_raw_c1_control_in_utf8_body_is_refused(client, auth):
    """An unescaped U+0085 (valid JSON, sent as raw UTF-8) is found without any backslash."""
    body = json.dumps(initiate_body(reference="order\u0085"), ensure_ascii=False).encode()
    assert b"\\" not in body
    problem = assert_problem(await _raw(client, auth, INITIATE, body), 422, "invalid_character")
    assert problem["errors"][0]["field"] == "reference"
