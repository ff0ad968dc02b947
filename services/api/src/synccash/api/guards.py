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

from synccash.adapters.coordination import Locks, RateLimiter
from synccash.adapters.redis.ratelimit import RedisRateLimiter
from synccash.api.auth import Principal, Scope, authenticate
from synccash.api.context import ApiContext
from synccash.api.idempotency import (
    ADMITTED_LOCK,
    HEADER,
    LOCK_TTL_MS,
    AdmittedLock,
    lock_name,
    require_key,
)
from synccash.api.problems import RequestProblem, retry_after_header

STATE_KEY: Final = "synccash"
_SCOPE: Final = "synccash_scope"
_NEEDS_KEY: Final = "synccash_idempotency_key"
_LOCK_KEY: Final = "synccash_lock_key"


def merchant_route(
    scope: Scope, *, idempotency_key: bool = False, lock_key: bool = False
) -> dict[str, Any]:
    """Route `opt` for a merchant endpoint needing `scope` (and an Idempotency-Key if asked).

    `lock_key`: the handler holds `in_flight(locks, merchant, key)` with the key as sent;
    admission then tries that lock in the same Redis command as the rate limit.
    """
    return {_SCOPE: scope, _NEEDS_KEY: idempotency_key or lock_key, _LOCK_KEY: lock_key}


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
    principal = await authenticate(
        context.settings,
        request.headers.get("authorization"),
        context.api_keys,
        context.tokens,
        context.jwks,
    )
    state = request.scope["state"]
    state["merchant_id"] = principal.merchant_id
    state["principal"] = principal
    bucket = f"merchant:{principal.merchant_id}"
    lock = _lock_to_try(opt, principal, scope, request.headers.get(HEADER))
    if lock is None:
        wait = await context.rate_limiter.acquire(bucket)
    else:
        locks = context.locks
        wait, token = await acquire_and_lock(context.rate_limiter, bucket, locks, lock, LOCK_TTL_MS)
        if wait is None:  # refused requests took no lock
            state[ADMITTED_LOCK] = AdmittedLock(locks, lock, token)
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


def _lock_to_try(
    opt: dict[str, Any], principal: Principal, scope: Scope, raw_key: str | None
) -> str | None:
    """The in-flight lock to try with the rate limit: only if every other check will pass."""
    if not opt.get(_LOCK_KEY) or scope.value not in principal.scopes:
        return None
    try:
        key = require_key(raw_key)
    except RequestProblem:
        return None
    return lock_name(principal.merchant_id, key)


async def acquire_and_lock(
    limiter: RateLimiter, bucket: str, locks: Locks, lock: str, ttl_ms: int
) -> tuple[float | None, str | None]:
    """A rate-limit token, then (if granted) the lock: (wait, None) or (None, token or None)."""
    if isinstance(limiter, RedisRateLimiter):
        return await limiter.acquire_and_lock(bucket, locks, lock, ttl_ms)
    wait = await limiter.acquire(bucket)
    if wait is not None:
        return wait, None
    return None, await locks.try_lock(lock, ttl_ms)


def admitted_lock(request: Request[Any, Any, Any]) -> AdmittedLock | None:
    """The lock `admit` tried for this request, if any."""
    lock = request.scope["state"].get(ADMITTED_LOCK)
    return lock if isinstance(lock, AdmittedLock) else None


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The principal `admit` authenticated for this request."""
    principal = request.scope["state"].get("principal")
    if not isinstance(principal, Principal):
        raise RequestProblem(401, "missing_token", "authentication required")
    return principal
