"""Every error leaves the API as `application/problem+json` (RFC 9457), mapped here and only here.

Domain errors keep their stable `code`; Litestar's own errors (validation,
malformed JSON, unknown route, oversized body) are translated so that bad input
is always a 4xx with a code, never a 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from synccash.adapters.failures import FailureLog
from synccash.api.auth import AuthError
from synccash.core.errors import (
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    IllegalTransition,
    InsufficientBalance,
    NameCheckUnavailable,
    NoRouteAvailable,
    PaymentNotFound,
    ValidationError,
)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
TYPE_BASE: Final = "https://docs.synccash.example/problems/"

_log = logging.getLogger("synccash.api")


class FieldProblem(msgspec.Struct, kw_only=True):
    """One problem with one input field."""

    field: str
    message: str
    source: str = "body"


class ProblemDetails(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document with SyncCash's stable `code` extension."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


class RequestProblem(Exception):
    """An HTTP-level problem raised by the API layer itself (bad header, rate limit, ...)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors


_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

#: Domain error class -> HTTP status; the first matching base class in MRO order wins.
_DOMAIN_STATUS: Final[tuple[tuple[type[DomainError], int], ...]] = (
    (PaymentNotFound, 404),
    (IdempotencyKeyInFlight, 409),
    (IdempotencyKeyReused, 422),
    (ConcurrencyConflict, 409),
    (IllegalTransition, 409),  # PaymentNotCancellable, PaymentNotRefundable
    (NoRouteAvailable, 422),
    (InsufficientBalance, 422),  # a payout or refund the merchant's balance cannot cover
    (NameCheckUnavailable, 503),  # the provider's account-holder lookup did not answer
    (ValidationError, 422),
)

#: Body fields whose shape errors have their own code ("this is not an amount").
_FIELD_CODES: Final = {
    "amount": "invalid_amount",
    "balance": "invalid_amount",
    "msisdn": "invalid_msisdn",
}


def domain_status(exc: DomainError) -> int:
    """The HTTP status for a domain error."""
    for cls, status in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            return status
    return 422


def problem_response(
    request: Request[Any, Any, Any] | None,
    status: int,
    code: str,
    detail: str | None,
    *,
    headers: dict[str, str] | None = None,
    errors: list[FieldProblem] | None = None,
) -> Response[bytes]:
    """Render one problem document."""
    request_id = None
    instance = None
    if request is not None:
        request_id = request.scope.get("state", {}).get("request_id")
        instance = request.url.path
    problem = ProblemDetails(
        type=TYPE_BASE + code,
        title=_TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=detail,
        instance=instance,
        request_id=request_id,
        errors=errors,
    )
    return Response(
        msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _from_validation(exc: ValidationException) -> tuple[int, str, str, list[FieldProblem]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[FieldProblem] = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        message = str(item.get("message") or "invalid value")
        source = str(item.get("source") or "body")
        if source == "body" and key == "data" and message == "'data'":
            return 400, "malformed_json", "the request body must be a JSON object", []
        errors.append(FieldProblem(field=key or "body", message=message, source=source))
    if not errors:
        return 400, "bad_request", str(exc.detail), []
    if any(e.source != "body" for e in errors):
        # query/path/header parameters: the request line itself is wrong
        return 400, "invalid_parameter", "one or more parameters are invalid", errors
    first = errors[0].field.rsplit(".", 1)[-1].split("[", 1)[0]
    code = _FIELD_CODES.get(first, "validation_error")
    return 422, code, "the request body is not valid", errors


def _from_http(exc: HTTPException) -> tuple[int, str, str, dict[str, str]]:
    status = exc.status_code
    detail = str(exc.detail)
    headers = dict(exc.headers or {})
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        return 400, "malformed_json", "the request body is not valid JSON", headers
    codes = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }
    code = codes.get(status, "http_error" if status < 500 else "internal_error")
    if status == 404:
        detail = "no such resource"
    elif status == 413:
        detail = "the request body is too large"
    elif status >= 500:
        _log.error("server error: %s", detail, exc_info=exc.__cause__ or exc)
        detail = "internal error"
    return status, code, detail, headers


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The one exception handler: domain, API and framework errors to problem+json."""
    if isinstance(exc, DomainError):
        # In flight: the first request finishes within seconds; tell the client when to retry.
        retry = retry_after_header(1) if isinstance(exc, IdempotencyKeyInFlight) else None
        return problem_response(request, domain_status(exc), exc.code, exc.message, headers=retry)
    if isinstance(exc, RequestProblem):
        return problem_response(
            request, exc.status, exc.code, exc.detail, headers=exc.headers, errors=exc.errors
        )
    if isinstance(exc, AuthError):
        challenge = 'Bearer realm="synccash"'
        if exc.status == 403:
            challenge += ', error="insufficient_scope"'  # RFC 6750 section 3.1
        headers = {"WWW-Authenticate": challenge}
        return problem_response(request, exc.status, exc.code, exc.message, headers=headers)
    if isinstance(exc, ValidationException):
        status, code, detail, errors = _from_validation(exc)
        return problem_response(request, status, code, detail, errors=errors or None)
    if isinstance(exc, HTTPException):
        status, code, detail, headers = _from_http(exc)
        return problem_response(request, status, code, detail, headers=headers or None)
    if isinstance(exc, RecursionError):
        # msgspec refuses absurdly nested JSON by recursing too deep: still just bad input.
        return problem_response(
            request, 400, "malformed_json", "the request body is nested too deeply"
        )
    if _is_unavailable(exc):
        # The database or Redis is restarting or unreachable: nothing was accepted; the
        # client retries (with the same Idempotency-Key) after a moment.
        _note_unavailable(request, exc)
        return problem_response(
            request,
            503,
            "service_unavailable",
            "a dependency (database or queue) is unavailable; retry shortly with the same "
            "Idempotency-Key",
            headers=retry_after_header(2),
        )
    _log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return problem_response(request, 500, "internal_error", "internal error")


def _note_unavailable(request: Request[Any, Any, Any], exc: Exception) -> None:
    """Through the container's FailureLog when there is one (once with the cause, then at a
    bounded rate with a count, and a health flag), else one warning line."""
    context = request.app.state.get("synccash")
    failures = getattr(getattr(context, "container", None), "failures", None)
    if isinstance(failures, FailureLog):
        failures.failed("api_requests", exc)
        return
    _log.warning("dependency unavailable on %s: %s", request.url.path, type(exc).__name__)


def _is_unavailable(exc: Exception) -> bool:
    """Connection-level failures of PostgreSQL or Redis (not bugs, not bad input)."""
    if isinstance(exc, OSError | ConnectionError | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated
        or isinstance(exc.orig, OSError | ConnectionError)
        or _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES)
    )


#: SQLSTATE classes that mean "the server is not serving now", not a bug or bad input:
#: 08 connection exception, 57P operator intervention (admin/crash shutdown, "the database
#: system is starting up"), 53 insufficient resources (too many connections). A PostgreSQL
#: restart surfaces as these, wrapped by SQLAlchemy as a plain DBAPIError.
_UNAVAILABLE_SQLSTATES: Final = ("08", "57P", "53")


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state is None and orig is not None:
        state = getattr(orig.__cause__, "sqlstate", None)
    return state if isinstance(state, str) else ""


def retry_after_header(seconds: float) -> dict[str, str]:
    """`Retry-After` in whole seconds, at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI response entries documenting the problem document for each status."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=f"{_TITLES.get(status, 'Error')} (application/problem+json)",
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for status in statuses
    }


__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldProblem",
    "ProblemDetails",
    "RequestProblem",
    "domain_status",
    "handle_exception",
    "problem_response",
    "problem_responses",
    "retry_after_header",
]
