"""Problem responses (RFC 9457 problem+json with SyncCash's stable `code`) as typed exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final


class ApiError(Exception):
    """The API answered with a problem: `status`, the stable `code`, and the problem document."""

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = dict(problem)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Per-field problems (`field`, `message`, `source`), if the API gave any."""
        return list(self.problem.get("errors") or [])


class InvalidRequestError(ApiError):
    """400 or 422: the request was refused as it is; fix it, do not retry it unchanged."""


class AuthenticationError(ApiError):
    """401: missing, invalid, expired or revoked credentials."""


class PermissionDeniedError(ApiError):
    """403: the credentials lack a scope, or the resource belongs to someone else."""


class NotFoundError(ApiError):
    """404: no such resource for this merchant."""


class ConflictError(ApiError):
    """409: e.g. the same Idempotency-Key is still in flight, or the payment cannot change now."""


class RateLimitedError(ApiError):
    """429: slow down; `retry_after_s` says for how long."""

    retry_after_s: float | None = None


class ServiceUnavailableError(ApiError):
    """503: the API is temporarily unable to serve (e.g. its database is failing over)."""

    retry_after_s: float | None = None


class TransportError(Exception):
    """No answer from the API (connection refused, reset, or timed out) after every retry."""


_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_from_response(
    status: int, document: Mapping[str, Any] | None, retry_after_s: float | None
) -> ApiError:
    """The exception for a non-2xx answer (any body: a proxy's HTML page still gives an error)."""
    problem = dict(document or {})
    code = str(problem.get("code") or f"http_{status}")
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    cls = _BY_STATUS.get(status, ApiError)
    error = cls(status, code, detail, problem)
    if isinstance(error, RateLimitedError | ServiceUnavailableError):
        error.retry_after_s = retry_after_s
    return error
