"""Merchant authentication: API keys and HS256 JWTs, each scoped to one merchant.

`Authorization: Bearer <credential>` carries either an API key (`sk_live_…`/`sk_test_…`,
issued by `synccash apikey create`, checked against its keyed hash in the registry) or a JWT.
For JWTs only HS256 is accepted (never `none` or any other algorithm), tokens must carry
`exp` and a merchant claim (`merchant_id`, else `sub`), and `scope` is a space-separated
list of the scopes below. A missing, invalid, expired or revoked credential is 401; a
disabled merchant is 403 `merchant_disabled`; a valid credential without the scope the
route needs is 403.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from typing import Any, Final

import jwt
from attrs import frozen

from synccash.adapters.merchants import ApiKeys, KeyStatus
from synccash.adapters.settings import Settings
from synccash.api.jwks import EXTERNAL_ALGORITHMS, JwksKeys

ALGORITHM: Final = "HS256"


class Scope(enum.StrEnum):
    """What a merchant token allows."""

    PAYMENTS_WRITE = "payments:write"
    PAYMENTS_READ = "payments:read"
    REPORTS_READ = "reports:read"
    OPS = "ops"  # the ops console and operator actions
    RISK_REVIEW = "risk:review"  # the risk team: review queue and blocklist (every merchant)


#: Scopes only ever granted by naming them (they reach across merchants).
OPERATOR_SCOPES: Final = frozenset({Scope.OPS, Scope.RISK_REVIEW})
#: Every merchant scope: what a token gets by default.
ALL_SCOPES: Final = tuple(s for s in Scope if s not in OPERATOR_SCOPES)


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
    key_id: str | None = None  # the API key used, None for a JWT

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
    """A signed merchant token (HS256, `kid` = JWT_KEY_ID) valid for `ttl_seconds`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": merchant_id,
        "merchant_id": merchant_id,
        "scope": " ".join(str(s) for s in scopes),
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(
        claims, settings.jwt_secret_key, algorithm=ALGORITHM, headers={"kid": settings.jwt_key_id}
    )


class TokenCache:
    """Recently verified tokens -> (principal, exp), so a merchant's token is verified once.

    Only successful verifications are kept, keyed by the exact token string and the
    signing key; expiry is re-checked on every hit. Bounded: cleared when full.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        """An empty cache."""
        self._max = max_entries
        self._entries: dict[tuple[str, str], tuple[Principal, float]] = {}

    def get(self, key: str, token: str) -> Principal | None:
        """The principal for a still-valid cached token."""
        hit = self._entries.get((key, token))
        if hit is None:
            return None
        principal, expires = hit
        if time.time() >= expires:
            del self._entries[(key, token)]
            return None
        return principal

    def put(self, key: str, token: str, principal: Principal, expires: float) -> None:
        """Remember a verified token until `expires` (epoch seconds)."""
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[(key, token)] = (principal, expires)


def bearer_token(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer <credential>` header, or a 401 AuthError."""
    if not authorization:
        raise AuthError(401, "missing_token", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "invalid_token", "the Authorization header must be 'Bearer <token>'")
    return token


_KEY_REFUSALS: Final = {
    KeyStatus.UNKNOWN: (401, "invalid_api_key", "the API key is not valid"),
    KeyStatus.REVOKED: (401, "api_key_revoked", "the API key has been revoked"),
    KeyStatus.EXPIRED: (401, "api_key_expired", "the API key has expired"),
    KeyStatus.MERCHANT_DISABLED: (403, "merchant_disabled", "the merchant is disabled"),
}


async def authenticate(
    settings: Settings,
    authorization: str | None,
    keys: ApiKeys,
    cache: TokenCache | None = None,
    jwks: JwksKeys | None = None,
) -> Principal:
    """The principal of an API key or JWT bearer credential, or raise a 401/403 AuthError.

    With `jwks` (AUTH_JWKS_URL), EdDSA/ES256/RS256 tokens are checked against the identity
    service's keys; HS256 tokens only while JWT_HS256_ENABLED allows them.
    """
    token = bearer_token(authorization)
    if ApiKeys.looks_like_key(token):
        check = await keys.verify(token)
        if check.status is not KeyStatus.VALID or check.key is None:
            raise AuthError(*_KEY_REFUSALS.get(check.status, _KEY_REFUSALS[KeyStatus.UNKNOWN]))
        return Principal(check.key.merchant_id, check.key.scopes, check.key.id)
    if jwks is not None and _header_algorithm(token) in EXTERNAL_ALGORITHMS:
        principal = await _external_principal(settings, token, jwks, cache)
    else:
        principal = principal_from_header(settings, authorization, cache)
    merchant = await keys.merchant(principal.merchant_id)
    if merchant is not None and not merchant.active:
        raise AuthError(*_KEY_REFUSALS[KeyStatus.MERCHANT_DISABLED])
    return principal


_INVALID: Final = (401, "invalid_token", "the token is not valid")


def _header_algorithm(token: str) -> str | None:
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        raise AuthError(*_INVALID) from None
    return algorithm if isinstance(algorithm, str) else None


def _principal(claims: dict[str, Any], merchant_claim: str) -> Principal:
    merchant = claims.get(merchant_claim) or claims.get("sub")
    if not isinstance(merchant, str) or not merchant.strip():
        raise AuthError(401, "invalid_token", "the token names no merchant")
    raw_scope = claims.get("scope", "")
    scopes = frozenset(raw_scope.split()) if isinstance(raw_scope, str) else frozenset()
    return Principal(merchant.strip(), scopes)


async def _external_principal(
    settings: Settings, token: str, jwks: JwksKeys, cache: TokenCache | None
) -> Principal:
    """An identity-service token: its `kid`'s key from the JWKS, issuer, audience, expiry."""
    header = jwt.get_unverified_header(token)
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise AuthError(401, "invalid_token", "the token names no key (kid)")
    cache_key = f"jwks:{kid}"
    if cache is not None and (cached := cache.get(cache_key, token)) is not None:
        return cached
    key = await jwks.key(kid)
    if key is None or key.algorithm_name != header.get("alg"):
        raise AuthError(*_INVALID)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token_expired", "the token has expired") from None
    except jwt.InvalidTokenError:
        raise AuthError(*_INVALID) from None
    principal = _principal(claims, settings.auth_merchant_claim)
    if cache is not None:
        cache.put(cache_key, token, principal, float(claims["exp"]))
    return principal


def _check_shared_secret_token(settings: Settings, token: str, claims: dict[str, Any]) -> None:
    """HS256 tokens: our `kid` (when named) and at most JWT_MAX_TTL_SECONDS of life."""
    kid = jwt.get_unverified_header(token).get("kid")
    if kid is not None and kid != settings.jwt_key_id:
        raise AuthError(*_INVALID)
    start = claims.get("iat", time.time())
    if not isinstance(start, int | float) or claims["exp"] - start > settings.jwt_max_ttl_seconds:
        raise AuthError(
            401,
            "token_lifetime_too_long",
            f"tokens may live at most {settings.jwt_max_ttl_seconds} s",
        )


def principal_from_header(
    settings: Settings, authorization: str | None, cache: TokenCache | None = None
) -> Principal:
    """Verify an `Authorization: Bearer <jwt>` HS256 header value, or raise a 401 AuthError."""
    token = bearer_token(authorization)
    if not settings.jwt_hs256_enabled:
        raise AuthError(401, "invalid_token", "shared-secret (HS256) tokens are not accepted")
    if cache is not None:
        cached = cache.get(settings.jwt_secret_key, token)
        if cached is not None:
            return cached
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp"]},
            issuer=settings.jwt_issuer,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token_expired", "the token has expired") from None
    except jwt.InvalidTokenError:
        # Bad signature, alg none/other, malformed, wrong issuer: one answer, no detail leaked.
        raise AuthError(*_INVALID) from None
    _check_shared_secret_token(settings, token, claims)
    principal = _principal(claims, "merchant_id")
    if cache is not None:
        cache.put(settings.jwt_secret_key, token, principal, float(claims["exp"]))
    return principal


__all__ = [
    "ALL_SCOPES",
    "AuthError",
    "Principal",
    "Scope",
    "TokenCache",
    "authenticate",
    "bearer_token",
    "mint_token",
    "principal_from_header",
]
