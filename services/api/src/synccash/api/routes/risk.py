"""Fraud operations for the risk team (scope `risk:review`, every merchant): reviews, blocklist.

The fraud rules flag a payment for review (it still proceeds: a review is a decision
after the fact) or block it. A decline cancels the payment if no provider has it yet;
otherwise the decision is recorded and the payment can be refunded. Every decision and
blocklist change is written to the risk audit trail with the reviewer's identity.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from synccash.adapters.risk_ops import BlockEntry, Review, ReviewDecision, RiskOperations
from synccash.api.auth import Scope
from synccash.api.context import Payments
from synccash.api.guards import api_context, current_principal, merchant_route
from synccash.api.problems import RequestProblem
from synccash.api.routes._common import BEARER, errors
from synccash.api.schemas import (
    AuditList,
    AuditOut,
    BlockEntryIn,
    BlockEntryOut,
    BlockList,
    ReviewDecisionIn,
    ReviewItem,
    ReviewList,
    ReviewOut,
)
from synccash.api.views import payment_resource
from synccash.core.errors import IllegalTransition, ValidationError
from synccash.core.msisdn import Msisdn
from synccash.core.payment import ACCOUNT_KEY_PREFIX

_ROUTE = merchant_route(Scope.RISK_REVIEW)
PaymentId = Annotated[str, PathParameter(description="Payment id", max_length=64)]
Entry = Annotated[
    str,
    PathParameter(
        description="an MSISDN (any usual form, stored as 233…) or a payee key acct:<account>",
        max_length=160,
    ),
]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]


def _ops(request: Request[Any, Any, Any]) -> RiskOperations:
    ops: RiskOperations | None = getattr(api_context(request).container, "risk_ops", None)
    if ops is None:
        raise RequestProblem(503, "risk_operations_unavailable", "no risk store is configured")
    return ops


def normalised_entry(raw: str) -> str:
    """A blocklist entry as the fraud rule looks it up: 233… or acct:<account>."""
    text = raw.strip()
    if text.startswith(ACCOUNT_KEY_PREFIX):
        account = text.removeprefix(ACCOUNT_KEY_PREFIX).strip()
        if not account:
            raise ValidationError("acct: needs an account name", code="invalid_blocklist_entry")
        return ACCOUNT_KEY_PREFIX + account
    return Msisdn.parse(text).e164


@get(
    "/reviews",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(),
    operation_id="listReviews",
    summary="Payments the fraud rules flagged for review and nobody decided yet, oldest first",
    tags=["risk"],
)
async def list_reviews(
    *,
    request: Request[Any, Any, Any],
    payments: Payments,
    merchant_id: Annotated[
        str | None, QueryParameter(description="only this merchant's", max_length=128)
    ] = None,
    limit: Limit = 50,
) -> ReviewList:
    """GET /api/v1/reviews."""
    flagged = await _ops(request).open_reviews(merchant_id, limit)
    items = [
        ReviewItem(payment=payment_resource(await payments.get(f.merchant_id, f.payment_id)))
        for f in flagged
    ]
    return ReviewList(items=items)


async def _decide(
    request: Request[Any, Any, Any],
    payments: Payments,
    payment_id: str,
    decision: ReviewDecision,
    body: ReviewDecisionIn | None,
) -> ReviewOut:
    ops = _ops(request)
    flagged = await ops.flagged(payment_id)
    if flagged is None:
        raise RequestProblem(404, "review_not_found", "no payment flagged for review has this id")
    review = Review(
        payment_id=payment_id,
        merchant_id=flagged.merchant_id,
        decision=decision,
        decided_by=current_principal(request).merchant_id,
        decided_at=api_context(request).container.clock.now(),
        note=body.note if body is not None else "",
    )
    if not await ops.decide(review):
        raise RequestProblem(409, "review_already_decided", "this payment was already reviewed")
    cancelled = False
    if decision is ReviewDecision.DECLINED:
        try:
            await payments.cancel(flagged.merchant_id, payment_id)
            cancelled = True
        except IllegalTransition:
            cancelled = False  # a provider has it (or it ended): recorded; refund if needed
    payment = await payments.get(flagged.merchant_id, payment_id)
    return ReviewOut(
        payment_id=payment_id,
        merchant_id=review.merchant_id,
        decision=review.decision.value,
        decided_by=review.decided_by,
        decided_at=review.decided_at,
        note=review.note,
        payment_state=payment.state.value,
        cancelled=cancelled,
    )


@post(
    "/reviews/{payment_id:str}/approve",
    status_code=200,
    opt=_ROUTE,
    security=BEARER,
    responses=errors(404, 409, 422),
    operation_id="approveReview",
    summary="Approve a flagged payment (recorded and audited)",
    tags=["risk"],
)
async def approve_review(
    *,
    request: Request[Any, Any, Any],
    payments: Payments,
    payment_id: PaymentId,
    data: JSONBody[ReviewDecisionIn | None] = None,
) -> ReviewOut:
    """POST /api/v1/reviews/{payment_id}/approve."""
    return await _decide(request, payments, payment_id, ReviewDecision.APPROVED, data)


@post(
    "/reviews/{payment_id:str}/decline",
    status_code=200,
    opt=_ROUTE,
    security=BEARER,
    responses=errors(404, 409, 422),
    operation_id="declineReview",
    summary="Decline a flagged payment: cancelled if no provider has it yet; audited",
    tags=["risk"],
)
async def decline_review(
    *,
    request: Request[Any, Any, Any],
    payments: Payments,
    payment_id: PaymentId,
    data: JSONBody[ReviewDecisionIn | None] = None,
) -> ReviewOut:
    """POST /api/v1/reviews/{payment_id}/decline."""
    return await _decide(request, payments, payment_id, ReviewDecision.DECLINED, data)


@get(
    "/blocklist",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(),
    operation_id="listBlocklist",
    summary="Every blocklist entry (MSISDNs and payee keys the fraud rules block)",
    tags=["risk"],
)
async def list_blocklist(request: Request[Any, Any, Any]) -> BlockList:
    """GET /api/v1/blocklist."""
    entries = await _ops(request).blocklist()
    return BlockList(items=[BlockEntryOut(entry=e.entry, reason=e.reason) for e in entries])


@put(
    "/blocklist/{entry:str}",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(422),
    operation_id="addBlocklistEntry",
    summary="Block an MSISDN or payee key (201 when added, 200 when it was already there)",
    tags=["risk"],
)
async def add_blocklist_entry(
    *, request: Request[Any, Any, Any], entry: Entry, data: JSONBody[BlockEntryIn]
) -> Response[BlockEntryOut]:
    """PUT /api/v1/blocklist/{entry}."""
    block = BlockEntry(normalised_entry(entry), data.reason.strip())
    actor = current_principal(request).merchant_id
    added = await _ops(request).block(block, actor, api_context(request).container.clock.now())
    return Response(
        BlockEntryOut(entry=block.entry, reason=block.reason), status_code=201 if added else 200
    )


@delete(
    "/blocklist/{entry:str}",
    status_code=204,
    opt=_ROUTE,
    security=BEARER,
    responses=errors(404, 422),
    operation_id="removeBlocklistEntry",
    summary="Unblock an MSISDN or payee key (audited)",
    tags=["risk"],
)
async def remove_blocklist_entry(*, request: Request[Any, Any, Any], entry: Entry) -> None:
    """DELETE /api/v1/blocklist/{entry}."""
    actor = current_principal(request).merchant_id
    now = api_context(request).container.clock.now()
    if not await _ops(request).unblock(normalised_entry(entry), actor, now):
        raise RequestProblem(404, "blocklist_entry_not_found", "no such blocklist entry")


@get(
    "/risk/audit",
    opt=_ROUTE,
    security=BEARER,
    responses=errors(),
    operation_id="listRiskAudit",
    summary="Every review decision and blocklist change, newest first",
    tags=["risk"],
)
async def list_risk_audit(request: Request[Any, Any, Any], limit: Limit = 100) -> AuditList:
    """GET /api/v1/risk/audit."""
    entries = await _ops(request).audit(limit)
    return AuditList(
        items=[
            AuditOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                detail=dict(e.detail),
            )
            for e in entries
        ]
    )


ROUTES = [
    list_reviews,
    approve_review,
    decline_review,
    list_blocklist,
    add_blocklist_entry,
    remove_blocklist_entry,
    list_risk_audit,
]
