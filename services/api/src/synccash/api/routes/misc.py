"""Routing quotes and daily reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody, QueryParameter

from synccash.api.auth import Scope
from synccash.api.context import Payments
from synccash.api.guards import api_context, current_principal, merchant_route
from synccash.api.routes._common import BEARER, errors, wallet_inputs
from synccash.api.schemas import DailyReportOut, RouteQuote, RouteQuoteRequest
from synccash.api.validation import bounded_day
from synccash.api.views import jsonable
from synccash.core.commands import QuoteRequest


@post(
    "/routing/quote",
    status_code=200,
    opt=merchant_route(Scope.PAYMENTS_READ),
    security=BEARER,
    responses=errors(400, 413, 422),
    operation_id="quoteRoute",
    summary="What the router would choose now, with fees and the full explanation",
    description="Nothing is stored.",
    tags=["routing"],
)
async def quote_route(data: JSONBody[RouteQuoteRequest], payments: Payments) -> RouteQuote:
    """POST /api/v1/routing/quote."""
    query = QuoteRequest(
        amount=data.amount,
        payer_msisdn=data.payer.msisdn,
        wallets=wallet_inputs(data.payer.wallets),
        payee_msisdn=data.payee.msisdn,
        payee_account=data.payee.merchant_account,
        currency=data.currency,
    )
    decision, risk = await payments.quote(query)
    chosen = decision.chosen
    return RouteQuote(
        amount=data.amount,
        currency=data.currency,
        provider=chosen.wallet.provider.value if chosen is not None else None,
        fee=jsonable(chosen.fee) if chosen is not None else None,
        decision=decision.explain(),
        risk=risk.explain() if risk is not None else None,
    )


@get(
    "/reports/daily",
    opt=merchant_route(Scope.REPORTS_READ),
    security=BEARER,
    responses=errors(400, 422),
    operation_id="getDailyReport",
    summary="The merchant's daily report (UTC day): counts and sums by state and provider",
    tags=["reports"],
)
async def daily_report(
    *,
    request: Request[Any, Any, Any],
    payments: Payments,
    day: Annotated[
        date | None, QueryParameter(name="date", description="UTC day, YYYY-MM-DD (default today)")
    ] = None,
) -> DailyReportOut:
    """GET /api/v1/reports/daily?date=YYYY-MM-DD."""
    on = (
        bounded_day("date", day)
        if day is not None
        else api_context(request).container.clock.now().date()
    )
    report = await payments.daily_report(current_principal(request).merchant_id, on)
    return msgspec.convert(report.explain(), DailyReportOut)


ROUTES = [quote_route, daily_report]
