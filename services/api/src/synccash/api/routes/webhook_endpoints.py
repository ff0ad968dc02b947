"""Merchants' webhook endpoints: register, list, delete, rotate the secret; deliveries log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody, PathParameter

from synccash.adapters.webhook_endpoints import (
    DEFAULT_OVERLAP,
    MAX_ENDPOINTS_PER_MERCHANT,
    WebhookEndpoint,
    new_endpoint,
    new_secret,
)
from synccash.api.auth import Scope
from synccash.api.guards import api_context, current_principal, merchant_route
from synccash.api.problems import RequestProblem
from synccash.api.routes._common import BEARER, errors

EndpointId = Annotated[str, PathParameter(description="Webhook endpoint id", max_length=32)]
DeliveryId = Annotated[str, PathParameter(description="Delivery id", max_length=36)]


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new endpoint: an https URL and the event types it wants (`*`: all)."""

    url: Annotated[str, msgspec.Meta(max_length=2048)]
    event_types: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=32)
    ]
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""


class RotateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How long the previous secret keeps signing (0 to 604800 s; default 86400)."""

    overlap_seconds: Annotated[int, msgspec.Meta(ge=0, le=604_800)] = int(
        DEFAULT_OVERLAP.total_seconds()
    )


class EndpointOut(msgspec.Struct, kw_only=True):
    """An endpoint (the secret only in the answers that create or rotate it)."""

    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime
    previous_secret_expires_at: datetime | None = None
    secret: str | None = None


class EndpointList(msgspec.Struct, kw_only=True):
    """The merchant's endpoints."""

    items: list[EndpointOut]


class DeliveryOut(msgspec.Struct, kw_only=True):
    """One delivery of one event to an endpoint."""

    id: str
    event_id: str
    payment_id: str
    sequence: int | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class DeliveryList(msgspec.Struct, kw_only=True):
    """An endpoint's deliveries, newest first."""

    items: list[DeliveryOut]


def _out(endpoint: WebhookEndpoint, *, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        description=endpoint.description,
        created_at=endpoint.created_at,
        previous_secret_expires_at=endpoint.previous_expires_at,
        secret=secret,
    )


def _delivery_out(d: Any) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        event_id=d.outbox_id,
        payment_id=d.payment_id,
        sequence=d.seq,
        status=str(d.status.value),
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


async def _own(request: Request[Any, Any, Any], endpoint_id: str) -> WebhookEndpoint:
    merchant = current_principal(request).merchant_id
    endpoint = await api_context(request).container.webhook_endpoints.get(merchant, endpoint_id)
    if endpoint is None:  # another merchant's endpoint is as absent as a missing one
        raise RequestProblem(404, "webhook_endpoint_not_found", "no such webhook endpoint")
    return endpoint


@post(
    "/webhook-endpoints",
    status_code=201,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(409, 413, 422),
    operation_id="createWebhookEndpoint",
    summary="Register a webhook endpoint; its signing secret is in this answer only",
    tags=["webhooks"],
)
async def create_endpoint(
    *, request: Request[Any, Any, Any], data: JSONBody[EndpointIn]
) -> EndpointOut:
    """POST /api/v1/webhook-endpoints."""
    api = api_context(request)
    merchant = current_principal(request).merchant_id
    api.url_guard.check(data.url)  # SSRF: refused targets are a 422 (DNS is checked per delivery)
    store = api.container.webhook_endpoints
    existing = await store.of_merchant(merchant)
    if any(e.url == data.url for e in existing):
        raise RequestProblem(409, "webhook_endpoint_exists", "an endpoint with this URL exists")
    if len(existing) >= MAX_ENDPOINTS_PER_MERCHANT:
        raise RequestProblem(
            422, "too_many_webhook_endpoints", f"at most {MAX_ENDPOINTS_PER_MERCHANT} endpoints"
        )
    endpoint = new_endpoint(
        merchant, data.url, data.event_types, api.container.clock.now(), data.description
    )
    await store.add(endpoint)
    return _out(endpoint, secret=endpoint.secret)


@get(
    "/webhook-endpoints",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(),
    operation_id="listWebhookEndpoints",
    summary="The merchant's webhook endpoints (without secrets)",
    tags=["webhooks"],
)
async def list_endpoints(*, request: Request[Any, Any, Any]) -> EndpointList:
    """GET /api/v1/webhook-endpoints."""
    merchant = current_principal(request).merchant_id
    found = await api_context(request).container.webhook_endpoints.of_merchant(merchant)
    return EndpointList(items=[_out(e) for e in found])


@get(
    "/webhook-endpoints/{endpoint_id:str}",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(404),
    operation_id="getWebhookEndpoint",
    summary="One webhook endpoint (without its secret)",
    tags=["webhooks"],
)
async def get_endpoint(*, request: Request[Any, Any, Any], endpoint_id: EndpointId) -> EndpointOut:
    """GET /api/v1/webhook-endpoints/{id}."""
    return _out(await _own(request, endpoint_id))


@delete(
    "/webhook-endpoints/{endpoint_id:str}",
    status_code=204,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(404),
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint (its pending deliveries are given up)",
    tags=["webhooks"],
)
async def delete_endpoint(*, request: Request[Any, Any, Any], endpoint_id: EndpointId) -> None:
    """DELETE /api/v1/webhook-endpoints/{id}."""
    endpoint = await _own(request, endpoint_id)
    await api_context(request).container.webhook_endpoints.delete(endpoint.merchant_id, endpoint.id)


@post(
    "/webhook-endpoints/{endpoint_id:str}/rotate-secret",
    status_code=200,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(404, 413, 422),
    operation_id="rotateWebhookEndpointSecret",
    summary="A new signing secret; the previous one keeps signing during the overlap",
    tags=["webhooks"],
)
async def rotate_secret(
    *,
    request: Request[Any, Any, Any],
    endpoint_id: EndpointId,
    data: JSONBody[RotateIn | None] = None,
) -> EndpointOut:
    """POST /api/v1/webhook-endpoints/{id}/rotate-secret."""
    endpoint = await _own(request, endpoint_id)
    overlap = timedelta(seconds=(data or RotateIn()).overlap_seconds)
    secret = new_secret()
    container = api_context(request).container
    rotated = endpoint.rotated(secret, container.clock.now(), overlap)
    await container.webhook_endpoints.update(rotated)
    return _out(rotated, secret=secret)


@get(
    "/webhook-endpoints/{endpoint_id:str}/deliveries",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(404),
    operation_id="listWebhookDeliveries",
    summary="The endpoint's deliveries log, newest first (last 100)",
    tags=["webhooks"],
)
async def list_deliveries(
    *, request: Request[Any, Any, Any], endpoint_id: EndpointId
) -> DeliveryList:
    """GET /api/v1/webhook-endpoints/{id}/deliveries."""
    endpoint = await _own(request, endpoint_id)
    found = await api_context(request).container.webhook_deliveries.of_endpoint(endpoint.id, 100)
    return DeliveryList(items=[_delivery_out(d) for d in found])


@post(
    "/webhook-endpoints/{endpoint_id:str}/deliveries/{delivery_id:str}/redeliver",
    status_code=202,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(404),
    operation_id="redeliverWebhookDelivery",
    summary="Send a delivery again now (same body, freshly signed)",
    tags=["webhooks"],
)
async def redeliver(
    *, request: Request[Any, Any, Any], endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Response[DeliveryOut]:
    """POST /api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver."""
    endpoint = await _own(request, endpoint_id)
    container = api_context(request).container
    store = container.webhook_deliveries
    delivery = await store.get(delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise RequestProblem(404, "webhook_delivery_not_found", "no such delivery")
    await store.redeliver(delivery_id, container.clock.now())
    return Response(_delivery_out(await store.get(delivery_id)), status_code=202)


ROUTES = [
    create_endpoint,
    list_endpoints,
    get_endpoint,
    delete_endpoint,
    rotate_secret,
    list_deliveries,
    redeliver,
]
