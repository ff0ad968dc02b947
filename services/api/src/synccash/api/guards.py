"""The route guard: authenticate, rate-limit, authorise and check headers before any body work.

Order (as Stripe): 401 for a missing/invalid token, then 429 per merchant,
then 403 for a missing scope, then 400 for a missing Idempotency-Key. Guards
run before Litestar reads or parses the body.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import SkipValidation
from litestar.types import Guard

from synccash.api.auth import Principal, Scope, principal_from_header
from synccash.api.context import ApiContext
from synccash.api.idempotency import HEADER, require_key
from synccash.api.problems import RequestProblem, retry_after_header

STATE_KEY = "synccash"


def api_context(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiContext:
    """The app's ApiContext."""
    context: ApiContext = connection.app.state[STATE_KEY]
    return context


def requires(scope: Scope, *, idempotency_key: bool = False) -> Guard:
    """A guard for a merchant route needing `scope` (and an Idempotency-Key if asked)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        context = api_context(connection)
        principal = principal_from_header(
            context.settings, connection.headers.get("authorization"), context.tokens
        )
        connection.scope["state"]["merchant_id"] = principal.merchant_id
        connection.scope["state"]["principal"] = principal
        wait = await context.rate_limiter.acquire(f"merchant:{principal.merchant_id}")
        if wait is not None:
            context.metrics.rate_limited.inc()
            raise RequestProblem(
                429,
                "rate_limited",
                "too many requests for this merchant; retry after the indicated delay",
                headers=retry_after_header(wait),
            )
        principal.require(scope)
        if idempotency_key:
            require_key(connection.headers.get(HEADER))

    return guard


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal the guard authenticated (dependency provider)."""
    principal = request.scope["state"].get("principal")
    if not isinstance(principal, Principal):
        raise RequestProblem(401, "missing_token", "authentication required")
    return principal


#: Handler parameter type for the authenticated merchant.
CurrentPrincipal = SkipValidation[Principal]
