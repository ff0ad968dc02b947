"""Merchant bearer tokens: HS256 JWTs scoped to one merchant, and the route guard that checks them.

Only HS256 is accepted (never `none` or any other algorithm), tokens must carry
`exp` and a merchant claim (`merchant_id`, else `sub`), and `scope` is a
space-separated list of the scopes below. A missing or invalid token is 401; a
valid token without the scope the route needs is 403.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from typing import Any, Final

import jwt
from attrs import frozen

from synccash.adapters.settings import Settings

ALGORITHM: Final = "HS256"


class Scope(enum.StrEnum):
    """What a merchant token allows."""

    PAYMENTS_WRITE = "payments:write"
    PAYMENTS_READ = "payments:read"
    REPORTS_READ = "reports:read"


ALL_SCOPES: Final = tuple(Scope)


class AuthError(Exception):
    """Authentication or authorisation failed; `status` is 401 or 403."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@frozen
class Principal:
    """The authenticated merchant and what its token allows."""

    merchant_id: str
    scopes: frozenset[str]

    def require(self, scope: Scope) -> None:
        """Raise a 403 AuthError unless the token carries `scope`."""
        if scope.value not in self.scopes:
            raise AuthError(403, "insufficient_scope", f"this token lacks the {scope.value} scope")


def mint_token(
    settings: Settings,
    merchant_id: str,
    scopes: Iterable[str | Scope] = ALL_SCOPES,
    ttl_seconds: int = 3600,
) -> str:
    """A signed merchant token (HS256) valid for `ttl_seconds`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": merchant_id,
        "merchant_id": merchant_id,
        "scope": " ".join(str(s) for s in scopes),
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, settings.jwt_secret_key, algorithm=ALGORITHM)


def principal_from_header(settings: Settings, authorization: str | None) -> Principal:
    """Verify an `Authorization: Bearer <jwt>` header value, or raise a 401 AuthError."""
    if not authorization:
        raise AuthError(401, "missing_token", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "invalid_token", "the Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.jwt_secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp"]},
            issuer=settings.jwt_issuer,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token_expired", "the token has expired") from None
    except jwt.InvalidTokenError:
        # Bad signature, alg none/other, malformed, wrong issuer: one answer, no detail leaked.
        raise AuthError(401, "invalid_token", "the token is not valid") from None
    merchant = claims.get("merchant_id") or claims.get("sub")
    if not isinstance(merchant, str) or not merchant.strip():
        raise AuthError(401, "invalid_token", "the token names no merchant")
    raw_scope = claims.get("scope", "")
    scopes = frozenset(raw_scope.split()) if isinstance(raw_scope, str) else frozenset()
    return Principal(merchant.strip(), scopes)


__all__ = [
    "ALL_SCOPES",
    "AuthError",
    "Principal",
    "Scope",
    "mint_token",
    "principal_from_header",
]
