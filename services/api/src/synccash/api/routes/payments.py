"""Payment endpoints: each parses, calls one use-case and maps the result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from synccash.api.auth import Scope
from synccash.api.context import ApiContext, Payments
from synccash.api.guards import admitted_lock, api_context, current_principal, merchant_route
from synccash.api.idempotency import HEADER, MAX_KEY_LENGTH, fingerprint_decoded, in_flight
from synccash.api.problems import FieldProblem, RequestProblem
from synccash.api.routes._common import BEARER, errors, replay_response, wallet_inputs
from synccash.api.schemas import (
    InitiatePaymentRequest,
    ListLinks,
    PaymentDetail,
    PaymentList,
    PaymentResource,
    PaymentStatus,
    RefundRequest,
)
from synccash.api.validation import bounded_instant
from synccash.api.views import API_PREFIX, payment_detail, payment_resource, payment_status
from synccash.core.commands import InitiatePayment
from synccash.core.errors import IdempotencyKeyInFlight, ValidationError
from synccash.core.payment import PaymentState
from synccash.core.ports import PaymentQuery
from synccash.core.providers import ProviderId

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"\S",  # at least one visible character
        description="Unique per logical request (max 255 chars); kept at least 24 h. "
        "Same key + same body replays; same key + other body is 422; in flight is 409.",
    ),
]
PaymentId = Annotated[str, PathParameter(description="Payment id", max_length=64)]


def request_path(request: Request[Any, Any, Any]) -> str:
    """`request.url.path` (what the fingerprint has always hashed) without building the URL."""
    scope = request.scope
    return scope.get("root_path", "") + scope["path"]


@post(
    "/payments/initiate",
    status_code=202,
    opt=merchant_route(Scope.PAYMENTS_WRITE, lock_key=True),
    security=BEARER,
    responses={**replay_response(), **errors(400, 409, 413, 422)},
    operation_id="initiatePayment",
    summary="Create a payment",
    description="Stores the payment durably (INITIATED) and queues its processing; no provider "
    "is called on this request.",
    tags=["payments"],
)
async def initiate_payment(
    *,
    request: Request[Any, Any, Any],
    data: JSONBody[InitiatePaymentRequest],
    idempotency_key: IdempotencyKey,
) -> Response[PaymentResource]:
    """POST /api/v1/payments/initiate."""
    # No `payments` dependency here (unlike the other routes): resolving it is per-request
    # work on the hottest route, and the use-cases are the app's, looked up directly.
    api = api_context(request)
    principal = current_principal(request)
    key = idempotency_key.strip()
    payer = data.payer
    payee = data.payee
    if data.webhook_url is not None:
        api.url_guard.check(data.webhook_url)  # SSRF: refused targets are a 422, nothing stored
    if payee.msisdn is None and payee.merchant_account is not None:
        # (a malformed payee is the use-case's 422: this checks a well-formed one's owner)
        await _check_payee_account(api, principal.merchant_id, payee.merchant_account)
    command = InitiatePayment(
        merchant_id=principal.merchant_id,
        idempotency_key=key,
        # the body as Litestar decoded it for `data` (cached on the request): no second decode
        fingerprint=fingerprint_decoded("POST", request_path(request), await request.json()),
        amount=data.amount,
        payer_msisdn=payer.msisdn,
        currency=data.currency,
        wallets=wallet_inputs(payer.wallets),
        payee_msisdn=payee.msisdn,
        payee_account=payee.merchant_account,
        description=data.description,
        reference=data.reference,
        metadata=data.metadata,
        webhook_url=data.webhook_url,
    )
    payments = api.container.payments
    try:
        async with in_flight(api.locks, principal.merchant_id, key, admitted_lock(request)):
            result = await payments.initiate(command)
    except IdempotencyKeyInFlight:
        # the lock's holder may have died right after committing: a stored payment wins
        replay = await payments.replay(command)
        if replay is None:
            raise
        result = replay
    metrics = api.metrics
    if result.replayed:
        metrics.idempotent_replays.inc()
        return Response(
            payment_resource(result.payment),
            status_code=200,
            headers={"Idempotent-Replayed": "true"},
        )
    metrics.initiated(result.payment.amount.currency)
    return Response(payment_resource(result.payment), status_code=202)


async def _check_payee_account(api: ApiContext, merchant_id: str, account: str) -> None:
    """A merchant collects only into itself or its registered sub-accounts (else 403)."""
    if not account.isprintable():
        return  # control characters: refused by the use-case's validation (422)
    merchant = await api.api_keys.merchant(merchant_id)
    allowed = merchant.may_collect_into(account) if merchant is not None else account == merchant_id
    if not allowed:
        raise RequestProblem(
            403,
            "payee_account_not_allowed",
            "payee.merchant_account must be your merchant id or one of its registered accounts",
        )


@get(
    "/payments/{payment_id:str}/status",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(404),
    operation_id="getPaymentStatus",
    summary="A payment's state, provider, attempts and timestamps",
    tags=["payments"],
)
async def get_payment_status(
    *, request: Request[Any, Any, Any], payment_id: PaymentId, payments: Payments
) -> PaymentStatus:
    """GET /api/v1/payments/{id}/status."""
    merchant = current_principal(request).merchant_id
    return payment_status(await payments.get(merchant, payment_id))


@get(
    "/payments/{payment_id:str}",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(404),
    operation_id="getPayment",
    summary="The full payment resource with its audit trail",
    tags=["payments"],
)
async def get_payment(
    *, request: Request[Any, Any, Any], payment_id: PaymentId, payments: Payments
) -> PaymentDetail:
    """GET /api/v1/payments/{id}."""
    merchant = current_principal(request).merchant_id
    payment = await payments.get(merchant, payment_id)
    events = await payments.events(merchant, payment_id)
    return payment_detail(payment, events)


@post(
    "/payments/{payment_id:str}/cancel",
    status_code=200,
    opt=merchant_route(Scope.PAYMENTS_WRITE),
    security=BEARER,
    responses=errors(404, 409),
    operation_id="cancelPayment",
    summary="Cancel a payment while nothing is at a provider",
    tags=["payments"],
)
async def cancel_payment(
    *, request: Request[Any, Any, Any], payment_id: PaymentId, payments: Payments
) -> PaymentResource:
    """POST /api/v1/payments/{id}/cancel."""
    merchant = current_principal(request).merchant_id
    return payment_resource(await payments.cancel(merchant, payment_id))


@post(
    "/payments/{payment_id:str}/refund",
    status_code=202,
    opt=merchant_route(Scope.PAYMENTS_WRITE, idempotency_key=True),
    security=BEARER,
    responses=errors(400, 404, 409, 413, 422),
    operation_id="refundPayment",
    summary="Refund a CONFIRMED payment in full (no amount) or in part",
    tags=["payments"],
)
async def refund_payment(
    *,
    request: Request[Any, Any, Any],
    payment_id: PaymentId,
    idempotency_key: IdempotencyKey,
    payments: Payments,
    data: JSONBody[RefundRequest | None] = None,
) -> PaymentResource:
    """POST /api/v1/payments/{id}/refund."""
    principal, api = current_principal(request), api_context(request)
    key = idempotency_key.strip()
    amount = data.amount if data is not None else None
    async with in_flight(api.locks, principal.merchant_id, f"refund:{payment_id}:{key}"):
        payment = await payments.refund(principal.merchant_id, payment_id, amount, key)
    return payment_resource(payment)


def parse_state(raw: str | None) -> PaymentState | None:
    """The `state` query parameter (case-insensitive), or None."""
    if raw is None:
        return None
    try:
        return PaymentState(raw.strip().upper())
    except ValueError:
        names = ", ".join(s.value for s in PaymentState)
        raise ValidationError(
            f"unknown state {raw!r}; use one of: {names}", code="invalid_state"
        ) from None


def _instant(name: str, raw: str | None) -> datetime | None:
    # Parsed here, not by the framework: it would also take "0.5" as a Unix timestamp.
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise RequestProblem(
            400,
            "invalid_parameter",
            "one or more parameters are invalid",
            errors=[
                FieldProblem(field=name, message="expected an ISO 8601 date-time", source="query")
            ],
        ) from None
    return bounded_instant(name, value)


@get(
    "/payments",
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(400, 422),
    operation_id="listPayments",
    summary="The merchant's payments, newest first, with filters and cursor pagination",
    tags=["payments"],
)
async def list_payments(
    *,
    request: Request[Any, Any, Any],
    payments: Payments,
    state_name: Annotated[
        str | None,
        QueryParameter(
            name="state",
            description="a state name, e.g. CONFIRMED",
            enum=[state.value for state in PaymentState],
        ),
    ] = None,
    provider: Annotated[
        str | None,
        QueryParameter(
            description="mtn, airteltigo or telecel", enum=[p.value for p in ProviderId]
        ),
    ] = None,
    created_from: Annotated[
        str | None,
        QueryParameter(description="created at or after (ISO 8601)", format="date-time"),
    ] = None,
    created_to: Annotated[
        str | None, QueryParameter(description="created before (ISO 8601)", format="date-time")
    ] = None,
    reference: Annotated[
        str | None, QueryParameter(description="the merchant reference", max_length=255)
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="next_cursor of the previous page")
    ] = None,
) -> PaymentList:
    """GET /api/v1/payments."""
    principal = current_principal(request)
    query = PaymentQuery(
        state=parse_state(state_name),
        provider=ProviderId.parse(provider) if provider is not None else None,
        created_from=_instant("created_from", created_from),
        created_to=_instant("created_to", created_to),
        reference=reference,
        limit=limit,
        cursor=cursor,
    )
    page = await payments.list(principal.merchant_id, query)
    next_link = None
    if page.next_cursor is not None:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        params["cursor"] = page.next_cursor
        next_link = f"{API_PREFIX}/payments?{urlencode(params)}"
    return PaymentList(
        items=[payment_resource(p) for p in page.items],
        next_cursor=page.next_cursor,
        links=ListLinks(next=next_link),
    )


ROUTES = [
    initiate_payment,
    list_payments,
    get_payment_status,
    get_payment,
    cancel_payment,
    refund_payment,
]
