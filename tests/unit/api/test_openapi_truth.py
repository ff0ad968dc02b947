"""The OpenAPI document says what the API enforces (issue 16.9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import make_settings
from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from synccash.adapters.bootstrap import wire
from synccash.api import create_app

MERCHANT_OPERATIONS = {
    ("post", "/api/v1/payments/initiate"): "initiatePayment",
    ("get", "/api/v1/payments"): "listPayments",
    ("get", "/api/v1/payments/{payment_id}"): "getPayment",
    ("get", "/api/v1/payments/{payment_id}/status"): "getPaymentStatus",
    ("post", "/api/v1/payments/{payment_id}/cancel"): "cancelPayment",
    ("post", "/api/v1/payments/{payment_id}/refund"): "refundPayment",
    ("post", "/api/v1/routing/quote"): "quoteRoute",
    ("get", "/api/v1/reports/daily"): "getDailyReport",
    ("post", "/api/v1/callbacks/{provider}"): "providerCallbackPost",
    ("put", "/api/v1/callbacks/{provider}/{reference}"): "providerCallbackByReferencePut",
}


@pytest.fixture(scope="module")
def document() -> Iterator[dict[str, Any]]:
    """The served document."""
    with TestClient(app=create_app(wire(make_settings()))) as client:
        yield client.get("/api/openapi.json").json()


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with every local $ref inlined (for a JSON Schema validator)."""
    if "$ref" in schema:
        return _resolved(document, document["components"]["schemas"][schema["$ref"].split("/")[-1]])
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            out[key] = (
                _resolved(document, value)
                if key != "properties"
                else {name: _resolved(document, sub) for name, sub in value.items()}
            )
        elif isinstance(value, list):
            out[key] = [_resolved(document, v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def _request_components(document: dict[str, Any]) -> set[str]:
    """Every component reachable from a request body."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.split("/")[-1] not in found:
                found.add(ref.split("/")[-1])
                walk(document["components"]["schemas"][ref.split("/")[-1]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                walk(operation["requestBody"])
    return found


def test_every_request_schema_refuses_unknown_fields(document):
    """additionalProperties: false on each object a request body can contain."""
    names = _request_components(document)
    assert {
        "InitiatePaymentRequest",
        "PayerIn",
        "PayeeIn",
        "WalletIn",
        "RouteQuoteRequest",
    } <= names
    schemas = document["components"]["schemas"]
    assert dict.fromkeys(names, False) == {n: schemas[n].get("additionalProperties") for n in names}


@pytest.mark.parametrize(
    ("payee", "valid"),
    [
        ({"msisdn": "0551234567"}, True),
        ({"merchant_account": "shop-42"}, True),
        ({"msisdn": "0551234567", "merchant_account": "shop-42"}, False),
        ({}, False),
        ({"msisdn": None, "merchant_account": "shop-42"}, True),
        ({"msisdn": "0551234567", "nickname": "x"}, False),
    ],
)
def test_payee_is_exactly_one_of_its_fields(document, payee, valid):
    """The PayeeIn schema accepts one field, refuses both, neither and unknown ones."""
    schema = _resolved(document, {"$ref": "#/components/schemas/PayeeIn"})
    assert valid == Draft202012Validator(schema).is_valid(payee)


def test_quote_requires_a_payee(document):
    """The quote's payee is required, as the use-case requires it."""
    assert "payee" in document["components"]["schemas"]["RouteQuoteRequest"]["required"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("12.50", True), ("12", True), (" 12.50", False), ("12.50\n", False), ("-1", False)],
)
def test_amount_pattern_is_documented(document, value, valid):
    """Amounts are documented with the pattern the API enforces."""
    amount = document["components"]["schemas"]["InitiatePaymentRequest"]["properties"]["amount"]
    assert valid == Draft202012Validator(amount).is_valid(value)


def test_operations_have_explicit_unique_ids(document):
    """Merchant and callback operations carry the ids clients generate code from; no repeats."""
    ids = {
        (method, path): operation.get("operationId")
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
    }
    assert {key: ids[key] for key in MERCHANT_OPERATIONS} == MERCHANT_OPERATIONS
    assert len(set(ids.values())) == len(ids)


def test_every_operation_id_is_camel_case_and_unique(document):
    """Routes without an explicit id get their handler's name in camelCase, never a path blob."""
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
    ]
    assert [i for i in ids if not re.fullmatch(r"[a-z][A-Za-z0-9]*", i)] == []
    assert len(set(ids)) == len(ids)
    assert {"healthLiveAtHealthLiveGet", "healthLiveAtApiV1HealthGet", "metrics"} <= set(ids)


def test_merchant_operations_name_a_security_scheme(document):
    """Each operation that needs a token names a scheme defined in components."""
    schemes = set(document["components"]["securitySchemes"])
    for method, path in MERCHANT_OPERATIONS:
        if "callbacks" in path:
            continue
        security = document["paths"][path][method]["security"]
        assert {"bearerAuth", "apiKeyAuth"} == {name for entry in security for name in entry}
        assert {"bearerAuth", "apiKeyAuth"} <= schemes
