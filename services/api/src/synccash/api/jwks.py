"""Signing keys of an external identity service, from its JWKS (`AUTH_JWKS_URL`).

Keys are fetched once, kept by `kid` and refreshed every `refresh_s`; a token naming a `kid`
we do not know triggers a refetch (key rotation), at most once per `min_refetch_s`, so a flood
of made-up `kid`s cannot turn into a flood of requests to the identity service. A failed
fetch keeps the keys we have. Only EdDSA (Ed25519), ES256 and RS256 keys are used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import anyio
import httpx
import jwt
import structlog

_log = structlog.get_logger(__name__)

#: What an identity service may sign with (never HS*: a JWKS publishes public keys).
EXTERNAL_ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "RS256"})


class JwksKeys:
    """A cache of one JWKS endpoint's keys by `kid`."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        refresh_s: float = 300.0,
        min_refetch_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keys from `url`, fetched through `client`."""
        self._url = url
        self._client = client
        self._refresh_s = refresh_s
        self._min_refetch_s = min_refetch_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0  # how many times the JWKS was requested (observability, tests)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with this `kid`, refetching when stale or unknown (rate-limited)."""
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._refresh_s:
            await self._fetch(now)
        found = self._keys.get(kid)
        may_refetch = self._fetched_at is not None and now - self._fetched_at >= self._min_refetch_s
        if found is None and may_refetch:
            await self._fetch(now)
            found = self._keys.get(kid)
        return found

    async def _fetch(self, now: float) -> None:
        async with self._lock:
            if self._fetched_at is not None and self._fetched_at >= now:
                return  # another request fetched while this one waited
            self._fetched_at = now  # a failed fetch also waits for the next window
            self.fetches += 1
            try:
                response = await self._client.get(self._url, timeout=5.0)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                _log.warning("jwks_fetch_failed", url=self._url, error=repr(exc))
                return
            keys = _parse(document)
            if keys:
                self._keys = keys


def _parse(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS document by kid (others are skipped)."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
        if key.algorithm_name in EXTERNAL_ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


__all__ = ["EXTERNAL_ALGORITHMS", "JwksKeys"]
