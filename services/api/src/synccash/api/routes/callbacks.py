"""Provider callbacks: always answered 200 at once; a callback only queues a status check."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, route
from litestar.exceptions import HTTPException

from synccash.api.context import Api, Payments
from synccash.api.schemas import CallbackAck
from synccash.core.errors import DomainError
from synccash.core.providers import ProviderId

_log = logging.getLogger("synccash.api")

ParseCallback = Callable[[ProviderId, bytes, Mapping[str, str], str | None], Any]


def _parser() -> ParseCallback | None:
    # The provider package owns callback shapes; resolved at run time so the API keeps
    # working (path reference only) on a tree where it is not there yet.
    try:
        module = importlib.import_module("synccash.adapters.providers")
    except ImportError:
        return None
    parser = getattr(module, "parse_callback", None)
    return parser if callable(parser) else None


def _reference(hint: Any) -> str | None:
    if hint is None:
        return None
    if isinstance(hint, str):
        return hint or None
    value = getattr(hint, "reference", None)
    return value if isinstance(value, str) and value else None


async def _hint(
    provider: ProviderId, body: bytes, headers: Mapping[str, str], path_reference: str | None
) -> str | None:
    parser = _parser()
    if parser is None:
        return path_reference
    result = parser(provider, body, headers, path_reference)
    if hasattr(result, "__await__"):
        result = await result
    return _reference(result) or path_reference


@route(
    ["/callbacks/{provider:str}", "/callbacks/{provider:str}/{reference:str}"],
    http_method=["POST", "PUT"],
    status_code=200,
    summary="Provider callback (a hint: it only queues a status check)",
    description="Always answered 200 quickly, in each provider's real shape; unknown or garbage "
    "callbacks are logged and ignored. No bearer token: providers do not send one.",
    tags=["callbacks"],
)
async def provider_callback(
    request: Request[Any, Any, Any],
    provider: str,
    payments: Payments,
    api: Api,
    reference: str | None = None,
) -> CallbackAck:
    """POST/PUT /api/v1/callbacks/{provider}[/{reference}]."""
    outcome = "ignored"
    label = provider if provider in {p.value for p in ProviderId} else "unknown"
    try:
        provider_id = ProviderId.parse(provider)
        label = provider_id.value
        body = await request.body()
        found = await _hint(provider_id, body, dict(request.headers), reference)
        if found is None:
            outcome = "no_reference"
        elif await payments.on_callback(provider_id, found):
            outcome = "queued"
        else:
            outcome = "unknown_reference"
    except (DomainError, HTTPException, ValueError) as exc:
        outcome = "rejected"
        _log.info("callback ignored: %s", type(exc).__name__)
    except Exception:
        outcome = "error"
        _log.exception("callback handling failed (answered 200 anyway)")
    api.metrics.callbacks.labels(label, outcome).inc()
    return CallbackAck()


ROUTES = [provider_callback]
