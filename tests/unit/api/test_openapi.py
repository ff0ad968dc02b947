"""The OpenAPI document validates and lists every served route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import make_settings
from litestar import Litestar
from litestar.testing import TestClient
from openapi_spec_validator import validate

from synccash.adapters.bootstrap import wire
from synccash.api import create_app


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Litestar, TestClient[Litestar]]]:
    """One app and client for the module (the document does not change)."""
    app = create_app(wire(make_settings()))
    with TestClient(app=app) as client:
        yield app, client


@pytest.fixture(scope="module")
def document(served) -> dict[str, Any]:
    """The served OpenAPI document."""
    response = served[1].get("/api/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def test_document_validates(document):
    """openapi-spec-validator accepts the document."""
    validate(document)


def test_document_lists_every_served_route(served, document):
    """Every route the app serves (except the docs themselves) is in `paths`, and nothing else."""
    documented = {
        path: {m.upper() for m in ops if m in {"get", "post", "put", "delete", "patch"}}
        for path, ops in document["paths"].items()
    }
    found: dict[str, set[str]] = {}
    for route in served[0].routes:
        if not route.path.startswith(("/api/v1", "/health", "/metrics")):
            continue
        methods = {m for m in route.methods if m not in {"HEAD", "OPTIONS"}}
        found.setdefault(route.path_format, set()).update(methods)
    assert found == documented


def test_merchant_operations_document_auth_and_problems(document):
    """Merchant operations carry the bearer requirement and problem+json error responses."""
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    initiate = document["paths"]["/api/v1/payments/initiate"]["post"]
    assert initiate["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    assert {"200", "202", "400", "401", "403", "409", "413", "422", "429"} <= initiate[
        "responses"
    ].keys()
    problem = initiate["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/ProblemDetails"}
    assert any(p["name"] == "Idempotency-Key" for p in initiate["parameters"])
    resource = document["components"]["schemas"]["PaymentResource"]["properties"]
    assert {"id", "state", "amount", "currency", "provider", "failure_code"} <= resource.keys()


def test_every_merchant_operation_documents_400_401_403_429(document):
    """All bearer-protected operations list the parameter, auth and rate-limit problems."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert {"400", "401", "403", "429"} <= operation["responses"].keys(), (path, method)


def test_docs_pages_are_served(served):
    """Swagger UI and ReDoc answer."""
    for path in ("/api/docs", "/api/redoc"):
        response = served[1].get(path)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
