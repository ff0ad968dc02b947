"""Admission of merchant requests: authenticate, rate-limit, authorise and check headers first.

Order (as Stripe): 401 for a missing/invalid token, then 429 per merchant, then
403 for a missing scope, then 400 for a missing Idempotency-Key. It runs as the
app's `before_request` hook, i.e. before Litestar reads or parses the body, and
only on routes that declare a scope through `merchant_route()` (callbacks,
health, metrics and docs are public).

A hook rather than a Litestar guard: guards copy the route handler on every
call, which is measurable at the request rates the API is sized for.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

from synccash.api.auth import Principal, Scope, principal_from_header
from synccash.api.context import ApiContext
from synccash.api.idempotency import HEADER, require_key
from synccash.api.problems import RequestProblem, retry_after_header

STATE_KEY: Final = "synccash"
_SCOPE: Final = "synccash_scope"
_NEEDS_KEY: Final = "synccash_idempotency_key"


def merchant_route(scope: Scope, *, idempotency_key: bool = False) -> dict[str, Any]:
    """Route `opt` for a merchant endpoint needing `scope` (and an Idempotency-Key if asked)."""
    return {_SCOPE: scope, _NEEDS_KEY: idempotency_key}


def api_context(request: Request[Any, Any, Any]) -> ApiContext:
    """The app's ApiContext."""
    context: ApiContext = request.app.state[STATE_KEY]
    return context


async def admit(request: Request[Any, Any, Any]) -> None:
    """before_request hook: raise a problem unless the merchant may make this request now."""
    opt = request.route_handler.opt
    scope: Scope | None = opt.get(_SCOPE)
    if scope is None:
        return
    context = api_context(request)
    principal = principal_from_header(
        context.settings, request.headers.get("authorization"), context.tokens
    )
    state = request.scope["state"]
    state["merchant_id"] = principal.merchant_id
    state["principal"] = principal
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
    if opt.get(_NEEDS_KEY):
        require_key(request.headers.get(HEADER))


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal `admit` authenticated for this request."""
    principal = request.scope["state"].get("principal")
    if not isinstance(principal, Principal):
        raise RequestProblem(401, "missing_token", "authentication required")
    return principal
