"""Payout endpoints: money out from the merchant's balance to any wallet."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter

from synccash.api.auth import Scope
from synccash.api.guards import admitted_lock, api_context, current_principal, merchant_route
from synccash.api.idempotency import fingerprint_decoded, in_flight
from synccash.api.routes._common import BEARER, errors, replay_response
from synccash.api.routes.payments import IdempotencyKey, PaymentId, parse_state, request_path
from synccash.api.schemas import (
    CreatePayoutRequest,
    ListLinks,
    PaymentDetail,
    PaymentList,
    PaymentResource,
)
from synccash.api.views import API_PREFIX, payment_detail, payment_resource
from synccash.core.commands import CreatePayout
from synccash.core.errors import IdempotencyKeyInFlight
from synccash.core.payment import PaymentState
from synccash.core.ports import PaymentQuery


@post(
    "/payouts",
    status_code=202,
    opt=merchant_route(Scope.PAYMENTS_WRITE, lock_key=True),
    security=BEARER,
    responses={**replay_response(), **errors(409, 413, 422, 503)},
    summary="Pay out from your balance to a wallet",
    description="Reserves the amount out of your available balance (422 insufficient_balance "
    "if it cannot cover it; nothing is stored) and queues the disbursement. With "
    "`expected_name`, the payee's account-holder name is checked first (422 name_mismatch).",
    tags=["payouts"],
)
async def create_payout(
    *,
    request: Request[Any, Any, Any],
    data: JSONBody[CreatePayoutRequest],
    idempotency_key: IdempotencyKey,
) -> Response[PaymentResource]:
    """POST /api/v1/payouts."""
    api = api_context(request)
    principal = current_principal(request)
    key = idempotency_key.strip()
    if data.webhook_url is not None:
        api.url_guard.check(data.webhook_url)
    command = CreatePayout(
        merchant_id=principal.merchant_id,
        idempotency_key=key,
        fingerprint=fingerprint_decoded("POST", request_path(request), await request.json()),
        amount=data.amount,
        payee_msisdn=data.payee.msisdn,
        currency=data.currency,
        provider=data.provider,
        expected_name=data.expected_name,
        description=data.description,
        reference=data.reference,
        metadata=data.metadata,
        webhook_url=data.webhook_url,
    )
    payouts = api.container.payouts
    try:
        async with in_flight(api.locks, principal.merchant_id, key, admitted_lock(request)):
            result = await payouts.create(command)
    except IdempotencyKeyInFlight:
        replay = await api.container.payments.replay(command)
        if replay is None:
            raise
        result = replay
    if result.replayed:
        api.metrics.idempotent_replays.inc()
        return Response(
            payment_resource(result.payment),
            status_code=200,
            headers={"Idempotent-Replayed": "true"},
        )
    return Response(payment_resource(result.payment), status_code=202)


@get(
    "/payouts/{payout_id:str}",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(404),
    summary="A payout with its leg and audit trail",
    tags=["payouts"],
)
async def get_payout(*, request: Request[Any, Any, Any], payout_id: PaymentId) -> PaymentDetail:
    """GET /api/v1/payouts/{id}."""
    merchant = current_principal(request).merchant_id
    container = api_context(request).container
    payout = await container.payouts.get(merchant, payout_id)
    return payment_detail(payout, await container.payments.events(merchant, payout_id))


@post(
    "/payouts/{payout_id:str}/cancel",
    status_code=200,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(404, 409),
    summary="Cancel a payout while nothing is at a provider (the reservation is released)",
    tags=["payouts"],
)
async def cancel_payout(
    *, request: Request[Any, Any, Any], payout_id: PaymentId
) -> PaymentResource:
    """POST /api/v1/payouts/{id}/cancel."""
    merchant = current_principal(request).merchant_id
    payouts = api_context(request).container.payouts
    return payment_resource(await payouts.cancel(merchant, payout_id))


@get(
    "/payouts",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(400, 422),
    summary="The merchant's payouts, newest first, with cursor pagination",
    tags=["payouts"],
)
async def list_payouts(
    *,
    request: Request[Any, Any, Any],
    state_name: Annotated[
        str | None,
        QueryParameter(
            name="state",
            description="a state name, e.g. CONFIRMED",
            enum=[state.value for state in PaymentState],
        ),
    ] = None,
    reference: Annotated[
        str | None, QueryParameter(description="the merchant reference", max_length=255)
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="next_cursor of the previous page")
    ] = None,
) -> PaymentList:
    """GET /api/v1/payouts."""
    principal = current_principal(request)
    query = PaymentQuery(
        state=parse_state(state_name), reference=reference, limit=limit, cursor=cursor
    )
    page = await api_context(request).container.payouts.list(principal.merchant_id, query)
    next_link = None
    if page.next_cursor is not None:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = page.next_cursor
        next_link = f"{API_PREFIX}/payouts?{urlencode(params)}"
    return PaymentList(
        items=[payment_resource(p) for p in page.items],
        next_cursor=page.next_cursor,
        links=ListLinks(next=next_link),
    )


ROUTES = [create_payout, list_payouts, get_payout, cancel_payout]
