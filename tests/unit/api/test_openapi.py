"""The OpenAPI document validates and lists every served route."""

from __future__ import annotations

from litestar import Litestar
from openapi_spec_validator import validate

DOC_ROUTES = {"/api/openapi.json", "/api/docs", "/api/redoc"}


async def _document(client) -> dict:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_document_validates(client):
    """openapi-spec-validator accepts the document."""
    validate(await _document(client))


async def test_document_lists_every_served_route(client, app: Litestar):
    """Every route the app serves (except the docs themselves) is in `paths`, and nothing else."""
    documented = {
        path: {m.upper() for m in ops if m in {"get", "post", "put", "delete", "patch"}}
        for path, ops in (await _document(client))["paths"].items()
    }
    served: dict[str, set[str]] = {}
    for route in app.routes:
        if not route.path.startswith("/api/v1") and not route.path.startswith(
            ("/health", "/metrics")
        ):
            continue
        methods = {m for m in route.methods if m not in {"HEAD", "OPTIONS"}}
        served.setdefault(route.path_format, set()).update(methods)
    assert served == documented


async def test_merchant_operations_document_auth_and_problems(client):
    """Merchant operations carry the bearer requirement and problem+json error responses."""
    doc = await _document(client)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    initiate = doc["paths"]["/api/v1/payments/initiate"]["post"]
    assert initiate["security"] == [{"bearerAuth": []}]
    assert {"200", "202", "400", "401", "403", "409", "413", "422", "429"} <= initiate[
        "responses"
    ].keys()
    problem = initiate["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/ProblemDetails"}
    assert any(p["name"] == "Idempotency-Key" for p in initiate["parameters"])
    resource = doc["components"]["schemas"]["PaymentResource"]["properties"]
    assert {"id", "state", "amount", "currency", "provider", "failure_code"} <= resource.keys()


async def test_docs_pages_are_served(client):
    """Swagger UI and ReDoc answer."""
    for path in ("/api/docs", "/api/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "text/html" in response.headers["content-type"]
