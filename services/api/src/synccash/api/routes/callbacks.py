"""Provider callbacks: always answered 200 at once; a callback only queues a status check."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Request, route
from litestar.exceptions import HTTPException
from litestar.params import PathParameter

from synccash.adapters.providers import callback_authentic, parse_callback
from synccash.api.callback_gate import Verdict
from synccash.api.context import Payments
from synccash.api.guards import api_context
from synccash.api.openapi import callback_operation_id
from synccash.api.schemas import CallbackAck
from synccash.api.validation import RAW_INPUT, has_forbidden_character
from synccash.core.errors import DomainError
from synccash.core.providers import ProviderId

_log = logging.getLogger("synccash.api")
_KNOWN = frozenset(p.value for p in ProviderId)
#: Our attempt references are UUIDs; anything much longer is not one of ours.
_MAX_REFERENCE = 128


def _plain_reference(reference: str) -> bool:
    """A reference worth looking up: short, no control characters (PostgreSQL refuses NUL)."""
    return len(reference) <= _MAX_REFERENCE and not has_forbidden_character(reference)


@route(
    ["/callbacks/{provider:str}", "/callbacks/{provider:str}/{reference:str}"],
    http_method=["POST", "PUT"],
    status_code=200,
    opt={RAW_INPUT: True},
    operation_id=callback_operation_id,
    summary="Provider callback (a hint: it only queues a status check)",
    description="Always answered 200 quickly, in each provider's real shape; unknown or garbage "
    "callbacks are logged and ignored. No bearer token: providers do not send one.",
    tags=["callbacks"],
)
async def provider_callback(
    *,
    request: Request[Any, Any, Any],
    provider: Annotated[str, PathParameter(description="mtn, airteltigo or telecel")],
    payments: Payments,
    reference: Annotated[
        str | None, PathParameter(description="our attempt reference (MTN callback URL)")
    ] = None,
) -> CallbackAck:
    """POST/PUT /api/v1/callbacks/{provider}[/{reference}]."""
    label = provider if provider in _KNOWN else "unknown"
    api = api_context(request)
    try:
        outcome = await _handle(request, ProviderId.parse(provider), reference, payments)
    except (DomainError, HTTPException) as exc:
        # Unknown provider, oversized body: answered 200 all the same (providers retry otherwise).
        outcome = "rejected"
        _log.info("callback ignored: %s", type(exc).__name__)
    except Exception:
        outcome = "error"
        _log.exception("callback handling failed (answered 200 anyway)")
    api.metrics.callbacks.labels(label, outcome).inc()
    return CallbackAck()


async def _handle(
    request: Request[Any, Any, Any],
    provider: ProviderId,
    reference: str | None,
    payments: Payments,
) -> str:
    """What one callback leads to (the metric's outcome): at most one lookup, one task."""
    gate = api_context(request).callback_gate
    if not gate.source_allowed(provider, request.client.host if request.client else None):
        return Verdict.SOURCE_REFUSED.value
    body, headers = await request.body(), dict(request.headers)
    hint = parse_callback(provider, body, headers, reference)
    if hint is None or not _plain_reference(hint.reference):
        return "unreadable"
    airtel_key = api_context(request).settings.airteltigo.extra.get("callback_key", "")
    if not callback_authentic(provider, body, headers, airtel_key=airtel_key):
        return "unverified"  # AT Money callback authentication on: hash wrong or missing
    verdict = await gate.admit(api_context(request).locks, hint)
    if verdict is not Verdict.ADMITTED:
        return verdict.value
    if await payments.on_callback(provider, hint.reference):
        return "queued"
    return "unknown_reference"


ROUTES = [provider_callback]
